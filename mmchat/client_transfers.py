"""A member's file transfers: each one a thread with its own TCP connection to the host.

How this works
--------------
The chat connection asks for a ticket (`OfferUpload` / `RequestDownload`, answered
by `TransferReady` with a one-time token).  The transfer thread then opens a
second connection, presents the token in a `TransferHello`, and moves the bytes
with the helpers in `mmchat.transfer` (sendfile and a hashing thread for
uploads; a temporary file checked against size and SHA-256 for downloads).

A transfer cut short resumes when it is asked for again (resume.py): a
download goes on from the partial file it left in the downloads folder, whose
sidecar says which file it is part of (size and SHA-256, checked against the
host's); an upload remembered in the config folder (`UploadMemory`) is offered
with its SHA-256, and the host's ticket says how much of it the host kept.  The
whole file's SHA-256 is checked at the end either way.

This module knows nothing of `ChatClient`: it is handed two functions, one
that sends a ticket request on the chat connection and waits for the reply,
and one that opens a fresh socket to the host.  `run_transfer` turns every way
a transfer can fail into a sentence on `Transfer.error`, and always calls
`finished` exactly once.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO

from . import files, protocol, resume, transfer
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
STALE_PART_SECONDS = resume.KEEP_PARTIAL  # a download's partial file untouched this long is nobody's any more
UPLOADS = resume.UploadMemory()  # the uploads not finished, in the config folder


def remove_stale_parts(folder: Path, older_than: float = STALE_PART_SECONDS, now: float | None = None) -> list[Path]:
    """Delete the partial downloads in `folder` untouched for `older_than` seconds; the ones removed."""
    # A member killed mid-download leaves its hidden .part behind: asking again resumes it, and one
    # nobody asked for again within the bound goes.  A download under way writes to its own every few
    # seconds (an idle one times out), so a day-old one is nobody's; only files named as temp_path names them go.
    return resume.sweep(folder, older_than, time.time() if now is None else now)


class Transfer:
    """One upload or download, running on its own thread."""

    def __init__(self, direction: str, filename: str, size: int = 0) -> None:
        self.direction = direction  # UPLOAD or DOWNLOAD
        self.filename = filename  # the name on the host
        self.size = size
        self.bytes_done = 0
        self.offset = 0  # a resumed transfer's first byte: what was there already
        self.sha256 = ""  # an upload's, once hashed
        self.partial: resume.Partial | None = None  # a download's partial file, while it is written to
        self.resumable = False  # it failed, and asking again goes on from what it left (not from the start)
        self.announce: Callable[[object], None] = lambda event: None  # the client's event queue
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
        return (self.bytes_done - self.offset) / max(time.monotonic() - self.started, 1e-6)

    def resumed(self, offset: int) -> None:
        """The transfer goes on from byte `offset` (a TransferResumed tells the person)."""
        self.offset = self.bytes_done = offset
        self.announce(TransferResumed(self))

    def _report(self, progress: Progress | None) -> Progress:
        def report(done: int, total: int) -> None:
            self.bytes_done = done
            if progress:
                progress(done, total)

        return report


@dataclass(frozen=True)
class TransferResumed:
    """A transfer goes on from where an earlier try stopped (`transfer.offset` bytes were there)."""

    transfer: Transfer


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
    t: Transfer, ticket: TransferReady, open_socket: OpenSocket, offset: int = 0
) -> tuple[socket.socket, Connection, TransferStart]:
    sock = open_socket()
    sock.settimeout(transfer.IDLE_TIMEOUT)
    t._sock = sock
    if t.cancelled:  # cancel() may have run before _sock was set: it could not shut this one down
        sock.close()
        raise transfer.TransferError("The transfer was cancelled.")
    conn = Connection(Role.MEMBER)
    try:
        sock.sendall(conn.send(TransferHello(version=protocol.PROTOCOL_VERSION, token=ticket.token, offset=offset)))
        start = transfer.read_frame(sock, conn)
    except BaseException:
        sock.close()
        raise
    if not isinstance(start, TransferStart):
        sock.close()
        raise transfer.TransferError(f"The host answered {start.TYPE!r} instead of starting the transfer.")
    if start.offset != offset or start.offset > start.size:
        sock.close()
        raise transfer.TransferError(f"The host started {ticket.filename} at another byte than the one asked for.")
    return sock, conn, start


def upload(
    t: Transfer,
    path: Path,
    ask: AskTicket,
    open_socket: OpenSocket,
    progress: Progress | None,
    memory: resume.UploadMemory | None = None,
) -> None:
    """Send the file at `path` to the host, from where an earlier try stopped if it can (on the transfer's thread)."""
    memory = memory or UPLOADS
    path = Path(os.path.abspath(path))
    with open(path, "rb") as fileobj:  # open first: a missing file fails before anything is sent
        info = os.fstat(fileobj.fileno())
        size = t.size = info.st_size
        # Cut short before: the whole file's SHA-256 lets the host find what it kept of it.
        sha = ""
        if (unfinished := memory.recall(path, size, info.st_mtime_ns)) is not None:
            sha = unfinished.sha256 or transfer.FileHasher(fileobj, size).hexdigest()
        memory.remember(path, size, info.st_mtime_ns, sha, time.time())
        try:
            ticket = _ticket(ask, t, lambda ref: OfferUpload(filename=path.name, size=size, ref=ref, sha256=sha))
            offset = ticket.offset if sha and 0 < ticket.offset <= size else 0  # else from the start
            sock, conn, _ = _open_transfer(t, ticket, open_socket, offset)
            with sock:
                t.started = time.monotonic()
                if offset:
                    t.resumed(offset)
                sha = _send_body(t, sock, conn, fileobj, size, offset, sha, progress, path.name)
                done = _confirmation(sock, conn, path.name)
        except BaseException as exc:
            if t.cancelled or isinstance(exc, _Verdict):
                memory.forget(path)  # cancelled, or the host turned the bytes down: next time from the start
            else:
                t.resumable = True
                if not sha and t.sha256:  # hashed beside the bytes before they stopped: no need to hash again
                    memory.remember(path, size, info.st_mtime_ns, t.sha256, time.time())
            raise
    memory.forget(path)
    if not isinstance(done, TransferDone):
        raise transfer.TransferError("The host did not confirm the upload.")
    if done.sha256 != sha or done.size != size:
        raise transfer.TransferError("The host confirmed a different file than the one sent.")
    t.remote_name = done.filename


def _send_body(
    t: Transfer,
    sock: socket.socket,
    conn: Connection,
    fileobj: BinaryIO,
    size: int,
    offset: int,
    sha: str,
    progress: Progress | None,
    name: str,
) -> str:
    """Send bytes offset..size and the whole file's SHA-256 (hashed beside them unless known); return it."""
    report = t._report(progress)
    hasher = None if sha else transfer.FileHasher(fileobj, size)  # hashes beside sendfile, on another core
    try:
        transfer.send_file_body(sock, fileobj, size, offset, progress=report, cancelled=lambda: t.cancelled)
        digest = sha or (hasher.hexdigest() if hasher else "")
        if size == offset:
            report(size, size)
        sock.sendall(conn.send(TransferEnd(sha256=digest)))
    except (transfer.TransferError, OSError) as exc:
        reason = _why_it_ended(sock, conn, name)  # the host's own sentence, or that it went away
        if reason is not None:
            raise transfer.TransferError(reason) from None
        if isinstance(exc, OSError):
            raise transfer.TransferError(f"The connection failed: {exc.strerror or exc}") from None
        raise
    finally:
        if hasher is not None:
            hasher.close()
            t.sha256 = hasher.finished_digest()
    return digest


def _confirmation(sock: socket.socket, conn: Connection, name: str) -> Event:
    """The host's answer once every byte is sent: its TransferDone, or a TransferError with its reason."""
    try:
        return transfer.read_frame(sock, conn)
    except transfer.TransferError as exc:
        if str(exc) == "The connection closed unexpectedly." or str(exc).startswith("The connection failed:"):
            raise transfer.TransferError(HOST_GONE.format(name=name)) from None
        raise _Verdict(str(exc)) from None  # the host's own sentence (a damaged file), or a broken protocol


class _Verdict(transfer.TransferError):
    """The host turned a whole upload down: trying it again goes from the start."""


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
    """Fetch t.filename into `folder` (or `save_as`), going on from a partial file a cut-short try left
    there if it is of the same file (runs on the transfer's thread)."""
    files.check_filename(t.filename)
    folder = save_as.parent if save_as else folder
    folder.mkdir(parents=True, exist_ok=True)
    remove_stale_parts(folder)
    t.partial = resume.find_download(folder, t.filename)  # claimed: no other download here writes to it
    try:
        for _ in range(2):  # a second try only when the host's file changed since the partial one arrived
            try:
                _download_once(t, folder, save_as, ask, open_socket, progress)
                return
            except _HostFileChanged:
                continue
        raise transfer.TransferError(f"{t.filename} keeps changing on the host: try again later.")
    except BaseException:
        kept = t.partial
        if kept is not None:
            if t.cancelled or not kept.path.exists():
                resume.discard(kept)  # cancelled (nothing is left behind), or it arrived damaged
            else:
                t.resumable = _keep_download(kept)
        raise
    finally:
        if t.partial is not None:
            resume.unclaim(t.partial)


class _HostFileChanged(Exception):
    """The host's file is not the one the partial download is of: start over."""


def _download_once(
    t: Transfer, folder: Path, save_as: Path | None, ask: AskTicket, open_socket: OpenSocket, progress: Progress | None
) -> None:
    """One try, from the partial file t.partial if there is one (t.partial is the one written to after)."""
    kept, offset, prefix = t.partial, 0, None
    if kept is not None:
        try:
            offset = kept.length()
            prefix = resume.sha256_prefix(kept.path, offset)  # before the ticket: it is valid for a minute
        except OSError:
            offset, prefix = 0, None
    ticket = _ticket(ask, t, lambda ref: RequestDownload(filename=t.filename, ref=ref))
    if kept is not None and (ticket.size != kept.size or offset > ticket.size):
        offset, prefix = 0, None  # another file by that name now: start over
    sock, conn, start = _open_transfer(t, ticket, open_socket, offset)
    # Trust only the base name we asked for: the host's reply must not steer where we write.
    if start.filename != t.filename:
        sock.close()
        raise transfer.TransferError("The host sent a different file than the one asked for.")
    if kept is not None and offset and (start.sha256, start.size) != (kept.sha256, kept.size):
        sock.close()  # the host's file changed since the partial one arrived: what is here is of no use
        offset = 0
    if kept is None or not offset:
        if kept is not None:
            resume.discard(kept)
            resume.unclaim(kept)
        t.partial = kept = resume.new_partial(folder, t.filename, start.size, start.sha256, "", time.time())
        resume.claim(kept)
        if sock.fileno() < 0:
            raise _HostFileChanged()
    t.size = start.size
    with sock:
        t.started = time.monotonic()
        if offset:
            t.resumed(offset)
        t.path = transfer.receive_to_folder(
            sock, conn.take_buffered(), folder, t.filename, start.size, start.sha256, save_as=save_as,
            progress=t._report(progress), cancelled=lambda: t.cancelled, partial=kept.path, offset=offset,
            prefix=prefix, keep=lambda: not t.cancelled,
        )  # fmt: skip
    resume.discard(kept)  # the part has its name now: only its sidecar is left to go
    resume.unclaim(kept)
    t.partial = None


def _keep_download(kept: resume.Partial) -> bool:
    """A download cut short: its partial file waits for the same file to be asked for again (False if it cannot)."""
    try:
        resume.save(replace(kept, ts=time.time()))
    except OSError:
        resume.discard(kept)
        return False
    return True
