"""Shared helpers for the GUI tests: real Tk windows under Xvfb (pytest-xvfb sets DISPLAY)."""

from __future__ import annotations

import gc
import time
import tkinter as tk
from collections.abc import Callable, Iterator

import pytest

from gui.app import new_root
from gui.drop import DROP_EVENT
from gui.message_view import MessageView


def pump_until(root: tk.Misc, condition: Callable[[], object], timeout: float = 15.0, what: str = "") -> object:
    """Run Tk's event loop until `condition()` is truthy; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        root.update()
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or condition}")
        time.sleep(0.01)


def pump_for(root: tk.Misc, seconds: float) -> None:
    """Keep the windows alive and responsive for `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        root.update()
        time.sleep(0.01)


def walk(widget: tk.Misc) -> Iterator[tk.Misc]:
    """Every widget below `widget`, depth first."""
    for child in widget.winfo_children():
        yield child
        yield from walk(child)


@pytest.fixture
def tk_errors(tk_root: tk.Tk) -> Iterator[list]:
    """Exceptions raised in Tk callbacks (Tk would only print them): the test fails on any."""
    errors: list = []
    tk_root.report_callback_exception = lambda *exc: errors.append(exc)  # type: ignore[method-assign]
    yield errors
    assert not errors, errors


@pytest.fixture
def tk_root() -> Iterator[tk.Tk]:
    """A themed root window, destroyed after the test."""
    root = new_root("mmchat test")
    yield root
    try:
        root.destroy()
    except tk.TclError:
        pass
    # Collect Tk objects now, on the main thread: collected later on a network thread,
    # they make Tk complain that the main thread is not in the main loop.
    gc.collect()


@pytest.fixture
def view(tk_root: tk.Tk) -> MessageView:
    """A MessageView filling a 600x300 window."""
    top = tk.Toplevel(tk_root)
    top.geometry("600x300")
    v = MessageView(top)
    v.frame.pack(fill="both", expand=True)
    tk_root.update()
    return v


def deliver_drop(window: tk.Misc, *paths: str) -> str:
    """Do what tkdnd does on a drop: run the window's <<Drop:DND_Files>> script with %D, the Tcl list of paths."""
    script = window.tk.call("bind", str(window), DROP_EVENT)
    assert script, "the window has no drop binding"
    listed = str(window.tk.call("format", "%s", window.tk.call("list", *paths)))  # a Tcl list, as Tcl writes it
    return str(window.tk.eval(str(script).replace("%D", "{" + listed + "}")))  # tkdnd passes it as one word
