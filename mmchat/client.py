"""A member's connection to the host, used by the terminal mode, the windows and the tests.

How this works
--------------
`ChatClient.connect()` opens the chat connection and does the handshake.  A
reader thread then turns the host's frames into events and puts every one of
them on `client.events` (a `queue.Queue`); nothing here prints or touches a
window.  Requests that expect an answer (`online()`, `command()`, ...) carry a
`ref` and return a `Request` whose `wait()` gives the reply, so a script can
block on it while a window simply reads the queue.

Each file transfer runs on a thread of its own with a second TCP connection to
the host, opened with the one-time token the host handed out over the chat
connection; `send_file()` / `request_file()` return a `Transfer` to watch,
wait for or cancel.  When it ends, a `TransferFinished` event joins the queue.
"""

from __future__ import annotations

import itertools
import os
import queue
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import files, protocol, transfer
from .protocol import (
    NEED_DATA,
    Connection,
    ErrorReply,
    Event,
    Goodbye,
    Hello,
    ListFiles,
    ListOnline,
    OfferUpload,
    ProtocolError,
    Refused,
    RequestDownload,
    RequestQR,
    Role,
    RunCommand,
    Say,
    TransferDone,
    TransferEnd,
    TransferHello,
    TransferReady,
    TransferStart,
    VerifyCode,
    Welcome,
)

CONNECT_TIMEOUT = 10.0
REPLY_TIMEOUT = 30.0


class ConnectError(Exception):
    """Joining failed; str() is a sentence for a person."""


@dataclass(frozen=True)
class Disconnected:
    """The chat connection ended; `reason` is a sentence, `by_us` if we closed it."""

    reason: str
    by_us: bool = False


@dataclass(frozen=True)
class TransferFinished:
    """A transfer ended, well or badly: look at `transfer.ok` / `transfer.error`."""

    transfer: Transfer


class Request:
    """A question sent to the host; `wait()` returns the host's answer event."""

    def __init__(self, ref: int) -> None:
        self.ref = ref
        self.reply: Event | None = None
        self._done = threading.Event()

    def _resolve(self, reply: Event) -> None:
        self.reply = reply
        self._done.set()

    def wait(self, timeout: float | None = REPLY_TIMEOUT) -> Event:
        """Block until the answer arrives; raise TimeoutError or ConnectionError."""
        if not self._done.wait(timeout):
            raise TimeoutError("The host did not answer in time.")
        if self.reply is None:
            raise ConnectionError("The connection to the host was lost.")
        return self.reply


class Transfer:
    """One upload or download, running on its own thread."""

    def __init__(self, direction: str, filename: str, size: int = 0) -> None:
        self.direction = direction  # "upload" or "download"
        self.filename = filename  # the name on the host
        self.size = size
        self.bytes_done = 0
        self.started = time.monotonic()
        self.path: Path | None = None  # downloads: where the file landed
        self.remote_name = ""  # uploads: the name the host stored it under
        self.ok = False
        self.error = ""
        self._cancelled = threading.Event()
        self._done = threading.Event()
        self._sock: socket.socket | None = None

    @property
    def done(self) -> bool:
        return self._done.is_set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def cancel(self) -> None:
        """Stop the transfer; nothing is left under the final name."""
        self._cancelled.set()
        sock = self._sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the transfer ends; True if it ended (well or badly)."""
        return self._done.wait(timeout)

    def rate(self) -> float:
        """Bytes per second so far."""
        return self.bytes_done / max(time.monotonic() - self.started, 1e-6)


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
        events: queue.Queue | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.wanted_name = name
        self.name = name
        self.renamed = False
        self.downloads = Path(downloads)
        self.password = password
        self.events: queue.Queue = events if events is not None else queue.Queue()
        self._sock: socket.socket | None = None
        self._conn = Connection(Role.MEMBER)
        self._send_lock = threading.Lock()
        self._refs = itertools.count(1)
        self._pending: dict[int, Request] = {}
        self._pending_lock = threading.Lock()
        self._reader: threading.Thread | None = None
        self._closing = False
        self.connected = False
        self.transfers: list[Transfer] = []

    # --- connecting -----------------------------------------------------------------

    def connect(self, timeout: float = CONNECT_TIMEOUT) -> str:
        """Connect and introduce ourselves; return the name the host gave us. Raises ConnectError."""
        try:
            protocol.check_member_name(self.wanted_name)
        except ValueError as exc:
            raise ConnectError(f"That name cannot be used: {exc}") from None
        sock = _open(self.host, self.port, timeout)
        self._sock = sock
        try:
            sock.sendall(self._conn.send(Hello(protocol.PROTOCOL_VERSION, self.wanted_name, self.password)))
            reply = self._read_handshake(sock)
        except ConnectError:
            sock.close()
            raise
        if isinstance(reply, Refused):
            sock.close()
            raise ConnectError(f"The host refused you: {reply.reason}")
        if isinstance(reply, ErrorReply):
            sock.close()
            raise ConnectError(f"The host refused you: {reply.message}")
        assert isinstance(reply, Welcome)
        self.name, self.renamed = reply.member, reply.renamed
        sock.settimeout(None)
        self.connected = True
        self._reader = threading.Thread(target=self._read_loop, name="mmchat-reader", daemon=True)
        self._reader.start()
        return self.name

    def _read_handshake(self, sock: socket.socket) -> Event:
        while True:
            try:
                event = self._conn.next_event()
            except ProtocolError as exc:
                raise ConnectError(f"That does not look like an mmchat host ({exc}).") from None
            if event is not NEED_DATA:
                return event
            try:
                data = sock.recv(65536)
            except TimeoutError:
                raise ConnectError("The host did not answer. Is it an mmchat host?") from None
            except OSError as exc:
                raise ConnectError(f"The connection failed: {exc.strerror or exc}") from None
            if not data:
                raise ConnectError("The host closed the connection. Is it an mmchat host?")
            self._conn.receive_data(data)

    def _read_loop(self) -> None:
        assert self._sock is not None
        reason = "The host closed the connection."
        try:
            while True:
                # Frames that arrived with the Welcome are already buffered: deliver them first.
                for event in self._conn.events():
                    self._deliver(event)
                    if isinstance(event, ErrorReply) and event.fatal:
                        reason = event.message
                try:
                    data = self._sock.recv(256 * 1024)
                except OSError:
                    data = b""
                if not data:
                    break
                self._conn.receive_data(data)
        except ProtocolError as exc:
            reason = f"The host sent something unreadable ({exc})."
        finally:
            self.connected = False
            with self._pending_lock:
                pending, self._pending = self._pending, {}
            for request in pending.values():
                request._done.set()  # reply stays None: wait() raises ConnectionError
            self.events.put(Disconnected(reason, by_us=self._closing))

    def _deliver(self, event: Event) -> None:
        ref = getattr(event, "ref", 0)
        if ref:
            with self._pending_lock:
                request = self._pending.pop(ref, None)
            if request is not None:
                request._resolve(event)
                if isinstance(event, TransferReady) or (
                    isinstance(event, ErrorReply) and getattr(request, "internal", False)
                ):
                    return  # transfer bookkeeping: the Transfer reports the outcome
        self.events.put(event)

    # --- sending --------------------------------------------------------------------

    def _send(self, event: Event, leaving: bool = False) -> None:
        if self._sock is None or not self.connected or (self._closing and not leaving):
            raise ConnectionError("Not connected to the host.")
        with self._send_lock:
            try:
                frame = self._conn.send(event)
            except protocol.LocalProtocolError:  # the connection closed under us (we said goodbye)
                raise ConnectionError("Not connected to the host.") from None
            try:
                self._sock.sendall(frame)
            except OSError as exc:
                raise ConnectionError(f"The connection to the host was lost: {exc.strerror or exc}") from None

    def _request(self, make: Callable[[int], Event], internal: bool = False) -> Request:
        request = Request(next(self._refs))
        request.internal = internal  # type: ignore[attr-defined]
        with self._pending_lock:
            self._pending[request.ref] = request
        try:
            self._send(make(request.ref))
        except BaseException:
            with self._pending_lock:
                self._pending.pop(request.ref, None)
            raise
        return request

    def say(self, text: str) -> None:
        """Send a chat message to everyone (the host echoes it back with its sequence number)."""
        if len(text) > protocol.MAX_TEXT_CHARS:
            raise ValueError(f"A message may have at most {protocol.MAX_TEXT_CHARS} characters.")
        self._send(Say(text=text))

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

    def close(self) -> None:
        """Leave the chat cleanly: say goodbye, cancel transfers, close the connection."""
        self._closing = True
        for t in list(self.transfers):
            if not t.done:
                t.cancel()
        if self._sock is not None:
            if self.connected:
                try:
                    self._send(Goodbye(), leaving=True)
                except (ConnectionError, protocol.LocalProtocolError):
                    pass
            try:
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._sock.close()
        if self._reader is not None and self._reader is not threading.current_thread():
            self._reader.join(5)
        for t in list(self.transfers):
            t.wait(5)

    # --- files ----------------------------------------------------------------------

    def send_file(self, path: Path | str, progress: Callable[[int, int], None] | None = None) -> Transfer:
        """Share a local file through the host; returns at once with a Transfer to watch."""
        path = Path(path)
        t = Transfer("upload", path.name)
        self._start(t, lambda: self._upload(t, path, progress))
        return t

    def request_file(
        self,
        filename: str,
        progress: Callable[[int, int], None] | None = None,
        *,
        save_as: Path | str | None = None,
        folder: Path | str | None = None,
    ) -> Transfer:
        """Download a shared file into the downloads folder (or `save_as`); returns a Transfer."""
        t = Transfer("download", filename)
        target = Path(save_as) if save_as else None
        self._start(t, lambda: self._download(t, Path(folder) if folder else self.downloads, target, progress))
        return t

    def _start(self, t: Transfer, work: Callable[[], None]) -> None:
        self.transfers.append(t)

        def run() -> None:
            try:
                work()
                t.ok = True
            except transfer.TransferError as exc:
                t.error = "The transfer was cancelled." if t.cancelled else str(exc)
            except (ConnectionError, TimeoutError) as exc:
                t.error = str(exc)
            except OSError as exc:
                t.error = f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")
            except ValueError as exc:
                t.error = str(exc)
            finally:
                t._done.set()
                self.events.put(TransferFinished(t))
                try:
                    self.transfers.remove(t)
                except ValueError:
                    pass

        threading.Thread(target=run, name=f"mmchat-{t.direction}", daemon=True).start()

    def _ticket(self, t: Transfer, make: Callable[[int], Event]) -> TransferReady:
        reply = self._request(make, internal=True).wait()
        if isinstance(reply, ErrorReply):
            raise transfer.TransferError(reply.message)
        if not isinstance(reply, TransferReady):
            raise transfer.TransferError(f"The host answered {reply.TYPE!r} to a transfer request.")
        return reply

    def _open_transfer(self, t: Transfer, ticket: TransferReady) -> tuple[socket.socket, Connection, TransferStart]:
        sock = _open(self.host, self.port, CONNECT_TIMEOUT)
        sock.settimeout(transfer.IDLE_TIMEOUT)
        t._sock = sock
        if t.cancelled:
            sock.close()
            raise transfer.TransferError("The transfer was cancelled.")
        conn = Connection(Role.MEMBER)
        try:
            sock.sendall(conn.send(TransferHello(version=protocol.PROTOCOL_VERSION, token=ticket.token)))
            start = transfer.read_frame(sock, conn)
        except BaseException:
            sock.close()
            raise
        if not isinstance(start, TransferStart):
            sock.close()
            raise transfer.TransferError(f"The host answered {start.TYPE!r} instead of starting the transfer.")
        return sock, conn, start

    def _upload(self, t: Transfer, path: Path, progress: Callable[[int, int], None] | None) -> None:
        with open(path, "rb") as fileobj:  # open first: a missing file fails before anything is sent
            size = os.fstat(fileobj.fileno()).st_size
            t.size = size
            ticket = self._ticket(t, lambda ref: OfferUpload(filename=path.name, size=size, ref=ref))

            def report(done: int, total: int) -> None:
                t.bytes_done = done
                if progress:
                    progress(done, total)

            sock, conn, _ = self._open_transfer(t, ticket)
            with sock:
                t.started = time.monotonic()
                hasher = transfer.FileHasher(fileobj, size)  # hashes beside sendfile, on another core
                try:
                    transfer.send_file_body(sock, fileobj, size, progress=report, cancelled=lambda: t.cancelled)
                    digest = hasher.hexdigest()
                finally:
                    hasher.close()
                if size == 0:
                    report(0, 0)
                try:
                    sock.sendall(conn.send(TransferEnd(sha256=digest)))
                except OSError as exc:
                    raise transfer.TransferError(f"The connection failed: {exc.strerror or exc}") from None
                done = transfer.read_frame(sock, conn)
        if not isinstance(done, TransferDone):
            raise transfer.TransferError("The host did not confirm the upload.")
        if done.sha256 != digest or done.size != size:
            raise transfer.TransferError("The host confirmed a different file than the one sent.")
        t.remote_name = done.filename

    def _download(
        self, t: Transfer, folder: Path, save_as: Path | None, progress: Callable[[int, int], None] | None
    ) -> None:
        files.check_filename(t.filename)
        folder = save_as.parent if save_as else folder
        folder.mkdir(parents=True, exist_ok=True)
        ticket = self._ticket(t, lambda ref: RequestDownload(filename=t.filename, ref=ref))
        sock, conn, start = self._open_transfer(t, ticket)
        # Trust only the base name we asked for: the host's reply must not steer where we write.
        if start.filename != t.filename:
            sock.close()
            raise transfer.TransferError("The host sent a different file than the one asked for.")
        t.size = start.size

        def report(done: int, total: int) -> None:
            t.bytes_done = done
            if progress:
                progress(done, total)

        with sock:
            t.started = time.monotonic()
            t.path = transfer.receive_to_folder(
                sock,
                conn.take_buffered(),
                folder,
                t.filename,
                start.size,
                start.sha256,
                save_as=save_as,
                progress=report,
                cancelled=lambda: t.cancelled,
            )


def _open(host: str, port: int, timeout: float) -> socket.socket:
    """Open a TCP connection with readable errors."""
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except socket.gaierror:
        raise ConnectError(f"Unknown host: {host}") from None
    except ConnectionRefusedError:
        raise ConnectError(f"Nobody is hosting a chat at {host}:{port} (connection refused).") from None
    except TimeoutError:
        raise ConnectError(f"No answer from {host}:{port}: is the address right and the host running?") from None
    except OSError as exc:
        raise ConnectError(f"Cannot reach {host}:{port}: {exc.strerror or exc}") from None
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock
