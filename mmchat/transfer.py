"""Moving file bytes over a transfer connection, for both the host and members.

A transfer connection opens with frames (TransferHello, TransferStart) and then
carries the file's raw bytes.  Sending uses `socket.sendfile` (zero-copy where
the OS has it); receiving uses `recv_into` on one reused buffer, hashes as it
writes, and lands the file under its final name only once size and SHA-256
match.  Memory stays flat whatever the file size.

Receiving is deliberately one thread.  Handing filled buffers to a worker
thread that hashes and writes them was measured on the 2-core benchmark
machine (1 GiB over loopback): it cost ~0.7 s more CPU per GiB than doing
recv, hash and write in turn and was no faster, because a receiver that keeps
pace with the sender pays far more per byte in the kernel than one that
drains a full socket buffer.  What did help is a large receive buffer (fewer,
fuller recv_into calls) written out in smaller pieces: single writes of 2 MiB
or more into a new file were several times slower per byte there.
"""

from __future__ import annotations

import hashlib
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from . import files
from .protocol import NEED_DATA, Connection, ErrorReply, Event, ProtocolError

RECV_CHUNK = 4 << 20  # fewer, fuller recv_into calls: 5-15 % faster than 1 MiB on loopback
WRITE_CHUNK = 1 << 20  # single writes of 2 MiB or more into a new file were far slower on the benchmark VM
SEND_CHUNK = 8 << 20  # larger chunks were no faster, and cancelling is checked once per chunk
PROGRESS_STEP = 8 << 20
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
    hasher = hashlib.sha256()
    first = first[:size]
    hasher.update(first)
    _write(out, first)
    done = len(first)
    buf = bytearray(RECV_CHUNK)
    view = memoryview(buf)
    last_report = 0
    while done < size:
        if cancelled():
            raise TransferError("The transfer was cancelled.")
        try:
            n = sock.recv_into(view, min(RECV_CHUNK, size - done))
        except TimeoutError:
            raise TransferError(f"The other side stopped sending after {files.human_size(done)}.") from None
        except OSError as exc:
            raise TransferError(f"The connection failed: {exc.strerror or exc}") from None
        if n == 0:
            raise TransferError(f"The connection closed after {files.human_size(done)} of {files.human_size(size)}.")
        chunk = view[:n]
        hasher.update(chunk)
        for start in range(0, n, WRITE_CHUNK):
            _write(out, chunk[start : start + WRITE_CHUNK])
        done += n
        if progress and (done - last_report >= PROGRESS_STEP or done == size):
            last_report = done
            progress(done, size)
    if progress and size == 0:
        progress(0, 0)
    return hasher.hexdigest()


def _write(out: BinaryIO, data: bytes | memoryview) -> None:
    """Write `data` to `out`, turning a disk error (disk full, ...) into a TransferError."""
    try:
        out.write(data)
    except OSError as exc:
        raise TransferError(f"Could not save the file: {exc.strerror or exc}.") from exc


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
