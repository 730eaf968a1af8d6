r"""What a person typed: the one parser for a line in the terminal chat and the chat window's input box.

How this works
--------------
A line that does not start with '!' is a message.  Otherwise its first word,
up to any whitespace (spaces, tabs, a new line), names the command and the
rest, trimmed, is its argument: `!cmd<TAB>ls` is `!cmd` with `ls`, as
`!cmd   ls` is.  The word is read without regard to case.  A command that
needs an argument and has none, or an unknown word, becomes a `Typed` whose
kind is USAGE or UNKNOWN and whose argument is the sentence to show; so each
front end only acts on the kind and never words a reply itself.

A file name after `!send` or `!req` is taken as typed (spaces inside and
backslashes kept: `!send C:\Users\me\my notes.txt`), except that a name
which starts with a quote is read as a POSIX shell reads a word (`shlex`):
`!send "my file .txt "` keeps its trailing space, `!send "it's.txt"` or
`!send 'say "hi".txt'` their quotes, and `\"` or `\\` inside double quotes
stand for `"` and `\`.  The quoted word must be the whole argument.
"""

from __future__ import annotations

import enum
import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

MAX_SHOWN_WORD = 40  # an unknown command is echoed back at most this long

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class Kind(enum.StrEnum):
    """What a typed line asks for (a StrEnum: `typed.kind == "send"` holds)."""

    NOTHING = "nothing"  # an empty line
    SAY = "say"
    ONLINE = "online"
    FILES = "files"
    SEND = "send"
    REQ = "req"
    CMD = "cmd"
    QR = "qr"
    VERIFY = "verify"
    HELP = "help"
    EXIT = "exit"
    USAGE = "usage"  # arg: the usage sentence to show
    UNKNOWN = "unknown"  # arg: the sentence to show


@dataclass(frozen=True, init=False)
class Typed:
    """One typed line: its kind, and the text it acts on (for USAGE and UNKNOWN: the sentence to show)."""

    kind: Kind
    arg: str

    def __init__(self, kind: Kind | str, arg: str = "") -> None:
        # Typed("cmd", "ls") is as good as Typed(Kind.CMD, "ls"); a kind that does not exist fails here.
        object.__setattr__(self, "kind", Kind(kind))
        object.__setattr__(self, "arg", arg)


_WITHOUT_ARGUMENT = {
    "!online": Kind.ONLINE,
    "!files": Kind.FILES,
    "!help": Kind.HELP,
    "!qr": Kind.QR,
    "!exit": Kind.EXIT,
    "!q": Kind.EXIT,
    "!quit": Kind.EXIT,
}

_WITH_ARGUMENT = {
    "!send": (Kind.SEND, "Usage: !send PATH"),
    "!req": (Kind.REQ, "Usage: !req NAME"),
    "!cmd": (Kind.CMD, "Usage: !cmd COMMAND (try !cmd help)"),
    "!verify": (Kind.VERIFY, "Usage: !verify CODE"),
}

GET_USAGE = "Usage: !get QRcode"


def parse_typed(text: str) -> Typed:
    """Read one typed line: a message, or a ! command with its argument."""
    text = clean_text(text)
    if not text.strip():
        return Typed(Kind.NOTHING)
    if not text.startswith("!"):
        return Typed(Kind.SAY, text.rstrip())
    # split(None, 1) splits at any run of whitespace, tabs included: the one rule for both front ends.
    parts = text.strip().split(None, 1)
    word, rest = parts[0].lower(), parts[1].strip() if len(parts) > 1 else ""
    if word in _WITHOUT_ARGUMENT:
        return Typed(_WITHOUT_ARGUMENT[word])
    if word == "!get":
        return Typed(Kind.QR) if rest.lower() == "qrcode" else Typed(Kind.USAGE, GET_USAGE)
    if word in _WITH_ARGUMENT:
        kind, usage = _WITH_ARGUMENT[word]
        if kind in (Kind.SEND, Kind.REQ) and rest:
            rest, problem = file_argument(rest)
            if problem:
                return Typed(Kind.USAGE, f"{usage} ({problem})")
        return Typed(kind, rest) if rest else Typed(Kind.USAGE, usage)
    shown = word if len(word) <= MAX_SHOWN_WORD else word[: MAX_SHOWN_WORD - 1] + "…"
    return Typed(Kind.UNKNOWN, f"Unknown command: {shown} (type !help for the list)")


def file_argument(typed: str) -> tuple[str, str]:
    """The file name a `!send` or `!req` argument names, and '' or what is wrong with its quotes."""
    if not typed.startswith(("'", '"')):
        return typed, ""
    try:
        words = shlex.split(typed, posix=True)
    except ValueError:  # shlex: "No closing quotation" (or an escape at the very end)
        return "", "a quote is not closed"
    if len(words) != 1:
        return "", 'one name; quote it if it has spaces: "my file.txt"'
    return words[0], ""


def local_path(arg: str) -> Path:
    """The file a `!send` argument names ('~' expanded)."""
    return Path(os.path.expanduser(arg))


def clean_text(text: str) -> str:
    """`text` without lone surrogates (what Tk returns for half an emoji): safe to encode as UTF-8."""
    return _LONE_SURROGATE.sub("", text)
