"""Dropping files onto a window: tkdnd really loaded into Tk under Xvfb, and a drop delivered as tkdnd does."""

from __future__ import annotations

import tkinter as tk
from pathlib import Path

import pytest

from gui import drop
from tests import gui_helpers
from tests.gui_helpers import deliver_drop

tk_root = gui_helpers.tk_root  # the fixtures, used by name below
tk_errors = gui_helpers.tk_errors

SUPPORTED = drop.carried()  # there, dropping must work


@pytest.mark.skipif(not SUPPORTED, reason="tkinterdnd2 carries no tkdnd for this platform")
def test_tkdnd_loads_into_the_running_tk(tk_root, tk_errors) -> None:
    assert drop.load_tkdnd(tk_root)
    assert tk_root.tk.call("package", "present", "tkdnd")


@pytest.mark.skipif(not SUPPORTED, reason="tkinterdnd2 carries no tkdnd for this platform")
def test_a_drop_hands_over_every_path_even_with_spaces_and_braces(tk_root, tk_errors, tmp_path: Path) -> None:
    got: list[list[Path]] = []
    top = tk.Toplevel(tk_root)
    assert drop.enable_drop(top, got.append)
    names = [str(tmp_path / "a file.txt"), str(tmp_path / "odd {name}.png"), str(tmp_path / "plain")]
    assert deliver_drop(top, *names) == drop.COPY  # files are copied, never moved
    assert got == [[Path(name) for name in names]]


def test_without_tkdnd_there_is_simply_no_drop_target(tk_root, tk_errors, monkeypatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_tkinterdnd2(name: str, *args: object, **kwargs: object) -> object:
        if name.startswith("tkinterdnd2"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tkinterdnd2)
    top = tk.Toplevel(tk_root)
    assert not drop.enable_drop(top, lambda paths: pytest.fail("nothing can be dropped"))
    assert not top.tk.call("bind", str(top), drop.DROP_EVENT)
