"""The admin window's Kick…, Ban… and Bans tab (gui.admin_bans), and its fingerprint line: real Tk, a real host."""

from __future__ import annotations

import tkinter as tk

import pytest

from gui.admin_window import AdminWindow
from mmchat.client import ChatClient, ConnectError, Disconnected
from mmchat.protocol import RefusalKind
from mmchat.server import ChatServer
from tests import gui_helpers, test_gui_admin
from tests.gui_helpers import pump_until

tk_root = gui_helpers.tk_root
server, alice = test_gui_admin.server, test_gui_admin.member  # a host on 127.0.0.1, and alice joined to it


class Asked:
    """Stands in for the confirmation dialog: records each question, answers `answer`."""

    def __init__(self, answer: bool) -> None:
        self.answer = answer
        self.questions: list[tuple[str, str]] = []

    def __call__(self, title: str, question: str) -> bool:
        self.questions.append((title, question))
        return self.answer


@pytest.fixture
def admin(tk_root, server):
    window = AdminWindow(tk_root, server)
    window.confirm_stop = lambda: True
    yield window
    window.close()


def disconnected(tk_root: tk.Tk, client: ChatClient) -> Disconnected:
    seen: list[object] = []

    def gone() -> bool:
        while not client.events.empty():
            seen.append(client.events.get_nowait())
        return any(isinstance(e, Disconnected) for e in seen)

    pump_until(tk_root, gone, what="the member disconnected")
    return next(e for e in seen if isinstance(e, Disconnected))


def test_kick_asks_first_and_a_no_keeps_the_member(tk_root, admin, server, alice):
    pump_until(tk_root, lambda: admin.members.exists("alice"))
    admin.actions.confirm = asked = Asked(False)
    admin.members.selection_set("alice")
    admin.kick_button.invoke()
    assert asked.questions[0][0] == "Kick alice?" and "may join again" in asked.questions[0][1]
    gui_helpers.pump_for(tk_root, 0.3)
    assert server.online() == ["alice"] and alice.connected  # a "no" does nothing
    admin.actions.confirm = Asked(True)
    admin.kick_button.invoke()
    disconnected(tk_root, alice)
    pump_until(tk_root, lambda: not admin.members.exists("alice"))
    assert server.bans() == []  # a kick is not a ban


def test_ban_asks_then_drops_the_member_lists_the_ban_and_lift_lets_them_in(tk_root, admin, server, alice):
    pump_until(tk_root, lambda: admin.members.exists("alice"))
    admin.actions.ban_button.invoke()  # nothing selected: a hint, no ban
    assert admin.status.cget("text") == "Select a member in the table first."
    admin.members.selection_set("alice")
    admin.actions.confirm = asked = Asked(False)
    admin.actions.ban_button.invoke()
    title, question = asked.questions[0]
    assert title == "Ban alice?" and "127.0.0.1" in question and "lift it in the Bans tab" in question
    assert server.bans() == [] and alice.connected
    admin.actions.confirm = Asked(True)
    admin.actions.ban_button.invoke()
    assert "banned" in disconnected(tk_root, alice).reason
    pump_until(tk_root, lambda: admin.actions.bans.exists("127.0.0.1"), what="the ban listed")
    assert admin.actions.bans.item("127.0.0.1", "values")[1] == "alice"
    assert admin.actions.bans_hint.cget("text") == "1 banned"
    with pytest.raises(ConnectError) as refused:
        ChatClient("127.0.0.1", server.address[1], "alice").connect()
    assert refused.value.refusal is RefusalKind.BANNED
    admin.actions.lift_button.invoke()  # nothing selected
    assert admin.status.cget("text") == "Select a ban in the Bans tab first."
    admin.actions.bans.selection_set("127.0.0.1")
    admin.actions.lift_button.invoke()
    pump_until(tk_root, lambda: not admin.actions.bans.get_children(), what="the ban lifted")
    assert admin.actions.bans_hint.cget("text") == "Nobody is banned."
    again = ChatClient("127.0.0.1", server.address[1], "alice")
    assert again.connect() == "alice"
    again.close()


def test_the_event_log_shows_the_ban_and_its_lifting(tk_root, admin, server, alice):
    pump_until(tk_root, lambda: admin.members.exists("alice"))
    server.ban("alice")
    pump_until(tk_root, lambda: server.bans())
    server.unban("127.0.0.1")

    def texts() -> list[str]:
        return [admin.events.item(row, "values")[1] for row in admin.events.get_children()]

    pump_until(tk_root, lambda: "Lifted the ban on 127.0.0.1" in texts(), what="the lifting logged")
    assert "Banned 127.0.0.1 and dropped alice" in texts()


def test_no_fingerprint_line_without_tls(tk_root, tmp_path):
    plain = ChatServer(tmp_path / "share", "127.0.0.1", 0, tls=False)  # --no-tls: nothing to show
    plain.start()
    window = AdminWindow(tk_root, plain)
    try:
        assert not hasattr(window, "fingerprint")
        assert window.invite() == f"mmchat://127.0.0.1:{window.port}"
    finally:
        window.close()
        plain.stop()


def test_the_fingerprint_is_shown_selectable_and_copied_with_the_invite(tk_root, server):
    fingerprint = server.fingerprint  # its certificate's
    assert len(fingerprint) == 95
    window = AdminWindow(tk_root, server)
    try:
        line = window.fingerprint
        assert line.get() == f"Fingerprint: {fingerprint}"
        assert line.instate(["readonly"])
        line.select_range(0, "end")  # a person can select it to copy it
        assert line.selection_present()
        window.copy_address()
        assert tk_root.clipboard_get() == f"mmchat://127.0.0.1:{window.port}/#{fingerprint}"
    finally:
        window.close()
