"""The admin window's acts on members: Kick and Ban, each after a confirmation, and the Bans tab with Lift.

How this works
--------------
`MemberActions` puts its buttons beside the admin window's members table and
its tab in the window's notebook.  The acts go to the ChatServer's public API
(`kick`, `ban`, `unban`), which hands them to the host's loop and returns at
once; what happened comes back as log events, and the Bans tab is redrawn
from `server.bans()` (a snapshot, safe from the Tk thread) whenever the
window refreshes.  A ban is by name but holds the member's address (host
part): everyone from there is put out, and nothing of the room reaches that
address until the ban is lifted here, with /unban on a headless host, or by
removing the line from bans.json in the data folder while the host is stopped.
"""

from __future__ import annotations

import time
from tkinter import messagebox, ttk
from typing import TYPE_CHECKING

from mmchat.liveness import host_of

from . import theme

if TYPE_CHECKING:
    from .admin_window import AdminWindow


class MemberActions:
    """Kick…, Ban… and the Bans tab of one AdminWindow."""

    def __init__(self, window: AdminWindow, people: ttk.Frame) -> None:
        self.window = window
        self.server = window.server
        buttons = ttk.Frame(people)
        buttons.grid(row=0, column=1, sticky="e", pady=(0, theme.PAD // 2))
        self.kick_button = ttk.Button(buttons, text="Kick…", command=self.kick_selected)
        self.kick_button.pack(side="left")
        self.ban_button = ttk.Button(buttons, text="Ban…", command=self.ban_selected)
        self.ban_button.pack(side="left", padx=(theme.PAD, 0))

    def add_tab(self, tabs: ttk.Notebook) -> None:
        """The Bans tab: the banned addresses, and Lift for the selected one."""
        tab = ttk.Frame(tabs, padding=(0, theme.PAD // 2, 0, 0))
        tab.columnconfigure(0, weight=1)
        tab.rowconfigure(0, weight=1)
        titles = ("Address", "Banned member", "Since")
        self.bans = self.window._table(tab, ("address", "name", "since"), titles, (200, 200, 200))
        self.window._holder(self.bans).grid(row=0, column=0, sticky="nsew")
        row = ttk.Frame(tab)
        row.grid(row=1, column=0, sticky="ew", pady=(theme.PAD // 2, 0))
        self.bans_hint = ttk.Label(row, style="Muted.TLabel")
        self.bans_hint.pack(side="left")
        self.lift_button = ttk.Button(row, text="Lift ban", command=self.lift_selected)
        self.lift_button.pack(side="right")
        tabs.add(tab, text="Bans")
        self.refresh()

    def buttons(self) -> tuple[ttk.Button, ...]:
        """The buttons to disable while the host stops."""
        return self.kick_button, self.ban_button, self.lift_button

    # --- the acts -----------------------------------------------------------------------

    def kick_selected(self) -> None:
        """After a confirmation, remove the selected member (they may come back)."""
        name = self._selected_member()
        question = f"Remove {name} from the chat?\n\nThey are told, and may join again."
        if name and self.confirm(f"Kick {name}?", question):
            self.server.kick(name)
            self._status(f"Kicked {name}.")

    def ban_selected(self) -> None:
        """After a confirmation, remove the selected member and keep their address out."""
        name = self._selected_member()
        if not name:
            return
        address = host_of(str(self.window.members.set(name, "address")))
        question = (
            f"Remove {name} and keep their address {address} out of this chat?\n\n"
            "Everyone else connected from that address is removed too. The ban holds "
            "across restarts of the host until you lift it in the Bans tab."
        )
        if self.confirm(f"Ban {name}?", question):
            self.server.ban(name)
            self._status(f"Banned {name} ({address}).")

    def lift_selected(self) -> None:
        """Let the selected address in again."""
        selection = self.bans.selection()
        if not selection:
            self._status("Select a ban in the Bans tab first.", error=True)
            return
        self.server.unban(selection[0])
        self._status(f"Lifted the ban on {selection[0]}.")

    def confirm(self, title: str, question: str) -> bool:
        """Ask before acting (tests replace this)."""
        return messagebox.askyesno(title, question, icon="warning", parent=self.window.master)

    # --- what the tab shows -------------------------------------------------------------

    def refresh(self) -> None:
        """Redraw the Bans tab from the host's table."""
        bans = self.server.bans()
        wanted = {ban.address for ban in bans}
        for item in self.bans.get_children():
            if item not in wanted:
                self.bans.delete(item)
        for ban in bans:
            values = (ban.address, ban.name or "—", time.strftime("%Y-%m-%d %H:%M", time.localtime(ban.since)))
            if self.bans.exists(ban.address):
                self.bans.item(ban.address, values=values)
            else:
                self.bans.insert("", "end", iid=ban.address, values=values)
        self.bans_hint.configure(text=f"{len(bans)} banned" if bans else "Nobody is banned.")

    def _selected_member(self) -> str:
        selection = self.window.members.selection()
        if not selection:
            self._status("Select a member in the table first.", error=True)
            return ""
        return str(selection[0])

    def _status(self, text: str, error: bool = False) -> None:
        self.window.status.configure(text=text, style="Error.TLabel" if error else "Muted.TLabel")
