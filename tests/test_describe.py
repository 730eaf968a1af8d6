"""mmchat.describe: the sentences a person reads, and when the chat is over."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from mmchat import describe
from mmchat.client import Disconnected
from mmchat.protocol import (
    ChatMessage,
    CommandResult,
    ErrorReply,
    FileList,
    Notice,
    OnlineList,
    SharedFile,
    VerifyResult,
)

NOW = time.time()


def notice(kind: str, member: str = "bob", history: bool = False, filename: str = "", size: int = 0) -> Notice:
    return Notice(seq=1, ts=NOW, kind=kind, member=member, filename=filename, size=size, history=history)


@dataclass
class FakeTransfer:
    direction: str
    filename: str
    remote_name: str = ""
    path: Path | None = None
    ok: bool = False
    error: str = ""


def test_transfer_result_sentences() -> None:
    assert describe.transfer_result("upload", True, "a.txt", "") == "File sent successfully: a.txt"
    assert describe.transfer_result("download", True, "a.txt", "/d/a.txt") == "File received successfully: /d/a.txt"
    assert describe.transfer_result("download", False, "a.txt", "gone") == "Download of a.txt failed: gone"
    assert describe.transfer_result("upload", False, "a.txt", "gone") == "Upload of a.txt failed: gone"


@pytest.mark.parametrize(
    ("transfer", "line"),
    [
        (FakeTransfer("upload", "a.txt", remote_name="a-2.txt", ok=True), "File sent successfully: a-2.txt"),
        (FakeTransfer("download", "a.txt", path=Path("/d/a.txt"), ok=True), "File received successfully: /d/a.txt"),
        (FakeTransfer("upload", "a.txt", error="The host is full."), "Upload of a.txt failed: The host is full."),
        (FakeTransfer("download", "b.txt", error="No such file."), "Download of b.txt failed: No such file."),
    ],
)
def test_transfer_line_reads_a_finished_transfer(transfer: FakeTransfer, line: str) -> None:
    assert describe.transfer_line(transfer) == line


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (notice("shutdown", member=""), "The host stopped the chat."),
        (notice("kicked", member="alice"), "You were removed from the chat by the host."),
        (Disconnected("The host closed the connection."), "Disconnected: The host closed the connection."),
        (notice("kicked", member="bob"), ""),  # someone else
        (notice("shutdown", member="", history=True), ""),  # an old chat's end, replayed
        (notice("kicked", member="alice", history=True), ""),
        (notice("join", member="alice"), ""),
        (notice("leave"), ""),
        (Disconnected("You left.", by_us=True), ""),  # we closed it: nothing to explain
        (ChatMessage(seq=1, ts=NOW, sender="bob", text="bye"), ""),
        (None, ""),
    ],
)
def test_when_the_chat_is_over(event: object, reason: str) -> None:
    assert describe.chat_over(event, "alice") == reason


def test_notice_lines() -> None:
    assert describe.notice_line(notice("join")) == "bob has joined the chat"
    assert describe.notice_line(notice("leave")) == "bob left the chat"
    assert describe.notice_line(notice("dropped")) == "bob was disconnected (not reading messages)"
    assert describe.notice_line(notice("kicked"), me="alice") == "bob was removed by the host"
    assert describe.notice_line(notice("kicked"), me="bob") == "You were removed from the chat by the host."
    assert describe.notice_line(notice("share", filename="a.png", size=2048)) == "bob shared a.png (2.0 kB)"
    assert describe.notice_line(notice("shutdown")) == "The host stopped the chat."
    assert describe.notice_line(notice("wave")) == "bob: wave"


def test_replies() -> None:
    assert describe.message_line(ChatMessage(seq=1, ts=NOW, sender="bob", text="hi 😎")) == "[bob] hi 😎"
    assert describe.online_lines(OnlineList(members=("alice", "bob"), ref=1)) == ["alice", "bob"]
    assert describe.file_lines(FileList(files=(), ref=1)) == ["No files have been shared yet."]
    entry = SharedFile(filename="a.txt", size=1000, owner="bob", ts=NOW)
    assert describe.file_lines(FileList(files=(entry,), ref=1)) == [
        f"a.txt  1.0 kB  shared by bob, {describe.clock(NOW)}"
    ]
    assert describe.command_lines(CommandResult(line="ls", output="a\nb\n", allowed=True, ref=1)) == ["a", "b"]
    assert describe.command_lines(CommandResult(line="ls", output="", allowed=True, ref=1)) == [""]
    assert describe.verify_line(VerifyResult(code="C", valid=True, owner="bob", ref=1)) == "verified (issued to bob)"
    assert describe.verify_line(VerifyResult(code="C", valid=False, owner="", ref=1)) == "invalid or expired"
    assert (
        describe.error_line(ErrorReply(message="No such file on the host: x.", ref=1)) == "No such file on the host: x."
    )


def test_clock_shows_the_day_only_when_it_is_not_today() -> None:
    assert len(describe.clock(NOW)) == 5  # 'HH:MM'
    assert describe.clock(NOW - 3 * 86400).count(" ") == 2  # '21 Nov 23:10'


def test_progress_bar() -> None:
    bar = describe.progress_bar("a.txt", 500, 1000, 2000.0, width=10)
    assert bar == "a.txt [#####-----]  50%  500 B / 1.0 kB  2.0 kB/s"
    assert "100%" in describe.progress_bar("empty", 0, 0, 0.0)


def test_help_lists_every_command() -> None:
    for word in ("!online", "!send", "!req", "!files", "!cmd", "!get QRcode", "!verify", "!help", "!exit"):
        assert word in describe.HELP


# --- nothing a member sends passes for someone else's line or a host notice ---------------------


def message(text: str, sender: str = "mallory") -> ChatMessage:
    return ChatMessage(seq=1, ts=NOW, sender=sender, text=text)


HOSTILE_TEXTS = [
    "hi\n[bob] I owe alice 100€",
    "hi\nalice has joined the chat",
    "hi\nThe host stopped the chat.",
    "hi\r\n[bob] crlf",
    "hi\r[bob] carriage return overwrites the line",
    "hi\x0b[bob] vertical tab",
    "hi\x0c[bob] form feed",
    "hi\x85[bob] next line",
    "hi\u2028[bob] line separator",
    "hi\u2029[bob] paragraph separator",
    "\u202e]bob[ reversed",
    "hi\n\n\n[bob] after empty lines",
]


@pytest.mark.parametrize("text", HOSTILE_TEXTS)
def test_a_message_never_makes_a_line_that_starts_like_another(text):
    lines = describe.message_lines(message(text))
    assert lines[0].startswith("[mallory] ")
    for line in lines[1:]:
        assert line.startswith(" " * len("[mallory] ")), lines  # under the sender, never at column 0
    joined = "\n".join(lines)
    for hidden in ("\r", "\x0b", "\x0c", "\x85", "\u2028", "\u2029", "\u202e"):
        assert hidden not in joined


def test_a_message_of_several_lines_is_indented_under_its_sender():
    assert describe.message_lines(message("hi\n[bob] I owe alice 100€")) == [
        "[mallory] hi",
        "          [bob] I owe alice 100€",
    ]
    lead = "(history 23:10) "
    assert describe.message_lines(message("a\nb"), lead) == [lead + "[mallory] a", " " * len(lead + "[mallory] ") + "b"]
    assert describe.message_line(message("a\nb", "al")) == "[al] a\n     b"


def test_controls_and_bidi_controls_are_shown_as_escapes():
    assert describe.visible("a\x1b[2Jb\u202ec\u2066d\x07\r\n") == "a\\x1b[2Jb\\u202ec\\u2066d\\x07\n"
    assert describe.visible("👩\u200d💻 ❤️ tab\tkept") == "👩\u200d💻 ❤️ tab\tkept"  # emoji joiners are not controls
    assert describe.one_line("evil\nThe host stopped the chat.\t") == "evil\\x0aThe host stopped the chat.\\x09"


def test_file_names_and_names_in_notices_and_lists_stay_on_one_line():
    fake = "x.txt (1 kB)\nThe host stopped the chat."
    line = describe.notice_line(notice("share", "bob", filename=fake, size=1000))
    assert "\n" not in line and line.startswith("bob shared x.txt (1 kB)\\x0aThe host")
    entry = SharedFile(filename="a\n[bob] hi", size=1, owner="bo\u202eb", ts=NOW)
    assert "\n" not in describe.file_line(entry) and "\u202e" not in describe.file_line(entry)
    assert describe.online_lines(OnlineList(members=("a\nb",), ref=1)) == ["a\\x0ab"]


def test_command_output_cannot_hide_or_move_text():
    output = "[bob] fake\r\nline\x1b[1A\u202eevil\n"
    assert describe.command_lines(CommandResult(line="cat x", output=output, allowed=True, ref=1)) == [
        "[bob] fake",
        "line\\x1b[1A\\u202eevil",
    ]
