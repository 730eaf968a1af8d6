"""The file dialogs, with the keyboard working from the start.

How this works
--------------
On Linux Tk draws its own file dialog (tkfbox.tcl) as a child Toplevel
called `__tk_filedialog`, with the file name field at `contents.f2.ent`.  It
asks for the focus itself, but when the dialog appears before the window
manager hands the application the keyboard (or with no window manager at
all), nothing in the dialog has it, so Enter does nothing until the person
clicks the name field.  `ask_open_path` and `ask_save_path` therefore look
for that field while the dialog runs (Tk keeps serving `after` calls in the
dialog's own wait) and force the focus onto it, a few times over the first
half second in case the window manager takes it away again.  On Windows and
macOS the dialogs are the system's own and none of this applies: the field
is simply not found.
"""

from __future__ import annotations

import tkinter as tk
from tkinter import filedialog

__all__ = ["ask_open_path", "ask_save_path", "focus_name_field"]

FOCUS_TRIES_MS = (30, 150, 400)  # when to look for the dialog's name field, after it was asked for
NAME_FIELD = "contents.f2.ent"


def focus_name_field(parent: tk.Misc) -> bool:
    """Give the keyboard to the name field of Tk's own file dialog under `parent`, if one is open."""
    for child in parent.tk.splitlist(parent.tk.call("winfo", "children", str(parent))):
        if str(child).endswith("__tk_filedialog"):
            field = f"{child}.{NAME_FIELD}"
            if parent.tk.call("winfo", "exists", field):
                if str(parent.tk.call("focus")) != field:
                    parent.tk.call("focus", "-force", field)
                return True
    return False


def _keep_focus(parent: tk.Misc) -> list[str]:
    return [parent.after(delay, lambda: focus_name_field(parent)) for delay in FOCUS_TRIES_MS]


def _done(parent: tk.Misc, pending: list[str]) -> None:
    for after_id in pending:
        try:
            parent.after_cancel(after_id)
        except tk.TclError:
            pass  # the window went away meanwhile


def ask_open_path(parent: tk.Misc, title: str) -> str:
    """A path to open, or '' (askopenfilename, with the name field focused)."""
    pending = _keep_focus(parent)
    try:
        return filedialog.askopenfilename(parent=parent, title=title) or ""
    finally:
        _done(parent, pending)


def ask_save_path(parent: tk.Misc, title: str, initialdir: str, initialfile: str) -> str:
    """A path to save to, or '' (asksaveasfilename, with the name field focused)."""
    pending = _keep_focus(parent)
    try:
        return (
            filedialog.asksaveasfilename(parent=parent, title=title, initialdir=initialdir, initialfile=initialfile)
            or ""
        )
    finally:
        _done(parent, pending)
