"""What a person reads for each event: one wording for the terminal and the windows.

Also the one rule for when the chat is over (`chat_over`), so the terminal and
the window end at the same events.
"""

from __future__ import annotations

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


def message_line(event: ChatMessage) -> str:
    """'[alice] hello 😎'."""
    return f"[{event.sender}] {event.text}"


def notice_line(event: Notice, me: str = "") -> str:
    """A join, leave, share or shutdown notice as a sentence."""
    who = event.member
    if event.kind == "join":
        return f"{who} has joined the chat"
    if event.kind == "leave":
        return f"{who} left the chat"
    if event.kind == "dropped":
        return f"{who} was disconnected (not reading messages)"
    if event.kind == "kicked":
        return "You were removed from the chat by the host." if who == me else f"{who} was removed by the host"
    if event.kind == "share":
        return f"{who} shared {event.filename} ({human_size(event.size)})"
    if event.kind == "shutdown":
        return "The host stopped the chat."
    return f"{who}: {event.kind}"


def online_lines(event: OnlineList) -> list[str]:
    """One name a line, in join order."""
    return list(event.members)


def file_line(entry: SharedFile) -> str:
    """'holiday.mp4  58.7 MB  shared by alice, 21 Nov 23:10'."""
    return f"{entry.filename}  {human_size(entry.size)}  shared by {entry.owner}, {clock(entry.ts)}"


def file_lines(event: FileList) -> list[str]:
    """The shared-file catalogue, or a sentence when it is empty."""
    if not event.files:
        return ["No files have been shared yet."]
    return [file_line(entry) for entry in event.files]


def command_lines(event: CommandResult) -> list[str]:
    """The output of a !cmd."""
    return event.output.splitlines() or [""]


def verify_line(event: VerifyResult) -> str:
    """'verified (issued to alice)' or 'invalid or expired'."""
    return f"verified (issued to {event.owner})" if event.valid else "invalid or expired"


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
    return transfer_result(t.direction, t.ok, t.remote_name or t.filename, detail)


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
