"""Opening a downloaded file with the system's own program, and showing it in its folder.

How this works
--------------
Each system has one way: Windows opens with `os.startfile` and shows a file
selected in Explorer (`explorer /select,PATH`); macOS has `open PATH` and
`open -R PATH` (reveal in the Finder); other systems (Linux, the BSDs) have
`xdg-open`, which opens a file, or a folder in the file manager — there is no
common way to select a file there, so Show in folder opens its folder.  The
commands are built by `open_command` / `show_command` from the platform name
alone, so every system's command is tested on any machine; `open_path` and
`show_in_folder` run them as argument lists (never through a shell, so no
name is ever read as a command) and do not wait for the program.  A failure
is an OSError with a sentence.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

STARTFILE = "startfile"  # the Windows open command: os.startfile, not a program


def _family(platform: str | None) -> str:
    platform = platform or sys.platform
    if platform.startswith("win"):
        return "windows"
    if platform == "darwin":
        return "macos"
    return "unix"


def open_command(path: Path, platform: str | None = None) -> list[str]:
    """The command that opens `path` with its default program ([STARTFILE, path] on Windows)."""
    family = _family(platform)
    if family == "windows":
        return [STARTFILE, str(path)]
    if family == "macos":
        return ["open", str(path)]
    return ["xdg-open", str(path)]


def show_command(path: Path, platform: str | None = None) -> list[str]:
    """The command that shows `path` in the system's file manager (selected where the system can)."""
    family = _family(platform)
    if family == "windows":
        return ["explorer", f"/select,{path}"]
    if family == "macos":
        return ["open", "-R", str(path)]
    return ["xdg-open", str(Path(path).parent)]


def _run(command: list[str], what: str) -> None:
    try:
        if command[0] == STARTFILE:
            startfile = getattr(os, "startfile", None)  # there on Windows only
            if startfile is None:
                raise OSError("this system has no os.startfile")
            startfile(command[1])
        else:
            subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except OSError as exc:
        raise OSError(f"Could not {what}: {exc.strerror or exc}.") from None


def open_path(path: Path) -> None:
    """Open a file with the system's program for it (without waiting); OSError with a sentence."""
    if not Path(path).exists():
        raise OSError(f"Could not open {Path(path).name}: it is no longer there.")
    _run(open_command(path), f"open {Path(path).name}")


def show_in_folder(path: Path) -> None:
    """Show a file in its folder (without waiting); OSError with a sentence."""
    if not Path(path).exists():
        raise OSError(f"Could not show {Path(path).name}: it is no longer there.")
    _run(show_command(path), f"show {Path(path).name} in its folder")
