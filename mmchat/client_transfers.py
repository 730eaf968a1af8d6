"""A member's file transfers: each one a thread with its own TCP connection to the host.

How this works
--------------
The chat connection asks for a ticket (`OfferUpload` / `RequestDownload`, answered
by `TransferReady` with a one-time token).  The transfer thread then opens a
second connection, presents the token in a `TransferHello`, and moves the bytes
with the helpers in `mmchat.transfer` (sendfile and a hashing thread for
uploads; a temporary file checked against size and SHA-256 for downloads).

This module knows nothing of `ChatClient`: it is handed two functions, one
that sends a ticket request on the chat connection and waits for the reply,
and one that opens a fresh socket to the host.  `run_transfer` turns every way
a transfer can fail into a sentence on `Transfer.error`, and always calls
`finished` exactly once.
"""

from __future__ import annotations

import os
import re
import socket
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import files, protocol, transfer
from .client_socket import ConnectError
from .protocol import (
    NEED_DATA,
    Connection,
    ErrorReply,
    Event,
    OfferUpload,
    ProtocolError,
    RequestDownload,
    Role,
    TransferDone,
    TransferEnd,
    TransferHello,
    TransferReady,
    TransferStart,
)

UPLOAD = "upload"  # Transfer.direction values; equal to the protocol's Direction members
DOWNLOAD = "download"

Progress = Callable[[int, int], None]
# Send the request that `make(ref)` builds on the chat connection and return the host's reply;
# give up early (raise TransferError) once the second function returns True.
AskTicket = Callable[[Callable[[int], Event], Callable[[], bool]], Event]
OpenSocket = Callable[[], socket.socket]

HOST_GONE = "The host went away during the upload of {name}."
GONE_CHECK_SECONDS = 1.0  # after a failed send: how long to wait for the host's reason (a dead host: none)
STALE_PART_SECONDS = 24 * 3600  # a download's temporary file untouched this long was left by a killed member
_PART_NAME = re.compile(r"\..+\.[0-9a-f]{12}\.part", re.DOTALL)  # files.temp_path's ".<name>.<12 hex>.part"


def remove_stale_parts(folder: Path, older_than: float = STALE_PART_SECONDS, now: float | None = None) -> list[Path]:
    """Delete the download temporary files in `folder` untouched for `older_than` seconds; the ones removed."""
    # A member killed mid-download leaves its hidden .part behind, and nothing else would ever
    # remove it.  A download under way writes to its own every few seconds (an idle one times out),
    # so a day-old one is nobody's; only plain files named exactly as temp_path names them go.
    cutoff = (time.time() if now is None else now) - older_than
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if not _PART_NAME.fullmatch(entry.name):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(info.st_mode) and info.st_mtime < cutoff:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            continue  # gone already, or not ours to remove: the download goes on
    return removed


class Transfer:
    """One upload or download, running on its own thread."""

    def __init__(self, direction: str, filename: str, size: int = 0) -> None:
        self.direction = direction  # UPLOAD or DOWNLOAD
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
        """Stop the transfer; nothing is left under the final name. Never blocks."""
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

    def _report(self, progress: Progress | None) -> Progress:
        def report(done: int, total: int) -> None:
            self.bytes_done = done
            if progress:
                progress(done, total)

        return report


@dataclass(frozen=True)
class TransferFinished:
    """A transfer ended, well or badly: look at `transfer.ok` / `transfer.error`."""

    transfer: Transfer


def run_transfer(t: Transfer, work: Callable[[], None], finished: Callable[[Transfer], None]) -> threading.Thread:
    """Run `work` on a new thread; set t.ok or t.error, then call `finished(t)` once."""

    def run() -> None:
        try:
            work()
            t.ok = True
        except transfer.TransferError as exc:
            t.error = "The transfer was cancelled." if t.cancelled else str(exc)
        except (ConnectError, ConnectionError, TimeoutError, ValueError) as exc:
            t.error = "The transfer was cancelled." if t.cancelled else str(exc)
        except OSError as exc:
            t.error = f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")
        finally:
            t._done.set()
            finished(t)

    thread = threading.Thread(target=run, name=f"mmchat-{t.direction}", daemon=True)
    thread.start()
    return thread


def _ticket(ask: AskTicket, t: Transfer, make: Callable[[int], Event]) -> TransferReady:
    reply = ask(make, lambda: t.cancelled)
    if isinstance(reply, ErrorReply):
        raise transfer.TransferError(reply.message)
    if not isinstance(reply, TransferReady):
        raise transfer.TransferError(f"The host answered {reply.TYPE!r} to a transfer request.")
    return reply


def _open_transfer(
    t: Transfer, ticket: TransferReady, open_socket: OpenSocket
) -> tuple[socket.socket, Connection, TransferStart]:
    sock = open_socket()
    sock.settimeout(transfer.IDLE_TIMEOUT)
    t._sock = sock
    if t.cancelled:  # cancel() may have run before _sock was set: it could not shut this one down
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


def upload(t: Transfer, path: Path, ask: AskTicket, open_socket: OpenSocket, progress: Progress | None) -> None:
    """Send the file at `path` to the host (runs on the transfer's thread)."""
    with open(path, "rb") as fileobj:  # open first: a missing file fails before anything is sent
        size = os.fstat(fileobj.fileno()).st_size
        t.size = size
        ticket = _ticket(ask, t, lambda ref: OfferUpload(filename=path.name, size=size, ref=ref))
        report = t._report(progress)
        sock, conn, _ = _open_transfer(t, ticket, open_socket)
        with sock:
            t.started = time.monotonic()
            hasher = transfer.FileHasher(fileobj, size)  # hashes beside sendfile, on another core
            try:
                transfer.send_file_body(sock, fileobj, size, progress=report, cancelled=lambda: t.cancelled)
                digest = hasher.hexdigest()
                if size == 0:
                    report(0, 0)
                sock.sendall(conn.send(TransferEnd(sha256=digest)))
            except (transfer.TransferError, OSError) as exc:
                reason = _why_it_ended(sock, conn, path.name)  # the host's own sentence, or that it went away
                if reason is not None:
                    raise transfer.TransferError(reason) from None
                if isinstance(exc, OSError):
                    raise transfer.TransferError(f"The connection failed: {exc.strerror or exc}") from None
                raise
            finally:
                hasher.close()
            try:
                done = transfer.read_frame(sock, conn)
            except transfer.TransferError as exc:
                if str(exc) == "The connection closed unexpectedly." or str(exc).startswith("The connection failed:"):
                    raise transfer.TransferError(HOST_GONE.format(name=path.name)) from None
                raise  # the host's own sentence, or a broken protocol
    if not isinstance(done, TransferDone):
        raise transfer.TransferError("The host did not confirm the upload.")
    if done.sha256 != digest or done.size != size:
        raise transfer.TransferError("The host confirmed a different file than the one sent.")
    t.remote_name = done.filename


def _why_it_ended(sock: socket.socket, conn: Connection, filename: str) -> str | None:
    """After an upload failed on our side of the socket: the host's reason if it sent one, HOST_GONE if
    the connection is closed, None if the host still listens (the trouble was ours, e.g. the file)."""
    sock.settimeout(GONE_CHECK_SECONDS)
    for _ in range(64):  # bounded: a few frames at most come after the body
        try:
            event = conn.next_event()
        except ProtocolError:
            return None
        if isinstance(event, ErrorReply):
            return event.message
        if event is not NEED_DATA:
            continue
        try:
            data = sock.recv(65536)
        except TimeoutError:
            return None
        except OSError:
            data = b""
        if not data:
            return HOST_GONE.format(name=filename)
        conn.receive_data(data)
    return None


def download(
    t: Transfer,
    folder: Path,
    save_as: Path | None,
    ask: AskTicket,
    open_socket: OpenSocket,
    progress: Progress | None,
) -> None:
    """Fetch t.filename into `folder` (or `save_as`) (runs on the transfer's thread)."""
    files.check_filename(t.filename)
    folder = save_as.parent if save_as else folder
    folder.mkdir(parents=True, exist_ok=True)
    remove_stale_parts(folder)
    ticket = _ticket(ask, t, lambda ref: RequestDownload(filename=t.filename, ref=ref))
    sock, conn, start = _open_transfer(t, ticket, open_socket)
    # Trust only the base name we asked for: the host's reply must not steer where we write.
    if start.filename != t.filename:
        sock.close()
        raise transfer.TransferError("The host sent a different file than the one asked for.")
    t.size = start.size
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
            progress=t._report(progress),
            cancelled=lambda: t.cancelled,
        )
