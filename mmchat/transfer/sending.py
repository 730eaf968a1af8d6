"""Sending a file's bytes: `sendfile` for the socket, and the SHA-256 read beside it on a thread of its own.

The sender hashes the file while `sendfile` sends it and sends the digest
after the bytes (an upload's `TransferEnd`), so the file is read twice, but
from the page cache and on two cores at once, instead of twice in a row.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import threading
from collections.abc import Callable, Iterator
from typing import BinaryIO

from .frames import Progress, TransferError, TransferStalled

SEND_CHUNK = 8 << 20  # larger chunks were no faster, and cancelling is checked once per chunk
HASH_CHUNK = 4 << 20


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
            raise TransferStalled("The other side stopped receiving.") from None
        except OSError as exc:
            raise TransferError(f"The connection failed: {exc.strerror or exc}") from None
        if sent == 0:
            raise TransferError("The file got shorter while it was being sent.")
        done += sent
        if progress:
            progress(done, size)


class FileHasher:
    """SHA-256 of the first `size` bytes of an open file, computed on a thread of its own.

    Start it beside `send_file_body` and ask for `hexdigest()` once the bytes
    are sent: the sender reads the file twice (once for the socket, once for
    the hash), but from the page cache and on two cores at once.  If the file
    changes while it is sent, the two reads may differ and the receiver's
    SHA-256 check turns the upload down, which is what should happen.
    """

    def __init__(self, fileobj: BinaryIO, size: int) -> None:
        self._fileobj = fileobj
        self._size = size
        self._sha = hashlib.sha256()
        self._error: str | None = None
        self._stop = False
        self._complete = False
        self._thread = threading.Thread(target=self._run, name="mmchat-sha256", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        buf = bytearray(HASH_CHUNK)
        view = memoryview(buf)
        done = 0
        try:
            with _positional_reader(self._fileobj) as read_at:
                while done < self._size and not self._stop:
                    n = read_at(view[: min(HASH_CHUNK, self._size - done)], done)
                    if n == 0:
                        self._error = "The file got shorter while it was being sent."
                        return
                    self._sha.update(view[:n])
                    done += n
            self._complete = done == self._size
        except OSError as exc:
            self._error = f"Could not read the file: {exc.strerror or exc}"

    def hexdigest(self) -> str:
        """Wait for the hash to finish; raise TransferError if the file could not be read whole."""
        self._thread.join()
        if self._error:
            raise TransferError(self._error)
        return self._sha.hexdigest()

    def close(self) -> None:
        """Stop early (the transfer failed) and wait for the thread."""
        self._stop = True
        self._thread.join()

    def finished_digest(self) -> str:
        """After `close`: the digest if the whole file was hashed all the same (worth keeping for a resume), else ""."""
        return self._sha.hexdigest() if self._complete and not self._thread.is_alive() else ""


@contextlib.contextmanager
def _positional_reader(fileobj: BinaryIO) -> Iterator[Callable[[memoryview, int], int]]:
    """read_at(buffer, offset) -> bytes read, without moving `fileobj`'s position (sendfile uses it).

    POSIX reads at an offset on the same descriptor (`preadv`); where there is
    no such call (Windows) the file is opened a second time by name.
    """
    if hasattr(os, "preadv"):
        fd = fileobj.fileno()
        yield lambda view, offset: os.preadv(fd, [view], offset)
        return
    with open(fileobj.name, "rb") as second:

        def read_at(view: memoryview, offset: int) -> int:
            second.seek(offset)
            return second.readinto(view)

        yield read_at
