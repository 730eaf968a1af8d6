"""The host's admin window: real windows (Xvfb) over a real host on 127.0.0.1."""

from __future__ import annotations

import queue
import tkinter as tk

import pytest

from gui.admin_window import AdminWindow, CommandRows, format_since, join_url, refusal_reason
from mmchat.client import ChatClient
from mmchat.hostlog import LogEvent, LogKind
from mmchat.protocol import Notice
from mmchat.server import ChatServer
from tests import gui_helpers
from tests.gui_helpers import pump_until

tk_root = gui_helpers.tk_root


@pytest.fixture
def server(tmp_path):
    host = ChatServer(tmp_path / "share", "127.0.0.1", 0)
    host.start()
    yield host
    host.stop()


@pytest.fixture
def admin(tk_root, server):
    window = AdminWindow(tk_root, server)
    window.confirm_stop = lambda: True
    window.actions.confirm = lambda title, question: True  # type: ignore[method-assign]
    yield window
    window.close()


@pytest.fixture
def member(server):
    client = ChatClient("127.0.0.1", server.address[1], "alice")
    client.connect()
    yield client
    client.close()


def notice_kinds(client: ChatClient) -> list[str]:
    kinds = []
    while True:
        try:
            event = client.events.get_nowait()
        except queue.Empty:
            return kinds
        if isinstance(event, Notice):
            kinds.append(event.kind)


# --- plain functions ---------------------------------------------------------------------


def test_format_since_gives_the_clock_and_the_length():
    assert format_since(1000.0, 1042.9).endswith(" (42 s)")
    assert format_since(1000.0, 1000.0 + 5 * 60 + 59).endswith(" (5 min)")
    assert format_since(1000.0, 1000.0 + 2 * 3600 + 7 * 60).endswith(" (2 h 07 min)")
    assert format_since(1000.0, 0.0).endswith(" (0 s)")  # a clock that went back is not negative


def test_a_refusal_finds_its_row_by_the_hosts_command_id():
    rows = CommandRows()
    rows.add("alice", 1, "r1")
    rows.add("alice", 2, "r2")
    rows.add("alice", 3, "r3")  # the same line as r1: only the id tells them apart
    rows.add("bob", 4, "b1")
    assert rows.refuse("alice", 3) == "r3"
    assert rows.refuse("alice", 3) is None  # refused once
    assert rows.refuse("alice", 1) == "r1"
    rows.forget("bob")
    assert rows.refuse("bob", 4) is None


def test_command_rows_keep_a_bounded_number_of_ids():
    rows = CommandRows(limit=3)
    for command_id in range(1, 6):
        rows.add("alice", command_id, f"r{command_id}")
    assert rows.refuse("alice", 1) is None and rows.refuse("alice", 2) is None
    assert rows.refuse("alice", 5) == "r5"


def test_a_refusal_reason_does_not_repeat_the_line():
    event = LogEvent(
        0.0, LogKind.COMMAND_REFUSED, member="alice", line="rm x", reason="No privileges to run the command: rm x"
    )
    assert refusal_reason(event) == "No privileges to run the command"


# --- the window --------------------------------------------------------------------------


def test_header_shows_where_to_join_with_a_qr_code(tk_root, admin, server):
    port = server.address[1]
    assert admin.join_addresses() == f"127.0.0.1:{port}"  # bound to loopback: that is the only address
    assert admin.address_label.cget("text") == f"127.0.0.1:{port}"
    assert 100 <= admin.qr_image.width() <= 200  # a QR code, shrunk to fit the header
    assert join_url("192.168.1.5", 12002) == "mmchat://192.168.1.5:12002"
    admin.copy_address()  # the invite, with the key members check
    assert tk_root.clipboard_get() == f"mmchat://127.0.0.1:{port}/#{server.fingerprint}"
    assert admin.copied.cget("text") == "Copied"


def test_connections_table_lists_members_live(tk_root, admin, member):
    pump_until(tk_root, lambda: admin.members.exists("alice"), what="alice in the table")
    name, address, since, received, sent = admin.members.item("alice", "values")
    assert name == "alice" and address.startswith("127.0.0.1:") and since.count(":") == 2
    assert received.endswith("B") and sent.endswith("B")
    assert admin.members_heading.cget("text") == "CONNECTED MEMBERS (1)"
    member.close()
    pump_until(tk_root, lambda: not admin.members.exists("alice"), what="alice gone from the table")
    assert admin.members_heading.cget("text") == "NO MEMBERS CONNECTED YET"


def test_command_log_shows_allowed_and_refused_commands(tk_root, admin, member):
    member.command("ls").wait()
    # Two at once: the refusal of the first arrives after the second was logged.
    refused, allowed = member.command("rm -rf /"), member.command("pwd")
    refused.wait()
    allowed.wait()

    def rows():
        return [admin.commands.item(i, "values")[1:] for i in admin.commands.get_children()]

    def refused_row_marked():
        return len(rows()) == 3 and rows()[1][2] != "allowed"

    pump_until(tk_root, refused_row_marked, what="three command rows, the second refused")
    assert rows() == [
        ("alice", "ls", "allowed"),
        ("alice", "rm -rf /", "refused: No privileges to run the command"),
        ("alice", "pwd", "allowed"),
    ]
    assert admin.commands.item(admin.commands.get_children()[1], "tags") == ("refused",)
    events = [admin.events.item(i, "values")[1] for i in admin.events.get_children()]
    assert any("New connection: alice" in text for text in events)


def test_the_command_log_pairs_refusals_by_id_not_by_sentence(tk_root, admin):
    # Two waiting commands with the same line: the refusal names the second by its id.
    admin.log_queue.put(LogEvent(0.0, LogKind.COMMAND, member="alice", line="cat x", command_id=7))
    admin.log_queue.put(LogEvent(0.0, LogKind.COMMAND, member="alice", line="cat x", command_id=8))
    admin.log_queue.put(
        LogEvent(
            0.0, LogKind.COMMAND_REFUSED, member="alice", line="cat x", reason="Worded any way at all", command_id=8
        )
    )
    pump_until(tk_root, lambda: len(admin.commands.get_children()) == 2, what="two command rows")
    gui_helpers.pump_for(tk_root, 0.2)
    first, second = (admin.commands.item(i, "values")[3] for i in admin.commands.get_children())
    assert (first, second) == ("allowed", "refused: Worded any way at all")


def test_the_event_log_shows_refused_members_in_red(tk_root, admin):
    admin.log_queue.put(
        LogEvent(0.0, LogKind.JOIN_REFUSED, address="127.0.0.1:5", reason="Wrong password for this chat.")
    )
    admin.log_queue.put(LogEvent(0.0, LogKind.COUNT, count=0))
    pump_until(tk_root, lambda: admin.events.get_children(), what="an event row")
    gui_helpers.pump_for(tk_root, 0.2)
    (row,) = admin.events.get_children()  # the connection count is not an event worth a row
    assert admin.events.item(row, "values")[1].startswith("Refused 127.0.0.1:5")
    assert admin.events.item(row, "tags") == ("error",)


def test_open_share_folder_asks_the_system_for_the_share(admin, server):
    opened = []
    admin.open_folder = opened.append
    admin.open_button.invoke()
    assert opened == [server.share]

    def broken(path):
        raise FileNotFoundError(2, "No such file or directory")

    admin.open_folder = broken
    admin.open_share()
    assert admin.status.cget("text") == "Could not open the folder: No such file or directory"


def test_kick_selected_removes_the_member(tk_root, admin, member):
    pump_until(tk_root, lambda: admin.members.exists("alice"))
    admin.kick_button.invoke()  # nothing selected: a hint, no kick
    assert admin.status.cget("text") == "Select a member in the table first."
    assert member.connected
    admin.members.selection_set("alice")
    admin.kick_button.invoke()
    pump_until(tk_root, lambda: "kicked" in notice_kinds(member), what="kicked notice")
    pump_until(tk_root, lambda: not admin.members.exists("alice"), what="alice gone from the table")


def test_stop_server_tells_members_and_closes_the_window(tk_root, server, member):
    top = tk.Toplevel(tk_root)
    window = AdminWindow(top, server)
    asked = []
    window.confirm_stop = lambda: asked.append("stop") or False
    top.tk.call(top.protocol("WM_DELETE_WINDOW"))  # the window's close button asks the same question
    window.stop_button.invoke()
    assert asked == ["stop", "stop"]
    assert top.winfo_exists() and server.online() == ["alice"]  # said no: nothing happened
    window.confirm_stop = lambda: True
    window.stop_button.invoke()
    assert window.stop_button.instate(["disabled"])  # no second stop while the first runs
    pump_until(tk_root, lambda: not top.winfo_exists(), what="the window to close")
    pump_until(tk_root, lambda: "shutdown" in notice_kinds(member), what="shutdown notice")
    assert window._stop_poll_id is None and window._refresh_id is None


def test_destroying_the_window_cancels_its_timers(tk_root, server):
    top = tk.Toplevel(tk_root)
    window = AdminWindow(top, server)
    window.copy_address()
    assert window._refresh_id is not None and window._copied_id is not None
    top.destroy()
    assert window._refresh_id is None and window._copied_id is None
    gui_helpers.pump_for(tk_root, 1.3)  # a stray refresh would raise a TclError here


def test_a_closed_window_stops_listening_to_the_host(tk_root, server):
    window = AdminWindow(tk.Toplevel(tk_root), server)
    assert window._log_callback in server.log
    window.close()
    assert window._log_callback not in server.log
