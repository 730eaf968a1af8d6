"""Sharing files by dropping them onto the chat window, where the platform allows it.

How this works
--------------
Tk has no drag and drop of its own; the tkdnd extension adds the platform's
(XDND on Linux desktops, OLE on Windows, Cocoa on macOS).  The tkinterdnd2
package carries tkdnd built for Windows, macOS and Linux (x86-64 and arm64),
and `TkinterDnD.require` loads it into the Tcl interpreter the window already
has.  `enable_drop` registers a window as a drop target for files and binds
tkdnd's `<<Drop:DND_Files>>` event, whose `%D` is a Tcl list of paths; the
Python callback gets them as `Path`s, on the Tk thread.  Where tkdnd cannot
load (another platform, a Tk without it), `enable_drop` returns False and the
window simply has no drop target: Attach still works.
"""

from __future__ import annotations

import platform
import tkinter as tk
from collections.abc import Callable
from pathlib import Path

__all__ = ["DROP_EVENT", "carried", "enable_drop", "load_tkdnd"]

DROP_EVENT = "<<Drop:DND_Files>>"
COPY = "copy"  # what the drop handler answers: the files are copied, never moved
# Where tkinterdnd2 carries a build of tkdnd (platform.system(), platform.machine()).
CARRIED = frozenset({
    ("Linux", "x86_64"), ("Linux", "aarch64"), ("Windows", "AMD64"), ("Windows", "ARM64"), ("Windows", "x86"),
    ("Darwin", "arm64"), ("Darwin", "x86_64"),
})  # fmt: skip


def carried() -> bool:
    """Whether mmchat brings tkdnd for this platform, so that dropping files must work here."""
    return (platform.system(), platform.machine()) in CARRIED


def load_tkdnd(widget: tk.Misc) -> bool:
    """Load tkdnd into this window's Tcl interpreter; False where it cannot be had."""
    try:
        from tkinterdnd2 import TkinterDnD
    except ImportError:
        return False
    try:
        TkinterDnD.require(widget)  # it only needs the interpreter, which every widget of a window shares
    except (RuntimeError, tk.TclError):
        return False
    return True


def enable_drop(window: tk.Misc, on_paths: Callable[[list[Path]], object]) -> bool:
    """Let files dropped anywhere on `window` reach `on_paths`; False where dropping is not possible."""
    if not load_tkdnd(window):
        return False

    def dropped(data: str) -> str:
        paths = [Path(item) for item in window.tk.splitlist(data) if item]
        if paths:
            on_paths(paths)
        return COPY

    command = window.register(dropped)
    window.tk.call("tkdnd::drop_target", "register", str(window), ("DND_Files",))
    window.tk.call("bind", str(window), DROP_EVENT, f"{command} %D")
    return True
