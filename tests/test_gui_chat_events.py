"""ClientEvents: what the chat window shows for each event, fed straight in (no network)."""

from __future__ import annotations

import pytest

from gui.chat_events import MAX_WAITING, Answers
from gui.client_worker import CallDone, CallFailed
from mmchat.client import Disconnected, Request, Transfer, TransferFinished
from mmchat.protocol import ChatMessage, CommandResult, ErrorReply, FileList, Notice, OnlineList, SharedFile
from tests import gui_helpers
from tests.gui_fakes import connected_window

tk_root = gui_helpers.tk_root  # the fixtures, used by name below
tk_errors = gui_helpers.tk_errors

TS = 1_700_000_000.0


@pytest.fixture
def chat(tk_root, tmp_path):
    window, _ = connected_window(tk_root, tmp_path)
    yield window
    window.close()


# --- Answers: refs and answers in either order -----------------------------------------


def test_an_answer_after_its_ref_is_quiet_or_not_as_asked() -> None:
    answers = Answers()
    assert answers.asked(1, quiet=True) is None
    assert answers.asked(2, quiet=False) is None
    assert answers.answered(2, "two") is False
    assert answers.answered(1, "one") is True


def test_an_answer_before_its_ref_waits_for_it() -> None:
    answers = Answers()
    assert answers.answered(7, "seven") is None  # not known yet
    assert answers.asked(7, quiet=False) == "seven"
    assert answers.answered(7, "again") is None  # each ref is answered once


def test_unasked_answers_are_not_quiet_and_the_tables_stay_bounded() -> None:
    answers = Answers()
    assert answers.answered(0, "pushed by the host") is False
    for ref in range(1, MAX_WAITING + 50):
        answers.answered(ref, ref)
    assert answers.asked(1, quiet=True) is None  # the oldest waiting answers were let go
    assert answers.asked(MAX_WAITING + 49, quiet=True) == MAX_WAITING + 49


# --- the window ----------------------------------------------------------------------


def test_messages_are_shown_and_history_is_not_shown_twice(tk_root, tk_errors, chat) -> None:
    chat.events.handle(ChatMessage(1, TS, "bob", "hello from bob"))
    chat.events.handle(ChatMessage(2, TS, "alice", "my own line"))
    chat.events.handle(ChatMessage(1, TS, "bob", "hello from bob", history=True))  # replayed after a reconnect
    assert chat.view.content().count("hello from bob") == 1
    assert "own" in chat.view.text.tag_names(chat.view.text.search("my own line", "1.0"))


def test_asked_for_online_list_is_echoed_the_quiet_one_only_fills_the_panel(tk_root, tk_errors, chat) -> None:
    chat.events.handle(CallDone("online", Request(11), quiet=True))
    chat.events.handle(OnlineList(("alice", "bob"), ref=11))
    assert chat.side.names() == ["alice", "bob"]
    assert "Online:" not in chat.view.content()
    chat.events.handle(CallDone("online", Request(12), quiet=False))
    chat.events.handle(OnlineList(("alice", "bob", "carol"), ref=12))
    assert "Online: alice" in chat.view.content() and "carol" in chat.view.content()


def test_an_answer_that_overtakes_its_ref_is_echoed_when_the_ref_comes(tk_root, tk_errors, chat) -> None:
    files = FileList((SharedFile("notes.txt", 1200, "bob", TS),), ref=21)
    chat.events.handle(files)
    assert chat.side.files.exists("notes.txt")  # the panel does not wait
    assert "Shared files" not in chat.view.content()
    chat.events.handle(CallDone("files", Request(21), quiet=False))
    assert "Shared files" in chat.view.content() and "notes.txt" in chat.view.content()
    chat.events.handle(FileList(files.files, ref=22))
    chat.events.handle(CallDone("files", Request(22), quiet=True))
    assert chat.view.content().count("Shared files") == 1


def test_command_output_and_errors(tk_root, tk_errors, chat) -> None:
    chat.events.handle(CommandResult("pwd", "/share\n", allowed=True, ref=31))
    chat.events.handle(ErrorReply("No such file on the host: x.pdf", ref=32))
    content = chat.view.content()
    assert "$ pwd" in content and "/share" in content
    assert "No such file on the host: x.pdf" in content


def test_join_leave_and_share_notices(tk_root, tk_errors, chat) -> None:
    client = chat.client
    calls_before = len(client.calls)
    chat.events.handle(Notice(5, TS, "join", member="bob"))
    assert "bob" in chat.side.names()
    chat.events.handle(Notice(6, TS, "share", member="bob", filename="cat.png", size=2048))
    assert "Download" in chat.view.content() and "Preview" in chat.view.content()
    client.wait_for_calls(calls_before + 1)
    assert client.calls[-1] == ("files",)  # a share refreshes the file list, quietly
    chat.events.handle(Notice(7, TS, "leave", member="bob"))
    assert "bob" not in chat.side.names()


def test_the_host_going_away_offers_reconnect(tk_root, tk_errors, chat) -> None:
    chat.events.handle(Disconnected("The host closed the connection."))
    assert chat.ended == "Disconnected: The host closed the connection."
    assert chat.banner_button is not None and chat.banner_button["text"] == "Reconnect"
    assert chat.send_button.instate(["disabled"])


def test_our_own_leaving_is_not_an_error(tk_root, tk_errors, chat) -> None:
    chat.events.handle(Disconnected("The host closed the connection.", by_us=True))
    assert not chat.ended


def test_a_failed_message_comes_back_to_an_empty_input_box(tk_root, tk_errors, chat) -> None:
    chat.events.handle(CallFailed("say", "Not connected to the host.", text="lost words"))
    assert "Your message was not sent: Not connected to the host." in chat.view.content()
    assert chat.layout.typed() == "lost words"
    chat.events.handle(CallFailed("say", "Not connected to the host.", text="more words"))
    assert chat.layout.typed() == "lost words"  # never mixed into what is being typed


def test_failures_of_the_windows_own_questions_are_not_shown(tk_root, tk_errors, chat) -> None:
    chat.events.handle(CallFailed("files", "Not connected to the host.", quiet=True))
    chat.events.handle(CallFailed("cmd", "A command may have at most 1000 characters."))
    content = chat.view.content()
    assert "Not connected" not in content
    assert "A command may have at most 1000 characters." in content


def test_a_finished_transfer_is_reported(tk_root, tk_errors, chat) -> None:
    t = Transfer("download", "big.bin")
    t.error = "The transfer was cancelled."
    chat.events.handle(TransferFinished(t))
    assert "Download of big.bin failed: The transfer was cancelled." in chat.view.content()


def test_a_shared_picture_leaves_an_anchor_for_its_preview_and_away_it_counts(tk_root, tk_errors, chat) -> None:
    chat.attention.notifier = None  # nothing reaches the desktop from a test
    chat.attention.bell = lambda: None
    chat.attention.went_away()
    chat.events.handle(Notice(8, TS, "share", member="bob", filename="cat.png", size=2048))
    chat.events.handle(Notice(9, TS, "share", member="bob", filename="notes.pdf", size=2048))
    assert list(chat.view.anchors) == ["cat.png"]  # only pictures get a preview
    text = chat.view.text
    assert text.compare(chat.view.anchors["cat.png"], ">", text.search("cat.png", "1.0"))
    assert chat.attention.unread == 2 and chat.master.title().startswith("(2) ")
