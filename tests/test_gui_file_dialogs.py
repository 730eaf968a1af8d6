"""Tk's own file dialogs, opened for real under Xvfb: Enter works without clicking the name field first."""

from __future__ import annotations

import sys
import tkinter as tk
from pathlib import Path

import pytest

from gui import file_dialogs
from tests import gui_helpers

tk_root = gui_helpers.tk_root  # the fixtures, used by name below
tk_errors = gui_helpers.tk_errors

pytestmark = pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="the system's own dialogs there")


def press_enter_where_the_focus_is(root: tk.Misc, seen: dict[str, str]) -> None:
    """Once the dialog has had its moment to focus the field, press Enter as a person would."""

    def press() -> None:
        focus = str(root.tk.call("focus"))
        seen["focus"] = focus
        if focus:
            root.tk.call("event", "generate", focus, "<Return>")
        else:  # nothing has the keyboard: Enter goes nowhere; close the dialog so the test ends
            for child in root.tk.splitlist(root.tk.call("winfo", "children", str(top))):
                root.tk.call("destroy", child)

    top = root.winfo_toplevel() if isinstance(root, tk.Toplevel) else root
    root.after(max(file_dialogs.FOCUS_TRIES_MS) + 200, press)


def test_enter_in_the_save_dialog_saves_under_the_name_shown(tk_root, tk_errors, tmp_path: Path) -> None:
    top = tk.Toplevel(tk_root)
    tk_root.update()
    seen: dict[str, str] = {}
    press_enter_where_the_focus_is(top, seen)
    path = file_dialogs.ask_save_path(top, title="Save cat.png", initialdir=str(tmp_path), initialfile="cat.png")
    assert seen["focus"].endswith("__tk_filedialog." + file_dialogs.NAME_FIELD)
    assert Path(path) == tmp_path / "cat.png"


def test_enter_in_the_open_dialog_opens_the_name_typed(tk_root, tk_errors, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hi")
    top = tk.Toplevel(tk_root)
    tk_root.update()
    seen: dict[str, str] = {}

    def type_name() -> None:
        field = next(
            f"{child}.{file_dialogs.NAME_FIELD}"
            for child in top.tk.splitlist(top.tk.call("winfo", "children", str(top)))
            if str(child).endswith("__tk_filedialog")
        )
        top.tk.call(field, "insert", "end", str(tmp_path / "notes.txt"))

    top.after(max(file_dialogs.FOCUS_TRIES_MS) + 50, type_name)
    press_enter_where_the_focus_is(top, seen)
    path = file_dialogs.ask_open_path(top, title="Share a file")
    assert Path(path) == tmp_path / "notes.txt"


def test_no_dialog_no_focus_taken(tk_root, tk_errors) -> None:
    assert not file_dialogs.focus_name_field(tk_root)
