"""The right-hand panel of the chat window: SidePanel.

SidePanel lists who is online (with a count), the files shared on the host
(newest first, with a Download button) and an entry for running a !cmd on the
host.  A right-click on a member offers Mention and Copy name, on a file
Download, Open, Show in folder (once this member has a copy) and Copy file
name.  It holds no connection of its own: ChatWindow fills it from the host's
answers and passes in the callbacks that download a file or run a command.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from tkinter import ttk

from mmchat import protocol

from . import chat_format, theme
from .message_menu import context_clicks, popup, to_clipboard


@dataclass(frozen=True)
class LocalFiles:
    """Where this member's copy of a shared file is (None: no copy), and how to open or show one."""

    find: Callable[[str], Path | None]
    open: Callable[[Path], object]
    show: Callable[[Path], object]


class SidePanel(ttk.Frame):
    """Who is online, the shared files (with Download), and the !cmd entry."""

    def __init__(self, master: tk.Misc, download: Callable[[str], object], run: Callable[[str], object]) -> None:
        super().__init__(master, style="Surface.TFrame", padding=(theme.PAD + 4, theme.PAD + 4))
        self._download = download
        self._run = run
        self.me = ""
        self.colours = theme.SenderColours()  # shared with the message view: one colour per name
        self.connected = True  # Download and Run work only while connected
        self.online_heading = ttk.Label(self, text="ONLINE", style="Heading.TLabel", background=theme.SURFACE)
        self.online = ttk.Treeview(self, show="tree", selectmode="none", height=4)
        self.online.column("#0", width=150)  # narrow requests: the panel gives way to the messages
        ttk.Label(self, text="SHARED FILES", style="Heading.TLabel", background=theme.SURFACE).grid(
            row=2, column=0, columnspan=2, sticky="w", pady=(theme.PAD * 2, 4)
        )
        self.files = ttk.Treeview(self, columns=("size", "who"), show="tree headings", selectmode="browse", height=4)
        self.files.heading("#0", text="Name", anchor="w")
        self.files.heading("size", text="Size", anchor="e")
        self.files.heading("who", text="From", anchor="w")
        self.files.column("#0", width=120, minwidth=40, stretch=True)
        self.files.column("size", width=64, minwidth=40, anchor="e", stretch=False)
        self.files.column("who", width=60, minwidth=30, stretch=False)
        self.files.bind("<Double-1>", lambda event: self.download_selected())
        self.files.bind("<Return>", lambda event: self.download_selected())
        self.files.bind("<<TreeviewSelect>>", lambda event: self._update_button())
        self.mention: Callable[[str], object] | None = None  # puts '@name ' in the message box (the layout's)
        self.local_files: LocalFiles | None = None  # Open and Show in folder (the window's media part)
        self.member_menu = tk.Menu(self, tearoff=False)
        self.file_menu = tk.Menu(self, tearoff=False)
        for sequence in context_clicks(self):
            self.online.bind(sequence, lambda event: self._popup(self.online, self.member_entries, event))
            self.files.bind(sequence, lambda event: self._popup(self.files, self.file_entries, event))
        self.download_button = ttk.Button(self, text="Download", command=self.download_selected)
        ttk.Label(self, text="COMMAND ON THE HOST", style="Heading.TLabel", background=theme.SURFACE).grid(
            row=5, column=0, columnspan=2, sticky="w", pady=(theme.PAD * 2, 4)
        )
        self.command = ttk.Entry(self, font=theme.monospace(self), width=8)
        self.command.bind("<Return>", lambda event: self.run_command())
        self.run_button = ttk.Button(self, text="Run", command=self.run_command, width=5)

        self.online_heading.grid(row=0, column=0, columnspan=2, sticky="w", pady=(0, 4))
        self.online.grid(row=1, column=0, columnspan=2, sticky="nsew")
        self.files.grid(row=3, column=0, columnspan=2, sticky="nsew")
        self.download_button.grid(row=4, column=1, sticky="e", pady=(6, 0))
        self.command.grid(row=6, column=0, sticky="ew", padx=(0, 6))
        self.run_button.grid(row=6, column=1, sticky="e")
        self.columnconfigure(0, weight=1)
        self.rowconfigure(1, weight=1)
        self.rowconfigure(3, weight=2)
        self._update_button()

    def set_online(self, names: Iterable[str]) -> None:
        """Show exactly these members, in this order (and the count, even of nobody)."""
        names = list(names)
        self.online.delete(*self.online.get_children())
        self.colours.set_online(names)
        for name in names:
            self.member_joined(name)
        self._count()

    def member_joined(self, name: str) -> None:
        """Add one member (no-op if listed)."""
        if self.online.exists(name):
            return
        if name not in self.colours.online:
            self.colours.online.append(name)
        colour = self.colours.colour(name)
        self.online.tag_configure(colour, foreground=colour)
        label = "●  " + chat_format.single_line(name) + ("  (you)" if name == self.me else "")
        self.online.insert("", "end", iid=name, text=label, tags=(colour,))
        self._count()

    def member_left(self, name: str) -> None:
        """Remove one member (no-op if absent)."""
        if self.online.exists(name):
            self.online.delete(name)
        if name in self.colours.online:
            self.colours.online.remove(name)
        self._count()

    def names(self) -> list[str]:
        """The members listed, in order."""
        return list(self.online.get_children())

    def _count(self) -> None:
        self.online_heading["text"] = f"ONLINE  ·  {len(self.online.get_children())}"

    def set_files(self, entries: Iterable[protocol.SharedFile]) -> None:
        """Show the host's shared files, newest first, keeping the selection."""
        selected = self.selected_file()
        self.files.delete(*self.files.get_children())
        for entry in reversed(list(entries)):
            name, size, who = chat_format.file_row(entry)
            self.files.insert("", "end", iid=name, text=chat_format.single_line(name),
                              values=(size, chat_format.single_line(who)))  # fmt: skip
        if selected and self.files.exists(selected):
            self.files.selection_set(selected)
        self._update_button()

    def selected_file(self) -> str:
        """The chosen shared file's name, or ''."""
        selection = self.files.selection()
        return selection[0] if selection else ""

    def set_connected(self, connected: bool) -> None:
        """Enable Download, Run and the command entry only while there is a host to ask."""
        self.connected = connected
        for widget in (self.run_button, self.command):
            widget.state(["!disabled"] if connected else ["disabled"])
        self._update_button()

    def _update_button(self) -> None:
        usable = self.connected and self.selected_file()
        self.download_button.state(["!disabled"] if usable else ["disabled"])

    def download_selected(self) -> None:
        name = self.selected_file()
        if name and self.connected:
            self._download(name)

    # --- right-click menus -----------------------------------------------------------------

    def member_entries(self, name: str) -> list[str]:
        """Fill the menu of a member in the list; return its labels (direct messages: later)."""
        menu, shown = self.member_menu, chat_format.single_line(name)
        menu.delete(0, "end")
        can_mention = self.mention is not None and name != self.me
        menu.add_command(label=f"Mention @{shown}", command=lambda: self.mention and self.mention(name),
                         state="normal" if can_mention else "disabled")  # fmt: skip
        menu.add_command(label="Copy name", command=lambda: to_clipboard(self, name))
        return [f"Mention @{shown}", "Copy name"]

    def file_entries(self, name: str) -> list[str]:
        """Fill the menu of a shared file; return its labels."""
        menu = self.file_menu
        menu.delete(0, "end")
        menu.add_command(label="Download", command=lambda: self.connected and self._download(name),
                         state="normal" if self.connected else "disabled")  # fmt: skip
        local = self.local_files
        copy = local.find(name) if local is not None else None  # works offline too: the copy is here
        if local is not None and copy is not None:
            menu.add_command(label="Open", command=lambda: local.open(copy))
            menu.add_command(label="Show in folder", command=lambda: local.show(copy))
        else:  # nothing downloaded yet: say what will be possible
            menu.add_command(label="Open", state="disabled")
            menu.add_command(label="Show in folder", state="disabled")
        menu.add_command(label="Copy file name", command=lambda: to_clipboard(self, name))
        return ["Download", "Open", "Show in folder", "Copy file name"]

    def _popup(self, tree: ttk.Treeview, fill: Callable[[str], list[str]], event: tk.Event) -> str | None:
        row = tree.identify_row(event.y)
        if not row:
            return None
        if tree is self.files:
            tree.selection_set(row)
        fill(row)
        return popup(self.member_menu if tree is self.online else self.file_menu, event)

    def run_command(self) -> None:
        line = self.command.get().strip()
        if line and self.connected:
            self.command.delete(0, "end")
            self._run(line)
