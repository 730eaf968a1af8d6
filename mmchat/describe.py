"""What a person reads for each event: one wording for the terminal and the windows.

Also the one rule for when the chat is over (`chat_over`), so the terminal and
the window end at the same events.

Nothing a member sends may pass for someone else's line or a host notice.  The
rule: a message's first line starts with its sender, `[alice] `, and its other
lines are indented under it (`message_lines`); the terminal indents listings
(!online, !files, !cmd output) by `INDENT` too, so column 0 only ever holds a
sender in brackets (names may not contain brackets) or a sentence of the host
or of mmchat itself.  Control characters, bidi controls and line separators a
member sent are shown as escapes such as \x1b or \u202e (`visible`); in a name
or a file name a new line or a tab is one too (`one_line`).
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Protocol

from .client import Disconnected
from .files import human_size
from .protocol import (
    ChatMessage,
    CommandResult,
    ErrorReply,
    FileList,
    Notice,
    OnlineList,
    SharedFile,
    VerifyResult,
)


def clock(ts: float) -> str:
    """'23:10' for today, '21 Nov 23:10' otherwise."""
    local = time.localtime(ts)
    if time.strftime("%Y%m%d", local) == time.strftime("%Y%m%d"):
        return time.strftime("%H:%M", local)
    return time.strftime("%d %b %H:%M", local)


INDENT = "  "  # before each line of a listing in the terminal

# C0 and C1 controls but new line and tab, bidi embeddings, overrides, isolates and marks, and
# the line and paragraph separators: what could move or hide text, or start a line unseen.
_HIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")
_BREAKS = re.compile("[\t\n]")


def _escape(found: re.Match[str]) -> str:
    code = ord(found.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str) -> str:
    """`text` with controls, bidi controls and line separators as escapes ('\\x1b', '\\u202e'); new lines kept."""
    return _HIDDEN.sub(_escape, text.replace("\r\n", "\n"))


def one_line(text: str) -> str:
    """`visible(text)` with new lines and tabs shown as escapes too: for a name or a file name."""
    return _BREAKS.sub(_escape, visible(text))


def message_lines(event: ChatMessage, lead: str = "") -> list[str]:
    """'[alice] first line' then the message's other lines indented under it (after `lead`)."""
    first = f"{lead}[{one_line(event.sender)}] "
    lines = visible(event.text).split("\n")
    return [first + lines[0], *(" " * len(first) + line for line in lines[1:])]


def message_line(event: ChatMessage) -> str:
    """'[alice] hello 😎' (a message of several lines: its other lines indented)."""
    return "\n".join(message_lines(event))


def notice_line(event: Notice, me: str = "") -> str:
    """A join, leave, share or shutdown notice as a sentence."""
    who = one_line(event.member)
    if event.kind == "join":
        return f"{who} has joined the chat"
    if event.kind == "leave":
        return f"{who} left the chat"
    if event.kind == "dropped":
        return f"{who} was disconnected (not reading messages)"
    if event.kind == "kicked":
        return "You were removed from the chat by the host." if who == me else f"{who} was removed by the host"
    if event.kind == "share":
        return f"{who} shared {one_line(event.filename)} ({human_size(event.size)})"
    if event.kind == "shutdown":
        return "The host stopped the chat."
    if event.kind == "timed out":
        return f"{who} timed out (their computer stopped answering)"
    return f"{who}: {event.kind}"


def online_lines(event: OnlineList) -> list[str]:
    """One name a line, in join order."""
    return [one_line(name) for name in event.members]


def file_line(entry: SharedFile) -> str:
    """'holiday.mp4  58.7 MB  shared by alice, 21 Nov 23:10'."""
    return f"{one_line(entry.filename)}  {human_size(entry.size)}  shared by {one_line(entry.owner)}, {clock(entry.ts)}"


def file_lines(event: FileList) -> list[str]:
    """The shared-file catalogue, or a sentence when it is empty."""
    if not event.files:
        return ["No files have been shared yet."]
    return [file_line(entry) for entry in event.files]


def command_lines(event: CommandResult) -> list[str]:
    """The output of a !cmd."""
    lines = visible(event.output).split("\n")
    if lines[-1] == "":
        lines.pop()  # the end of the last line, not an empty line after it
    return lines or [""]


def verify_line(event: VerifyResult) -> str:
    """'verified (issued to alice)' or 'invalid or expired'."""
    return f"verified (issued to {one_line(event.owner)})" if event.valid else "invalid or expired"


def error_line(event: ErrorReply) -> str:
    """The host's error sentence."""
    return event.message


class FinishedTransfer(Protocol):
    """What `transfer_line` reads of a finished mmchat.client.Transfer."""

    direction: str  # "upload" or "download"
    filename: str
    remote_name: str
    path: Path | None
    ok: bool
    error: str


def transfer_result(direction: str, ok: bool, name: str, detail: str) -> str:
    """The line shown when a transfer ends: `detail` is where it went, or the error."""
    if ok and direction == "upload":
        return f"File sent successfully: {name}"
    if ok:
        return f"File received successfully: {detail}"
    verb = "Upload" if direction == "upload" else "Download"
    return f"{verb} of {name} failed: {detail}"


def transfer_line(t: FinishedTransfer) -> str:
    """The line shown when transfer `t` ends: the name the host keeps, where it landed, or why it failed."""
    detail = str(t.path) if t.ok else t.error
    return transfer_result(t.direction, t.ok, one_line(t.remote_name or t.filename), detail)


def resume_line(direction: str, filename: str, offset: int, size: int) -> str:
    """'Resuming notes.pdf at 41 % (2.1 MB of 5.0 MB were there already).'"""
    percent = 100 if size == 0 else int(offset * 100 / size)
    there = "on the host" if direction == "upload" else "here"
    return f"Resuming {one_line(filename)} at {percent} % ({human_size(offset)} of {human_size(size)} {there} already)."


def chat_over(event: object, me: str) -> str:
    """Why the chat is over for `me` after `event`, as a sentence; '' while it goes on.

    The host stopping the chat or removing `me` ends it, as does the connection
    going away; a notice replayed from history, another member's removal, and a
    connection we closed ourselves do not.
    """
    if isinstance(event, Notice):
        if not event.history and (event.kind == "shutdown" or (event.kind == "kicked" and event.member == me)):
            return notice_line(event, me)
        return ""
    if isinstance(event, Disconnected) and not event.by_us:
        return f"Disconnected: {event.reason}"
    return ""


def progress_bar(name: str, done: int, total: int, rate: float, width: int = 24) -> str:
    """'notes.pdf [#########-----]  62%  1.2 MB / 2.0 MB  3.4 MB/s'."""
    fraction = 1.0 if total == 0 else min(done / total, 1.0)
    filled = int(width * fraction)
    bar = "#" * filled + "-" * (width - filled)
    return f"{name} [{bar}] {fraction * 100:3.0f}%  {human_size(done)} / {human_size(total)}  {human_size(int(rate))}/s"


HELP = """Commands:
  (any text)      send a message to everyone
  !online         who is here
  !send PATH      share a file with everyone (it goes to the host's shared folder)
  !req NAME       download a shared file
                  (quote a name as a shell would: !send "my file .txt ", !req "it's.txt")
  !files          list the shared files
  !cmd COMMAND    run a command on the host's shared folder: ls, cd, pwd, cat, echo, date, help
  !get QRcode     get a one-time code as a QR image (also !qr)
  !verify CODE    check a one-time code (valid once, for 60 s)
  !help           this list
  !exit, !q       leave the chat"""
