"""The host's admin window: where to join, who is connected, what they ran, and the controls.

How this works
--------------
The server runs on its own threads.  Its log events arrive through
`ChatServer.subscribe`, which is called from those threads, so the callback
only puts them on a queue that a QueuePump drains on the Tk thread.  The
connections table is redrawn from `server.connections()` (a snapshot) once a
second, and at once after a join, leave or kick.  Stopping waits for the
members to be told, which can take a few seconds, so `server.stop()` runs on a
short-lived thread that the window polls with `after()`; the window closes
when it has finished.  Every `after` id is cancelled when the window goes away.

The host's log is structured (`mmchat.hostlog`): the window reads each
event's kind and fields and never parses a sentence.  A command is logged
when it arrives and again only if it is refused, both with the same
`command_id`, so a command shows as allowed until its refusal comes in and
`CommandRows` finds its row by that id.
"""

from __future__ import annotations

import collections
import io
import os
import queue
import subprocess
import sys
import threading
import time
import tkinter as tk
from pathlib import Path
from tkinter import messagebox, ttk

from PIL import Image, ImageTk

from mmchat.address import format_address, join_url
from mmchat.files import human_size
from mmchat.hostlog import MEMBERSHIP_KINDS, PROBLEM_KINDS, LogEvent, LogKind, describe
from mmchat.qr import render_png
from mmchat.server import ChatServer
from mmchat.settings import lan_addresses

from . import theme
from .admin_bans import MemberActions
from .pump import QueuePump

__all__ = ["AdminWindow", "CommandRows", "format_since", "join_url", "refusal_reason"]

REFRESH_MS = 1000
STOP_POLL_MS = 50
COPIED_MS = 2000
MAX_LOG_ROWS = 5000
MAX_WAITING_COMMANDS = 200
# The command log shows these; the listening line is in the header and the count in the table.
EVENT_KINDS_HIDDEN = frozenset({LogKind.COMMAND, LogKind.COMMAND_REFUSED, LogKind.COUNT, LogKind.LISTEN})
QUIET_KINDS = frozenset({LogKind.LEAVE, LogKind.QR_ISSUED, LogKind.CODE_VERIFIED, LogKind.UPLOAD_STARTED})


# --- plain functions (tested without a display) ------------------------------------------


def format_since(since: float, now: float) -> str:
    """When a member connected and for how long: '14:03:12 (5 min)'."""
    seconds = max(0, int(now - since))
    if seconds < 60:
        length = f"{seconds} s"
    elif seconds < 3600:
        length = f"{seconds // 60} min"
    else:
        length = f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    return f"{time.strftime('%H:%M:%S', time.localtime(since))} ({length})"


def refusal_reason(event: LogEvent) -> str:
    """What a refused command's row says after 'refused: ' (without repeating the line it shows)."""
    return event.reason.removesuffix(f": {event.line}")


class CommandRows:
    """The rows of the commands that may still turn out refused, by the host's command id."""

    def __init__(self, limit: int = MAX_WAITING_COMMANDS) -> None:
        self._rows: collections.OrderedDict[int, str] = collections.OrderedDict()
        self._by_member: dict[str, set[int]] = {}
        self._limit = limit

    def add(self, member: str, command_id: int, row: str) -> None:
        """`row` shows the command `command_id` that `member` just ran."""
        self._rows[command_id] = row
        self._by_member.setdefault(member, set()).add(command_id)
        while len(self._rows) > self._limit:  # the oldest are long answered, or their rows gone
            old, _ = self._rows.popitem(last=False)
            for ids in self._by_member.values():
                ids.discard(old)

    def refuse(self, member: str, command_id: int) -> str | None:
        """The row of the refused command `command_id`, or None if it is no longer known."""
        row = self._rows.pop(command_id, None)
        self._by_member.get(member, set()).discard(command_id)
        return row

    def forget(self, member: str) -> None:
        """The member left: none of their commands is waiting any more."""
        for command_id in self._by_member.pop(member, set()):
            self._rows.pop(command_id, None)


# --- the window ------------------------------------------------------------------------------


class AdminWindow:
    """The admin window of a running ChatServer, on any Tk or Toplevel `master`."""

    def __init__(self, master: tk.Tk | tk.Toplevel, server: ChatServer) -> None:
        self.master = master
        self.server = server
        self.log_queue: queue.Queue[LogEvent] = queue.Queue()
        self.waiting_commands = CommandRows()
        self._refresh_id: str | None = None
        self._copied_id: str | None = None
        self._stop_poll_id: str | None = None
        self._stopper: threading.Thread | None = None
        self._closed = False
        self.stopping = False
        self.addresses = lan_addresses(server.address[0])
        self.port = server.address[1]
        master.title(f"mmchat host · port {self.port}")
        master.minsize(760, 540)
        master.protocol("WM_DELETE_WINDOW", self.stop_server)
        self._build()
        self._log_callback = self.log_queue.put  # called on host threads: only a queue.put
        server.subscribe(self._log_callback)
        self.pump = QueuePump(self.frame, self.log_queue, self._on_log_event)
        self.pump.start()
        self.frame.bind("<Destroy>", lambda e: self.close() if e.widget is self.frame else None, add="+")
        self.refresh()

    # --- layout -------------------------------------------------------------------

    def _build(self) -> None:
        m = self.master
        m.columnconfigure(0, weight=1)
        m.rowconfigure(0, weight=1)
        self.frame = ttk.Frame(m, padding=theme.PAD * 2)
        self.frame.grid(row=0, column=0, sticky="nsew")
        self.frame.columnconfigure(0, weight=1)
        self.frame.rowconfigure(1, weight=1)
        self._build_header()

        # Members above, logs below; the person can move the divider.
        panes = ttk.PanedWindow(self.frame, orient="vertical")
        panes.grid(row=1, column=0, sticky="nsew", pady=(theme.PAD * 2, theme.PAD))
        people = ttk.Frame(panes)
        people.columnconfigure(0, weight=1)
        people.rowconfigure(1, weight=1)
        self.members_heading = ttk.Label(people, style="Heading.TLabel")
        self.members_heading.grid(row=0, column=0, sticky="w", pady=(0, theme.PAD // 2))
        self.actions = MemberActions(self, people)  # Kick…, Ban… and the Bans tab (admin_bans.py)
        self.kick_button = self.actions.kick_button
        self.members = self._table(
            people,
            ("name", "address", "since", "in", "out"),
            ("Name", "Address", "Connected since", "Received", "Sent"),
            (170, 170, 170, 100, 100),
            height=5,
        )
        self._holder(self.members).grid(row=1, column=0, columnspan=2, sticky="nsew")
        for column in ("in", "out"):
            self.members.heading(column, anchor="e")
            self.members.column(column, anchor="e")
        panes.add(people, weight=1)

        self.tabs = ttk.Notebook(panes)
        self.events = self._table(self.tabs, ("time", "event"), ("Time", "Event"), (80, 660))
        self.tabs.add(self._holder(self.events), text="Event log")
        self.commands = self._table(
            self.tabs, ("time", "who", "command", "result"), ("Time", "Who", "Command", "Result"), (80, 140, 260, 340)
        )
        self.tabs.add(self._holder(self.commands), text="Command log")
        self.actions.add_tab(self.tabs)
        self.commands.tag_configure("refused", foreground=theme.ERROR)
        self.events.tag_configure("error", foreground=theme.ERROR)
        self.events.tag_configure("join", foreground=theme.SUCCESS)
        self.events.tag_configure("quiet", foreground=theme.MUTED)
        panes.add(self.tabs, weight=2)

        buttons = ttk.Frame(self.frame)
        buttons.grid(row=2, column=0, sticky="ew")
        self.status = ttk.Label(buttons, style="Muted.TLabel")
        self.status.pack(side="left", fill="x", expand=True)
        self.stop_button = ttk.Button(buttons, text="Stop server", style="Accent.TButton", command=self.stop_server)
        self.stop_button.pack(side="right")
        self.open_button = ttk.Button(buttons, text="Open share folder", command=self.open_share)
        self.open_button.pack(side="right", padx=theme.PAD)

    def _build_header(self) -> None:
        header = ttk.Frame(self.frame)
        header.grid(row=0, column=0, sticky="ew")
        header.columnconfigure(0, weight=1)
        text = ttk.Frame(header)
        text.grid(row=0, column=0, sticky="nw")
        ttk.Label(text, text="Your chat is running", style="Title.TLabel").pack(anchor="w")
        ttk.Label(
            text,
            text="Members choose “Join a chat” in mmchat and type this address, or scan the code:",
            style="Muted.TLabel",
        ).pack(anchor="w", pady=(2, theme.PAD))
        row = ttk.Frame(text)
        row.pack(anchor="w")
        self.address_label = ttk.Label(row, text=self.join_addresses(), font=theme.monospace(self.master, 15))
        self.address_label.pack(side="left")
        self.copy_button = ttk.Button(row, text="Copy", command=self.copy_address)
        self.copy_button.pack(side="left", padx=(theme.PAD * 2, 0))
        self.copied = ttk.Label(row, style="Success.TLabel")
        self.copied.pack(side="left", padx=theme.PAD)
        ttk.Label(text, text=f"Shared folder: {self.server.share}", style="Muted.TLabel").pack(
            anchor="w", pady=(theme.PAD, 0)
        )
        if fingerprint := self.server.fingerprint:  # TLS: members compare it with what their window shows
            self.fingerprint = ttk.Entry(text, font=theme.monospace(self.master, 10), width=len(fingerprint) + 14)
            self.fingerprint.insert(0, f"Fingerprint: {fingerprint}")
            self.fingerprint.configure(state="readonly")  # selectable and copyable, not editable
            self.fingerprint.pack(anchor="w", pady=(theme.PAD // 2, 0))
        # render_png draws 8-pixel modules: halving keeps every module square and sharp.
        picture = Image.open(io.BytesIO(render_png(self.invite()))).convert("L").reduce(2)
        self.qr_image = ImageTk.PhotoImage(picture, master=self.master)
        self.qr_label = ttk.Label(header, image=self.qr_image)
        self.qr_label.grid(row=0, column=1, sticky="ne")
        ttk.Label(header, text="Scan to join", style="Muted.TLabel").grid(row=1, column=1)

    @staticmethod
    def _holder(tree: ttk.Treeview) -> ttk.Frame:
        """The frame `_table` put `tree` and its scroll bar in."""
        holder = tree.nametowidget(tree.winfo_parent())
        assert isinstance(holder, ttk.Frame)
        return holder

    def _table(
        self,
        parent: tk.Misc,
        columns: tuple[str, ...],
        titles: tuple[str, ...],
        widths: tuple[int, ...],
        height: int = 8,
    ) -> ttk.Treeview:
        holder = ttk.Frame(parent)
        holder.columnconfigure(0, weight=1)
        holder.rowconfigure(0, weight=1)
        tree = ttk.Treeview(holder, columns=columns, show="headings", selectmode="browse", height=height)
        for column, title, width in zip(columns, titles, widths, strict=True):
            tree.heading(column, text=title, anchor="w")
            stretch = column in ("name", "command", "result", "event")
            tree.column(column, width=width, minwidth=60, anchor="w", stretch=stretch)
        scroll = ttk.Scrollbar(holder, orient="vertical", command=tree.yview)
        tree.configure(yscrollcommand=scroll.set)
        tree.grid(row=0, column=0, sticky="nsew")
        scroll.grid(row=0, column=1, sticky="ns")
        return tree

    # --- what the window shows -----------------------------------------------------------

    def join_addresses(self) -> str:
        """'192.168.1.5:12002' lines, one per address a member can use (IPv6 in brackets)."""
        return "\n".join(format_address(address, self.port) for address in self.addresses)

    def refresh(self) -> None:
        """Redraw the connections table from a fresh snapshot (once a second)."""
        if self._refresh_id is not None:
            self.master.after_cancel(self._refresh_id)
        self._refresh_id = None
        if self._closed:
            return
        rows = self.server.connections()
        now = time.time()
        wanted = {info.name for info in rows}
        for item in self.members.get_children():
            if item not in wanted:
                self.members.delete(item)
        for info in rows:
            values = (
                info.name,
                info.address,
                format_since(info.since, now),
                human_size(info.bytes_in),
                human_size(info.bytes_out),
            )
            if self.members.exists(info.name):
                self.members.item(info.name, values=values)
            else:
                self.members.insert("", "end", iid=info.name, values=values)
        count = len(rows)
        heading = f"CONNECTED MEMBERS ({count})" if count else "NO MEMBERS CONNECTED YET"
        self.members_heading.configure(text=heading)
        self.actions.refresh()
        self._refresh_id = self.master.after(REFRESH_MS, self.refresh)

    def _on_log_event(self, event: LogEvent) -> None:
        stamp = time.strftime("%H:%M:%S", time.localtime(event.ts))
        kind = event.kind
        if kind in MEMBERSHIP_KINDS or kind is LogKind.UNBANNED:
            if kind is not LogKind.JOIN:
                self.waiting_commands.forget(event.member)
            self.refresh()
        if kind is LogKind.COMMAND:
            row = self._append(self.commands, (stamp, event.member, event.line, "allowed"))
            self.waiting_commands.add(event.member, event.command_id, row)
        elif kind is LogKind.COMMAND_REFUSED:
            result = f"refused: {refusal_reason(event)}"
            found = self.waiting_commands.refuse(event.member, event.command_id)
            if found and self.commands.exists(found):
                values = self.commands.item(found, "values")
                self.commands.item(found, values=(*values[:3], result), tags=("refused",))
            else:  # its row has scrolled away: show it on a row of its own
                self._append(self.commands, (stamp, event.member, event.line, result), ("refused",))
        elif kind not in EVENT_KINDS_HIDDEN:
            if kind in PROBLEM_KINDS:
                tags: tuple[str, ...] = ("error",)
            elif kind is LogKind.JOIN:
                tags = ("join",)
            else:
                tags = ("quiet",) if kind in QUIET_KINDS else ()
            self._append(self.events, (stamp, describe(event)), tags)

    def _append(self, tree: ttk.Treeview, values: tuple, tags: tuple = ()) -> str:
        """Add a row at the end; follow it unless the person has scrolled up to read."""
        following = tree.yview()[1] >= 0.999
        row = tree.insert("", "end", values=values, tags=tags)
        children = tree.get_children()
        if len(children) > MAX_LOG_ROWS:
            tree.delete(*children[: len(children) - MAX_LOG_ROWS])
        if following:
            tree.see(row)
        return row

    # --- actions ------------------------------------------------------------------

    def invite(self) -> str:
        """The link the QR code carries: 'mmchat://HOST:PORT', with '/#FINGERPRINT' once the host has TLS."""
        return join_url(self.addresses[0], self.port, self.server.fingerprint)

    def copy_address(self) -> None:
        """Put the first join address on the clipboard (the invite link, fingerprint and all, with TLS)."""
        self.master.clipboard_clear()
        plain = format_address(self.addresses[0], self.port)
        self.master.clipboard_append(self.invite() if self.server.fingerprint else plain)
        self.copied.configure(text="Copied")
        if self._copied_id is not None:
            self.master.after_cancel(self._copied_id)
        self._copied_id = self.master.after(COPIED_MS, self._uncopy)

    def _uncopy(self) -> None:
        self._copied_id = None
        self.copied.configure(text="")

    def open_share(self) -> None:
        """Show the shared folder in the system's file manager."""
        try:
            self.open_folder(self.server.share)
        except OSError as exc:
            self.status.configure(text=f"Could not open the folder: {exc.strerror or exc}", style="Error.TLabel")

    def open_folder(self, path: Path) -> None:
        """Ask the operating system to show `path` (the host's own action, not a member's; tests replace it)."""
        if sys.platform == "win32":  # a check mypy understands: os.startfile exists only there
            os.startfile(path)
        elif sys.platform == "darwin":
            subprocess.Popen(["open", str(path)])
        else:
            subprocess.Popen(["xdg-open", str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def confirm_stop(self) -> bool:
        """Ask before stopping (tests replace this)."""
        count = len(self.members.get_children())
        plural = "s" if count != 1 else ""
        who = (
            f"The {count} connected member{plural} will be told the chat is over." if count else "Nobody is connected."
        )
        return messagebox.askyesno("Stop the chat?", f"Stop the server?\n\n{who}", icon="warning", parent=self.master)

    def stop_server(self) -> None:
        """After a confirmation, stop the server (members are told), then close the window."""
        if self.stopping or not self.confirm_stop():
            return
        self.stopping = True
        for button in (*self.actions.buttons(), self.stop_button, self.open_button, self.copy_button):
            button.state(["disabled"])
        self.status.configure(text="Stopping the server and telling the members…", style="Muted.TLabel")
        self._stopper = threading.Thread(target=self.server.stop, name="mmchat-stop", daemon=True)
        self._stopper.start()
        self._stop_poll_id = self.master.after(STOP_POLL_MS, self._wait_for_stop)

    def _wait_for_stop(self) -> None:
        self._stop_poll_id = None
        if self._stopper is not None and self._stopper.is_alive():
            self._stop_poll_id = self.master.after(STOP_POLL_MS, self._wait_for_stop)
            return
        self.close()
        self.master.destroy()

    def close(self) -> None:
        """Cancel timers and stop polling; the server keeps running."""
        self._closed = True
        for name in ("_refresh_id", "_copied_id", "_stop_poll_id"):
            after_id = getattr(self, name)
            if after_id is not None:
                try:
                    self.master.after_cancel(after_id)
                except tk.TclError:
                    pass
                setattr(self, name, None)
        self.pump.stop()
        self.server.unsubscribe(self._log_callback)
