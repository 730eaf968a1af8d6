"""The host's side of file transfers: tickets on the chat connection, bytes on a thread each.

How this works
--------------
A member who wants to upload or download asks on the chat connection; the
loop hands the request to `TransferDesk.offer_upload` / `request_download`,
which check the name (and the free space, or that the file exists) and issue a
ticket: a random token, valid for TICKET_TTL seconds and once.  A member may
hold `Limits.transfers_at_once` tickets and running transfers together (more
are refused with a sentence), and a transfer that moves no byte for
`Limits.transfer_stall` seconds (the socket's time-out, both directions) is
ended with a sentence to the member and a log line.  The member
then opens a second connection whose first frame carries the token; the loop
hands that frame to `claim`, and the connection to `start`, which streams the
file with blocking I/O on a thread of its own, so a multi-GB transfer never
stalls the chat.  Tickets live on the loop thread only; the transfer threads
report through `log` and `on_shared` (which the loop turns into a notice on
its own thread).

An upload cut short keeps what arrived (host_partials.py's `PartialShelf`, in the
temporary folder, with a sidecar that survives a restart): offered again by
the same member with the same name, size and SHA-256, its ticket carries the
`offset` the member may send from, and the whole file's SHA-256 is checked
before it gets its name.  A download starts at the offset the member's
`TransferHello` asks for.  Partials nobody resumed for `Limits.partial_keep`
seconds are removed at start and every SWEEP_EVERY seconds.

The catalogue (`Storage`'s file table) remembers each shared file's SHA-256
with its size and mtime, so a download of an unchanged file is not hashed
again.
"""

from __future__ import annotations

import collections
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from . import files, protocol, resume, transfer
from .budget import Limits, transfer_refusal
from .file_meter import FileMeter
from .host_partials import PartialShelf
from .hostlog import LogEvent, LogKind
from .protocol import (
    Connection,
    Direction,
    ErrorReply,
    OfferUpload,
    RequestDownload,
    TransferDone,
    TransferEnd,
    TransferHello,
    TransferReady,
    TransferStart,
)
from .resume import Partial
from .storage import FileRecord, Storage

TICKET_TTL = 60.0
SWEEP_EVERY = 600.0  # seconds between looks for partial uploads nobody resumed in time
FAREWELL_TIMEOUT = 5.0  # seconds to hand a failed transfer's sentence to a member who may not be reading
STOPPING = "The host is shutting down: the transfer was stopped. Try again when the chat is back."


@dataclass(frozen=True)
class Ticket:
    """The right to one transfer: who, which file, which way, until when (monotonic)."""

    token: str
    direction: Direction
    member: str
    filename: str
    size: int
    expires: float
    offset: int = 0  # the first byte to move: what an upload's partial holds, or what a download asks for
    sha256: str = ""  # an upload's, as offered ("" if the member did not say)
    partial: Partial | None = None  # an upload's kept partial file, in use while the ticket lives


class TransferDesk:
    """Tickets, the transfer threads and the catalogue's hash cache."""

    def __init__(
        self,
        share: Path,
        temp_dir: Path,
        storage: Storage,
        log: Callable[[LogEvent], None],
        on_shared: Callable[[str, str, int], None],
        limits: Limits | None = None,
    ) -> None:
        self.share = share
        self.limits = limits or Limits()
        self.temp_dir = temp_dir
        self.storage = storage
        self._log = log
        self._on_shared = on_shared  # (member, filename, size), from a transfer thread
        self._tickets: dict[str, Ticket] = {}
        self._threads: dict[threading.Thread, socket.socket] = {}
        self._running: collections.Counter[str] = collections.Counter()  # transfers per member, under _lock
        self._lock = threading.Lock()
        self.partials = PartialShelf(temp_dir, self.limits.partial_keep, self.limits.transfers_at_once)
        self._next_sweep = 0.0
        self.meter = FileMeter()  # file bytes per member, for the admin window
        self.stopping = False

    # --- on the loop thread --------------------------------------------------------------

    def offer_upload(self, member: str, event: OfferUpload, mono: float) -> bytes:
        """The frame that answers an upload offer: a ticket, or why not."""
        if refusal := self._over_cap(member):
            return self._refuse_upload(member, event.filename, refusal, event.ref)
        try:
            filename = files.check_filename(event.filename)
        except files.BadFileName as exc:
            return self._refuse_upload(member, event.filename, str(exc), event.ref)
        partial = self.partials.take(member, filename, event.size, event.sha256)  # what a cut-short try left
        offset = min(partial.length(), event.size) if partial else 0
        free = files.free_space(self.temp_dir)
        if not files.has_room_for(self.temp_dir, event.size - offset, free=free):
            if partial is not None:
                self.partials.release(partial)
            size, room = files.human_size(event.size), files.human_size(free)
            message = f"The host has no room for {filename} ({size}): {room} free."
            return self._refuse_upload(member, filename, message, event.ref)
        ticket = self._issue(Direction.UPLOAD, member, filename, event.size, mono)
        ticket = self._tickets[ticket.token] = replace(ticket, offset=offset, sha256=event.sha256, partial=partial)
        ready = TransferReady(
            token=ticket.token, direction=Direction.UPLOAD, filename=filename, size=event.size, ref=event.ref,
            offset=offset,
        )  # fmt: skip
        return protocol.encode_trusted(ready)

    def request_download(self, member: str, event: RequestDownload, mono: float) -> bytes:
        """The frame that answers a download request: a ticket, or 'No such file' (or too many at once)."""
        if refusal := self._over_cap(member):
            return protocol.encode_trusted(ErrorReply(message=refusal, ref=event.ref))
        path = self.shared_path(event.filename)
        if path is None:
            message = f"No such file on the host: {event.filename}"
            return protocol.encode_trusted(ErrorReply(message=message, ref=event.ref))
        ticket = self._issue(Direction.DOWNLOAD, member, path.name, path.stat().st_size, mono)
        ready = TransferReady(
            token=ticket.token, direction=Direction.DOWNLOAD, filename=path.name, size=ticket.size, ref=event.ref
        )
        return protocol.encode_trusted(ready)

    def claim(self, event: TransferHello, mono: float) -> Ticket | str:
        """The ticket a transfer connection presents (used up), or the sentence that refuses it."""
        ticket = self._tickets.pop(event.token, None)
        if ticket is None or ticket.expires < mono or event.version != protocol.PROTOCOL_VERSION:
            if ticket is not None and ticket.partial is not None:
                self.partials.release(ticket.partial)
            return "This transfer is unknown or has expired."
        if refusal := resume_refusal(ticket, event.offset):
            if ticket.partial is not None:
                self.partials.release(ticket.partial)
            return refusal
        return replace(ticket, offset=event.offset)  # an upload's 0: the member starts over

    def clean_temp(self) -> None:
        """At start: remove what a crash left (parts without a sidecar) and partials too old to resume."""
        self.partials.load(time.time())

    def expire(self, mono: float) -> None:
        """Forget tickets nobody used in time (their partials wait for the next try); now and then, sweep."""
        for token, ticket in list(self._tickets.items()):
            if ticket.expires < mono:
                del self._tickets[token]
                if ticket.partial is not None:
                    self.partials.release(ticket.partial)
        if mono >= self._next_sweep:
            self._next_sweep = mono + SWEEP_EVERY
            self.partials.sweep(time.time())

    def start(self, sock: socket.socket, conn: Connection, ticket: Ticket, leftover: bytes, address: str) -> None:
        """Move the file on a thread of its own; the socket is the thread's from now on."""
        sock.setblocking(True)
        sock.settimeout(self.limits.transfer_stall)  # no byte for this long, either way: TransferStalled
        thread = threading.Thread(
            target=self._run, args=(sock, conn, ticket, leftover, address), name=f"mmchat-{ticket.direction}"
        )
        thread.daemon = True
        with self._lock:
            self._threads[thread] = sock
            self._running[ticket.member] += 1
        thread.start()

    # --- any thread ------------------------------------------------------------------------

    def join(self, deadline: float) -> None:
        """Wait for the transfer threads until `deadline` (monotonic) at the latest, all together."""
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def abort(self) -> None:
        """Cut the transfers still running (the host is stopping): each ends, and cleans up, at once."""
        with self._lock:
            socks = list(self._threads.values())
        for sock in socks:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # closed meanwhile

    def busy(self) -> int:
        """How many transfers are running."""
        with self._lock:
            return len(self._threads)

    def shared_path(self, filename: str) -> Path | None:
        """The shared file called `filename`, if it exists inside the share (no links out)."""
        try:
            files.check_filename(filename)
        except files.BadFileName:
            return None
        real = Path(os.path.realpath(self.share / filename))
        if real.parent != self.share or not real.is_file():
            return None
        return real

    # --- helpers ---------------------------------------------------------------------------

    def _refuse_upload(self, member: str, filename: str, message: str, ref: int) -> bytes:
        self._log(LogEvent(time.time(), LogKind.UPLOAD_REFUSED, member=member, filename=filename, reason=message))
        return protocol.encode_trusted(ErrorReply(message=message, ref=ref))

    def _over_cap(self, member: str) -> str | None:
        """The sentence that refuses `member` another ticket, or None while under the cap."""
        with self._lock:
            held = self._running[member]
        held += sum(1 for ticket in self._tickets.values() if ticket.member == member)
        return transfer_refusal(held, self.limits)

    def _issue(self, direction: Direction, member: str, filename: str, size: int, mono: float) -> Ticket:
        ticket = Ticket(secrets.token_urlsafe(24), direction, member, filename, size, mono + TICKET_TTL)
        self._tickets[ticket.token] = ticket
        return ticket

    # --- on a transfer thread --------------------------------------------------------------

    def _run(self, sock: socket.socket, conn: Connection, ticket: Ticket, leftover: bytes, address: str) -> None:
        try:
            if ticket.direction is Direction.UPLOAD:
                self._upload(sock, conn, ticket, leftover)
            else:
                self._download(sock, conn, ticket)
        except transfer.TransferError as exc:
            # Cut short because the host is stopping: say so, not "cancelled" (the member cancelled nothing).
            reason = STOPPING if self.stopping else str(exc)
            if isinstance(exc, transfer.TransferStalled) and not self.stopping:
                stall, name = self.limits.transfer_stall, ticket.filename
                reason = f"The {ticket.direction} of {name} moved no byte for {stall:g} s: the host ended it."
            event = LogEvent(
                time.time(), LogKind.TRANSFER_FAILED, member=ticket.member, address=address,
                filename=ticket.filename, line=ticket.direction, reason=reason,
            )  # fmt: skip
            self._log(event)
            try:
                sock.settimeout(min(FAREWELL_TIMEOUT, self.limits.transfer_stall))  # they may not be reading
                sock.sendall(protocol.encode(ErrorReply(message=reason, fatal=True)))
            except OSError:
                pass
        except Exception as exc:  # never let a transfer thread die silently
            reason = f"{ticket.direction} of {ticket.filename} failed: {exc!r}"
            self._log(LogEvent(time.time(), LogKind.ERROR, member=ticket.member, reason=reason))
        finally:
            sock.close()
            with self._lock:
                self._threads.pop(threading.current_thread(), None)
                self._running[ticket.member] -= 1
                if not self._running[ticket.member]:
                    del self._running[ticket.member]

    def _upload(self, sock: socket.socket, conn: Connection, ticket: Ticket, leftover: bytes) -> None:
        partial = ticket.partial or self.partials.create(
            ticket.member, ticket.filename, ticket.size, ticket.sha256, time.time()
        )
        try:
            final, claimed = self._receive(sock, conn, ticket, leftover, partial)
        except transfer.TransferDamaged:
            self.partials.drop(partial)
            raise
        except transfer.TransferError:
            self.partials.keep_for_later(partial, time.time())  # the same file offered again goes on from here
            raise
        except BaseException:
            self.partials.drop(partial)
            raise
        self.partials.drop(partial)  # its bytes have their name now: only the sidecar is left to go
        record = FileRecord(final.name, ticket.size, claimed, ticket.member, time.time(), final.stat().st_mtime_ns)
        self.storage.add_file(record)
        sock.sendall(conn.send(TransferDone(filename=final.name, size=ticket.size, sha256=claimed)))
        self._log(LogEvent(time.time(), LogKind.UPLOAD_DONE, ticket.member, filename=final.name, size=ticket.size))
        self._on_shared(ticket.member, final.name, ticket.size)

    def _receive(
        self, sock: socket.socket, conn: Connection, ticket: Ticket, leftover: bytes, partial: Partial
    ) -> tuple[Path, str]:
        """Receive the upload into `partial` (after its first `ticket.offset` bytes); its final path and SHA-256."""
        offset = ticket.offset
        try:
            prefix = resume.sha256_prefix(partial.path, offset) if offset else None  # hashed before the rest
        except OSError as exc:
            raise transfer.TransferDamaged(f"The start of {ticket.filename} kept here is gone: {exc}.") from None
        sock.sendall(conn.send(TransferStart(filename=ticket.filename, size=ticket.size, offset=offset)))
        started = LogEvent(
            time.time(), LogKind.UPLOAD_STARTED, ticket.member, filename=ticket.filename, size=ticket.size, count=offset
        )
        self._log(started)
        claimed = ""

        def member_digest() -> str:  # the member's SHA-256 (of the whole file) follows the bytes
            nonlocal claimed
            conn.end_of_body(leftover[ticket.size - offset :])
            end = transfer.read_frame(sock, conn)
            if not isinstance(end, TransferEnd):
                raise transfer.TransferError(f"Expected the upload's SHA-256, got {end.TYPE!r}.")
            claimed = end.sha256
            return claimed

        final = transfer.receive_to_folder(
            sock, leftover, self.share, ticket.filename, ticket.size, member_digest, temp_folder=self.temp_dir,
            cancelled=lambda: self.stopping, partial=partial.path, offset=offset, prefix=prefix, keep=lambda: True,
            progress=self.meter.progress(ticket.member, upload=True, start=offset),
        )  # fmt: skip
        return final, claimed

    def _download(self, sock: socket.socket, conn: Connection, ticket: Ticket) -> None:
        path = self.shared_path(ticket.filename)
        if path is None:
            raise transfer.TransferError(f"No such file on the host: {ticket.filename}")
        with open(path, "rb") as fileobj:
            stat = os.fstat(fileobj.fileno())
            if ticket.offset > stat.st_size:  # the file got shorter since the ticket
                raise transfer.TransferError(resume_beyond(path.name, ticket.offset, stat.st_size))
            digest = self._digest(path, stat)
            start = TransferStart(filename=path.name, size=stat.st_size, sha256=digest, offset=ticket.offset)
            sock.sendall(conn.send(start))
            moved = self.meter.progress(ticket.member, upload=False, start=ticket.offset)  # for the admin window
            transfer.send_file_body(sock, fileobj, stat.st_size, ticket.offset, moved, cancelled=lambda: self.stopping)
        self._log(LogEvent(time.time(), LogKind.DOWNLOAD_DONE, ticket.member, filename=path.name, size=stat.st_size))

    def _digest(self, path: Path, stat: os.stat_result) -> str:
        """The file's SHA-256 from the catalogue if it is unchanged, else hashed now (and kept)."""
        record = self.storage.get_file(path.name)
        if record and record.size == stat.st_size and record.mtime_ns == stat.st_mtime_ns:
            return record.sha256
        digest = files.sha256_file(path)  # a file the host put there itself, or changed since
        owner, ts = (record.owner, record.ts) if record else ("host", time.time())
        self.storage.add_file(FileRecord(path.name, stat.st_size, digest, owner, ts, stat.st_mtime_ns))
        return digest


def resume_refusal(ticket: Ticket, offset: int) -> str | None:
    """Why a transfer connection may not start at byte `offset` of this ticket's file, or None if it may.

    An upload goes on from what the host kept (the ticket's offset) or starts
    over (0); a download may start anywhere up to the file's size.
    """
    if ticket.direction is Direction.UPLOAD and offset not in (0, ticket.offset):
        return (
            f"The upload of {ticket.filename} cannot go on from byte {offset}: "
            f"the host has {ticket.offset} bytes of it."
        )
    if offset > ticket.size:
        return resume_beyond(ticket.filename, offset, ticket.size)
    return None


def resume_beyond(filename: str, offset: int, size: int) -> str:
    return f"{filename} cannot be resumed at byte {offset}: it has only {size} bytes."
