"""TLS for threads that block: `TlsChannel`, a socket whose bytes go through an `SSLObject`, and the member's handshake.

How this works
--------------
A `TlsChannel` is a `socket.socket` (it takes over the descriptor, as
`ssl.SSLSocket` does), so the chat reader and writer, the outbox and the
transfer code use it where they used a plain socket: `recv`, `recv_into`,
`send`, `sendall`, `sendfile`, `settimeout`, `shutdown`, `close`.  Its TLS
session lives in an `SSLObject` over two `MemoryBIO`s, which lets one class
serve both ends: the host hands the session its loop made (`TlsPipe.take`)
to a transfer thread without a new handshake, and the member does its own
handshake here, where it can look at the host's raw answer first: a host
with --no-tls answers a ClientHello with a clear-text frame, and the member
shows that sentence instead of a TLS error.

Costs: ciphertext is read `RAW_CHUNK` bytes at a time and every record
already there is decrypted in one call; files go out in `FILE_CHUNK` pieces
(ssl.SSLSocket.sendfile would send 8 kB at a time).  The chat's reader and
writer are two threads on one channel: the `SSLObject` and its BIOs are only
touched under `_tls_lock`, never held across a system call.
"""

from __future__ import annotations

import os
import socket
import ssl
import threading
import time
from typing import Any, BinaryIO

from .fingerprints import fingerprint_of
from .protocol import MEMBER_INBOUND, NEED_DATA, ErrorReply, FrameDecoder, ProtocolError
from .tls_stream import TLS_HANDSHAKE

RAW_CHUNK = 256 * 1024
FILE_CHUNK = 1 << 20
TLS_ALERT = 0x15
SHUTDOWN_FLUSH = 5.0  # seconds the last ciphertext (a goodbye, say) may take before our half closes
NOT_TLS = (
    "The host did not answer with TLS: it may be an older mmchat, or run with --no-tls "
    "(then join it with --no-tls too), or not be an mmchat host."
)


class TlsChannel(socket.socket):
    """A blocking socket that speaks TLS through an SSLObject (made here, or taken over from the host's loop)."""

    def __init__(
        self,
        sock: socket.socket,
        obj: ssl.SSLObject,
        incoming: ssl.MemoryBIO,
        outgoing: ssl.MemoryBIO,
        tail: bytes = b"",
    ) -> None:
        timeout = sock.gettimeout()
        super().__init__(sock.family, sock.type, sock.proto, fileno=sock.detach())
        self.settimeout(timeout)
        self._obj = obj
        self._in = incoming
        self._outgoing = outgoing
        self._tail = tail  # ciphertext not sent yet (the host's loop may leave some)
        self._raw: bytearray | None = None
        self._tls_lock = threading.Lock()
        self._send_lock = threading.Lock()

    def fingerprint(self) -> str:
        """The SHA-256 fingerprint of the other side's certificate ('' if it showed none)."""
        der = self._obj.getpeercert(binary_form=True)
        return fingerprint_of(der) if der else ""

    def version(self) -> str | None:
        """The TLS version agreed, e.g. 'TLSv1.3'."""
        return self._obj.version()

    # --- reading ------------------------------------------------------------------------

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        """Up to `bufsize` bytes of plaintext: every record already here, or the next; b'' at the end."""
        while True:
            chunks: list[bytes] = []
            size, ended = 0, False
            with self._tls_lock:
                while size < bufsize:
                    try:
                        chunk = self._obj.read(bufsize - size)
                    except ssl.SSLWantReadError:
                        break
                    except ssl.SSLZeroReturnError:
                        chunk = b""
                    if not chunk:
                        ended = True
                        break
                    chunks.append(chunk)
                    size += len(chunk)
            if chunks or ended:
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)
            if not self._read_records():
                return b""

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        """Plaintext into `buffer`: every record already here, or wait for the next (the socket's time-out)."""
        view = memoryview(buffer).cast("B")
        if nbytes:
            view = view[:nbytes]
        if not view:
            return 0
        while True:
            got = self._decrypt(view)
            if got is not None:
                return got
            if not self._read_records():
                return 0

    def _read_records(self) -> bool:
        """Wait for ciphertext and feed it to TLS; False at the end of the connection.

        An end without a close_notify is an end too: the frames inside say whether all of it came."""
        if self._raw is None:
            self._raw = bytearray(RAW_CHUNK)  # made at the first read that needs the network
        n = super().recv_into(self._raw)
        if n:
            with self._tls_lock:
                self._in.write(memoryview(self._raw)[:n])
        return bool(n)

    def _decrypt(self, view: memoryview) -> int | None:
        """Plaintext bytes put into `view`, 0 at the end, None if a record must be read first."""
        got = 0
        with self._tls_lock:
            while got < len(view):
                try:
                    n: int = self._obj.read(len(view) - got, view[got:])  # type: ignore[arg-type, assignment]
                except ssl.SSLWantReadError:
                    break
                except ssl.SSLZeroReturnError:
                    return got
                if not n:
                    return got
                got += n
        return got or None

    # --- writing ------------------------------------------------------------------------

    def send(self, data: Any, flags: int = 0) -> int:
        """Encrypt and send all of `data`, or nothing (TimeoutError) while earlier ciphertext is still waiting."""
        with self._send_lock:
            if self._tail and not self._push():
                raise TimeoutError("timed out")
            self._tail = self._encrypt(data)
            self._push()
            return len(data)

    def sendall(self, data: Any, flags: int = 0) -> None:
        """Encrypt and send all of `data` (the socket's time-out applies to each wait)."""
        with self._send_lock:
            if self._tail:
                super().sendall(self._tail)
                self._tail = b""
            super().sendall(self._encrypt(data))

    def sendfile(self, file: BinaryIO, offset: int = 0, count: int | None = None) -> int:  # type: ignore[override]
        """Send `count` bytes of `file` from `offset` in big encrypted pieces; bytes sent (0 at its end)."""
        size = count if count is not None else os.fstat(file.fileno()).st_size - offset
        buf = bytearray(min(FILE_CHUNK, max(size, 1)))
        view = memoryview(buf)
        sent = 0
        file.seek(offset)
        while sent < size:
            n = file.readinto(view[: min(len(buf), size - sent)])  # type: ignore[attr-defined]
            if not n:
                break
            self.sendall(view[:n])
            sent += n
        file.seek(offset + sent)
        return sent

    def _encrypt(self, data: Any) -> bytes:
        with self._tls_lock:
            self._obj.write(data)
            return self._outgoing.read()

    def _push(self) -> bool:
        """One send of the waiting ciphertext; True once none waits."""
        try:
            sent = super().send(self._tail)
        except (TimeoutError, BlockingIOError, InterruptedError):
            return False
        self._tail = self._tail[sent:]
        return not self._tail

    def shutdown(self, how: int) -> None:
        """Shut the TCP connection down; when only our half closes, what waits goes first (SHUTDOWN_FLUSH s at most)."""
        if how == socket.SHUT_WR and self._tail:
            deadline = time.monotonic() + SHUTDOWN_FLUSH
            with self._send_lock:
                try:
                    while self._tail and time.monotonic() < deadline:
                        self._push()  # each try waits the socket's own time-out at most
                except OSError:
                    pass  # the connection broke: nothing more can go
        super().shutdown(how)


def client_handshake(sock: socket.socket, context: ssl.SSLContext, deadline: float) -> TlsChannel:
    """TLS over `sock` before `deadline` (monotonic): a TlsChannel, or ConnectionError with a sentence.

    `sock` is closed when it fails.  The host's raw answer is looked at before TLS reads it: a clear-text
    mmchat frame (a --no-tls host, or an older one) gives its sentence instead of a TLS error.
    """
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = context.wrap_bio(incoming, outgoing, server_side=False)
    first = True
    try:
        while True:
            try:
                obj.do_handshake()
                done = True
            except ssl.SSLWantReadError:
                done = False
            if records := outgoing.read():
                _settimeout_before(sock, deadline)
                sock.sendall(records)
            if done:
                break
            _settimeout_before(sock, deadline)
            data = sock.recv(RAW_CHUNK)
            if not data:
                raise ConnectionError("The host closed the connection during the TLS handshake.")
            if first and data[0] not in (TLS_HANDSHAKE, TLS_ALERT):
                raise ConnectionError(_clear_text_answer(sock, data, deadline))
            first = False
            incoming.write(data)
    except TimeoutError:
        sock.close()
        raise ConnectionError("The host did not finish the TLS handshake in time. Is it an mmchat host?") from None
    except ssl.SSLError as exc:
        sock.close()
        raise ConnectionError(f"The TLS handshake with the host failed ({exc.reason or exc}).") from None
    except OSError as exc:
        sock.close()
        if isinstance(exc, ConnectionError) and not exc.errno:
            raise
        raise ConnectionError(f"The connection failed: {exc.strerror or exc}") from None
    return TlsChannel(sock, obj, incoming, outgoing)


def _settimeout_before(sock: socket.socket, deadline: float) -> None:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError
    sock.settimeout(left)


def _clear_text_answer(sock: socket.socket, data: bytes, deadline: float) -> str:
    """The sentence in a clear-text ErrorReply that starts with `data`, or NOT_TLS."""
    decoder = FrameDecoder(MEMBER_INBOUND)
    decoder.receive_data(data)
    for _ in range(64):  # a refusal is one small frame: a few reads at most
        try:
            event = decoder.next_event()
        except ProtocolError:
            return NOT_TLS
        if event is not NEED_DATA:
            return event.message if isinstance(event, ErrorReply) else NOT_TLS
        try:
            _settimeout_before(sock, deadline)
            more = sock.recv(65536)
        except OSError:
            return NOT_TLS
        if not more:
            return NOT_TLS
        decoder.receive_data(more)
    return NOT_TLS
