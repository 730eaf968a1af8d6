"""Opening a member's TCP connections to the host: one deadline for every address, errors as sentences.

`socket.create_connection(timeout=...)` gives each address the host name
resolves to the whole timeout again, so a name with an IPv6 and an IPv4 address
that both stay silent waits twice as long as asked.  `open_connection` takes a
deadline (a `time.monotonic()` value) instead, and every attempt gets only what
is left of it.  Name resolution itself (`getaddrinfo`) cannot be given a
time-out; it is usually answered from a local cache or a literal address.
"""

from __future__ import annotations

import socket
import time


class ConnectError(Exception):
    """Joining failed; str() is a sentence for a person."""


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
