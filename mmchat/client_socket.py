"""Getting a member connected: TCP to the host and the chat handshake, under one deadline, errors as sentences.

`socket.create_connection(timeout=...)` gives each address the host name
resolves to the whole timeout again, so a name with an IPv6 and an IPv4 address
that both stay silent waits twice as long as asked.  `open_connection` takes a
deadline (a `time.monotonic()` value) instead, and every attempt gets only what
is left of it.  Name resolution itself (`getaddrinfo`) cannot be given a
time-out; it is usually answered from a local cache or a literal address.
`handshake` then sends the Hello and reads the answer within what is left.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

from .fingerprints import same
from .protocol import NEED_DATA, Connection, ErrorReply, Event, Hello, ProtocolError, RefusalKind, Refused, Welcome
from .tls import client_context
from .tls_channel import client_handshake

NO_ANSWER = "The host did not answer. Is it an mmchat host?"
# The refusals a member can act on say so in their own words; the others pass the host's sentence on.
REFUSALS = {
    RefusalKind.PASSWORD_NEEDED: "This chat needs a password.",
    RefusalKind.WRONG_PASSWORD: "Wrong password.",
    RefusalKind.BANNED: "You are banned from this chat.",
}


@dataclass(frozen=True)
class Disconnected:
    """The chat connection ended; `reason` is a sentence, `by_us` if we closed it."""

    reason: str
    by_us: bool = False


class ConnectError(Exception):
    """Joining failed; str() is a sentence for a person, `refusal` why the host refused (a password, say)."""

    def __init__(self, sentence: str, refusal: RefusalKind = RefusalKind.OTHER) -> None:
        super().__init__(sentence)
        self.refusal = refusal


def remaining(deadline: float) -> float:
    """Seconds left until `deadline` (a time.monotonic() value), never below zero."""
    return max(deadline - time.monotonic(), 0.0)


def open_connection(host: str, port: int, deadline: float) -> socket.socket:
    """Open a TCP connection to host:port before `deadline` (time.monotonic()); raise ConnectError."""
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise ConnectError(f"Unknown host: {host}") from None
    last: OSError = TimeoutError()
    for family, kind, proto, _, address in addresses:
        left = remaining(deadline)
        if left <= 0:
            last = TimeoutError()
            break
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(left)
            sock.connect(address)
        except OSError as exc:
            sock.close()
            last = exc
            continue
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock
    # Like create_connection, report the last address's failure.
    if isinstance(last, ConnectionRefusedError):
        raise ConnectError(f"Nobody is hosting a chat at {host}:{port} (connection refused).")
    if isinstance(last, TimeoutError):
        raise ConnectError(f"No answer from {host}:{port}: is the address right and the host running?")
    raise ConnectError(f"Cannot reach {host}:{port}: {last.strerror or last}")


def secure(sock: socket.socket, deadline: float, verify: Callable[[str], None] | None) -> tuple[socket.socket, str]:
    """TLS over `sock` and the host's key checked by `verify(fingerprint)`: (the TLS socket, the fingerprint).

    Raises ConnectError (from `verify` too: it refuses the key) and closes `sock` when anything fails, so
    nothing, not even the hello with its password, goes to a host whose key was not accepted.
    """
    try:
        channel = client_handshake(sock, client_context(), deadline)
    except ConnectionError as exc:
        raise ConnectError(str(exc)) from None
    fingerprint = channel.fingerprint()
    try:
        if verify is not None:
            verify(fingerprint)
    except BaseException:
        channel.close()
        raise
    return channel, fingerprint


def open_verified(
    host: str, port: int, deadline: float, tls: bool, verify: Callable[[str], None] | None
) -> tuple[socket.socket, str]:
    """`open_connection`, then (unless `tls` is False: --no-tls) `secure`: the socket and the host's fingerprint."""
    sock = open_connection(host, port, deadline)
    return secure(sock, deadline, verify) if tls else (sock, "")


def same_key(expected: str) -> Callable[[str], None]:
    """A `verify` for transfer connections: the host must show the key the chat connection showed."""

    def verify(fingerprint: str) -> None:
        if not same(fingerprint, expected):
            raise ConnectError(
                "The transfer connection reached a host with another key than the chat's "
                f"({fingerprint}, not {expected}): the transfer was stopped."
            )

    return verify


def handshake(sock: socket.socket, conn: Connection, hello: Hello, deadline: float) -> Welcome:
    """Send `hello` and return the host's Welcome before `deadline`; else close `sock`, raise ConnectError."""
    try:
        _send_before(sock, conn.send(hello), deadline)
        reply = _read_before(sock, conn, deadline)
        if isinstance(reply, Refused):
            raise ConnectError(REFUSALS.get(reply.kind) or f"The host refused you: {reply.reason}", reply.kind)
        if isinstance(reply, ErrorReply):
            raise ConnectError(f"The host refused you: {reply.message}")
        if not isinstance(reply, Welcome):  # the state table allows nothing else here
            raise ConnectError(f"That does not look like an mmchat host (it answered {reply.TYPE!r}).")
    except ConnectError:
        sock.close()
        raise
    return reply


def _send_before(sock: socket.socket, frame: bytes, deadline: float) -> None:
    left = remaining(deadline)
    try:
        if left <= 0:
            raise TimeoutError
        sock.settimeout(left)
        sock.sendall(frame)
    except TimeoutError:
        raise ConnectError(NO_ANSWER) from None
    except OSError as exc:
        raise ConnectError(f"The connection failed: {exc.strerror or exc}") from None


def _read_before(sock: socket.socket, conn: Connection, deadline: float) -> Event:
    while True:
        try:
            event = conn.next_event()
        except ProtocolError as exc:
            raise ConnectError(f"That does not look like an mmchat host ({exc}).") from None
        if event is not NEED_DATA:
            return event
        left = remaining(deadline)
        try:
            if left <= 0:
                raise TimeoutError
            sock.settimeout(left)
            data = sock.recv(65536)
        except TimeoutError:
            raise ConnectError(NO_ANSWER) from None
        except OSError as exc:
            raise ConnectError(f"The connection failed: {exc.strerror or exc}") from None
        if not data:
            raise ConnectError("The host closed the connection. Is it an mmchat host?")
        conn.receive_data(data)
