"""The small window a double-click opens: host a chat, or join one.

The checks on what is typed live in mmchat/settings.py (plain functions, tested
without a display); this module only lays out the fields and shows each
problem beside its field.  Joining first checks, on a worker thread, that
something answers at the address, so a typo is caught here rather than in an
empty chat window; hosting first checks that the port is free, because once
this window has closed a failure to listen would go unseen after a double-click.
Both forms have a password field (hidden unless Show is ticked); a password goes
to the host or the chat window in the choice and is never saved with the rest.
"""

from __future__ import annotations

import os
import queue
import socket
import threading
import tkinter as tk
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from tkinter import filedialog, ttk
from typing import TypeVar

from mmchat import settings
from mmchat.address import format_address

from . import theme
from .password_field import PasswordField

PROBE_TIMEOUT = 3.0
PROBE_POLL_MS = 50

T = TypeVar("T")


def port_in_use(port: int) -> bool:
    """Whether a host could not listen on `port` here (bound the way ChatServer binds; nothing is sent)."""
    if port == 0:
        return False
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        if os.name != "nt":
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("0.0.0.0", port))
        except OSError:
            return True
    return False


def _select_all(entry: ttk.Entry) -> str:
    """Select the whole field (Ctrl+A)."""
    entry.select_range(0, "end")
    entry.icursor("end")
    return "break"


@dataclass(frozen=True)
class LaunchChoice:
    """What the person chose: host on `port` sharing `share`, or join `address`:`port` as `name`."""

    mode: str  # "host" or "join"
    port: int
    share: Path | None = None
    address: str = ""
    name: str = ""
    password: str = field(default="", repr=False)  # never saved, never printed


class Launcher:
    """Host or join: validates input beside each field and remembers the last values."""

    def __init__(self, master: tk.Tk | tk.Toplevel) -> None:
        self.master = master
        self.choice: LaunchChoice | None = None
        self.saved = settings.load_settings()
        self._probe_results: queue.Queue = queue.Queue()
        self._poll_id: str | None = None
        self.probing = False
        self.errors: dict[ttk.Entry, ttk.Label] = {}  # each field's problem, shown under it
        master.title("mmchat")
        master.resizable(False, False)
        self._build()
        self.frame.bind("<Destroy>", self._on_destroy, add="+")

    # --- layout -------------------------------------------------------------------

    def _build(self) -> None:
        self.frame = ttk.Frame(self.master, padding=theme.PAD * 2)
        self.frame.grid(row=0, column=0, sticky="nsew")
        ttk.Label(self.frame, text="mmchat", style="Title.TLabel").grid(row=0, column=0, columnspan=2, sticky="w")
        ttk.Label(self.frame, text="Chat and share files with people on your network.", style="Muted.TLabel").grid(
            row=1, column=0, columnspan=2, sticky="w", pady=(0, theme.PAD * 2)
        )
        host = ttk.LabelFrame(self.frame, text="HOST A CHAT", padding=theme.PAD * 2)
        host.grid(row=2, column=0, sticky="nsew", padx=(0, theme.PAD))
        join = ttk.LabelFrame(self.frame, text="JOIN A CHAT", padding=theme.PAD * 2)
        join.grid(row=2, column=1, sticky="nsew", padx=(theme.PAD, 0))

        self.host_port = self._field(host, 0, "Port", str(self.saved.host_port))
        self.share = self._field(host, 3, "Shared folder", self.saved.share or str(settings.default_share()))
        ttk.Button(host, text="Browse…", command=self.browse_share).grid(row=4, column=1, padx=(theme.PAD, 0))
        self.host_password = self._password(host, 6, "Password (optional: members must give it)")
        host.rowconfigure(11, weight=1)
        self.host_button = ttk.Button(host, text="Start hosting", style="Accent.TButton", command=self.choose_host)
        self.host_button.grid(row=12, column=0, columnspan=2, sticky="sew", pady=(theme.PAD, 0))

        self.address = self._field(join, 0, "Host address", self.saved.join_address)
        self.join_port = self._field(join, 3, "Port", str(self.saved.join_port))
        self.name = self._field(join, 6, "Your name", self.saved.name)
        self.join_password = self._password(join, 9, "Password (if the chat has one)")
        self.join_button = ttk.Button(join, text="Join", style="Accent.TButton", command=self.choose_join)
        self.join_button.grid(row=12, column=0, columnspan=2, sticky="sew", pady=(theme.PAD, 0))
        for entry in (self.address, self.join_port, self.name, self.join_password.entry):
            entry.bind("<Return>", lambda e: self.choose_join())
        for entry in (self.host_port, self.host_password.entry):
            entry.bind("<Return>", lambda e: self.choose_host())
        (self.name if self.saved.join_address else self.address).focus_set()

    def _field(
        self, parent: ttk.LabelFrame, row: int, label: str, value: str, entry: ttk.Entry | None = None
    ) -> ttk.Entry:
        """A label, an entry (a new one unless given), and under it the place for its problem (rows row..row+2)."""
        ttk.Label(parent, text=label).grid(row=row, column=0, columnspan=2, sticky="w")
        entry = entry or ttk.Entry(parent, width=28)
        entry.insert(0, value)
        entry.bind("<Control-a>", lambda e: _select_all(entry))  # on X11, Ctrl+A would go to the start
        entry.grid(row=row + 1, column=0, sticky="ew", pady=(2, 0))
        # Under the entry, wrapped, so a long sentence never widens the window.
        error = ttk.Label(parent, style="Error.TLabel", wraplength=240)
        error.grid(row=row + 2, column=0, columnspan=2, sticky="w", pady=(0, theme.PAD // 2))
        self.errors[entry] = error
        return entry

    def _password(self, parent: ttk.LabelFrame, row: int, label: str) -> PasswordField:
        """A password field laid out like `_field`, its Show box beside it; never pre-filled."""
        password = PasswordField(parent)
        self._field(parent, row, label, "", password.entry)
        password.show_box.grid(row=row + 1, column=1, padx=(theme.PAD, 0))
        return password

    # --- checks ---------------------------------------------------------------------

    def _check(self, entry: ttk.Entry, check: Callable[[str], T]) -> T | None:
        """`check`'s value for what is typed in `entry`, or None after showing its problem there."""
        try:
            value = check(entry.get())
        except ValueError as exc:
            self._tell(entry, str(exc))
            return None
        self._tell(entry, "")
        return value

    def _tell(self, entry: ttk.Entry, text: str, style: str = "Error.TLabel") -> None:
        """Show `text` under `entry` (a problem unless `style` says otherwise)."""
        self.errors[entry].configure(text=text, style=style)

    def error_text(self, entry: ttk.Entry) -> str:
        """The problem shown beside a field ('' when none)."""
        return str(self.errors[entry].cget("text"))

    def browse_share(self) -> None:
        path = self.ask_directory()
        if path:
            self.share.delete(0, "end")
            self.share.insert(0, path)

    def ask_directory(self) -> str:
        """The folder dialog (tests replace this)."""
        return filedialog.askdirectory(parent=self.master, title="Folder to share") or ""

    def choose_host(self) -> None:
        """Validate the host fields and, if they are fine, choose hosting."""
        port = self._check(self.host_port, lambda text: settings.check_port(text, allow_zero=True))
        share = self._check(self.share, settings.check_share)
        password = self._check(self.host_password.entry, settings.check_password)
        if port is None or share is None or password is None:
            return
        if port_in_use(port):
            problem = f"Port {port} is already in use on this computer. Is a chat running? Try another port."
            self._tell(self.host_port, problem)
            return
        self.saved.host_port, self.saved.share = port, str(share)
        self._finish(LaunchChoice("host", port, share=share, password=password))

    def choose_join(self) -> None:
        """Validate the join fields, check that a host answers, then choose joining."""
        if self.probing:
            return
        target = self._check(self.address, settings.split_host_port)
        if target is not None:
            address, typed_port = target
            if typed_port is not None:  # "ADDR:PORT" or a pasted mmchat:// link: the port goes in its field
                self.join_port.delete(0, "end")
                self.join_port.insert(0, str(typed_port))
            self.address.delete(0, "end")
            self.address.insert(0, address)
        port = self._check(self.join_port, settings.check_port)
        name = self._check(self.name, settings.check_name)
        password = self._check(self.join_password.entry, settings.check_password)
        if target is None or port is None or name is None or password is None:
            return
        self.probing = True
        self.join_button.state(["disabled"])
        choice = LaunchChoice("join", port, address=target[0], name=name, password=password)
        shown = format_address(choice.address, choice.port)
        self._tell(self.address, f"Looking for the chat at {shown}…", style="Muted.TLabel")
        threading.Thread(target=self._probe, args=(choice,), name="mmchat-probe", daemon=True).start()
        self._poll_id = self.master.after(PROBE_POLL_MS, self._poll_probe)

    def _probe(self, choice: LaunchChoice) -> None:
        """On a worker thread: does anything answer there?  Only a queue.put reaches the window."""
        try:
            with socket.create_connection((choice.address, choice.port), timeout=PROBE_TIMEOUT):
                pass
        except socket.gaierror:
            self._probe_results.put((choice, f"No computer called {choice.address} was found on the network."))
        except OSError:
            shown = format_address(choice.address, choice.port)
            self._probe_results.put((choice, f"Nobody is hosting a chat at {shown}."))
        else:
            self._probe_results.put((choice, ""))

    def _poll_probe(self) -> None:
        self._poll_id = None
        try:
            choice, problem = self._probe_results.get_nowait()
        except queue.Empty:
            self._poll_id = self.master.after(PROBE_POLL_MS, self._poll_probe)
            return
        self.probing = False
        self.join_button.state(["!disabled"])
        self._tell(self.address, problem)
        if not problem:
            self.saved.join_address, self.saved.join_port, self.saved.name = choice.address, choice.port, choice.name
            self._finish(choice)

    def _finish(self, choice: LaunchChoice) -> None:
        self.choice = choice
        settings.save_settings(self.saved)
        self.master.destroy()

    def _on_destroy(self, event: tk.Event) -> None:
        if event.widget is self.frame and self._poll_id is not None:
            try:
                self.master.after_cancel(self._poll_id)
            except tk.TclError:
                pass
            self._poll_id = None
