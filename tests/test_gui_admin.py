"""The host's admin window: real windows (Xvfb) over a real host on 127.0.0.1."""

from __future__ import annotations

import queue
import tkinter as tk

import pytest

from gui.admin_window import AdminWindow, join_url
from mmchat.client import ChatClient
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


def test_header_shows_where_to_join_with_a_qr_code(tk_root, admin, server):
    port = server.address[1]
    assert admin.join_addresses() == f"127.0.0.1:{port}"  # bound to loopback: that is the only address
    assert str(port) in admin.address_label.cget("text")
    assert admin.qr_image.width() > 50
    assert join_url("192.168.1.5", 12002) == "mmchat://192.168.1.5:12002"
    admin.copy_address()
    assert tk_root.clipboard_get() == f"127.0.0.1:{port}"


def test_connections_table_lists_members_live(tk_root, admin, member):
    pump_until(tk_root, lambda: admin.members.exists("alice"), what="alice in the table")
    name, address, since, received, sent = admin.members.item("alice", "values")
    assert name == "alice" and address.startswith("127.0.0.1:") and since.count(":") == 2
    assert received.endswith("B") and sent.endswith("B")
    member.close()
    pump_until(tk_root, lambda: not admin.members.exists("alice"), what="alice gone from the table")


def test_command_log_shows_allowed_and_refused_commands(tk_root, admin, member):
    member.command("ls").wait()
    member.command("rm -rf /").wait()

    def rows():
        return [admin.commands.item(i, "values") for i in admin.commands.get_children()]

    pump_until(tk_root, lambda: len(rows()) == 2, what="two command rows")
    (_, who1, line1, result1), (_, who2, line2, result2) = rows()
    assert (who1, line1, result1) == ("alice", "ls", "ran")
    assert (who2, line2) == ("alice", "rm -rf /") and result2.startswith("refused")
    events = [admin.events.item(i, "values")[1] for i in admin.events.get_children()]
    assert any("New connection: alice" in text for text in events)


def test_kick_selected_removes_the_member(tk_root, admin, member):
    pump_until(tk_root, lambda: admin.members.exists("alice"))
    admin.kick_selected()  # nothing selected: a hint, no kick
    assert "Select a member" in admin.status.cget("text")
    admin.members.selection_set("alice")
    admin.kick_selected()
    pump_until(tk_root, lambda: "kicked" in notice_kinds(member), what="kicked notice")


def test_stop_server_tells_members_and_closes_the_window(tk_root, server, member):
    top = tk.Toplevel(tk_root)
    window = AdminWindow(top, server)
    window.confirm_stop = lambda: False
    window.stop_server()
    assert top.winfo_exists() and server.online() == ["alice"]  # said no: nothing happened
    window.confirm_stop = lambda: True
    window.stop_server()
    assert not top.winfo_exists()
    pump_until(tk_root, lambda: "shutdown" in notice_kinds(member), what="shutdown notice")


def test_destroying_the_window_cancels_its_timers(tk_root, server):
    top = tk.Toplevel(tk_root)
    window = AdminWindow(top, server)
    assert window._refresh_id is not None
    top.destroy()
    assert window._refresh_id is None
    gui_helpers.pump_for(tk_root, 1.3)  # a stray refresh would raise a TclError here
