"""The host's admin window: real windows (Xvfb) over a real host on 127.0.0.1."""

from __future__ import annotations

import queue
import tkinter as tk

import pytest

from gui.admin_window import AdminWindow, CommandRows, format_since, join_url
from mmchat.client import ChatClient
from mmchat.protocol import Notice
from mmchat.server import ChatServer, LogEvent
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


def test_a_refusal_marks_the_oldest_waiting_command_with_that_line():
    rows = CommandRows()
    rows.add("alice", "ls", "r1")
    rows.add("alice", "rm x", "r2")
    rows.add("alice", "ls", "r3")
    rows.add("bob", "rm x", "b1")
    assert rows.refuse("alice", "rm x (No privileges to run the command: rm x)") == (
        "r2",
        "No privileges to run the command",  # without repeating the line the row shows
    )
    assert rows.refuse("alice", "ls (nope)") == ("r3", "nope")  # r1 finished before r2: it was allowed
    assert rows.refuse("alice", "ls (again)") is None
    rows.forget("bob")
    assert rows.refuse("bob", "rm x (no)") is None


# --- the window --------------------------------------------------------------------------


def test_header_shows_where_to_join_with_a_qr_code(tk_root, admin, server):
    port = server.address[1]
    assert admin.join_addresses() == f"127.0.0.1:{port}"  # bound to loopback: that is the only address
    assert admin.address_label.cget("text") == f"127.0.0.1:{port}"
    assert 100 <= admin.qr_image.width() <= 200  # a QR code, shrunk to fit the header
    assert join_url("192.168.1.5", 12002) == "mmchat://192.168.1.5:12002"
    admin.copy_address()
    assert tk_root.clipboard_get() == f"127.0.0.1:{port}"
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


def test_the_event_log_shows_refused_members_in_red(tk_root, admin):
    admin.log_queue.put(LogEvent(0.0, "refused", "Refused 127.0.0.1:5: Wrong password for this chat."))
    admin.log_queue.put(LogEvent(0.0, "count", "Active connections: 0"))
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
    assert window._log_callback in server._subscribers
    window.close()
    assert window._log_callback not in server._subscribers
