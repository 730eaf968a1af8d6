"""Who is still there, sans-I/O: keep-alive for members, and the rules for connections that never said hello.

How this works
--------------
`KeepAlive` remembers, per connection, the monotonic time the loop last read
a byte from it (`heard`).  Once a second the room asks `due(mono, members)`:
a member silent for `ping_after` seconds is sent one `ping` (any byte back
counts, a `pong` is the cheapest); a member silent for `timeout` seconds in
all is timed out.  A quiet room costs one small frame per member per
`ping_after` seconds; a frozen laptop is gone within `timeout` + one tick.

`Openers` holds the connections that have not said hello yet: their address,
when they arrived, and their deadline.  At most `per_address` of them may come
from one address (a loop that reconnects cannot take every descriptor), and
while the host is short of file descriptors (`press`) every deadline shrinks
to `pressed_timeout` and `shed` names the one to close first: the oldest from
the address that has the most.  Nothing here reads a clock or touches a socket.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable
from dataclasses import dataclass

from .actions import ConnectionId

PING_AFTER = 15.0  # seconds of silence before the host asks "are you there?"
KEEPALIVE_TIMEOUT = 45.0  # seconds of silence, pings unanswered, before a member is timed out
HELLO_TIMEOUT = 15.0  # seconds a new connection has to say hello
PRESSED_HELLO_TIMEOUT = 3.0  # the same while the host is short of file descriptors
OPENERS_PER_ADDRESS = 8  # connections that have not said hello, from one address


def host_of(address: str) -> str:
    """The host part of a formatted address: '10.0.0.5:4000' -> '10.0.0.5', '[::1]:4000' -> '::1'."""
    if address.startswith("["):
        return address[1:].partition("]")[0]
    return address.rsplit(":", 1)[0] if address.count(":") == 1 else address


class KeepAlive:
    """When each connection was last heard from, and which members to ping or time out."""

    def __init__(self, ping_after: float = PING_AFTER, timeout: float = KEEPALIVE_TIMEOUT) -> None:
        self.ping_after = ping_after
        self.timeout = max(timeout, ping_after)
        self._heard: dict[ConnectionId, float] = {}
        self._pinged: set[ConnectionId] = set()

    def heard(self, who: ConnectionId, mono: float) -> None:
        """The loop read bytes from `who` at `mono`."""
        self._heard[who] = mono
        self._pinged.discard(who)

    def forget(self, who: ConnectionId) -> None:
        """`who` is gone."""
        self._heard.pop(who, None)
        self._pinged.discard(who)

    def due(self, mono: float, members: Iterable[ConnectionId]) -> tuple[list[ConnectionId], list[ConnectionId]]:
        """(members to ping now, members timed out) at `mono`; a ping is sent once per silence."""
        ping: list[ConnectionId] = []
        gone: list[ConnectionId] = []
        for who in members:
            last = self._heard.setdefault(who, mono)  # never heard (a test's member): from now on
            silent = mono - last
            if silent >= self.timeout:
                gone.append(who)
            elif silent >= self.ping_after and who not in self._pinged:
                self._pinged.add(who)
                ping.append(who)
        return ping, gone


@dataclass(slots=True)
class _Opener:
    address: str
    host: str
    since: float
    deadline: float


class Openers:
    """Connections that have not said hello: a deadline each, a cap per address, shorter under pressure."""

    def __init__(
        self,
        hello_timeout: float = HELLO_TIMEOUT,
        per_address: int = OPENERS_PER_ADDRESS,
        pressed_timeout: float = PRESSED_HELLO_TIMEOUT,
    ) -> None:
        self.hello_timeout = hello_timeout
        self.per_address = per_address
        self.pressed_timeout = min(pressed_timeout, hello_timeout)
        self.pressed = False
        self._open: dict[ConnectionId, _Opener] = {}
        self._per_host: collections.Counter[str] = collections.Counter()

    def __contains__(self, who: object) -> bool:
        return who in self._open

    def __len__(self) -> int:
        return len(self._open)

    def add(self, who: ConnectionId, address: str, mono: float) -> bool:
        """A connection arrived; False (and not added) if its address has `per_address` waiting already."""
        host = host_of(address)
        if self._per_host[host] >= self.per_address:
            return False
        timeout = self.pressed_timeout if self.pressed else self.hello_timeout
        self._open[who] = _Opener(address, host, mono, mono + timeout)
        self._per_host[host] += 1
        return True

    def delay(self, who: ConnectionId, until: float) -> None:
        """`who` is not read before `until` (its address guessed wrong too often): its deadline moves with it."""
        if opener := self._open.get(who):
            opener.deadline = max(opener.deadline, until + self.hello_timeout)

    def remove(self, who: ConnectionId) -> str | None:
        """`who` said hello or went away: its address, or None if it was not waiting."""
        opener = self._open.pop(who, None)
        if opener is None:
            return None
        self._per_host[opener.host] -= 1
        if not self._per_host[opener.host]:
            del self._per_host[opener.host]
        return opener.address

    def late(self, mono: float) -> list[ConnectionId]:
        """The connections whose deadline passed (still listed until `remove`)."""
        return [who for who, opener in self._open.items() if opener.deadline < mono]

    def press(self, pressed: bool, mono: float) -> None:
        """The host is (or is no longer) short of file descriptors: waiting connections get less time."""
        self.pressed = pressed
        if pressed:
            soon = mono + self.pressed_timeout
            for opener in self._open.values():
                opener.deadline = min(opener.deadline, soon)

    def shed(self) -> ConnectionId | None:
        """The connection to close to make room: the oldest from the address with the most waiting."""
        if not self._open:
            return None
        crowded = max(self._per_host.items(), key=lambda item: item[1])[0]
        return min((o.since, who) for who, o in self._open.items() if o.host == crowded)[1]
