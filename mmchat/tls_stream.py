"""TLS on the host's loop, bytes in and bytes out: `ssl.MemoryBIO` and `SSLObject`, never a blocking socket.

How this works
--------------
Each connection on the loop has a wire: a `TlsPipe` when the host speaks
TLS, a `PlainGate` when it runs with --no-tls.  The loop reads ciphertext
from the socket as before and hands it to `receive()`, which returns the
plaintext it completes (b'' during the handshake, or for part of a record)
for the connection's protocol core.  Whatever TLS wants to say (the
handshake's answers) waits in `tail` until the outbox writes it.  Going out,
`send(sock, data)` encrypts one batch of the outbox's plaintext at once and
writes it; what the socket does not take stays in `tail`, and until it has
gone `send` takes nothing more (returns 0), so the outbox's bound still
holds and the stream stays whole.  Idle, a pipe holds no buffer of its own:
both BIOs are empty and the `SSLObject` lets its record buffers go.

The first bytes say who knocks: a TLS ClientHello starts with 0x16, an
mmchat frame with the 0x00 of its length.  A TLS host answers a clear-text
member (an older mmchat, or one with --no-tls) with a clear-text fatal
ErrorReply it can show, and a --no-tls host answers a TLS member the same
way (the member looks at the raw answer before TLS does: tls_channel.py).
Everything the pipe refuses (not TLS, a failed handshake, too many bytes
before the handshake is done, a broken record) is a `WireError` with the
reason for the host's one log line; the loop hangs up.  A handshake that
never finishes is closed by the hello deadline every new connection has
(`Openers`), which also caps how many may wait per address.

A transfer connection leaves the loop after its TransferHello with its TLS
session as it is: `take()` gives the `SSLObject`, its BIOs and the tail to
`tls_channel.TlsChannel`, the blocking socket a transfer thread uses.
"""

from __future__ import annotations

import socket
import ssl

from .protocol import ErrorReply, encode

TLS_HANDSHAKE = 0x16  # the first byte of a TLS record that carries a handshake (a ClientHello)
HANDSHAKE_BYTES_MAX = 64 * 1024  # ciphertext a connection may send before its handshake is done
READ_SIZE = 256 * 1024
# A MemoryBIO never gives back the memory it once needed: one 1 MB write would stay 1.3 MB for the rest of
# the connection.  So at most a record's worth goes in at a time, and is taken out before the next.
BIO_PIECE = 16 * 1024
ENCRYPTED_HOST = (
    "This host encrypts its chat (TLS): join it with the same mmchat version as the host, without --no-tls."
)
PLAIN_HOST = (
    "This host runs without encryption (--no-tls, for measuring only): join it with --no-tls too, "
    "or ask the host to run without that option."
)
NO_HANDSHAKE = "did not finish the TLS handshake in time"


def refusal_frame(sentence: str) -> bytes:
    """A clear-text fatal ErrorReply: what a member that speaks the other way can still read."""
    return encode(ErrorReply(message=sentence, fatal=True))


class WireError(Exception):
    """What a connection sent cannot be read: `reason` for the host's log line (the answer, if any, is in `tail`)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TlsPipe:
    """The host's side of one TLS connection on the loop: ciphertext in, plaintext out, and back."""

    __slots__ = ("_in", "_obj", "_out", "ready", "received", "tail")

    def __init__(self, context: ssl.SSLContext) -> None:
        self._in = ssl.MemoryBIO()
        self._out = ssl.MemoryBIO()
        self._obj: ssl.SSLObject | None = context.wrap_bio(self._in, self._out, server_side=True)
        self.ready = False  # the handshake is done
        self.received = 0  # ciphertext bytes before the handshake was done
        self.tail: bytes | memoryview = b""  # what the socket has not taken yet

    def receive(self, data: bytes) -> bytes:
        """Feed ciphertext; return the plaintext it completes. Raises WireError."""
        obj = self._obj
        if obj is None:
            return b""  # refused already: nothing more is read
        if not self.ready:
            if not self.received and data[:1] != bytes([TLS_HANDSHAKE]):
                self._refuse(ENCRYPTED_HOST)
                raise WireError("it spoke without TLS (an older mmchat, or a member with --no-tls): refused")
            self.received += len(data)
            if self.received > HANDSHAKE_BYTES_MAX:
                self._obj = None
                raise WireError("it sent too much before finishing the TLS handshake")
            self._in.write(data)  # at most HANDSHAKE_BYTES_MAX in all
            try:
                obj.do_handshake()
            except ssl.SSLWantReadError:
                self._queue(self._out.read())
                return b""
            except ssl.SSLError as exc:
                self._obj = None
                raise WireError(f"the TLS handshake failed ({exc.reason or exc})") from None
            self.ready = True
            self._queue(self._out.read())
            data = b""
        chunks: list[bytes] = []
        view = memoryview(data)
        for start in range(0, max(len(data), 1), BIO_PIECE):
            self._in.write(view[start : start + BIO_PIECE])
            while True:
                try:
                    chunk = obj.read(READ_SIZE)
                except ssl.SSLWantReadError:
                    break
                except ssl.SSLError as exc:
                    self._obj = None
                    raise WireError(f"a TLS record could not be read ({exc.reason or exc})") from None
                if not chunk:
                    break  # the peer's close_notify: the socket's end follows
                chunks.append(chunk)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def encrypt(self, data: bytes | memoryview) -> bytes:
        """The records that carry `data` (the handshake must be done), made a record's worth at a time."""
        obj, out = self._obj, self._out
        assert obj is not None and self.ready
        if len(data) <= BIO_PIECE:
            obj.write(data)
            return out.read()
        view = memoryview(data)
        pieces = []
        for start in range(0, len(view), BIO_PIECE):
            obj.write(view[start : start + BIO_PIECE])
            pieces.append(out.read())
        return b"".join(pieces)

    def send(self, sock: socket.socket, data: bytes | memoryview) -> int:
        """Encrypt and write all of `data` (returns len(data)), or nothing (0) while a tail is still waiting.

        The fan-out's hot path: one call per member per round (outbox.py), so small batches take the short way."""
        obj = self._obj
        if (self.tail and not self.flush(sock)) or not data or obj is None:
            return 0
        if len(data) <= BIO_PIECE:
            obj.write(data)
            records = self._out.read()
        else:
            records = self.encrypt(data)
        try:
            sent = sock.send(records)
        except (BlockingIOError, InterruptedError):
            sent = 0
        if sent < len(records):
            self.tail = memoryview(records)[sent:]
        return len(data)

    def flush(self, sock: socket.socket) -> bool:
        """Write what is waiting; True once nothing is.  Raises OSError if the connection broke."""
        tail = self.tail
        if not tail:
            return True
        try:
            sent = sock.send(tail)
        except (BlockingIOError, InterruptedError):
            return False
        self.tail = b"" if sent >= len(tail) else memoryview(tail)[sent:]
        return not self.tail

    def take(self) -> tuple[ssl.SSLObject, ssl.MemoryBIO, ssl.MemoryBIO, bytes]:
        """The session, its BIOs and its tail, for a transfer thread's TlsChannel; the pipe is done."""
        assert self._obj is not None and self.ready
        obj, self._obj = self._obj, None
        tail, self.tail = bytes(self.tail), b""
        return obj, self._in, self._out, tail

    def _queue(self, records: bytes) -> None:
        if records:
            self.tail = bytes(self.tail) + records if self.tail else records

    def _refuse(self, sentence: str) -> None:
        self._obj = None
        self.tail = refusal_frame(sentence)


class PlainGate:
    """A --no-tls host's look at a connection's first bytes: a TLS member is told why it cannot join."""

    __slots__ = ("ready", "tail")

    def __init__(self) -> None:
        self.ready = False  # the first bytes were looked at
        self.tail: bytes | memoryview = b""

    def receive(self, data: bytes) -> bytes:
        """`data` itself, or WireError (and a clear answer in `tail`) if it opens a TLS handshake."""
        self.ready = True
        if data[:1] == bytes([TLS_HANDSHAKE]):
            self.tail = refusal_frame(PLAIN_HOST)
            raise WireError("it asked for TLS, and this host runs with --no-tls: refused")
        return data

    def flush(self, sock: socket.socket) -> bool:
        """Write the answer; True once it is gone."""
        try:
            sent = sock.send(self.tail)
        except (BlockingIOError, InterruptedError):
            return False
        self.tail = b"" if sent >= len(self.tail) else memoryview(self.tail)[sent:]
        return not self.tail


Wire = TlsPipe | PlainGate
