"""Attention: what the chat window does while the person is elsewhere (real window, focus events under Xvfb)."""

from __future__ import annotations

import tkinter as tk
from collections.abc import Sequence

import pytest

from gui.attention import mention_spans
from mmchat.protocol import ChatMessage, Notice
from tests import gui_helpers
from tests.gui_fakes import connected_window
from tests.gui_helpers import pump_until

tk_root = gui_helpers.tk_root  # the fixtures, used by name below
tk_errors = gui_helpers.tk_errors

TS = 1_700_000_000.0
TITLE = "alice — mmchat at 127.0.0.1:9"


class Recorder:
    """Stands in for the notifier runner and the bell."""

    def __init__(self) -> None:
        self.commands: list[list[str]] = []
        self.bells = 0

    def run(self, argv: Sequence[str]) -> None:
        self.commands.append(list(argv))

    def bell(self) -> None:
        self.bells += 1


@pytest.fixture
def chat(tk_root, tmp_path):
    window, _ = connected_window(tk_root, tmp_path)
    recorder = Recorder()
    window.attention.notifier = "notify-send"  # as if the system had it (tests never run it)
    window.attention.runner = recorder.run
    window.attention.bell = recorder.bell
    window.recorder = recorder
    pump_until(tk_root, lambda: window.master.winfo_ismapped(), what="the window on screen")
    yield window
    window.close()


def leave(window) -> None:
    """Give the keyboard focus to another window, as a person switching windows does."""
    elsewhere = tk.Toplevel(window.master.master)
    elsewhere.title("another window")
    pump_until(elsewhere, elsewhere.winfo_ismapped, what="the other window on screen")
    elsewhere.focus_force()
    pump_until(window.master, lambda: window.attention.away, what="the window to count as left")
    elsewhere.destroy()


def come_back(window) -> None:
    window.input.focus_force()
    pump_until(window.master, lambda: not window.attention.away, what="the window to count as back")


def message(seq: int, text: str, sender: str = "bob", history: bool = False) -> ChatMessage:
    return ChatMessage(seq, TS + seq, sender, text, history=history)


def test_away_the_title_counts_a_divider_marks_where_you_left_and_the_system_is_told(tk_root, tk_errors, chat) -> None:
    chat.events.handle(message(1, "seen before leaving"))
    assert chat.master.title() == TITLE
    leave(chat)
    chat.events.handle(message(2, "first new one"))
    chat.events.handle(message(3, "second new one"))
    assert chat.master.title() == f"(2) {TITLE}"
    content = chat.view.content()
    assert content.count("New messages") == 1
    assert content.index("seen before leaving") < content.index("New messages") < content.index("first new one")
    assert chat.recorder.bells == 1  # Tk 8.6 on X11 has no -urgent: the bell, once per absence
    assert chat.recorder.commands == [
        ["notify-send", "--app-name=mmchat", "--", "bob in mmchat", "first new one"],
        ["notify-send", "--app-name=mmchat", "--", "bob in mmchat", "second new one"],
    ]
    come_back(chat)
    assert chat.master.title() == TITLE and chat.attention.unread == 0 and not chat.attention.hinting
    chat.events.handle(message(4, "while here"))
    assert chat.master.title() == TITLE and len(chat.recorder.commands) == 2


def test_each_absence_has_one_divider_where_it_began(tk_root, tk_errors, chat) -> None:
    leave(chat)
    chat.events.handle(message(1, "during the first absence"))
    come_back(chat)
    chat.events.handle(message(2, "read at once"))
    leave(chat)
    chat.events.handle(message(3, "during the second absence"))
    content = chat.view.content()
    assert content.count("New messages") == 1
    assert content.index("read at once") < content.index("New messages") < content.index("during the second")
    assert chat.recorder.bells == 2


def test_in_front_nothing_is_counted_or_sent(tk_root, tk_errors, chat) -> None:
    chat.events.handle(message(1, "hello"))
    chat.events.handle(Notice(2, TS, "share", member="bob", filename="cat.png", size=10))
    assert chat.master.title() == TITLE
    assert "New messages" not in chat.view.content()
    assert chat.recorder.commands == [] and chat.recorder.bells == 0


def test_own_lines_history_and_joins_are_not_new_but_shares_are(tk_root, tk_errors, chat) -> None:
    leave(chat)
    chat.events.handle(message(1, "my own line", sender="alice"))
    chat.events.handle(message(2, "from before", history=True))
    chat.events.handle(Notice(3, TS, "join", member="carol"))
    assert chat.master.title() == TITLE and chat.recorder.commands == []
    chat.events.handle(Notice(4, TS, "share", member="bob", filename="cat.png", size=10))
    assert chat.master.title() == f"(1) {TITLE}"
    assert "cat.png" in chat.recorder.commands[0][-1]


def test_notifications_can_be_turned_off_but_a_mention_still_notifies(tk_root, tk_errors, chat) -> None:
    chat_menu = chat.menu.nametowidget(chat.menu.entrycget("Chat", "menu"))
    chat_menu.invoke(chat_menu.index("Desktop notifications"))  # as a click in the Chat menu
    assert chat.attention.notifications.get() is False
    leave(chat)
    chat.events.handle(message(1, "just chatting"))
    assert chat.recorder.commands == []
    assert chat.master.title() == f"(1) {TITLE}"  # still counted
    chat.events.handle(message(2, "@Alice can you look?"))
    assert chat.recorder.commands == [
        ["notify-send", "--app-name=mmchat", "--", "bob mentioned you", "@Alice can you look?"]
    ]
    first, last = chat.view.text.tag_ranges("mention")
    assert chat.view.text.get(first, last) == "@Alice"


def test_withdrawing_the_window_counts_as_leaving_and_showing_it_as_coming_back(tk_root, tk_errors, chat) -> None:
    chat.master.withdraw()
    pump_until(tk_root, lambda: chat.attention.away, what="unmapped window counted as left")
    chat.events.handle(message(1, "while hidden"))
    assert chat.master.title() == f"(1) {TITLE}"
    chat.master.deiconify()
    pump_until(tk_root, lambda: chat.master.title() == TITLE, what="count cleared on coming back")


def test_focus_moving_inside_the_window_is_not_leaving(tk_root, tk_errors, chat) -> None:
    chat.input.focus_force()
    pump_until(tk_root, lambda: chat.master.focus_get() is chat.input, what="focus in the message box")
    chat.master.event_generate("<FocusOut>")
    gui_helpers.pump_for(tk_root, 0.1)
    assert not chat.attention.away


def test_mentions_are_whole_names_in_any_case() -> None:
    text = "@alice hi, @Alice! bob@alice.org @alicex (@ALICE)"
    assert [text[a:b] for a, b in mention_spans(text, "alice")] == ["@alice", "@Alice", "@ALICE"]
    assert mention_spans("hello @ann lee", "ann lee") == [(6, 14)]
    assert mention_spans("@anyone", "") == []


def test_a_window_without_the_system_notifier_still_counts(tk_root, tk_errors, chat) -> None:
    chat.attention.notifier = None
    leave(chat)
    chat.events.handle(message(1, "@alice hi"))
    assert chat.recorder.commands == [] and chat.master.title() == f"(1) {TITLE}"
    assert isinstance(chat.attention.notifications, tk.BooleanVar)


def test_coming_back_after_many_messages_shows_where_you_left_off(tk_root, tk_errors, chat) -> None:
    chat.attention.notifier = None
    chat.events.handle(message(1, "the last one you read"))
    leave(chat)
    for seq in range(2, 80):
        chat.events.handle(message(seq, f"new line {seq}"))
    come_back(chat)
    text = chat.view.text
    divider = text.tag_ranges("unread")[0]
    gui_helpers.pump_until(tk_root, lambda: text.dlineinfo(divider) is not None, what="the divider in view")
    assert not chat.view.following and chat.view.jump.place_info()  # "New messages" leads to the end


def test_the_notifications_switch_is_remembered_for_the_next_window(tk_root, tk_errors, chat, tmp_path) -> None:
    from mmchat import settings

    chat_menu = chat.menu.nametowidget(chat.menu.entrycget("Chat", "menu"))
    chat_menu.invoke(chat_menu.index("Desktop notifications"))  # off
    assert settings.load_settings().notifications is False
    later, _ = connected_window(tk_root, tmp_path / "later")
    assert later.attention.notifications.get() is False  # the next window starts with it off
    later.attention.notifications.set(True)
    assert settings.load_settings().notifications is True
