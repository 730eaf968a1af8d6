"""The one way tests open a raw connection to a host, over TLS as every member's is, and a fake host's TLS.

`open_raw(port)` connects to a host on 127.0.0.1 and shakes hands (mmchat's own `client_handshake`, the
code members run), so a test that then writes frames by hand talks to the host as a member would.  A fake
host (tests.fake_host, the chat window's tests) serves TLS with `fake_identity()`: a certificate made
once per test run, whose fingerprint the member-side tests pass on.
"""

from __future__ import annotations

import functools
import socket
import ssl
import tempfile
import time
from pathlib import Path

from mmchat.tls import HostIdentity, client_context, load_or_create, server_context
from mmchat.tls_channel import client_handshake


def open_raw(port: int, timeout: float | None = 10.0, source: str = "", rcvbuf: int = 0) -> socket.socket:
    """A connection to the host at 127.0.0.1:`port`, past the TLS handshake (a socket to write frames on).

    `source`: the local address to connect from; `rcvbuf`: a receive buffer set before connecting (a small
    window for a member that stops reading)."""
    return secure(open_tcp(port, timeout, source, rcvbuf), timeout)


def open_tcp(port: int, timeout: float | None = 10.0, source: str = "", rcvbuf: int = 0) -> socket.socket:
    """The TCP connection `open_raw` then secures (for a test that shakes hands later, or on another thread)."""
    sock = socket.socket()
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    if source:
        sock.bind((source, 0))
    sock.settimeout(timeout)
    sock.connect(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as members do: the hello follows the handshake
    return sock


def secure(sock: socket.socket, timeout: float | None = 10.0) -> socket.socket:
    """TLS over `sock`, as a member's client_handshake does it (ConnectionError with a sentence if it fails)."""
    channel = client_handshake(sock, client_context(), time.monotonic() + (timeout or 10.0))
    channel.settimeout(timeout)
    return channel


@functools.cache
def fake_identity() -> HostIdentity:
    """A key and certificate for fake hosts, made once per test run."""
    return load_or_create(Path(tempfile.mkdtemp(prefix="mmchat-test-tls-")))


def serve_tls(sock: socket.socket) -> ssl.SSLSocket:
    """The host's side of TLS on an accepted socket (a fake host's), with `fake_identity()`'s certificate."""
    return server_context(fake_identity()).wrap_socket(sock, server_side=True)
