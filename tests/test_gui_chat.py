"""The join-mode chat window: real windows against a real host on 127.0.0.1, under Xvfb."""

from __future__ import annotations

import os
import socket
import threading
import time
import tkinter as tk
from collections.abc import Iterator
from pathlib import Path
from tkinter import ttk

import pytest
from PIL import Image

from gui import chat_window
from gui.chat_window import ChatWindow
from gui.transfer_panel import ProgressCounter
from mmchat import protocol
from mmchat.client import ChatClient, Transfer
from mmchat.server import ChatServer
from tests import gui_helpers
from tests.gui_helpers import pump_for, pump_until, walk
from tests.tls_helpers import fake_identity, serve_tls
from tests.transfer_helpers import sha256_of

tk_root = gui_helpers.tk_root  # the fixtures, used by name below
tk_errors = gui_helpers.tk_errors

COOL = "😎"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ChatServer]:
    host = ChatServer(tmp_path / "share", "127.0.0.1", 0)
    host.start()
    yield host
    host.stop()


def open_chat(root: tk.Tk, server: ChatServer, name: str, tmp_path: Path, wait: bool = True) -> ChatWindow:
    """A chat window on its own Toplevel, connected (and listed as online) before it is returned."""
    window = ChatWindow(
        tk.Toplevel(root), *server.address, name=name, downloads=tmp_path / f"downloads-{name}",
        fingerprint=server.fingerprint,  # as by invite: no trust dialog
    )  # fmt: skip
    if wait:
        pump_until(root, lambda: window.client is not None and name in window.side.names(), what=f"{name} online")
    return window


def type_and_enter(root: tk.Tk, window: ChatWindow, text: str) -> None:
    """Type into the input box and press Enter, as a person would."""
    window.input.focus_force()
    window.input.insert("end", text)
    root.update()
    window.input.event_generate("<Return>")
    root.update()


def find_link(window: ChatWindow, label: str) -> str:
    """The tag of the last link showing `label` in the message view."""
    text = window.view.text
    tags = [tag for tag in window.view.link_commands if text.get(*text.tag_ranges(tag)[:2]) == label]
    assert tags, f"no {label!r} link in the view"
    return tags[-1]


def test_messages_typed_with_enter_reach_the_other_window(tk_root, tk_errors, server, tmp_path) -> None:
    alice = open_chat(tk_root, server, "alice", tmp_path)
    bob = open_chat(tk_root, server, "bob", tmp_path)
    type_and_enter(tk_root, alice, f"hello bob {COOL}")
    pump_until(tk_root, lambda: f"hello bob {COOL}" in bob.view.content(), what="alice's message at bob")
    assert alice.input.get("1.0", "end-1c") == ""  # sent: the box is empty again
    type_and_enter(tk_root, bob, f"🎉 hi alice {COOL}{COOL}")
    pump_until(tk_root, lambda: f"🎉 hi alice {COOL}{COOL}" in alice.view.content(), what="bob's reply")
    # Own messages are drawn apart: alice's line carries the "own" tag in her view, not in bob's.
    assert "own" in _tags_of(alice, f"hello bob {COOL}")
    assert "own" not in _tags_of(bob, f"hello bob {COOL}")
    assert "bob" in bob.view.content() and "alice" in bob.view.content()


def _tags_of(window: ChatWindow, needle: str) -> tuple[str, ...]:
    text = window.view.text
    index = text.search(needle, "1.0", "end")
    assert index, f"{needle!r} not shown"
    return text.tag_names(index)


def test_shift_enter_makes_a_new_line_and_the_message_keeps_it(tk_root, tk_errors, server, tmp_path) -> None:
    alice = open_chat(tk_root, server, "alice", tmp_path)
    bob = open_chat(tk_root, server, "bob", tmp_path)
    alice.input.focus_force()
    alice.input.insert("end", "first line")
    tk_root.update()
    alice.input.event_generate("<Shift-Return>")
    alice.input.insert("end", "second line")
    tk_root.update()
    assert alice.input.get("1.0", "end-1c") == "first line\nsecond line"
    alice.input.event_generate("<Return>")
    pump_until(tk_root, lambda: "first line\nsecond line" in bob.view.content(), what="two-line message")


def test_online_list_follows_joins_and_leaves(tk_root, tk_errors, server, tmp_path) -> None:
    alice = open_chat(tk_root, server, "alice", tmp_path)
    assert alice.side.names() == ["alice"]
    bob = open_chat(tk_root, server, "bob", tmp_path)
    pump_until(tk_root, lambda: alice.side.names() == ["alice", "bob"], what="bob in alice's list")
    assert bob.side.names() == ["alice", "bob"]
    bob.close()
    pump_until(tk_root, lambda: "bob left the chat" in alice.view.content(), what="leave notice")
    pump_until(tk_root, lambda: alice.side.names() == ["alice"], what="bob gone from the list")


def _exists(widget: tk.Misc) -> bool:
    try:
        return bool(widget.winfo_exists())
    except tk.TclError:
        return False


def test_upload_and_download_through_the_ui(tk_root, tk_errors, server, tmp_path, monkeypatch) -> None:
    alice = open_chat(tk_root, server, "alice", tmp_path)
    bob = open_chat(tk_root, server, "bob", tmp_path)
    source = tmp_path / "report.bin"
    source.write_bytes(os.urandom(3_000_000))
    monkeypatch.setattr(alice, "_ask_open_path", lambda: str(source))
    alice.attach_button.invoke()
    [upload] = list(alice.transfers.rows)
    pump_until(tk_root, lambda: "File sent successfully: report.bin" in alice.view.content(), what="upload done")
    assert float(alice.transfers.rows[upload].bar["value"]) == 100
    assert sha256_of(server.share / "report.bin") == sha256_of(source)

    # bob sees the share notice and the file in his list, then downloads it with the button.
    pump_until(tk_root, lambda: bob.side.files.exists("report.bin"), what="file in bob's list")
    assert "alice shared report.bin (3.0 MB)" in bob.view.content()
    target = tmp_path / "saved" / "my-report.bin"
    target.parent.mkdir()
    asked: list[str] = []
    monkeypatch.setattr(bob, "_ask_save_path", lambda name: asked.append(name) or str(target))
    bob.side.files.selection_set("report.bin")
    tk_root.update()
    bob.side.download_button.invoke()
    assert asked == ["report.bin"]
    [download] = list(bob.transfers.rows)
    pump_until(tk_root, lambda: "File received successfully" in bob.view.content(), what="download done")
    assert float(bob.transfers.rows[download].bar["value"]) == 100
    assert download.ok and download.path == target
    assert sha256_of(target) == sha256_of(source)


def test_several_transfers_at_once_each_have_a_row(tk_root, tk_errors, server, tmp_path) -> None:
    alice = open_chat(tk_root, server, "alice", tmp_path)
    paths = []
    for n in range(3):
        path = tmp_path / f"part{n}.bin"
        path.write_bytes(os.urandom(400_000 + n))
        paths.append(path)
    for path in paths:
        type_and_enter(tk_root, alice, f"!send {path}")
    assert len(alice.transfers.rows) == 3
    pump_until(tk_root, lambda: all(row.finished for row in alice.transfers.rows.values()), what="three uploads")
    assert all(float(row.bar["value"]) == 100 for row in alice.transfers.rows.values())
    for path in paths:
        assert sha256_of(server.share / path.name) == sha256_of(path)


def test_cancel_button_stops_a_download(tk_root, tk_errors, server, tmp_path) -> None:
    (server.share / "big.bin").write_bytes(os.urandom(20_000_000))
    alice = open_chat(tk_root, server, "alice", tmp_path)
    type_and_enter(tk_root, alice, "!req big.bin")
    [(t, row)] = alice.transfers.rows.items()
    row.button.invoke()  # long before 20 MB can arrive
    pump_until(tk_root, lambda: row.finished, what="cancelled row")
    assert not t.ok
    assert row.status["text"] == "Cancelled"
    assert row.button["text"] == "Dismiss"
    assert "Download of big.bin failed: The transfer was cancelled." in alice.view.content()
    assert list((tmp_path / "downloads-alice").iterdir()) == []  # no partial file left
    row.button.invoke()
    assert not alice.transfers.rows


def test_shared_png_gets_an_inline_preview(tk_root, tk_errors, server, tmp_path) -> None:
    alice = open_chat(tk_root, server, "alice", tmp_path)
    bob = open_chat(tk_root, server, "bob", tmp_path)
    picture = tmp_path / "sunset.png"
    Image.new("RGB", (900, 600), "#ff8800").save(picture)
    type_and_enter(tk_root, alice, f"!send {picture}")
    pump_until(tk_root, lambda: "sunset.png" in bob.view.content() and "Preview" in bob.view.content())
    assert not bob.view.text.image_names()
    bob.view.link_commands[find_link(bob, "Preview")]()
    pump_until(tk_root, lambda: bob.view.text.image_names(), what="preview image in bob's view")
    [name] = bob.view.text.image_names()
    photo = bob.view.images[name]
    assert max(photo.width(), photo.height()) <= 320  # a thumbnail, not the full picture
    previews = list((tmp_path / "downloads-bob" / ".mmchat-previews").iterdir())
    assert [p.name for p in previews] == ["sunset.png"]
    bob.view.link_commands[find_link(bob, "Preview")]()  # again: shown from the copy, not downloaded twice
    pump_until(tk_root, lambda: len(bob.view.text.image_names()) == 2, what="second preview")
    assert len(list(previews[0].parent.iterdir())) == 1
    bob.close()
    assert not previews[0].exists()  # preview copies go when the window closes


def test_kicked_member_is_told_and_can_reconnect(tk_root, tk_errors, server, tmp_path) -> None:
    alice = open_chat(tk_root, server, "alice", tmp_path)
    bob = open_chat(tk_root, server, "bob", tmp_path)
    type_and_enter(tk_root, alice, "said before the kick")
    pump_until(tk_root, lambda: "said before the kick" in bob.view.content())
    server.kick("bob")
    pump_until(tk_root, lambda: bob.ended, what="bob's window noticing the kick")
    assert "You were removed from the chat by the host." in bob.view.content()
    assert bob.banner_button["text"] == "Reconnect"
    pump_until(tk_root, lambda: "bob was removed by the host" in alice.view.content())
    pump_until(tk_root, lambda: alice.side.names() == ["alice"])
    type_and_enter(tk_root, bob, "still there?")
    assert "You are not connected to the chat." in bob.view.content()
    assert bob.input.get("1.0", "end-1c") == "still there?"  # kept for after the reconnect
    bob.banner_button.invoke()
    pump_until(tk_root, lambda: not bob.ended and bob.client and "bob" in bob.side.names(), what="reconnected")
    pump_until(tk_root, lambda: alice.side.names() == ["alice", "bob"])
    pump_for(tk_root, 0.2)
    assert bob.view.content().count("said before the kick") == 1  # the replayed history is not shown twice


def test_host_going_away_is_shown_with_reconnect(tk_root, tk_errors, server, tmp_path) -> None:
    alice = open_chat(tk_root, server, "alice", tmp_path)
    server.stop()
    pump_until(tk_root, lambda: alice.ended, what="alice noticing the host stopped")
    pump_for(tk_root, 0.3)  # the connection's own end arrives too
    assert alice.view.content().count("The host stopped the chat.") == 1  # said once, not twice
    assert alice.banner_button["text"] == "Reconnect"
    assert alice.send_button.instate(["disabled"]) and alice.attach_button.instate(["disabled"])
    assert alice.side.online_heading["text"] == "ONLINE  ·  0" and alice.side.names() == []
    assert alice.side.download_button.instate(["disabled"]) and alice.side.run_button.instate(["disabled"])


def test_the_window_reconnects_by_itself_with_back_off(tk_root, tk_errors, server, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(chat_window, "RETRY_FIRST_S", 0.1)
    alice = open_chat(tk_root, server, "alice", tmp_path)
    bob = open_chat(tk_root, server, "bob", tmp_path)
    type_and_enter(tk_root, bob, "before the break")
    pump_until(tk_root, lambda: "before the break" in alice.view.content(), what="the first message")
    bob.close()
    port = server.address[1]
    server.stop()
    pump_until(tk_root, lambda: alice.ended, what="alice noticing the host stopped")
    delays = {alice.retry_delay}
    pump_until(tk_root, lambda: delays.add(alice.retry_delay) or alice.retry_delay >= 0.8, what="the waits growing")
    assert {0.1, 0.2, 0.4, 0.8} <= delays  # it doubled after each refused try
    again = ChatServer(tmp_path / "share", "127.0.0.1", port)
    again.start()
    try:
        pump_until(tk_root, lambda: alice.client is not None and "alice" in alice.side.names(), what="alice back")
        assert alice.retry_delay == 0 and alice.banner_label is None and not alice.ended
        assert alice.send_button.instate(["!disabled"]) and alice.side.run_button.instate(["!disabled"])
        type_and_enter(tk_root, alice, "after the break")
        pump_until(tk_root, lambda: "after the break" in alice.view.content(), what="a message after reconnecting")
        assert alice.view.content().count("before the break") == 1
    finally:
        alice.close()
        again.stop()


def test_a_dropped_connection_catches_up_without_repeats(tk_root, tk_errors, server, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(chat_window, "RETRY_FIRST_S", 0.1)
    alice = open_chat(tk_root, server, "alice", tmp_path)
    bob = open_chat(tk_root, server, "bob", tmp_path)
    type_and_enter(tk_root, bob, "said before the drop")
    pump_until(tk_root, lambda: "said before the drop" in alice.view.content(), what="the first message")
    assert alice.client is not None and alice.client._sock is not None
    alice.client._sock.shutdown(socket.SHUT_RDWR)  # the network goes away under alice; the host stays
    pump_until(tk_root, lambda: alice.ended, what="alice noticing the drop")
    type_and_enter(tk_root, bob, "said while alice was away")
    pump_until(tk_root, lambda: alice.client is not None and not alice.ended, what="alice back by herself")
    pump_until(tk_root, lambda: "said while alice was away" in alice.view.content(), what="the history catching up")
    pump_for(tk_root, 0.3)
    assert alice.view.content().count("said before the drop") == 1  # replayed by the host, skipped by the window
    assert alice.view.content().count("said while alice was away") == 1
    bob.close()


def test_closing_stops_the_automatic_reconnect(tk_root, tk_errors, server, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(chat_window, "RETRY_FIRST_S", 30.0)
    before = _after_ids(tk_root)
    alice = open_chat(tk_root, server, "alice", tmp_path)
    server.stop()
    pump_until(tk_root, lambda: alice._retry_id is not None, what="a reconnect planned")
    assert alice._retry_id in _after_ids(tk_root)
    alice.close()
    pump_for(tk_root, 0.1)
    assert _after_ids(tk_root) - before == set()


def test_closing_a_window_says_goodbye_to_the_others(tk_root, tk_errors, server, tmp_path) -> None:
    alice = open_chat(tk_root, server, "alice", tmp_path)
    carol = open_chat(tk_root, server, "carol", tmp_path)
    close_button = carol.master.protocol("WM_DELETE_WINDOW")  # what the title bar's close button runs
    tk_root.call(close_button)
    pump_until(tk_root, lambda: "carol left the chat" in alice.view.content(), what="leave notice")
    assert not _exists(carol.master)
    assert "dropped" not in alice.view.content()


def _after_ids(root: tk.Tk) -> set[str]:
    return set(root.tk.splitlist(root.tk.call("after", "info")))


def test_closing_cancels_every_after_id(tk_root, tk_errors, server, tmp_path) -> None:
    before = _after_ids(tk_root)
    alice = open_chat(tk_root, server, "alice", tmp_path)
    stuck = Transfer("download", "never.bin", 100)  # a transfer that never ends keeps the panel polling
    alice.transfers.add(stuck, ProgressCounter())
    ours = _after_ids(tk_root) - before
    assert alice.transfers._after_id in ours
    assert len(ours) >= 3  # the window's queue, the client's queue and the transfer panel
    alice.close()
    pump_for(tk_root, 0.1)
    assert _after_ids(tk_root) - before == set()


def test_closed_port_shows_a_sentence_and_retry_works(tk_root, tk_errors, tmp_path) -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nobody listens here now
    window = ChatWindow(tk.Toplevel(tk_root), "127.0.0.1", port, name="dave", downloads=tmp_path)
    pump_until(tk_root, lambda: "Nobody is hosting a chat" in window.view.content(), what="connection error")
    assert f"127.0.0.1:{port}" in window.banner_label["text"]
    assert window.banner_button["text"] == "Retry"
    host = ChatServer(tmp_path / "share", "127.0.0.1", port)
    host.start()
    window.fingerprint = host.fingerprint  # as by invite: no trust dialog
    try:
        window.banner_button.invoke()
        pump_until(tk_root, lambda: window.side.names() == ["dave"], what="joined after Retry")
        window.close()
    finally:
        host.stop()


def test_empty_name_is_asked_for_in_the_window(tk_root, tk_errors, server, tmp_path) -> None:
    window = ChatWindow(
        tk.Toplevel(tk_root), *server.address, name="", downloads=tmp_path, fingerprint=server.fingerprint
    )
    tk_root.update()
    assert window.client is None
    window.submit_name()
    assert window.name_error["text"] == "Please choose a name."
    window.name_entry.insert(0, "[bad]")
    window.submit_name()
    assert "brackets" in window.name_error["text"]
    window.name_entry.delete(0, "end")
    window.name_entry.insert(0, f"erin {COOL}")
    window.name_entry.event_generate("<Return>")
    pump_until(tk_root, lambda: window.side.names() == [f"erin {COOL}"], what="joined with the typed name")
    assert window.master.title().startswith(f"erin {COOL}")


def test_typed_commands_work_as_in_the_terminal(tk_root, tk_errors, server, tmp_path) -> None:
    (server.share / "notes.txt").write_text("hello from the share\n")
    alice = open_chat(tk_root, server, "alice", tmp_path)
    type_and_enter(tk_root, alice, "!online")
    pump_until(tk_root, lambda: "Online: alice" in alice.view.content())
    type_and_enter(tk_root, alice, "!cmd cat notes.txt")
    pump_until(tk_root, lambda: "$ cat notes.txt" in alice.view.content())
    pump_until(tk_root, lambda: "hello from the share" in alice.view.content())
    assert "code" in _tags_of(alice, "hello from the share")  # the monospace block
    type_and_enter(tk_root, alice, "!verify MMC-NOPE")
    pump_until(tk_root, lambda: "invalid or expired" in alice.view.content())
    type_and_enter(tk_root, alice, "!help")
    assert "!send PATH" in alice.view.content()
    type_and_enter(tk_root, alice, "!dance")
    assert "Unknown command: !dance" in alice.view.content()
    type_and_enter(tk_root, alice, "!send /no/such/file.txt")
    assert "No such file here: /no/such/file.txt" in alice.view.content()
    alice.side.command.insert(0, "pwd")
    alice.side.run_button.invoke()
    pump_until(tk_root, lambda: "$ pwd" in alice.view.content(), what="side-panel command")
    type_and_enter(tk_root, alice, "!exit")
    assert not _exists(alice.master)


def test_a_message_over_the_limit_is_never_cut_and_goes_as_a_file(tk_root, tk_errors, server, tmp_path) -> None:
    alice = open_chat(tk_root, server, "alice", tmp_path)
    long = "x" * 3999 + COOL + COOL + "tail"
    alice.input.insert("1.0", long)
    tk_root.update()
    alice.input.focus_force()
    alice.input.event_generate("<Return>")
    tk_root.update()
    assert alice.input.get("1.0", "end-1c") == long  # nothing cut, not even silently
    assert alice.counter["text"] == "4,005 / 4,000  ·  too long"
    assert alice.banner_label is not None and "4,005 characters" in alice.banner_label["text"]
    assert alice.banner_button is not None and alice.banner_button["text"] == "Send as file"
    alice.banner_button.invoke()
    shared = pump_until(
        tk_root, lambda: [n for n in alice.side.files.get_children() if n.startswith("message-alice")], what="the .txt"
    )
    assert alice.layout.typed() == "" and alice.banner_label is None
    assert "being shared as" in alice.view.content()
    assert (tmp_path / "share" / shared[0]).read_text(encoding="utf-8") == long  # every character, as typed


def test_view_follows_new_lines_unless_scrolled_up(tk_root, tk_errors, server, tmp_path) -> None:
    alice = open_chat(tk_root, server, "alice", tmp_path)
    view = alice.view
    for n in range(80):
        view.system(f"line {n}")
    tk_root.update()
    assert view.at_end()
    view._scrollbar("moveto", "0")  # the person drags the scrollbar to the top
    assert not view.following
    view.system("while away")
    tk_root.update()
    assert not view.at_end()
    assert view.jump.winfo_ismapped()
    view.jump.invoke()
    tk_root.update()
    assert view.at_end() and not view.jump.winfo_ismapped()


def test_history_is_marked_as_earlier(tk_root, tk_errors, server, tmp_path) -> None:
    alice = open_chat(tk_root, server, "alice", tmp_path)
    type_and_enter(tk_root, alice, "before you came")
    pump_until(tk_root, lambda: "before you came" in alice.view.content())
    bob = open_chat(tk_root, server, "bob", tmp_path)
    pump_until(tk_root, lambda: "before you came" in bob.view.content())
    content = bob.view.content()
    assert content.index("Earlier messages") < content.index("before you came") < content.index("Now")
    assert "history" in _tags_of(bob, "before you came")


def test_widgets_are_ttk_and_the_view_is_read_only(tk_root, tk_errors, server, tmp_path) -> None:
    alice = open_chat(tk_root, server, "alice", tmp_path)
    # Only the Text widgets, the menu, the input box's one-pixel border frame and the
    # transfers' scrolling canvas are classic Tk.
    classic = [w for w in walk(alice.master) if not isinstance(w, ttk.Widget)]
    assert {type(w).__name__ for w in classic} <= {"Text", "Menu", "Frame", "Canvas"}
    assert [w for w in classic if type(w) is tk.Canvas] == [alice.transfers.canvas]
    assert [w for w in classic if type(w) is tk.Frame] == [alice.input.master]
    assert str(alice.view.text["state"]) == "disabled"
    # The message view takes the extra space when the window grows.
    before = alice.view.text.winfo_height()
    alice.master.geometry("1200x900")
    pump_for(tk_root, 0.2)
    assert alice.view.text.winfo_height() > before + 150


class StuckClient(ChatClient):
    """A client whose say() and close() block until `release` is set, like a host that stopped reading."""

    release = threading.Event()

    def say(self, text: str) -> None:
        assert self.release.wait(20), "the test never released the stuck client"
        super().say(text)

    def close(self) -> None:
        assert self.release.wait(20), "the test never released the stuck client"
        super().close()


@pytest.fixture
def stuck(monkeypatch) -> Iterator[type[StuckClient]]:
    """Windows opened in the test use StuckClient; released (so its threads end) after the test."""
    StuckClient.release = threading.Event()
    monkeypatch.setattr(chat_window, "ChatClient", StuckClient)
    yield StuckClient
    StuckClient.release.set()


def _timed(action) -> float:
    started = time.monotonic()
    action()
    return time.monotonic() - started


def test_sending_and_closing_never_wait_for_the_network(tk_root, tk_errors, server, tmp_path, stuck) -> None:
    bob = open_chat(tk_root, server, "bob", tmp_path)
    alice = open_chat(tk_root, server, "alice", tmp_path)
    assert isinstance(alice.client, StuckClient)
    alice.input.insert("end", "first")
    assert _timed(alice.send_typed) < 1.5  # today's say() would block the Tk thread right here
    assert alice.input.get("1.0", "end-1c") == ""
    alice.input.insert("end", "second")
    assert _timed(alice.send_typed) < 1.5
    assert _timed(alice.close) < 1.5  # so would close()
    assert not _exists(alice.master)
    assert "first" not in bob.view.content()  # nothing could leave yet: the client is still stuck
    stuck.release.set()
    pump_until(tk_root, lambda: "alice left the chat" in bob.view.content(), what="alice's goodbye")
    content = bob.view.content()
    # The worker sends in order: both messages, then the goodbye (a clean leave, not a drop).
    assert content.index("first") < content.index("second") < content.index("alice left the chat")
    assert "dropped" not in content


def test_reconnect_does_not_wait_for_the_old_connection_to_close(tk_root, tk_errors, server, tmp_path, stuck) -> None:
    alice = open_chat(tk_root, server, "alice", tmp_path)
    old = alice.client
    assert _timed(alice.reconnect) < 1.5  # the old client's close() is stuck, and that is fine
    pump_until(tk_root, lambda: alice.client is not None and alice.client is not old, what="a new connection")
    assert alice.status["text"] == "●  Connected"
    stuck.release.set()


def test_a_message_that_fails_to_leave_is_said_and_given_back(
    tk_root, tk_errors, server, tmp_path, monkeypatch
) -> None:
    alice = open_chat(tk_root, server, "alice", tmp_path)

    def lost(text: str) -> None:
        raise ConnectionError("The connection to the host was lost: Broken pipe")

    monkeypatch.setattr(alice.client, "say", lost)
    type_and_enter(tk_root, alice, "did this arrive?")
    pump_until(tk_root, lambda: "was not sent" in alice.view.content(), what="the failure")
    assert "Your message was not sent: The connection to the host was lost: Broken pipe" in alice.view.content()
    assert alice.input.get("1.0", "end-1c") == "did this arrive?"  # back in the box, to send again


def test_closing_while_the_connection_completes_does_not_wait_for_it(
    tk_root, tk_errors, server, tmp_path, stuck
) -> None:
    window = ChatWindow(
        tk.Toplevel(tk_root), *server.address, name="frank", downloads=tmp_path, fingerprint=server.fingerprint
    )
    deadline = time.monotonic() + 10
    while "frank" not in server.online():  # connected, but the window has not heard yet (no Tk update)
        assert time.monotonic() < deadline, "frank never joined"
        time.sleep(0.01)
    time.sleep(0.05)  # the connect thread hands its client to the window's queue
    assert _timed(window.close) < 1.5
    stuck.release.set()
    deadline = time.monotonic() + 10
    while "frank" in server.online():  # the client that arrived too late is closed, off the Tk thread
        assert time.monotonic() < deadline, "frank's late connection was never closed"
        time.sleep(0.01)


class DeafHost:
    """A host on 127.0.0.1 that welcomes one member (over TLS, with its certificate's real fingerprint)
    and then never reads a byte from it."""

    def __init__(self) -> None:
        self.fingerprint = fake_identity().fingerprint
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # fills up sooner
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen()
        self.address = self.listener.getsockname()
        self.member: socket.socket | None = None
        self.thread = threading.Thread(target=self._welcome, daemon=True)
        self.thread.start()

    def _welcome(self) -> None:
        sock, _ = self.listener.accept()
        sock = serve_tls(sock)
        self.member = sock
        conn = protocol.Connection(protocol.Role.HOST)
        while True:
            event = conn.next_event()
            if isinstance(event, protocol.Hello):
                break
            if event is protocol.NEED_DATA:
                conn.receive_data(sock.recv(65536))
        sock.sendall(conn.send(protocol.Welcome(protocol.PROTOCOL_VERSION, event.member)))

    def stop(self) -> None:
        member, self.member = self.member, None
        if member is not None:
            try:
                member.shutdown(socket.SHUT_RDWR)  # wakes a sendall blocked on the other end
            except OSError:
                pass
            member.close()
        self.listener.close()


def test_a_host_that_stops_reading_never_freezes_the_window(tk_root, tk_errors, tmp_path) -> None:
    host = DeafHost()
    watchdog = threading.Timer(60, host.stop)  # a window that waits for the host is freed (and fails) by this
    watchdog.start()
    try:
        window = ChatWindow(
            tk.Toplevel(tk_root), *host.address, name="gina", downloads=tmp_path, fingerprint=host.fingerprint
        )  # as by invite: the key is checked, no trust dialog
        pump_until(tk_root, lambda: window.client is not None, what="welcomed by the deaf host")
        line = COOL * protocol.MAX_TEXT_CHARS  # the largest message there is: 16 kB
        shown = lambda: window.view.text.get("1.0", "end")  # noqa: E731
        started, sent = time.monotonic(), 0
        # Bounded: the kernel's buffers take a few MB (how many depends on its tuning), then the
        # client's bounded outbox fills and says so; typing goes on meanwhile, never waiting.
        while sent < 2000 and "Your message was not sent" not in shown():
            window.input.insert("1.0", line)
            window.send_typed()
            tk_root.update()
            sent += 1
        pump_until(tk_root, lambda: "Your message was not sent" in shown(), what="the sentence about the full outbox")
        assert (time.monotonic() - started) / sent < 0.2  # per message: typing never waited for the host
        assert "The host is not taking what you send right now" in shown()
        assert _timed(window.close) < 1.5
    finally:
        watchdog.cancel()
        host.stop()  # the stuck sendall fails now, and the worker ends


def _sender_colour(window: ChatWindow, name: str) -> str:
    """The colour the conversation draws `name`'s message header in."""
    text = window.view.text
    start = text.search(f"^{name}  ", "1.0", stopindex="end", regexp=True)
    tags = [tag for tag in text.tag_names(start) if tag.startswith("colour")]
    assert tags, f"no colour on {name}"
    return str(text.tag_cget(tags[0], "foreground"))


def test_members_online_together_have_different_colours(tk_root, tk_errors, server, tmp_path) -> None:
    alice = open_chat(tk_root, server, "alice", tmp_path)
    bob = open_chat(tk_root, server, "bob", tmp_path)
    carol = open_chat(tk_root, server, "carol", tmp_path)  # carol's hash colour is bob's: she steps on
    pump_until(tk_root, lambda: len(alice.side.names()) == 3, what="all three online")
    for window, text in ((bob, "from bob"), (carol, "from carol"), (alice, "from alice")):
        type_and_enter(tk_root, window, text)
    pump_until(tk_root, lambda: "from alice" in alice.view.content() and "from carol" in alice.view.content())
    colours = {name: _sender_colour(alice, name) for name in ("alice", "bob", "carol")}
    assert len(set(colours.values())) == 3, colours
    listed = {name: str(alice.side.online.tag_configure(alice.side.online.item(name, "tags")[0], "foreground"))
              for name in ("alice", "bob", "carol")}  # fmt: skip
    assert listed == colours  # the list and the conversation agree
    for window in (bob, carol):
        window.close()


def test_files_dropped_on_the_window_are_shared_and_folders_explained(tk_root, tk_errors, server, tmp_path) -> None:
    alice = open_chat(tk_root, server, "alice", tmp_path)
    if not alice.accepts_drops:
        pytest.skip("tkdnd cannot load here (tkinterdnd2 carries none for this platform)")
    picture = tmp_path / "holiday photo.png"
    picture.write_bytes(os.urandom(300_000))
    folder = tmp_path / "a folder"
    folder.mkdir()
    gui_helpers.deliver_drop(alice.master, str(picture), str(folder))
    shared = server.share / "holiday photo.png"
    pump_until(tk_root, lambda: shared.exists(), what="the dropped file on the host")
    assert sha256_of(shared) == sha256_of(picture)
    assert "a folder is a folder: drop the files in it instead." in alice.view.text.get("1.0", "end")
