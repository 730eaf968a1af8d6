"""What a person reads for each event: one wording for the terminal and the windows."""

from __future__ import annotations

import time

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
  !files          list the shared files
  !cmd COMMAND    run a command on the host's shared folder: ls, cd, pwd, cat, echo, date, help
  !get QRcode     get a one-time code as a QR image (also !qr)
  !verify CODE    check a one-time code (valid once, for 60 s)
  !help           this list
  !exit, !q       leave the chat"""
