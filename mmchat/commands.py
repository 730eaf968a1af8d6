"""The `!cmd` sandbox: a few read-only shell-like commands over the host's shared folder.

How this works
--------------
A member types `!cmd ls sub`; the host calls `CommandSandbox.run("ls sub", cwd)`
with that member's current folder and sends back `CommandOutcome.output`.
Nothing here starts a process or reaches a shell: each command is one small
Python method listed in `COMMANDS`, and every other word is refused.

A line is checked in this order: any shell syntax character refuses it outright
(even inside quotes, so nobody has to reason about quoting), `shlex.split` cuts
it into words, and the first word must be in `COMMANDS`.  Every path a member
names is joined to the share (a leading "/" or "~" means the share root),
resolved with `os.path.realpath` so that `..` and symlinks are followed, and
refused unless the result is the share root or inside it.  Names in `hidden`
are refused wherever they appear in the path, whether or not they exist, so the
answer never tells a member whether the host's private folder is there.
"""

from __future__ import annotations

import codecs
import datetime
import os
import pathlib
import shlex
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass

from .files import human_size

# Refused even when quoted: the words would be harmless to us, but a member
# who types them expects a shell, and a plain refusal is clearer than a surprise.
SHELL_SYNTAX = frozenset(";|&$`<>(){}\n\r\0")

# A folder with more entries than this is listed in part ("… and 99,000 more"),
# so one `ls` cannot flood the chat; only the entries shown are looked at closely.
MAX_LISTED = 1000
# Seconds an `ls` may spend reading a folder's names before it says what it saw.
LIST_TIME_LIMIT = 2.0

# Open without following a symlink swapped in after the check, without blocking
# on a FIFO, and (on Windows) without newline translation.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)

HELP_TEXT = (
    "ls [PATH]    list a folder, or show the size of one file\n"
    "cd [FOLDER]  go to a folder (no FOLDER, / or ~ goes to the top of the share)\n"
    "pwd          show the folder you are in\n"
    "cat FILE     show a text file\n"
    "echo TEXT    print TEXT\n"
    "date         show the host's date and time\n"
    "help         show this list"
)


@dataclass(frozen=True)
class CommandOutcome:
    """What one command line produced, as the member will see it."""

    allowed: bool
    output: str
    cwd: str


class _Refused(Exception):
    """A path the member may not reach; the message is shown to them as is."""


@dataclass(frozen=True)
class _Command:
    """One allowed command: its method and how many arguments it takes."""

    handler: Callable[..., tuple[str, str]]
    usage: str
    min_args: int
    max_args: int | None  # None: any number


class CommandSandbox:
    """Runs allow-listed commands for members, confined to one shared folder."""

    def __init__(
        self,
        root: pathlib.Path,
        hidden: frozenset[str] = frozenset({".mmchat"}),
        cat_limit: int = 64 * 1024,
        clock: Callable[[], datetime.datetime] | None = None,
        time_limit: float = LIST_TIME_LIMIT,
    ) -> None:
        self.root = os.path.realpath(root)
        self.hidden = hidden
        self.cat_limit = cat_limit
        self.clock = clock or datetime.datetime.now
        self.time_limit = time_limit
        # Compared case-folded: on Windows and macOS ".MMCHAT" opens ".mmchat".
        self._hidden_folded = {name.casefold() for name in hidden}

    def run(self, line: str, cwd: str = "") -> CommandOutcome:
        """Run one command line for a member whose current folder is `cwd`."""
        refusal = CommandOutcome(False, "No privileges to run the command: " + _printable(line.strip()), cwd)
        if any(char in SHELL_SYNTAX for char in line) or not _is_text(line):
            return refusal
        try:
            words = shlex.split(line, posix=True)
        except ValueError:
            message = "Could not read the command, a quote is not closed: "
            return CommandOutcome(False, message + _printable(line.strip()), cwd)
        if not words or words[0] not in COMMANDS:
            return refusal
        command, args = COMMANDS[words[0]], words[1:]
        here = self._current_folder(cwd)
        if len(args) < command.min_args or (command.max_args is not None and len(args) > command.max_args):
            return CommandOutcome(True, "Usage: " + command.usage, self._relative(here))
        try:
            output, here = command.handler(self, args, here)
        except _Refused as refused:
            return CommandOutcome(False, str(refused), self._relative(here))
        except (OSError, ValueError) as error:
            # str(error) would name the host's absolute path; strerror does not.
            reason = getattr(error, "strerror", None) or "the name is not valid"
            output = f"{words[0]} failed on the host: {reason}."
        return CommandOutcome(True, output, self._relative(here))

    # -- paths ---------------------------------------------------------------

    def _resolve(self, command: str, name: str, here: str) -> str:
        """Return the real host path of `name` typed in folder `here`, or refuse it."""
        if name in ("/", "~"):
            base, rest = self.root, ""
        elif name.startswith("~/"):
            base, rest = self.root, name[2:].lstrip("/")
        elif name.startswith("/"):
            base, rest = self.root, name.lstrip("/")
        else:
            base, rest = here, name
        real = os.path.realpath(os.path.join(base, rest))
        if not self._inside(real):
            raise _Refused(f"Not allowed outside the shared folder: {name}")
        typed = os.path.normpath(os.path.join(os.path.relpath(base, self.root), rest))
        if self._is_hidden(typed) or self._is_hidden(os.path.relpath(real, self.root)):
            raise _Refused(f"{command}: no such file or folder: {name}")
        return real

    def _inside(self, real: str) -> bool:
        """Tell whether a real path is the share root or inside it."""
        root, path = os.path.normcase(self.root), os.path.normcase(real)
        return path == root or path.startswith(root.rstrip(os.sep) + os.sep)

    def _is_hidden(self, relative: str) -> bool:
        """Tell whether any part of a share-relative path is a hidden name."""
        parts = pathlib.PurePath(relative).parts
        return any(part.casefold() in self._hidden_folded for part in parts)

    def _current_folder(self, cwd: str) -> str:
        """Return the real path of `cwd`, or the share root when it is gone or not allowed."""
        try:
            real = self._resolve("cd", "/" + cwd, self.root)
        except (_Refused, OSError, ValueError):
            return self.root
        return real if os.path.isdir(real) else self.root

    def _relative(self, real: str) -> str:
        """Return a real folder path as the share-relative POSIX path members use."""
        relative = os.path.relpath(real, self.root)
        return "" if relative == "." else pathlib.PurePath(relative).as_posix()

    # -- commands (each returns the output and the new current folder) ---------

    def _ls(self, args: list[str], here: str) -> tuple[str, str]:
        """List a folder, folders first, or show the size of one file."""
        name = args[0] if args else "."
        target = self._resolve("ls", name, here)
        if not os.path.exists(target):
            return f"ls: no such file or folder: {name}", here
        if not os.path.isdir(target):
            return f"{name}  {human_size(os.stat(target).st_size)}", here
        return self._listing(target), here

    def _listing(self, folder: str) -> str:
        """Return the lines `ls` shows for one folder: the first MAX_LISTED, and how many more."""
        deadline = time.monotonic() + self.time_limit
        entries: list[os.DirEntry[str]] = []
        late = False
        with os.scandir(folder) as scan:
            for entry in scan:
                if len(entries) % 1024 == 1023 and time.monotonic() > deadline:
                    late = True
                    break
                if entry.name.casefold() not in self._hidden_folded:
                    entries.append(entry)
        entries.sort(key=lambda entry: (not _is_dir(entry), entry.name.casefold()))
        folders: list[str] = []
        files: list[tuple[str, int]] = []
        looked = 0
        for entry in entries:
            if len(folders) + len(files) >= MAX_LISTED:
                break
            looked += 1
            real = os.path.realpath(entry.path) if entry.is_symlink() else entry.path
            # A link leading out of the share is not shown: its size alone
            # would tell the member something about the host.
            if not self._inside(real) or self._is_hidden(os.path.relpath(real, self.root)):
                continue
            try:
                info = os.stat(real)
            except OSError:
                continue  # a broken link, or removed while we looked
            if stat.S_ISDIR(info.st_mode):
                folders.append(_shown(entry.name) + "/")
            else:
                files.append((_shown(entry.name), info.st_size))
        width = max(len(name) for name, _ in files) if files else 0
        lines = [*folders, *(f"{name:<{width}}  {human_size(size)}" for name, size in files)]
        if late:
            lines.append(f"… and more: the folder is too big to read in {self.time_limit:g} seconds")
        elif len(entries) > looked:
            lines.append(f"… and {len(entries) - looked:,} more")
        return "\n".join(lines) or "(empty folder)"

    def _cd(self, args: list[str], here: str) -> tuple[str, str]:
        """Go to another folder of the share and show where the member now is."""
        name = args[0] if args else "/"
        target = self._resolve("cd", name, here)
        if not os.path.exists(target):
            return f"cd: no such file or folder: {name}", here
        if not os.path.isdir(target):
            return f"cd: not a folder: {name}", here
        return self._pwd([], target)[0], target

    def _pwd(self, args: list[str], here: str) -> tuple[str, str]:
        """Show the current folder as the member sees it ("/" is the share root)."""
        return "/" + self._relative(here), here

    def _cat(self, args: list[str], here: str) -> tuple[str, str]:
        """Show a text file, cut after `cat_limit` bytes."""
        name = args[0]
        target = self._resolve("cat", name, here)
        if not os.path.exists(target):
            return f"cat: no such file or folder: {name}", here
        if os.path.isdir(target):
            return f"cat: {name} is a folder", here
        return self._read_text(name, target), here

    def _read_text(self, name: str, path: str) -> str:
        """Read at most `cat_limit` bytes of a text file and describe any cut."""
        with os.fdopen(os.open(path, _OPEN_FLAGS), "rb") as file:
            info = os.fstat(file.fileno())
            if not stat.S_ISREG(info.st_mode):
                return f"cat: {name} is not a regular file"
            # One byte more than the limit tells us whether there is more.
            data = file.read(self.cat_limit + 1)
        cut = len(data) > self.cat_limit
        data = data[: self.cat_limit]
        if not data:
            return "(empty file)"
        try:
            # Not final when cut: a character split by the cut is held back
            # instead of being reported as undecodable.
            text = codecs.getincrementaldecoder("utf-8-sig")().decode(data, final=not cut)
        except UnicodeDecodeError:
            return f"cat: {name} is not a text file"
        if "\0" in text:
            return f"cat: {name} is not a text file"
        text = text.removesuffix("\n")  # the chat ends each message itself
        if cut:
            total = max(info.st_size, self.cat_limit + 1)
            shown, whole = human_size(self.cat_limit), human_size(total)
            text += f"\n[… cut: showing the first {shown} of {whole}]"
        return text

    def _echo(self, args: list[str], here: str) -> tuple[str, str]:
        """Print the arguments joined by single spaces."""
        return " ".join(args), here

    def _date(self, args: list[str], here: str) -> tuple[str, str]:
        """Show the host's local date and time, like `Sat Nov 21 23:54:00 2026`."""
        # ctime() does not depend on the locale, unlike strftime("%a %b").
        return self.clock().ctime(), here

    def _help(self, args: list[str], here: str) -> tuple[str, str]:
        """List the allowed commands."""
        return HELP_TEXT, here


COMMANDS: dict[str, _Command] = {
    "ls": _Command(CommandSandbox._ls, "ls [PATH]", 0, 1),
    "cd": _Command(CommandSandbox._cd, "cd [FOLDER]", 0, 1),
    "pwd": _Command(CommandSandbox._pwd, "pwd", 0, 0),
    "cat": _Command(CommandSandbox._cat, "cat FILE", 1, 1),
    "echo": _Command(CommandSandbox._echo, "echo TEXT", 0, None),
    "date": _Command(CommandSandbox._date, "date", 0, 0),
    "help": _Command(CommandSandbox._help, "help", 0, 0),
}


def _printable(text: str) -> str:
    """Show control characters as escapes so a message stays on one readable line."""
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def _is_text(line: str) -> bool:
    """Tell whether a line is valid Unicode (no lone surrogates), safe to echo back."""
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _is_dir(entry: os.DirEntry[str]) -> bool:
    """Tell whether a folder entry is a folder (from the entry itself where the system says so)."""
    try:
        return entry.is_dir()
    except OSError:
        return False


def _shown(name: str) -> str:
    """Return a file name from the disk as text safe to send (bad bytes replaced)."""
    return _printable(os.fsencode(name).decode("utf-8", "replace"))
