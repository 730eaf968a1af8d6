"""ChatCommands: typed lines become calls on the client, made off the Tk thread (fake client, no network)."""

from __future__ import annotations

import threading

import pytest

from gui import chat_commands
from gui.client_worker import ClientWorker
from mmchat.typed import Typed
from tests import gui_helpers
from tests.gui_fakes import connected_window

tk_root = gui_helpers.tk_root  # the fixtures, used by name below
tk_errors = gui_helpers.tk_errors

ASKED_ON_JOIN = [("online",), ("files",)]


@pytest.fixture
def chat(tk_root, tmp_path):
    window, client = connected_window(tk_root, tmp_path)
    yield window, client
    window.close()


def type_line(window, text: str) -> None:
    window.input.insert("end", text)
    window.send_typed()


def test_each_typed_line_becomes_its_call_in_order(tk_root, tk_errors, chat) -> None:
    window, client = chat
    for line in ("hello there", "!online", "!files", "!cmd ls -l", "!get QRcode", "!verify MMC-ABC"):
        type_line(window, line)
        assert window.layout.typed() == ""  # handed over: the box is empty at once
    calls = client.wait_for_calls(len(ASKED_ON_JOIN) + 6)
    assert calls[len(ASKED_ON_JOIN) :] == [
        ("say", "hello there"),
        ("online",),
        ("files",),
        ("cmd", "ls -l"),
        ("qr",),
        ("verify", "MMC-ABC"),
    ]
    assert threading.current_thread() not in client.threads  # never made on the Tk thread


def test_lines_that_need_no_host_are_answered_at_once(tk_root, tk_errors, chat) -> None:
    window, client = chat
    type_line(window, "!dance")
    type_line(window, "!cmd")
    type_line(window, "!help")
    content = window.view.content()
    assert "Unknown command: !dance" in content
    assert "Usage: !cmd COMMAND" in content
    assert "!send PATH" in content
    type_line(window, "   ")
    assert window.layout.typed() == "   "  # nothing to send: left alone
    assert client.calls == ASKED_ON_JOIN


def test_not_connected_keeps_the_line(tk_root, tk_errors, chat) -> None:
    window, client = chat
    client.connected = False
    type_line(window, "anyone?")
    assert "You are not connected to the chat." in window.view.content()
    assert window.layout.typed() == "anyone?"


def test_a_host_that_takes_nothing_keeps_the_line_and_says_so(tk_root, tk_errors, chat, monkeypatch) -> None:
    window, client = chat
    stuck = ClientWorker(client, client.events, max_pending=0)  # as if many messages were waiting
    monkeypatch.setattr(window, "worker", stuck)
    type_line(window, "one more")
    assert chat_commands.BUSY in window.view.content()
    assert window.layout.typed() == "one more"
    assert ("say", "one more") not in client.calls
    monkeypatch.undo()
    stuck.close()


def test_send_and_req_start_transfers(tk_root, tk_errors, chat, tmp_path) -> None:
    window, client = chat
    path = tmp_path / "notes.txt"
    path.write_text("hi")
    type_line(window, f'!send "{path}"')
    type_line(window, "!req report.pdf")
    assert client.calls[len(ASKED_ON_JOIN) :] == [("send_file", path), ("request_file", "report.pdf", None, None)]
    assert len(window.transfers.rows) == 2


def test_exit_closes_the_window(tk_root, tk_errors, chat) -> None:
    window, client = chat
    type_line(window, "!exit")
    assert window.closed
    client.wait_for_calls(len(ASKED_ON_JOIN) + 1)
    assert client.calls[-1] == ("close",)


def test_the_side_panel_and_menu_run_commands_too(tk_root, tk_errors, chat) -> None:
    window, client = chat
    window.run_command("pwd")
    window.request_qr()
    assert window.commands.run(Typed("cmd", "ls"))
    client.wait_for_calls(len(ASKED_ON_JOIN) + 3)
    assert client.calls[len(ASKED_ON_JOIN) :] == [("cmd", "pwd"), ("qr",), ("cmd", "ls")]


def test_a_too_long_message_is_offered_as_a_file_never_cut(tk_root, tk_errors, chat) -> None:
    window, client = chat
    long = "word " * 900
    type_line(window, long)
    assert window.layout.typed() == long  # kept whole, and nothing was said to the host
    assert not [call for call in client.calls if call[0] == "say"]
    assert window.banner_button is not None and window.banner_button["text"] == "Send as file"
    window.input.focus_force()
    tk_root.update()
    window.input.event_generate("<Escape>")  # Escape withdraws the offer, the text stays
    tk_root.update()
    assert window.banner_label is None and window.layout.typed() == long
    window.send_typed()
    assert window.banner_button is not None
    window.banner_button.invoke()
    [(_, path)] = [call for call in client.calls if call[0] == "send_file"]
    assert path.suffix == ".txt" and path.read_text(encoding="utf-8") == long.rstrip()
    assert window.layout.typed() == "" and window.banner_label is None
    assert f"being shared as {path.name}" in window.view.content()
    window.close()
    assert not path.exists()  # the temporary copy goes with the window
