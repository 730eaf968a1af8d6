"""What both ends of a transfer connection share: reading its opening frames, its failure, its time limit."""

from __future__ import annotations

import socket
from collections.abc import Callable

from ..protocol import NEED_DATA, Connection, ErrorReply, Event, ProtocolError

IDLE_TIMEOUT = 60.0  # seconds without a byte before a transfer connection gives up

Progress = Callable[[int, int], None]  # progress(bytes done, bytes in all)


class TransferError(Exception):
    """A transfer failed; str() is a sentence for a person."""


def read_frame(sock: socket.socket, conn: Connection) -> Event:
    """Block until the peer's next frame on a transfer connection; raise TransferError on failure."""
    while True:
        try:
            event = conn.next_event()
        except ProtocolError as exc:
            raise TransferError(f"The other side broke the protocol: {exc}") from None
        if event is not NEED_DATA:
            if isinstance(event, ErrorReply):
                raise TransferError(event.message)
            return event
        try:
            data = sock.recv(65536)
        except TimeoutError:
            raise TransferStalled("The other side stopped answering.") from None
        except OSError as exc:
            raise TransferError(f"The connection failed: {exc.strerror or exc}") from None
        if not data:
            raise TransferError("The connection closed unexpectedly.")
        conn.receive_data(data)


class TransferStalled(TransferError):
    """No byte moved for the connection's time-out (the socket's); str() is a sentence for a person."""
