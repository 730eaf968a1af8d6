"""A password entry that hides what is typed, with a Show box beside it, and the chat window's password form.

`PasswordField` is the entry and its Show box, for the launcher's host and
join forms and for the prompt.  `PasswordPrompt` is the form the chat window
puts in its banner when the host answers that it needs a password, or that
the one sent was wrong: the host's answer as a sentence, the field, and Join,
which hands what was typed to the window to connect with again.  Nothing here
keeps a password anywhere but in the entry itself.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from tkinter import ttk

from . import theme

HIDDEN = "•"


class PasswordField:
    """An entry that shows dots until its Show box is ticked."""

    def __init__(self, parent: tk.Misc, width: int = 28) -> None:
        self.entry = ttk.Entry(parent, width=width, show=HIDDEN)
        self.shown = tk.BooleanVar(master=parent, value=False)
        self.show_box = ttk.Checkbutton(parent, text="Show", variable=self.shown, command=self._toggle)

    def get(self) -> str:
        """What is typed."""
        return self.entry.get()

    def _toggle(self) -> None:
        self.entry.configure(show="" if self.shown.get() else HIDDEN)


class PasswordPrompt:
    """The banner's password form: why it is asked, the field, Join; `submit(password)` connects again."""

    def __init__(self, banner: ttk.Frame, sentence: str, submit: Callable[[str], object]) -> None:
        self._submit = submit
        self.label = ttk.Label(banner, text=f"{sentence} Password:", style="Error.TLabel")
        self.label.pack(side="left")
        self.field = PasswordField(banner, width=20)
        self.field.entry.pack(side="left", padx=theme.PAD)
        self.field.show_box.pack(side="left")
        self.field.entry.bind("<Return>", lambda event: self.submit())
        self.button = ttk.Button(banner, text="Join", style="Accent.TButton", command=self.submit)
        self.button.pack(side="left", padx=(theme.PAD, 0))
        self.field.entry.focus_set()

    def submit(self) -> None:
        """Connect again with what is typed."""
        self._submit(self.field.get())
