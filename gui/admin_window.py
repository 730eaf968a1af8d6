"""The host's admin window: where to join, who is connected, what they ran, and the controls.

The server runs on its own threads.  Its log events arrive through
`ChatServer.subscribe`, which is called from those threads, so the callback
only puts them on a queue that a QueuePump drains on the Tk thread; the
connections table is refreshed from `server.connections()` (a snapshot) once a
second.  Every `after` id is cancelled when the window goes away.
"""

from __future__ import annotations

import io
import os
import queue
import subprocess
import sys
import time
import tkinter as tk
from tkinter import messagebox, ttk

from PIL import Image, ImageTk

from mmchat.files import human_size
from mmchat.qr import render_png
from mmchat.server import ChatServer, LogEvent
from mmchat.settings import lan_addresses

from . import theme
from .pump import QueuePump

REFRESH_MS = 1000
MAX_LOG_ROWS = 5000
EVENT_KINDS_SHOWN = {"join", "leave", "upload", "download", "transfer-failed", "drop", "kick", "error", "stop", "qr"}


def join_url(address: str, port: int) -> str:
    """What a colleague's phone reads from the QR code."""
    host = f"[{address}]" if ":" in address else address
    return f"mmchat://{host}:{port}"


class AdminWindow:
    """The admin window of a running ChatServer."""

    def __init__(self, master: tk.Tk | tk.Toplevel, server: ChatServer) -> None:
        self.master = master
        self.server = server
        self.log_queue: queue.Queue[LogEvent] = queue.Queue()
        self._refresh_id: str | None = None
        self._closed = False
        self.addresses = lan_addresses(server.address[0])
        self.port = server.address[1]
        master.title(f"mmchat host · port {self.port}")
        master.minsize(760, 480)
        master.protocol("WM_DELETE_WINDOW", self.stop_server)
        self._build()
        server.subscribe(self.log_queue.put)  # called on host threads: only a queue.put
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
        self.tabs = ttk.Notebook(self.frame)
        self.tabs.grid(row=1, column=0, sticky="nsew", pady=(theme.PAD * 2, theme.PAD))
        self.members = self._table(
            ("name", "address", "since", "in", "out"),
            ("Name", "Address", "Connected since", "Received", "Sent"),
            (160, 170, 150, 90, 90),
        )
        self.tabs.add(self.members.master, text="Members")
        self.commands = self._table(
            ("time", "who", "command", "result"), ("Time", "Who", "Command", "Result"), (80, 140, 320, 260)
        )
        self.tabs.add(self.commands.master, text="Commands")
        self.events = self._table(("time", "event"), ("Time", "Event"), (80, 660))
        self.tabs.add(self.events.master, text="Events")
        self.commands.tag_configure("refused", foreground=theme.ERROR)
        self.events.tag_configure("error", foreground=theme.ERROR)

        buttons = ttk.Frame(self.frame)
        buttons.grid(row=2, column=0, sticky="ew")
        self.kick_button = ttk.Button(buttons, text="Kick selected member", command=self.kick_selected)
        self.kick_button.pack(side="left")
        ttk.Button(buttons, text="Open share folder", command=self.open_share).pack(side="left", padx=theme.PAD)
        self.stop_button = ttk.Button(buttons, text="Stop server", style="Accent.TButton", command=self.stop_server)
        self.stop_button.pack(side="right")
        self.status = ttk.Label(buttons, style="Muted.TLabel")
        self.status.pack(side="right", padx=theme.PAD * 2)

    def _build_header(self) -> None:
        header = ttk.Frame(self.frame)
        header.grid(row=0, column=0, sticky="ew")
        header.columnconfigure(0, weight=1)
        text = ttk.Frame(header)
        text.grid(row=0, column=0, sticky="nw")
        ttk.Label(text, text="Your chat is running", style="Title.TLabel").pack(anchor="w")
        ttk.Label(text, text="Members join with mmchat --join, or by scanning the code:", style="Muted.TLabel").pack(
            anchor="w", pady=(2, theme.PAD)
        )
        self.address_label = ttk.Label(text, text=self.join_addresses(), font=theme.monospace(self.master, 13))
        self.address_label.pack(anchor="w")
        row = ttk.Frame(text)
        row.pack(anchor="w", pady=(theme.PAD, 0))
        ttk.Button(row, text="Copy address", command=self.copy_address).pack(side="left")
        self.copied = ttk.Label(row, style="Success.TLabel")
        self.copied.pack(side="left", padx=theme.PAD)
        ttk.Label(text, text=f"Shared folder: {self.server.share}", style="Muted.TLabel").pack(
            anchor="w", pady=(theme.PAD, 0)
        )
        picture = Image.open(io.BytesIO(render_png(join_url(self.addresses[0], self.port))))
        picture.thumbnail((132, 132), Image.Resampling.NEAREST)
        self.qr_image = ImageTk.PhotoImage(picture, master=self.master)
        self.qr_label = ttk.Label(header, image=self.qr_image)
        self.qr_label.grid(row=0, column=1, sticky="ne")

    def _table(self, columns: tuple[str, ...], titles: tuple[str, ...], widths: tuple[int, ...]) -> ttk.Treeview:
        holder = ttk.Frame(self.tabs, padding=(0, theme.PAD // 2))
        holder.columnconfigure(0, weight=1)
        holder.rowconfigure(0, weight=1)
        tree = ttk.Treeview(holder, columns=columns, show="headings", selectmode="browse")
        for column, title, width in zip(columns, titles, widths, strict=True):
            tree.heading(column, text=title, anchor="w")
            tree.column(column, width=width, anchor="w", stretch=column in ("address", "command", "event", "result"))
        scroll = ttk.Scrollbar(holder, orient="vertical", command=tree.yview)
        tree.configure(yscrollcommand=scroll.set)
        tree.grid(row=0, column=0, sticky="nsew")
        scroll.grid(row=0, column=1, sticky="ns")
        return tree

    # --- what the window shows -----------------------------------------------------------

    def join_addresses(self) -> str:
        """'192.168.1.5:12002' lines, one per address a member can use."""
        return "\n".join(f"{address}:{self.port}" for address in self.addresses)

    def refresh(self) -> None:
        """Redraw the connections table from a fresh snapshot (once a second)."""
        self._refresh_id = None
        if self._closed:
            return
        rows = self.server.connections()
        wanted = {info.name for info in rows}
        for item in self.members.get_children():
            if item not in wanted:
                self.members.delete(item)
        for info in rows:
            values = (
                info.name,
                info.address,
                time.strftime("%H:%M:%S", time.localtime(info.since)),
                human_size(info.bytes_in),
                human_size(info.bytes_out),
            )
            if self.members.exists(info.name):
                self.members.item(info.name, values=values)
            else:
                self.members.insert("", "end", iid=info.name, values=values)
        count = len(rows)
        self.status.configure(text=f"{count} member{'s' if count != 1 else ''} connected")
        self.tabs.tab(0, text=f"Members ({count})")
        self._refresh_id = self.master.after(REFRESH_MS, self.refresh)

    def _on_log_event(self, event: LogEvent) -> None:
        stamp = time.strftime("%H:%M:%S", time.localtime(event.ts))
        if event.kind == "command":
            line = event.text.removeprefix("Command to execute: ").removesuffix(f" ({event.member})")
            self._append(self.commands, (stamp, event.member, line, "ran"))
        elif event.kind == "refused" and event.text.startswith("Refused command from"):
            self._mark_refused(event)
        elif event.kind in EVENT_KINDS_SHOWN or event.kind == "refused":
            tags = ("error",) if event.kind in ("error", "transfer-failed", "drop", "refused") else ()
            self._append(self.events, (stamp, event.text), tags)

    def _mark_refused(self, event: LogEvent) -> None:
        """The command's row (the latest one of that member still marked 'ran') becomes 'refused'."""
        for item in reversed(self.commands.get_children()):
            values = self.commands.item(item, "values")
            if values[1] == event.member and values[3] == "ran":
                reason = event.text.rsplit(" (", 1)[-1].rstrip(")")
                self.commands.item(item, values=(*values[:3], f"refused: {reason}"), tags=("refused",))
                return

    def _append(self, tree: ttk.Treeview, values: tuple, tags: tuple = ()) -> None:
        tree.insert("", "end", values=values, tags=tags)
        children = tree.get_children()
        if len(children) > MAX_LOG_ROWS:
            tree.delete(*children[: len(children) - MAX_LOG_ROWS])
        tree.see(tree.get_children()[-1])

    # --- actions ------------------------------------------------------------------

    def copy_address(self) -> None:
        """Put the first join address on the clipboard."""
        self.master.clipboard_clear()
        self.master.clipboard_append(f"{self.addresses[0]}:{self.port}")
        self.copied.configure(text="Copied")
        self.master.after(2000, lambda: self.copied.winfo_exists() and self.copied.configure(text=""))

    def kick_selected(self) -> None:
        """Remove the selected member from the chat."""
        selection = self.members.selection()
        if not selection:
            self.status.configure(text="Select a member to kick first.")
            return
        self.server.kick(selection[0])

    def open_share(self) -> None:
        """Show the shared folder in the system's file manager (the host's own action, not a member's)."""
        path = str(self.server.share)
        try:
            if sys.platform.startswith("win"):
                os.startfile(path)  # type: ignore[attr-defined]
            elif sys.platform == "darwin":
                subprocess.Popen(["open", path])
            else:
                subprocess.Popen(["xdg-open", path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except OSError as exc:
            self.status.configure(text=f"Could not open the folder: {exc.strerror or exc}")

    def confirm_stop(self) -> bool:
        """Ask before stopping (tests replace this)."""
        return messagebox.askyesno(
            "Stop the chat?", "Stop the server? Everyone connected will be told the chat is over.", parent=self.master
        )

    def stop_server(self) -> None:
        """Stop the server (members are told) and close the window."""
        if not self.confirm_stop():
            return
        self.close()
        self.server.stop()
        if self.master.winfo_exists():
            self.master.destroy()

    def close(self) -> None:
        """Cancel timers and stop polling; the server keeps running."""
        self._closed = True
        if self._refresh_id is not None:
            try:
                self.master.after_cancel(self._refresh_id)
            except tk.TclError:
                pass
            self._refresh_id = None
        self.pump.stop()
