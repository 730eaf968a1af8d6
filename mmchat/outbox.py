"""Every connection's bounded outbox, and the fan-out of each round's broadcasts.

How this works
--------------
Outbound frames go into each connection's own outbox (a deque of ready-made
bytes; a broadcast frame is encoded once and shared).  After each round of
reads the loop calls `Outboxes.flush()`: this round's broadcasts are joined
once and written to every member with one non-blocking `send` each (two
threads share the members of a big round; the kernel's part of a send runs
without the GIL), then every outbox that got something is written.  A
connection whose outbox would grow past `limit` is not reading: its backlog is
let go (all but a frame the socket already took part of, so the stream stays
whole), it is told why in one fatal ErrorReply and hung up with the close
grace (reason `CloseReason.DROPPED`), and nobody else waits for it.  Nothing here decides who is a member: the loop
says so with `add_member` / `remove_member`.

Only the loop thread calls into this module (the second sending thread runs
`_FanOut.run` on its half of the members while the loop thread waits).
"""

from __future__ import annotations

import collections
import functools
import itertools
import selectors
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from .protocol import Connection, ErrorReply, Role, encode
from .room import CloseReason, ConnectionId
from .tls_stream import TlsPipe, Wire

PARALLEL_SEND_MIN = 64  # members in a round before a second thread shares its sends (N=100 burst: +8 %)
FLUSH_PASSES = 8  # a drop can broadcast a notice: flush that too, boundedly
TOO_SLOW = "You were disconnected: you were not reading what the chat sent (your computer may be too slow or asleep)."
TOO_SLOW_FRAME = encode(ErrorReply(message=TOO_SLOW, fatal=True))


@dataclass(frozen=True)
class ConnectionInfo:
    """A snapshot of one member's connection, for the admin window."""

    name: str
    address: str
    since: float
    bytes_in: int  # chat and files together
    bytes_out: int
    file_bytes_in: int = 0  # of which files (uploads from them, downloads to them)
    file_bytes_out: int = 0


@dataclass(eq=False)
class Peer:
    """One connection on the loop: its socket, protocol state, outbox and counters."""

    id: ConnectionId
    sock: socket.socket
    address: str
    since: float  # wall clock, for the admin window
    conn: Connection = field(default_factory=lambda: Connection(Role.HOST))
    name: str = ""  # the member's name once the room let them in
    outbox: collections.deque[bytes | memoryview] = field(default_factory=collections.deque)
    outbox_bytes: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    closing_deadline: float = 0.0  # >0: close once the outbox is empty, or at this (monotonic) time
    hangup_reason: CloseReason = CloseReason.LOST
    closed: bool = False
    failed: bool = False  # already on the failed list
    dropped: bool = False  # its outbox overflowed: told why, nothing more is queued
    want_write: bool = False  # the socket is full: wait for the selector to say it is writable
    round_pos: int = 0  # how many of this round's broadcast frames are already in the outbox
    paused_until: float = 0.0  # >0: over budget, not read until this (monotonic) time
    wire: Wire | None = None  # TLS (or a --no-tls host's look at the first bytes): tls_stream.py
    send: Callable[[bytes | memoryview], int] = field(init=False)  # all or nothing with TLS

    def __post_init__(self) -> None:
        wire = self.wire
        self.send = functools.partial(wire.send, self.sock) if isinstance(wire, TlsPipe) else self.sock.send

    def waiting(self) -> bool:
        """Whether bytes wait to be written: in the outbox, or ciphertext the socket did not take yet."""
        return bool(self.outbox) or (self.wire is not None and bool(self.wire.tail))

    def info(self, files_in: int = 0, files_out: int = 0) -> ConnectionInfo:
        """A snapshot for the admin window, with the file bytes the member moved on transfer connections."""
        total_in, total_out = self.bytes_in + files_in, self.bytes_out + files_out
        return ConnectionInfo(self.name, self.address, self.since, total_in, total_out, files_in, files_out)


class _FanOut:
    """One round's broadcast frames, written to a share of the members.

    `run(peers)` touches only those peers and their sockets, so two threads may
    each run it for half of the members while the loop thread waits.  Each
    member with nothing pending gets one non-blocking send of everything it
    has not been given yet; what needs the loop thread afterwards (queueing for
    members who are behind, the rest of a partial send, a broken connection)
    comes back in the three lists.
    """

    def __init__(self, frames: list[bytes]) -> None:
        self.count = len(frames)
        self.joined = frames[0] if len(frames) == 1 else b"".join(frames)
        self.offsets = [0, *itertools.accumulate(len(f) for f in frames)]

    def run(
        self, peers: list[Peer]
    ) -> tuple[list[tuple[Peer, bytes | memoryview]], list[tuple[Peer, memoryview]], list[Peer]]:
        queue: list[tuple[Peer, bytes | memoryview]] = []  # members with bytes already pending
        partial: list[tuple[Peer, memoryview]] = []  # the rest of what the socket did not take
        broken: list[Peer] = []
        count, joined, offsets = self.count, self.joined, self.offsets
        for peer in peers:
            pos, peer.round_pos = peer.round_pos, 0
            if peer.closed or peer.closing_deadline or pos >= count:
                continue
            data = joined if pos == 0 else memoryview(joined)[offsets[pos] :]  # caught up part-way: the rest
            if peer.outbox or peer.want_write:
                queue.append((peer, data))
                continue
            try:
                sent = peer.send(data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                broken.append(peer)
                continue
            peer.bytes_out += sent
            if sent < len(data):
                partial.append((peer, memoryview(data)[sent:]))
            elif peer.wire is not None and peer.wire.tail:  # TLS: the records the socket did not take
                partial.append((peer, memoryview(b"")))
        return queue, partial, broken


class Outboxes:
    """The outboxes of every connection on the loop, and this round's broadcasts."""

    def __init__(
        self, selector: selectors.BaseSelector, limit: int, send_threads: int = 1, close_grace: float = 2.0
    ) -> None:
        self.limit = limit
        self.close_grace = close_grace  # how long a dropped member has to take its last words
        self._selector = selector
        self._members: dict[ConnectionId, Peer] = {}  # who gets broadcasts, in join order
        self._dirty: set[Peer] = set()
        self._round: list[bytes] = []  # broadcast frames waiting for this round's flush
        self._sender = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mmchat-send") if send_threads > 1 else None
        self.failed: list[tuple[Peer, CloseReason]] = []  # for the loop to close
        self._paused: dict[Peer, float] = {}  # not read until then (monotonic): over budget

    # --- membership ------------------------------------------------------------------------

    def add_member(self, peer: Peer) -> None:
        """`peer` receives broadcasts from the next one on (earlier ones are in its history)."""
        self._members[peer.id] = peer
        peer.round_pos = len(self._round)

    def remove_member(self, peer: Peer) -> None:
        """`peer` gets no more broadcasts."""
        self._members.pop(peer.id, None)

    def members(self) -> list[Peer]:
        """The connections that receive broadcasts, in join order."""
        return list(self._members.values())

    # --- queueing --------------------------------------------------------------------------

    def send(self, peer: Peer, frame: bytes) -> None:
        """Queue a frame for one peer, after the broadcasts it has not been given yet."""
        if peer.closed:
            return
        if peer.round_pos < len(self._round) and self._members.get(peer.id) is peer:
            self.catch_up(peer)
        self._enqueue(peer, frame)

    def broadcast(self, frame: bytes) -> None:
        """Queue a frame for every member: encoded once, joined once per round, one send per member."""
        self._round.append(frame)

    def catch_up(self, peer: Peer) -> None:
        """Give a member this round's broadcasts now, so what follows stays in order."""
        pending = self._round[peer.round_pos :]
        peer.round_pos = len(self._round)
        if pending and not peer.closing_deadline:
            self._enqueue(peer, b"".join(pending))

    def hang_up(self, peer: Peer, deadline: float, reason: CloseReason) -> None:
        """Close `peer` once its outbox is sent (the loop closes it at `deadline` at the latest)."""
        if self._members.get(peer.id) is peer:
            self.catch_up(peer)  # e.g. the "kicked" or "shutdown" notice just broadcast
        self.remove_member(peer)
        if not peer.closing_deadline:
            peer.closing_deadline = deadline
            peer.hangup_reason = reason
            self._dirty.add(peer)

    def writable(self, peer: Peer) -> None:
        """The selector says `peer`'s socket takes bytes again."""
        self._dirty.add(peer)

    def forget(self, peer: Peer) -> None:
        """`peer` is closed or handed to a transfer thread: nothing more to write."""
        self._dirty.discard(peer)
        self._paused.pop(peer, None)
        self.remove_member(peer)

    def _enqueue(self, peer: Peer, data: bytes | memoryview) -> None:
        if peer.dropped:
            return  # told to go: its last words are the fatal error
        if peer.outbox_bytes + len(data) > self.limit:
            return self._drop(peer)
        peer.outbox.append(data)
        peer.outbox_bytes += len(data)
        if not peer.want_write:  # a full socket is retried when the selector says so, not every round
            self._dirty.add(peer)

    def _drop(self, peer: Peer) -> None:
        """Let the backlog go, say why, and hang up: the reason logged stays DROPPED."""
        peer.dropped = True
        # A partly sent frame is always a memoryview at the head (see _flush and _FanOut): keep it,
        # or the member would read our sentence as the rest of that frame.
        head = peer.outbox[0] if peer.outbox and isinstance(peer.outbox[0], memoryview) else b""
        peer.outbox.clear()
        if head:
            peer.outbox.append(head)
        peer.outbox.append(TOO_SLOW_FRAME)
        peer.outbox_bytes = len(head) + len(TOO_SLOW_FRAME)
        self.remove_member(peer)  # before hang_up: no catch-up of this round for them
        self.hang_up(peer, time.monotonic() + self.close_grace, CloseReason.DROPPED)
        self._dirty.add(peer)  # also when it was being hung up already

    # --- writing ---------------------------------------------------------------------------

    def pending(self) -> bool:
        """Whether a flush has anything to do."""
        return bool(self._round or self._dirty)

    def flush(self) -> None:
        """Write this round's broadcasts and every outbox that got something (failures go to `failed`)."""
        if self._round:
            self._flush_round()
        dirty, self._dirty = self._dirty, set()
        for peer in dirty:
            if not peer.closed and not peer.failed:
                self._flush(peer)

    def _flush_round(self) -> None:
        """One send per member, shared by two threads in big rounds; the loop waits for both halves,
        so nothing reaches anyone out of order."""
        fan_out = _FanOut(self._round)
        self._round = []
        members = list(self._members.values())
        if len(members) >= PARALLEL_SEND_MIN and self._sender is not None:
            half = len(members) // 2
            other = self._sender.submit(fan_out.run, members[half:])
            results = [fan_out.run(members[:half]), other.result()]
        else:
            results = [fan_out.run(members)]
        for queue, partial, broken in results:
            for peer, data in (*queue, *partial):
                self._enqueue(peer, data)
            for peer in broken:
                self._fail(peer, CloseReason.LOST)

    def _flush(self, peer: Peer) -> None:
        if peer.outbox:
            data = peer.outbox[0] if len(peer.outbox) == 1 else b"".join(peer.outbox)
            try:
                sent = peer.send(data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                return self._fail(peer, CloseReason.LOST)
            peer.bytes_out += sent
            peer.outbox.clear()
            if sent < len(data):
                peer.outbox.append(memoryview(data)[sent:])
            peer.outbox_bytes = len(data) - sent
        elif peer.wire is not None and peer.wire.tail:  # a TLS handshake's answer, or the rest of a batch
            try:
                peer.wire.flush(peer.sock)
            except OSError:
                return self._fail(peer, CloseReason.LOST)
        waiting = peer.waiting()
        if waiting and not peer.want_write:
            peer.want_write = True
            self.listen(peer)
        elif not waiting:
            if peer.want_write:
                peer.want_write = False
                self.listen(peer)
            if peer.closing_deadline:
                self._fail(peer, peer.hangup_reason)  # all said: now it can close

    def pause(self, peer: Peer, until: float) -> None:
        """Read nothing from `peer` until monotonic time `until`; what it sends waits in its own kernel buffer."""
        peer.paused_until = self._paused[peer] = until
        self.listen(peer)

    def next_resume(self) -> float:
        """When the first paused peer is due (inf if none)."""
        return min(self._paused.values(), default=float("inf"))

    def resume_due(self, mono: float) -> list[Peer]:
        """Read the peers whose pause is over again; they are returned for what they sent already."""
        due = [peer for peer, until in self._paused.items() if until <= mono]
        for peer in due:
            del self._paused[peer]
            peer.paused_until = 0.0
            if not peer.closed:
                self.listen(peer)
        return [peer for peer in due if not peer.closed and not peer.closing_deadline]

    def listen(self, peer: Peer) -> None:
        """Have the selector watch `peer` for reading (unless paused) and for writing (while its socket is full)."""
        events = (0 if peer.paused_until else selectors.EVENT_READ) | (selectors.EVENT_WRITE if peer.want_write else 0)
        registered = peer.sock in self._selector.get_map()
        if not events:
            if registered:
                self._selector.unregister(peer.sock)
        elif registered:
            self._selector.modify(peer.sock, events, peer)
        else:
            self._selector.register(peer.sock, events, peer)

    def _fail(self, peer: Peer, reason: CloseReason) -> None:
        if not peer.failed:
            peer.failed = True
            self.failed.append((peer, reason))

    def take_failed(self) -> list[tuple[Peer, CloseReason]]:
        """The connections to close now, and why."""
        failed, self.failed = self.failed, []
        return failed

    def shutdown(self) -> None:
        """Stop the second sending thread."""
        if self._sender is not None:
            self._sender.shutdown(wait=True)
