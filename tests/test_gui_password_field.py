"""Passwords in the windows (gui.password_field): the hidden field, and the chat window's prompt against a real host."""

from __future__ import annotations

import tkinter as tk
from tkinter import ttk

from gui.chat_window import ChatWindow
from gui.password_field import HIDDEN, PasswordField, PasswordPrompt
from mmchat.hostlog import LogKind
from tests import gui_helpers, test_host_admin
from tests.gui_helpers import pump_until

tk_root = gui_helpers.tk_root  # the fixtures, used by name below
tk_errors = gui_helpers.tk_errors
locked = test_host_admin.host  # a host whose password is "s3cret", with the log of what it did


def test_the_field_hides_what_is_typed_until_show_is_ticked(tk_root, tk_errors):
    field = PasswordField(tk_root)
    field.entry.pack()
    field.show_box.pack()
    field.entry.insert(0, "s3cret")
    assert field.get() == "s3cret" and field.entry.cget("show") == HIDDEN
    field.show_box.invoke()
    assert field.entry.cget("show") == "" and field.shown.get()
    field.show_box.invoke()
    assert field.entry.cget("show") == HIDDEN


def test_the_prompt_hands_what_is_typed_to_submit_on_join_or_enter(tk_root, tk_errors):
    banner = ttk.Frame(tk_root)
    banner.pack()
    given: list[str] = []
    prompt = PasswordPrompt(banner, "Wrong password.", given.append)
    assert prompt.label.cget("text") == "Wrong password. Password:"
    prompt.field.entry.insert(0, "one")
    prompt.button.invoke()
    prompt.field.entry.focus_force()
    tk_root.update()
    prompt.field.entry.event_generate("<Return>")
    tk_root.update()
    assert given == ["one", "one"]


def test_the_chat_window_asks_for_the_password_then_joins_with_it(tk_root, tk_errors, locked, tmp_path):
    window = ChatWindow(
        tk.Toplevel(tk_root), *locked.address, name="alice", downloads=tmp_path, fingerprint=locked.fingerprint
    )
    pump_until(tk_root, lambda: window.password_prompt is not None, what="the password prompt")
    assert window.password_prompt.label.cget("text") == "This chat needs a password. Password:"
    assert "This chat needs a password." in window.view.content()
    assert window.retry_delay == 0.0  # it waits for the person, it does not guess again by itself
    window.password_prompt.field.entry.insert(0, "guess")
    window.password_prompt.button.invoke()
    pump_until(tk_root, lambda: window.password_prompt is not None, what="asked again")
    assert window.password_prompt.label.cget("text") == "Wrong password. Password:"
    window.password_prompt.field.entry.insert(0, "s3cret")
    window.password_prompt.button.invoke()
    pump_until(tk_root, lambda: window.side.names() == ["alice"], what="joined with the password")
    assert window.password_prompt is None and window.password == "s3cret"
    refused = [e.reason for e in locked.seen if e.kind is LogKind.JOIN_REFUSED]  # type: ignore[attr-defined]
    assert refused == ["This chat needs a password.", "Wrong password."]
    window.close()


def test_a_password_given_up_front_joins_without_asking(tk_root, tk_errors, locked, tmp_path):
    window = ChatWindow(
        tk.Toplevel(tk_root), *locked.address, name="bob", downloads=tmp_path, password="s3cret",
        fingerprint=locked.fingerprint,
    )  # fmt: skip
    pump_until(tk_root, lambda: window.side.names() == ["bob"], what="joined")
    assert window.password_prompt is None
    window.close()
