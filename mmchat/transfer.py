"""Moving file bytes over a transfer connection, for both the host and members.

A transfer connection opens with frames (TransferHello, TransferStart) and then
carries the file's raw bytes.  Sending uses `socket.sendfile` (zero-copy where
the OS has it); receiving uses `recv_into` on one reused buffer, hashes as it
writes, and lands the file under its final name only once size and SHA-256
match.  Memory stays flat whatever the file size.
"""

from __future__ import annotations

import hashlib
import os
import queue
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from . import files
from .protocol import NEED_DATA, Connection, ErrorReply, Event, ProtocolError

RECV_BUFFER = 4 << 20
RECV_BUFFERS = 4
PROGRESS_STEP = 8 << 20
_WORKERS = 1
SEND_CHUNK = 8 << 20
IDLE_TIMEOUT = 60.0

Progress = Callable[[int, int], None]


class TransferError(Exception):
    """A transfer failed; str() is a sentence for a person."""


def read_frame(sock: socket.socket, conn: Connection) -> Event:
    """Block until the peer's next frame on a transfer connection; raise TransferError on failure."""
    while True:
        try:
            event = conn.next_event()
        except ProtocolError as exc:
            raise TransferError(f"The other side broke the protocol: {exc}") from None
        if event is not NEED_DATA:
            if isinstance(event, ErrorReply):
                raise TransferError(event.message)
            return event
        try:
            data = sock.recv(65536)
        except TimeoutError:
            raise TransferError("The other side stopped answering.") from None
        except OSError as exc:
            raise TransferError(f"The connection failed: {exc.strerror or exc}") from None
        if not data:
            raise TransferError("The connection closed unexpectedly.")
        conn.receive_data(data)


def send_file_body(
    sock: socket.socket,
    fileobj: BinaryIO,
    size: int,
    offset: int = 0,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] = lambda: False,
) -> None:
    """Send bytes offset..size of `fileobj` with sendfile, reporting progress per chunk."""
    done = offset
    while done < size:
        if cancelled():
            raise TransferError("The transfer was cancelled.")
        count = min(SEND_CHUNK, size - done)
        try:
            sent = sock.sendfile(fileobj, offset=done, count=count)
        except TimeoutError:
            raise TransferError("The other side stopped receiving.") from None
        except OSError as exc:
            raise TransferError(f"The connection failed: {exc.strerror or exc}") from None
        if sent == 0:
            raise TransferError("The file got shorter while it was being sent.")
        done += sent
        if progress:
            progress(done, size)


def receive_file_body(
    sock: socket.socket,
    first: bytes,
    out: BinaryIO,
    size: int,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] = lambda: False,
) -> str:
    """Write exactly `size` bytes (starting with `first`) from the socket to `out`; return their SHA-256."""
    pending = memoryview(first)[:size]
    done = 0  # bytes received, whether or not the worker has written them yet
    last_report = 0
    pipeline = _HashWritePipeline(out)
    try:
        while done < size:
            view = pipeline.take_buffer()
            want = min(len(view), size - done)
            filled = 0
            while filled < want:
                if pending:
                    step = min(len(pending), want - filled)
                    view[filled : filled + step] = pending[:step]
                    pending = pending[step:]
                    filled += step
                    continue
                if cancelled():
                    raise TransferError("The transfer was cancelled.")
                try:
                    n = sock.recv_into(view[filled:want])
                except TimeoutError:
                    raise TransferError(
                        f"The other side stopped sending after {files.human_size(done + filled)}."
                    ) from None
                except OSError as exc:
                    raise TransferError(f"The connection failed: {exc.strerror or exc}") from None
                if n == 0:
                    raise TransferError(
                        f"The connection closed after {files.human_size(done + filled)} of {files.human_size(size)}."
                    )
                filled += n
            pipeline.submit(view, filled)
            done += filled
            if progress and done - last_report >= PROGRESS_STEP and done < size:
                last_report = done
                progress(done, size)
        digest = pipeline.finish()
    finally:
        pipeline.close()
    if progress:
        progress(size, size)
    return digest


class _HashWritePipeline:
    """Worker thread(s) that hash and write filled receive buffers in order, then hand them back.

    The receiving thread takes a free buffer, fills it from the socket and
    submits it; the buffers come back through the free queue once hashed and
    written, so at most RECV_BUFFERS buffers exist whatever the file size.
    hashlib, file writes and recv_into all release the GIL on large buffers,
    so the three run in parallel.  A worker that fails keeps handing buffers
    back (without using them) so the receiving thread never blocks on it; the
    failure is raised from the next take_buffer() or finish().
    """

    def __init__(self, out: BinaryIO) -> None:
        self._hasher = hashlib.sha256()
        self._error: BaseException | None = None
        self._abandoned = False
        self._free: queue.SimpleQueue[memoryview] = queue.SimpleQueue()
        for _ in range(RECV_BUFFERS):
            self._free.put(memoryview(bytearray(RECV_BUFFER)))
        if _WORKERS == 1:
            stages = [[self._hasher.update, out.write]]
        else:
            stages = [[self._hasher.update], [out.write]]
        self._inbox: queue.SimpleQueue[tuple[memoryview, int] | None] = queue.SimpleQueue()
        self._threads = []
        inbox = self._inbox
        for i, steps in enumerate(stages):
            outbox = queue.SimpleQueue() if i < len(stages) - 1 else None
            thread = threading.Thread(
                target=self._run, args=(steps, inbox, outbox), name="mmchat-receive", daemon=True
            )
            self._threads.append(thread)
            inbox = outbox
        for thread in self._threads:
            thread.start()
        self._stopped = False

    def take_buffer(self) -> memoryview:
        """Return a free buffer, waiting for the worker to hand one back; raise if the worker failed."""
        view = self._free.get()
        self._raise_error()
        return view

    def submit(self, view: memoryview, length: int) -> None:
        """Queue the first `length` bytes of `view` for hashing and writing."""
        self._inbox.put((view, length))

    def finish(self) -> str:
        """Wait until everything submitted is hashed and written; return the SHA-256 hex digest."""
        self._stop()
        self._raise_error()
        return self._hasher.hexdigest()

    def close(self) -> None:
        """Stop the worker, dropping whatever it has not processed yet; safe after finish()."""
        self._abandoned = True
        self._stop()

    def _stop(self) -> None:
        if not self._stopped:
            self._stopped = True
            self._inbox.put(None)
            for thread in self._threads:
                thread.join()

    def _raise_error(self) -> None:
        error = self._error
        if error is None:
            return
        if isinstance(error, OSError):
            raise TransferError(f"Could not save the file: {error.strerror or error}.") from error
        raise error

    def _run(self, steps, inbox, outbox) -> None:
        while True:
            item = inbox.get()
            if item is None:
                if outbox is not None:
                    outbox.put(None)
                return
            view, length = item
            if self._error is None and not self._abandoned:
                try:
                    chunk = view[:length]
                    for step in steps:
                        step(chunk)
                except BaseException as exc:
                    self._error = exc
            if outbox is not None:
                outbox.put(item)
            else:
                self._free.put(view)


def receive_to_folder(
    sock: socket.socket,
    first: bytes,
    folder: Path,
    filename: str,
    size: int,
    sha256: str,
    *,
    temp_folder: Path | None = None,
    save_as: Path | None = None,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] = lambda: False,
) -> Path:
    """Receive a file into a temporary name, verify size and SHA-256, then give it its final name.

    The final name follows the collision rule in `folder` (nothing is ever
    overwritten), unless `save_as` names a path the user chose explicitly.
    On any failure the temporary file is removed and TransferError raised.
    """
    if not files.has_room_for(temp_folder or folder, size):
        raise TransferError(
            f"Not enough free space for {filename} ({files.human_size(size)}): "
            f"{files.human_size(files.free_space(temp_folder or folder))} free."
        )
    tmp = files.temp_path(temp_folder or folder, filename)
    try:
        with open(tmp, "wb") as out:
            digest = receive_file_body(sock, first, out, size, progress, cancelled)
            out.flush()
            os.fsync(out.fileno())
        if os.path.getsize(tmp) != size:
            raise TransferError(f"{filename} arrived with the wrong size.")
        if digest != sha256:
            raise TransferError(f"{filename} arrived damaged (SHA-256 mismatch) and was discarded.")
        if save_as is not None:
            os.replace(tmp, save_as)
            return save_as
        return files.place_file(tmp, folder, filename)
    except BaseException:
        try:
            tmp.unlink()
        except FileNotFoundError:
            pass
        raise
