"""What the resume tests share: a relay on 127.0.0.1 that counts a transfer's bytes and cuts it mid-way.

The relay ends TLS on both sides (it shows the members the test's own key, tests.tls_helpers, and joins the
host as a member does), so it reads the frames and counts plaintext, while both legs stay encrypted."""

from __future__ import annotations

import contextlib
import socket
import threading

from tests.tls_helpers import secure, serve_channel

CHUNK = 64 * 1024


class CuttingRelay:
    """Relays every connection to the host at `port`; counts the bytes of each transfer connection, both ways.

    With `cut_up` (member to host) or `cut_down` (host to member) set, a transfer
    connection is cut, both ends at once, as soon as that many bytes went that way
    (a connection lost mid-transfer); with `cuts_left`, only that many are.  Chat connections are relayed untouched.
    `up` and `down` list the bytes moved on each transfer connection, in order.
    """

    def __init__(self, port: int) -> None:
        self.target = ("127.0.0.1", port)
        self.cut_up: int | None = None
        self.cut_down: int | None = None
        self.cuts_left: int | None = None  # cut only this many transfer connections (None: every one)
        self.stall_after: int | None = None  # a transfer connection stops moving bytes (either way) after this many
        self.up: list[int] = []
        self.down: list[int] = []
        self._lock = threading.Lock()
        self._socks: list[socket.socket] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                member, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            host = socket.create_connection(self.target, timeout=10)
            member.settimeout(None)
            host.settimeout(None)
            with self._lock:
                self._socks += [member, host]
            threading.Thread(target=self._first, args=(member, host), daemon=True).start()

    def _first(self, member: socket.socket, host: socket.socket) -> None:
        try:
            (member, early), host = serve_channel(member), secure(host)
        except OSError:
            self._cut(member, host)
            return
        member.settimeout(None)
        host.settimeout(None)
        with self._lock:
            self._socks += [member, host]
        try:
            first = early or member.recv(CHUNK)
        except OSError:
            first = b""
        if not first:
            self._cut(member, host)
            return
        transfer = b'"transfer"' in first  # a transfer connection opens with its TransferHello
        index = -1
        if transfer:
            with self._lock:
                self.up.append(0)
                self.down.append(0)
                index = len(self.up) - 1
        cuts = (self.cut_up, self.cut_down) if transfer else (None, None)
        if transfer and self.cuts_left is not None:
            with self._lock:
                if self.cuts_left > 0:
                    self.cuts_left -= 1
                else:
                    cuts = (None, None)
        threading.Thread(target=self._pump, args=(host, member, self.down, index, cuts[1], b""), daemon=True).start()
        self._pump(member, host, self.up, index, cuts[0], first)

    def _pump(
        self, src: socket.socket, dst: socket.socket, counts: list[int], index: int, cut: int | None, first: bytes
    ) -> None:
        data = first
        try:
            while True:
                if not data:
                    data = src.recv(CHUNK)
                    if not data:
                        break
                if cut is not None and index >= 0:
                    data = data[: max(0, cut - counts[index])]
                dst.sendall(data)
                if index >= 0:
                    with self._lock:
                        counts[index] += len(data)
                    if cut is not None and counts[index] >= cut:
                        break  # the connection is lost here
                    stall = self.stall_after
                    if stall is not None and counts[index] >= stall:
                        self._stalled(src)
                        break
                data = b""
        except OSError:
            pass
        self._cut(src, dst)

    def _stalled(self, src: socket.socket) -> None:
        """Move nothing more, until the sender goes away (or the relay closes)."""
        src.settimeout(0.2)
        while not self._stop.is_set():
            try:
                if not src.recv(CHUNK):
                    return
            except TimeoutError:
                continue
            except OSError:
                return

    def _cut(self, *socks: socket.socket) -> None:
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()

    def close(self) -> None:
        self._stop.set()
        self.listener.close()
        self._thread.join(5)
        with self._lock:
            socks = list(self._socks)
        self._cut(*socks)
