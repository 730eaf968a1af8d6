"""The host operator's view and bans, as ChatServer's API: `connections()`, `ban(name)`, `unban(address)`, `bans()`.

How this works
--------------
`ChatServer` inherits these from `HostAdmin` (server.py has no room for
them).  Like `kick`, `ban` and `unban` may be called from any thread: they
hand the act to the loop with `call_soon`, where the room decides what it
means (`Room.ban` puts out every member from that address; gate.py has the
table) and the loop carries out the actions.  Then, still on the loop, the
table is saved in the data folder (`gate.save_bans`, a temporary file renamed
over the old one), so the bans hold across restarts; a disk that refuses is
one log line, and the bans still hold until the host stops.  `bans()` reads
the table's snapshot, from any thread.  `connections()` is the admin window's
list: each member's chat bytes plus the file bytes their transfers moved.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from .actions import Action
from .gate import Ban, Bans, load_bans, save_bans
from .host_transfers import TransferDesk
from .hostlog import LogEvent, LogKind
from .outbox import ConnectionInfo, Outboxes
from .room import Room


class HostAdmin:
    """Connections, bans on a running host (mixed into ChatServer, which provides the loop)."""

    data_dir: Path
    room: Room
    outboxes: Outboxes
    desk: TransferDesk
    call_soon: Callable[[Callable[[], None]], None]
    _publish: Callable[[LogEvent], None]

    def _apply(self, actions: list[Action]) -> None:
        raise NotImplementedError  # the loop's: ChatServer._apply

    def connections(self) -> list[ConnectionInfo]:
        """A snapshot of the connected members, in join order (Received and Sent include their files)."""
        return [p.info(*self.desk.meter.totals(p.name)) for p in self.outboxes.members()]

    def ban(self, name: str) -> None:
        """Ban the address of the member called `name`: they (and every member from there) are put out."""
        self.call_soon(lambda: self._bans_changed(self.room.ban(name, time.time())))

    def unban(self, address: str) -> None:
        """Lift the ban on `address` (as `bans()` lists it; a port is ignored)."""
        self.call_soon(lambda: self._bans_changed(self.room.unban(address, time.time())))

    def bans(self) -> list[Ban]:
        """The banned addresses, oldest first (a snapshot: any thread may ask)."""
        return self.room.bans.listed()

    def _open_bans(self) -> Bans:
        """The bans kept in the data folder (a damaged file is put aside; the room logs that once)."""
        return load_bans(self.data_dir)

    def _bans_changed(self, actions: list[Action]) -> None:
        self._apply(actions)
        if not actions:
            return  # no such member, or no such ban: nothing changed
        try:
            save_bans(self.data_dir, self.room.bans.listed())
        except OSError as exc:
            reason = f"the bans could not be saved ({exc.strerror or exc}); they hold until the host stops"
            self._publish(LogEvent(time.time(), LogKind.ERROR, reason=reason))
