"""Asking a person whether to trust a host's key, from the thread that connects, in a dialog on the Tk thread.

How this works
--------------
ChatClient calls its verifier (mmchat.known_hosts) on the connecting thread,
which must never touch Tk.  When the verifier needs a person, it calls
`TrustBridge.ask(decision)` there: that puts a TrustQuestion on the chat
window's own event queue and waits, at most ANSWER_TIMEOUT seconds, for the
answer.  The window's queue pump hands the question to a TrustDialog on the Tk
thread; a button answers it, and the waiting thread goes on.  Closing the
window (`TrustBridge.close`) answers every waiting question "no", so no thread
is left waiting for a dialog that is gone.

The dialog is modal to the chat window.  For a host seen the first time it
shows the fingerprint (selectable, fixed-width, wrapped) with Trust and
Cancel.  For a host whose key changed it shows both fingerprints, refuses
unless told otherwise (Cancel has the focus, Return and Escape cancel), and
only a button labelled "Accept the new key" accepts.

WindowTrust is what the chat window holds: it makes each connection's
verifier, opens the dialog for each question its queue pump hands over, and
closes the bridge when the window goes.
"""

from __future__ import annotations

import queue
import threading
import tkinter as tk
from collections.abc import Callable
from tkinter import ttk

from mmchat.address import Address
from mmchat.known_hosts import (
    ACCEPT_BUTTON,
    BUTTON_HINT,
    Decision,
    HostVerifier,
    KnownHosts,
    Verdict,
    first_use_text,
    make_verifier,
)

from . import theme

ANSWER_TIMEOUT = 300.0  # seconds the connecting thread waits for a person before taking it as "no"
ACCEPT_NEW_KEY = ACCEPT_BUTTON  # named in the refusal's sentence too


class TrustQuestion:
    """One question from the connecting thread; the first answer counts, later ones are ignored."""

    def __init__(self, decision: Decision) -> None:
        self.decision = decision
        self.trusted = False
        self._lock = threading.Lock()
        self._answered = threading.Event()

    @property
    def answered(self) -> bool:
        return self._answered.is_set()

    def answer(self, trusted: bool) -> None:
        """Give the answer (any thread); only the first one counts."""
        with self._lock:
            if not self._answered.is_set():
                self.trusted = trusted
                self._answered.set()

    def wait(self, timeout: float) -> bool:
        """The answer, waiting at most `timeout` seconds; no answer by then is "no"."""
        self._answered.wait(timeout)
        self.answer(False)  # ignored when the person answered in time
        return self.trusted


class TrustNote:
    """A line from the verifier for the chat view (a damaged known hosts file, a key saved)."""

    def __init__(self, line: str) -> None:
        self.line = line


class TrustBridge:
    """The `ask` and `tell` the verifier calls on the connecting thread: questions go to `events`."""

    def __init__(self, events: queue.Queue, timeout: float = ANSWER_TIMEOUT) -> None:
        self.events = events
        self.timeout = timeout
        self._lock = threading.Lock()
        self._waiting: set[TrustQuestion] = set()
        self._closed = False

    def ask(self, decision: Decision) -> bool:
        """On the connecting thread: whether the person trusts the host's key ("no" once the window closed)."""
        question = TrustQuestion(decision)
        with self._lock:
            if self._closed:
                return False
            self._waiting.add(question)
        self.events.put(question)
        try:
            return question.wait(self.timeout)
        finally:
            with self._lock:
                self._waiting.discard(question)

    def tell(self, line: str) -> None:
        """On the connecting thread: a line for the chat view."""
        self.events.put(TrustNote(line))

    def close(self) -> None:
        """The window is going: every waiting question is answered "no", and later ones at once."""
        with self._lock:
            self._closed = True
            waiting = list(self._waiting)
        for question in waiting:
            question.answer(False)


class TrustDialog:
    """The modal dialog on the Tk thread that answers one TrustQuestion."""

    def __init__(self, master: tk.Misc, question: TrustQuestion) -> None:
        self.question = question
        decision = question.decision
        changed = decision.verdict is Verdict.CHANGED
        parent = master.winfo_toplevel()
        self.top = tk.Toplevel(master)
        self.top.title("The host's key changed" if changed else "Trust this host?")
        self.top.configure(background=theme.SURFACE)
        self.top.transient(parent)
        body = ttk.Frame(self.top, style="Surface.TFrame", padding=20)
        body.pack(fill="both", expand=True)
        self.fingerprints: list[tk.Text] = []
        if changed:
            self._text(body, f"The host at {decision.address} shows a different key from the one you trusted before.")
            self._fingerprint(body, "Trusted before", decision.known)
            self._fingerprint(body, "Shown now", decision.presented)
            self._text(
                body,
                "Someone may be pretending to be the host. Accept the new key only if the person running the host "
                "tells you it has a new one and reads you the fingerprint shown now.",
            )
        else:
            intro, _, advice = first_use_text(decision).partition("\n")
            self._text(body, intro)
            self._fingerprint(body, "", decision.presented)
            self._text(body, advice.partition("\n")[2])
        buttons = ttk.Frame(body, style="Surface.TFrame")
        buttons.pack(fill="x", pady=(12, 0))
        self.cancel_button = ttk.Button(buttons, text="Cancel", command=lambda: self.answer(False))
        self.trust_button = ttk.Button(
            buttons, text=ACCEPT_NEW_KEY if changed else "Trust", command=lambda: self.answer(True)
        )
        (self.cancel_button if changed else self.trust_button).configure(style="Accent.TButton")
        self.cancel_button.pack(side="right")
        self.trust_button.pack(side="right", padx=(0, theme.PAD))
        # Refusing is what a key press does: trusting takes a click (or Tab, then Space) on purpose.
        self.top.protocol("WM_DELETE_WINDOW", lambda: self.answer(False))
        for key in ("<Escape>", "<Return>"):
            self.top.bind(key, lambda event: self.answer(False))
        self.cancel_button.focus_set()
        self._grab_id: str | None = self.top.after_idle(self._grab)
        self.top.bind("<Destroy>", self._on_destroy, add="+")

    def _text(self, parent: ttk.Frame, text: str) -> None:
        ttk.Label(parent, text=text, style="Surface.TLabel", wraplength=440, justify="left").pack(
            anchor="w", pady=(0, theme.PAD)
        )

    def _fingerprint(self, parent: ttk.Frame, label: str, fingerprint: str) -> None:
        """A fingerprint a person can select and copy: read-only, fixed-width, 16 pairs ('AB:') a line."""
        if label:
            ttk.Label(parent, text=label, style="Heading.TLabel", background=theme.SURFACE).pack(anchor="w")
        view = tk.Text(
            parent, height=2, width=48, wrap="char", font=theme.monospace(self.top, 11), relief="flat",
            background=theme.BG, highlightthickness=0, padx=6, pady=4,
        )  # fmt: skip
        view.insert("1.0", fingerprint)
        view.configure(state="disabled")  # selectable and copyable, not editable
        view.pack(anchor="w", fill="x", pady=(2, theme.PAD))
        self.fingerprints.append(view)

    def shown(self) -> list[str]:
        """The fingerprints on show, as a person would copy them."""
        return [view.get("1.0", "end-1c") for view in self.fingerprints]

    def exists(self) -> bool:
        """Whether the dialog is still on screen."""
        try:
            return bool(self.top.winfo_exists())
        except tk.TclError:
            return False

    def answer(self, trusted: bool) -> None:
        """Answer the question and close the dialog."""
        self.question.answer(trusted)
        self.close()

    def close(self) -> None:
        """Close the dialog; a question not answered yet is answered "no"."""
        self.question.answer(False)
        self._cancel_grab()
        if self.exists():
            self.top.destroy()

    def _grab(self) -> None:
        self._grab_id = None
        try:
            self.top.grab_set()  # modal: the chat window takes no clicks until this is answered
        except tk.TclError:  # not viewable yet: try again once it is mapped
            self._grab_id = self.top.after(50, self._grab)

    def _cancel_grab(self) -> None:
        if self._grab_id is not None:
            try:
                self.top.after_cancel(self._grab_id)
            except tk.TclError:
                pass
            self._grab_id = None

    def _on_destroy(self, event: tk.Event) -> None:
        if event.widget is self.top:
            self._cancel_grab()
            self.question.answer(False)


class WindowTrust:
    """A chat window's side of trusting hosts: a verifier for each connection, a dialog for each question."""

    def __init__(self, master: tk.Misc, events: queue.Queue, accept_new_key: bool = False) -> None:
        self.master = master
        self.bridge = TrustBridge(events)
        self.accept_new_key = accept_new_key  # --accept-new-key: a changed key is trusted without asking
        self.dialog: TrustDialog | None = None

    def verifier(self, address: Address) -> HostVerifier:
        """The `verify_host` for one connection to `address` (whose fingerprint is the invite's, or '')."""
        ask, tell = self.bridge.ask, self.bridge.tell
        return make_verifier(address, KnownHosts(), ask, self.accept_new_key, how_to_accept=BUTTON_HINT, tell=tell)

    def handle(self, item: object, show: Callable[[str], object]) -> bool:
        """On the Tk thread: open the dialog for a question, `show` a line; False for any other item."""
        if isinstance(item, TrustQuestion):
            if self.dialog is not None:
                self.dialog.close()
            self.dialog = TrustDialog(self.master, item)
        elif isinstance(item, TrustNote):
            show(item.line)
        else:
            return False
        return True

    def connect_failed(self) -> None:
        """The join failed: a dialog whose question the connecting thread stopped waiting for goes too."""
        if self.dialog is not None and self.dialog.question.answered:
            self.dialog.close()
            self.dialog = None

    def close(self) -> None:
        """The window is going: a connecting thread waiting for an answer hears "no" at once."""
        self.bridge.close()
