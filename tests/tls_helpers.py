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


def serve_channel(sock: socket.socket, timeout: float = 10.0) -> tuple[socket.socket, bytes]:
    """The host's side of TLS on an accepted blocking socket, made as the host's loop makes it (a TlsPipe),
    then carried on as a TlsChannel, and the plaintext that came with the handshake's end: for a relay in a
    test that must read what passes (it shows its own key)."""
    from mmchat.tls_channel import TlsChannel
    from mmchat.tls_stream import TlsPipe

    sock.settimeout(timeout)
    pipe = TlsPipe(server_context(fake_identity()))
    early = b""
    while not pipe.ready:
        data = sock.recv(65536)
        if not data:
            raise ConnectionError("the member left during the TLS handshake")
        early = pipe.receive(data)  # the member's first frame may come with its last handshake record
        if pipe.tail:
            sock.sendall(bytes(pipe.tail))
            pipe.tail = b""
    return TlsChannel(sock, *pipe.take()), early
