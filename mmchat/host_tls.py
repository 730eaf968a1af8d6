"""The host loop's TLS glue, mixed into ChatServer (server.py has no room for it): wires, refusals, hand-over.

How this works
--------------
`_open_tls` loads (or makes) the host's identity and its context once.
Every accepted connection gets a wire (`_new_wire`): a `TlsPipe`, or with
--no-tls a `PlainGate` that only looks at the first bytes.  `_unwrap` turns
what the loop read into plaintext for the protocol core; a wire that
refuses (not TLS, a failed handshake...) is one log line and a hang-up after
its clear-text answer, if it has one.  A connection that never finished its
handshake is closed by the hello deadline, and `_note_close` gives it its
log line.  `_hand_over` gives a transfer connection to the transfer desk's
thread, with its live TLS session as a blocking `TlsChannel` (tls_channel.py).
"""

from __future__ import annotations

import selectors
import ssl
import time
from collections.abc import Callable
from pathlib import Path

from .actions import Action, CloseReason
from .host_transfers import Ticket, TransferDesk
from .hostlog import LogEvent, LogKind
from .outbox import Outboxes, Peer
from .room import Room
from .tls import load_or_create, server_context
from .tls_channel import TlsChannel
from .tls_stream import NO_HANDSHAKE, PlainGate, TlsPipe, Wire, WireError


class HostTls:
    """TLS on the host's loop (mixed into ChatServer, which provides the loop)."""

    outboxes: Outboxes
    room: Room
    desk: TransferDesk
    _peers: dict[int, Peer]
    _selector: selectors.BaseSelector
    _publish: Callable[[LogEvent], None]
    _tls: ssl.SSLContext | None = None

    def _apply(self, actions: list[Action]) -> None:
        raise NotImplementedError  # the loop's: ChatServer._apply

    def _hang_up(self, peer: Peer, reason: CloseReason) -> None:
        raise NotImplementedError  # the loop's: ChatServer._hang_up

    def _open_tls(self, data_dir: Path, tls: bool) -> str:
        """Load or make the identity; its fingerprint ('' with --no-tls). Raises tls.IdentityError."""
        identity = load_or_create(data_dir) if tls else None
        self._tls = server_context(identity) if identity else None
        return identity.fingerprint if identity else ""

    def _new_wire(self) -> Wire:
        return TlsPipe(self._tls) if self._tls else PlainGate()

    def _unwrap(self, peer: Peer, data: bytes) -> bytes:
        """The plaintext in what `peer` sent (tls_stream.py); b'' and a hang-up if it cannot be read."""
        assert peer.wire is not None
        try:
            data = peer.wire.receive(data)
        except WireError as exc:
            self._publish(LogEvent(time.time(), LogKind.TLS_FAILED, address=peer.address, reason=exc.reason))
            self._hang_up(peer, CloseReason.REFUSED)  # after the clear-text answer, if there is one
            return b""
        if peer.wire.tail:
            self.outboxes.writable(peer)  # the handshake's answer
        elif isinstance(peer.wire, PlainGate):
            peer.wire = None  # the first bytes were chat: nothing more to look at
        return data

    def _note_close(self, peer: Peer, reason: CloseReason) -> None:
        """The log line of a connection closed before its TLS handshake was done."""
        if reason is CloseReason.NO_GREETING and isinstance(peer.wire, TlsPipe) and not peer.wire.ready:
            self._publish(LogEvent(time.time(), LogKind.TLS_FAILED, address=peer.address, reason=NO_HANDSHAKE))

    def _hand_over(self, peer: Peer, ticket: Ticket) -> None:
        """From here on the socket belongs to a transfer thread, with blocking I/O."""
        peer.closed = True
        self.outboxes.forget(peer)
        self._peers.pop(peer.id, None)
        self._selector.unregister(peer.sock)
        self._apply(self.room.closed(peer.id, CloseReason.TRANSFER, time.time()))
        # With TLS the session the loop made goes on: no second handshake.
        sock = TlsChannel(peer.sock, *peer.wire.take()) if isinstance(peer.wire, TlsPipe) else peer.sock
        self.desk.start(sock, peer.conn, ticket, peer.conn.take_buffered(), peer.address)
