"""A member's connection to the host, used by the terminal mode, the windows and the tests.

How this works
--------------
`ChatClient.connect()` opens the chat connection and does the handshake; it
blocks (callers run it on a worker) but all its waits share one deadline.
Then two threads own the socket:

- the reader turns the host's frames into events and puts every one of them on
  `client.events` (a `queue.Queue`); nothing here prints or touches a window;
- the writer (`client_outbox.Outbox`) sends the frames that `say()` and the
  requests queued, in order.  Those calls only encode and queue, so they never
  block the caller; a host that stops reading fills a bounded queue, and then
  they refuse with a sentence (`OutboxFull`).

Requests that expect an answer (`online()`, `command()`, ...) carry a `ref` and
return a `Request` whose `wait()` gives the reply, so a script can block on it
while a window simply reads the queue.  `close()` queues the goodbye, cancels
the transfers and returns at once; the threads end on their own, within
`CLOSE_TIMEOUT` for the goodbye.  `join()` (or `close(wait=...)`) waits for
them, with one deadline for all.  A program that exits right after `close()`
still says goodbye: an exit hook gives closed clients `CLOSE_TIMEOUT` to finish.
When the reader ends, a `Disconnected` event is the last one on the queue.
Keep-alive is the reader's too: it answers a `ping` with a `pong` (queued, never
waited for) and pings a quiet host itself, giving up after `host_timeout` s.

Beside this file: `client_socket` (TCP and handshake, one deadline), `client_outbox` (the writer),
`client_requests` (answers matched by ref), `client_transfers` (a thread and connection per file).
"""

from __future__ import annotations

import atexit
import queue
import socket
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path

from . import client_transfers, protocol
from .client_keepalive import HOST_TIMEOUT, PING_AFTER, HostWatch
from .client_outbox import OUTBOX_BYTES, STALL_TIMEOUT, Outbox, OutboxFull
from .client_requests import REPLY_TIMEOUT, PendingRequests, Request
from .client_socket import ConnectError, Disconnected, handshake, open_verified, remaining, same_key
from .client_transfers import DOWNLOAD, UPLOAD, Progress, Transfer, TransferFinished, TransferResumed
from .protocol import (
    NEED_DATA,
    Connection,
    ErrorReply,
    Event,
    Goodbye,
    Hello,
    ListFiles,
    ListOnline,
    Ping,
    Pong,
    ProtocolError,
    RequestQR,
    Role,
    RunCommand,
    Say,
    TransferReady,
    VerifyCode,
)
from .transfer import TransferError

__all__ = [
    "CLOSE_TIMEOUT",
    "CONNECT_TIMEOUT",
    "REPLY_TIMEOUT",
    "ChatClient",
    "ConnectError",
    "Disconnected",
    "OutboxFull",
    "Request",
    "Transfer",
    "TransferFinished",
    "TransferResumed",
]

CONNECT_TIMEOUT = 10.0
CLOSE_TIMEOUT = 2.0  # after close(), how long the writer may still flush and say goodbye
_TICKET_POLL = 0.2  # a transfer waiting for its ticket looks at its cancel flag this often

_closed_clients: weakref.WeakSet[ChatClient] = weakref.WeakSet()


class ChatClient:
    """One member's connection to an mmchat host."""

    def __init__(
        self,
        host: str,
        port: int,
        name: str,
        *,
        downloads: Path | str = ".",
        password: str = "",
        events: queue.Queue[object] | None = None,
        stall_timeout: float = STALL_TIMEOUT,
        outbox_bytes: int = OUTBOX_BYTES,
        ping_after: float = PING_AFTER,
        host_timeout: float = HOST_TIMEOUT,
        verify_host: Callable[[str], None] | None = None,
        use_tls: bool = True,
    ) -> None:
        self.host = host
        self.port = port
        self.wanted_name = name
        self.name = name
        self.renamed = False
        self.downloads = Path(downloads)
        self.password = password
        self.verify_host = verify_host  # (fingerprint) once TLS shows the host's certificate; ConnectError refuses
        self.host_fingerprint = ""  # the SHA-256 of the host's certificate, once connected over TLS
        self.tls = use_tls  # False only with --no-tls, for measuring (the host must say it too)
        self.events: queue.Queue[object] = events if events is not None else queue.Queue()
        self.stall_timeout = stall_timeout
        self.outbox_bytes = outbox_bytes
        self._watch = HostWatch(ping_after, host_timeout)  # the reader's: when the host was last heard
        self._sock: socket.socket | None = None
        self._conn = Connection(Role.MEMBER)
        self._conn_lock = threading.Lock()  # the reader and the senders share the protocol state
        self._send_lock = threading.Lock()  # one sender at a time: frames are queued in the order encoded
        self._outbox: Outbox | None = None
        self._pending = PendingRequests()
        self._reader: threading.Thread | None = None
        self._writer: threading.Thread | None = None
        self._closing = False
        self._close_lock = threading.Lock()
        self._goodbye_queued = False
        self.connected = False
        self.transfers: list[Transfer] = []

    # --- connecting -----------------------------------------------------------------

    def connect(self, timeout: float = CONNECT_TIMEOUT) -> str:
        """Connect and introduce ourselves within `timeout` s in all; return our name. Raises ConnectError."""
        deadline = time.monotonic() + timeout
        try:
            protocol.check_member_name(self.wanted_name)
        except ValueError as exc:
            raise ConnectError(f"That name cannot be used: {exc}") from None
        # With TLS the host's key is checked before the hello: the password goes to no other host.
        sock, self.host_fingerprint = open_verified(self.host, self.port, deadline, self.tls, self.verify_host)
        hello = Hello(protocol.PROTOCOL_VERSION, self.wanted_name, self.password)
        welcome = handshake(sock, self._conn, hello, deadline)  # closes the socket when it fails
        self.name, self.renamed = welcome.member, welcome.renamed
        self._sock = sock
        self._outbox = Outbox(sock, max_bytes=self.outbox_bytes, stall_timeout=self.stall_timeout)
        self.connected = True
        self._writer = threading.Thread(target=self._outbox.run, name="mmchat-writer", daemon=True)
        self._reader = threading.Thread(target=self._read_loop, name="mmchat-reader", daemon=True)
        self._writer.start()
        self._reader.start()
        if self._closing:  # close() ran on another thread while we were connecting
            self._say_goodbye()
        return self.name

    # --- reading --------------------------------------------------------------------

    def _read_loop(self) -> None:
        sock, outbox = self._sock, self._outbox
        assert sock is not None and outbox is not None
        reason = ""
        self._watch.heard(time.monotonic())
        try:
            while True:
                # Frames that arrived with the Welcome are already buffered: deliver them first.
                reason = self._deliver_buffered()
                if reason:
                    break  # a fatal error: the chat is over, nothing more may be read or sent
                try:
                    data = sock.recv(256 * 1024)
                except TimeoutError:
                    if outbox.reader_may_stop():
                        break  # the writer gave up, or the host never hung up after our goodbye
                    if reason := self._check_host():
                        break
                    continue  # the outbox's short time-out: nothing arrived yet
                except OSError:
                    data = b""
                if not data or (outbox.stopped and outbox.reader_may_stop()):
                    break  # (a host that talks on and never hangs up gets the same deadline)
                self._watch.heard(time.monotonic())
                self._conn.receive_data(data)
        except ProtocolError as exc:
            reason = f"The host sent something unreadable ({exc})."
        finally:
            self.connected = False
            outbox.abort()
            if self._writer is not None:
                self._writer.join()  # quick: an aborted writer stops within the outbox's poll time
            sock.close()
            self._pending.fail_all()
            reason = outbox.failure or reason or "The host closed the connection."
            self.events.put(Disconnected(reason, by_us=self._closing))

    def _deliver_buffered(self) -> str:
        """Deliver every complete event buffered; return the reason if one was a fatal error."""
        while True:
            with self._conn_lock:
                event = self._conn.next_event()
            if event is NEED_DATA:
                return ""
            self._deliver(event)
            if isinstance(event, ErrorReply) and event.fatal:
                return event.message

    def _check_host(self) -> str:
        """Between reads: ask a quiet host whether it is there; the reason to give up on a silent one."""
        if self._closing:
            return ""  # the goodbye's own deadline applies
        ping, reason = self._watch.check(time.monotonic())
        if ping:
            self._queue_quietly(Ping())
        return reason

    def _queue_quietly(self, event: Ping | Pong) -> None:
        """Queue a keep-alive frame from the reader: no send lock, no waiting, and no error if it cannot go."""
        outbox = self._outbox
        with self._conn_lock:
            try:
                frame = self._conn.send(event)
            except protocol.LocalProtocolError:
                return  # we said goodbye, or the host ended the chat
        try:
            if outbox is not None:
                outbox.put(frame)
        except ConnectionError:
            pass  # a full outbox: the host is not reading, and the writer's stall time-out says so

    def _deliver(self, event: Event) -> None:
        if isinstance(event, Ping | Pong):
            if isinstance(event, Ping):
                self._queue_quietly(Pong())
            return  # keep-alive is the connection's business, not the window's
        ref = getattr(event, "ref", 0)
        request = self._pending.answer(ref, event) if ref else None
        if request is not None and (
            isinstance(event, TransferReady) or (isinstance(event, ErrorReply) and request.internal)
        ):
            return  # transfer bookkeeping: the Transfer reports the outcome
        self.events.put(event)

    # --- sending --------------------------------------------------------------------

    def _send(self, event: Event, wait: float = 0.0) -> None:
        outbox = self._outbox
        if outbox is None or not self.connected or self._closing:
            raise ConnectionError("Not connected to the host.")
        # Encode and queue under one lock: frames leave in the order they were said.  The
        # protocol state has a lock of its own, so a sender waiting for room never stops the reader.
        with self._send_lock:
            with self._conn_lock:
                try:
                    frame = self._conn.send(event)
                except protocol.LocalProtocolError:  # the host ended the chat (a fatal error)
                    raise ConnectionError("Not connected to the host.") from None
            outbox.put(frame, wait)

    def _request(self, make: Callable[[int], Event], internal: bool = False) -> Request:
        request = self._pending.new(internal=internal)
        try:
            self._send(make(request.ref))
        except BaseException:
            self._pending.forget(request)
            raise
        return request

    def say(self, text: str, wait: float = 0.0) -> None:
        """Queue a chat message for everyone (the host echoes it back with its sequence number).

        Never blocks unless `wait` > 0: then a full outbox is waited on for up to `wait` s.
        Raises ValueError (too long), OutboxFull (the host is not reading), ConnectionError.
        """
        if len(text) > protocol.MAX_TEXT_CHARS:
            raise ValueError(f"A message may have at most {protocol.MAX_TEXT_CHARS} characters.")
        self._send(Say(text=text), wait)

    def online(self) -> Request:
        """Ask who is here; the reply is an OnlineList."""
        return self._request(lambda ref: ListOnline(ref=ref))

    def list_files(self) -> Request:
        """Ask for the shared-file catalogue; the reply is a FileList."""
        return self._request(lambda ref: ListFiles(ref=ref))

    def command(self, line: str) -> Request:
        """Run a sandboxed command on the host; the reply is a CommandResult."""
        if len(line) > protocol.MAX_COMMAND_CHARS:
            raise ValueError(f"A command may have at most {protocol.MAX_COMMAND_CHARS} characters.")
        return self._request(lambda ref: RunCommand(line=line, ref=ref))

    def request_qr(self) -> Request:
        """Ask for a one-time code; the reply is a QRImage."""
        return self._request(lambda ref: RequestQR(ref=ref))

    def verify(self, code: str) -> Request:
        """Ask whether a one-time code is valid; the reply is a VerifyResult."""
        return self._request(lambda ref: VerifyCode(code=code.strip()[:128], ref=ref))

    @property
    def unsent_bytes(self) -> int:
        """Bytes said or asked but not yet handed to the network (0 when not connected)."""
        return self._outbox.queued_bytes if self._outbox is not None else 0

    # --- leaving --------------------------------------------------------------------

    def close(self, wait: float = 0.0) -> bool:
        """Leave the chat: queue the goodbye, cancel transfers, return at once (or wait up to `wait` s).

        True if everything has ended by the time it returns (see `join`).
        """
        with self._close_lock:
            first, self._closing = not self._closing, True
        if first:
            _closed_clients.add(self)
            for t in list(self.transfers):
                t.cancel()
            self._say_goodbye()
        return self.join(wait) if wait > 0 else self._all_ended()

    def _say_goodbye(self) -> None:
        with self._close_lock:
            outbox = self._outbox
            if outbox is None or self._goodbye_queued:
                return  # not connected (yet: connect() calls this again when it gets there)
            self._goodbye_queued = True
        with self._conn_lock:
            try:
                goodbye: bytes | None = self._conn.send(Goodbye())
            except protocol.LocalProtocolError:
                goodbye = None  # the host already ended the chat
        # Even with a full outbox the goodbye is queued: the flush deadline bounds the wait.
        outbox.finish(goodbye, CLOSE_TIMEOUT)

    def join(self, timeout: float) -> bool:
        """Wait up to `timeout` s in all for the connection and transfers to end; True if they did."""
        deadline = time.monotonic() + timeout
        reader = self._reader
        if reader is not None and reader is not threading.current_thread():
            reader.join(remaining(deadline))
        for t in list(self.transfers):
            t.wait(remaining(deadline))
        return self._all_ended()

    def _all_ended(self) -> bool:
        reader = self._reader
        reader_ended = reader is None or not reader.is_alive() or reader is threading.current_thread()
        return reader_ended and all(t.done for t in self.transfers)

    # --- files ----------------------------------------------------------------------

    def send_file(self, path: Path | str, progress: Progress | None = None) -> Transfer:
        """Share a local file through the host; returns at once with a Transfer to watch."""
        path = Path(path)
        t = Transfer(UPLOAD, path.name)
        ask, opener = self._ask_ticket, self._open_transfer_socket
        self._start(t, lambda: client_transfers.upload(t, path, ask, opener, progress))
        return t

    def request_file(
        self,
        filename: str,
        progress: Progress | None = None,
        *,
        save_as: Path | str | None = None,
        folder: Path | str | None = None,
    ) -> Transfer:
        """Download a shared file into the downloads folder (or `save_as`); returns a Transfer."""
        t = Transfer(DOWNLOAD, filename)
        target = Path(save_as) if save_as else None
        where = Path(folder) if folder else self.downloads
        ask, opener = self._ask_ticket, self._open_transfer_socket
        self._start(t, lambda: client_transfers.download(t, where, target, ask, opener, progress))
        return t

    def _start(self, t: Transfer, work: Callable[[], None]) -> None:
        self.transfers.append(t)
        t.announce = self.events.put  # a TransferResumed, when it goes on from an earlier try

        def finished(t: Transfer) -> None:
            self.events.put(TransferFinished(t))
            try:
                self.transfers.remove(t)
            except ValueError:
                pass

        client_transfers.run_transfer(t, work, finished)

    def _ask_ticket(self, make: Callable[[int], Event], cancelled: Callable[[], bool]) -> Event:
        """Ask for a transfer ticket on the chat connection and wait for it (on a transfer thread)."""
        request = self._request(make, internal=True)
        deadline = time.monotonic() + REPLY_TIMEOUT
        while not request.done:
            if cancelled():
                raise TransferError("The transfer was cancelled.")
            if remaining(deadline) <= 0:
                raise TimeoutError("The host did not answer in time.")
            request._done.wait(min(_TICKET_POLL, remaining(deadline)))
        return request.wait(0)

    def _open_transfer_socket(self) -> socket.socket:
        deadline, key = time.monotonic() + CONNECT_TIMEOUT, same_key(self.host_fingerprint)
        return open_verified(self.host, self.port, deadline, self.tls, key)[0]


@atexit.register
def _finish_closed_clients() -> None:
    """At exit, give clients that were closed a moment to say goodbye and clean up their transfers."""
    # Daemon threads still run while exit hooks do; without this, a program that
    # calls close() and exits at once would drop the goodbye (and leave temporary files).
    deadline = time.monotonic() + CLOSE_TIMEOUT
    for client in list(_closed_clients):
        client.join(remaining(deadline))
