"""Receiving a file's bytes: recv, hash and write on three threads (landing.py verifies and renames).

The receiver fills a few reused buffers with `recv_into`, and a pipeline of
two threads of its own hashes and writes them (hashlib, socket and file calls
all release the GIL), writing with O_DIRECT where it can.  The buffers and
the threads exist only once bytes flow, and the buffers go again when the
flow pauses, so a transfer that stalls (or never starts) costs a few kB.  The file lands
under its final name only once size and SHA-256 match (`landing.receive_to_folder`).
Memory stays flat whatever the
file size.

Measured on the 2-core benchmark machine, 1 GiB over loopback into a file,
fsync included: recv + hash + write in turn, 550 MB/s; hashing on a second
thread, 780 MB/s; three threads with direct writes, 800-1,100 MB/s and a
third less CPU (a plain recv + write with neither hash nor fsync:
1,300-1,500 MB/s).  Writing 1 GiB through the page cache was also the least
predictable part there: fresh page-cache memory now and then took ten times
as long to get.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import io
import mmap
import os
import queue
import socket
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, BinaryIO

from .. import files
from .frames import Progress, TransferError, TransferStalled

if TYPE_CHECKING:
    from _hashlib import HASH as Hash

RECV_CHUNK = 4 << 20  # fewer, fuller recv_into calls: 5-15 % faster than 1 MiB on loopback
RECV_BUFFERS = 5  # buffers in flight between receiving, hashing and writing: 20 MiB per flowing transfer
WRITEBACK_STEP = 32 << 20  # through the page cache: start writing to disk after every 32 MiB
WRITE_CHUNK = 1 << 20  # single writes of 2 MiB or more into a new file were far slower on the benchmark VM
SMALL_RECV = 64 << 10  # the first recv, and the first after a pause: no big buffer for a transfer that stalls
PAUSE_RELEASE = 2.0  # seconds without a byte before the big buffers are let go (they come back with the bytes)
PROGRESS_STEP = 8 << 20
PROGRESS_INTERVAL = 0.25  # seconds: a progress bar that moves on a slow link too


class _Pipeline:
    """Hashes and writes filled receive buffers on two threads of their own, then hands them back.

    The receiving thread fills a free buffer from the socket and submits it;
    the hashing thread hashes it and passes it on; the writing thread writes
    it to the file and puts it back on the free list.  So at most
    `RECV_BUFFERS` buffers exist, the three kinds of work overlap (hashlib
    and file writes release the GIL), and order is kept because each stage
    is one thread taking buffers in the order they were submitted.

    Where the file system allows it (Linux: ext4, xfs, btrfs...), whole
    buffers are written with O_DIRECT: straight from our buffers to the disk,
    without first copying 1 GiB into fresh page-cache memory and writing it
    out again at the fsync (measured: about twice as fast for a 1 GiB upload
    on the benchmark machine).  The buffers are page-aligned (anonymous mmap)
    and every whole one is `RECV_CHUNK` long, so offsets and lengths stay
    aligned; the last, shorter piece is written the ordinary way.  Where
    O_DIRECT is not to be had, the file goes through the page cache and its
    disk writing is started every `WRITEBACK_STEP` bytes (Linux
    `sync_file_range`), so the fsync at the end has little left to do.  The
    price of O_DIRECT: a file just received is not in memory, so the first
    one to read it (the host's first download of a new upload) reads the disk.
    """

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._fd = _file_descriptor(out)
        self._direct = self._fd >= 0 and out.tell() % RECV_CHUNK == 0 and _set_direct(self._fd, True)
        self._written = 0
        self._synced = 0
        self._free: queue.SimpleQueue[mmap.mmap] = queue.SimpleQueue()
        self._hash_queue: queue.SimpleQueue[tuple[mmap.mmap, int] | None] = queue.SimpleQueue()
        self._write_queue: queue.SimpleQueue[tuple[mmap.mmap, int] | None] = queue.SimpleQueue()
        self._made = 0  # buffers that exist: made when bytes arrive, let go when the flow pauses
        self.sha: Hash = hashlib.sha256()
        self.error: OSError | None = None
        self._started = False
        self._threads = [
            threading.Thread(target=self._hash, name="mmchat-sha256", daemon=True),
            threading.Thread(target=self._write, name="mmchat-write", daemon=True),
        ]

    def _hash(self) -> None:
        while (item := self._hash_queue.get()) is not None:
            buf, n = item
            with memoryview(buf) as view:
                self.sha.update(view[:n])
            self._write_queue.put(item)
        self._write_queue.put(None)

    def _write(self) -> None:
        while (item := self._write_queue.get()) is not None:
            buf, n = item
            if self.error is None:  # after a failure, only hand the buffers back
                try:
                    with memoryview(buf) as view:
                        self._write_out(view[:n])
                except OSError as exc:
                    self.error = exc
            self._free.put(buf)

    def _write_out(self, data: memoryview) -> None:
        if self._fd < 0:  # not a real file
            for start in range(0, len(data), WRITE_CHUNK):
                self._out.write(data[start : start + WRITE_CHUNK])
            return
        if self._direct and len(data) != RECV_CHUNK:  # the last piece: O_DIRECT takes only whole blocks
            self._stop_direct()
        while data:
            try:
                written = _os_write(self._fd, data if self._direct else data[:WRITE_CHUNK])
            except OSError:
                if not self._direct:
                    raise
                # A file system that took the flag but not the write (EINVAL, EOPNOTSUPP...): go on the
                # ordinary way; a real failure (a full disk) fails again there and is reported.
                self._stop_direct()
                continue
            data = data[written:]
            self._written += written
        if not self._direct and self._written - self._synced >= WRITEBACK_STEP and (sync_range := _sync_file_range()):
            sync_range(self._fd, self._synced, self._written - self._synced, _SYNC_FILE_RANGE_WRITE)  # only a hint
            self._synced = self._written

    def _stop_direct(self) -> None:
        if not _set_direct(self._fd, False):
            raise OSError(errno.EINVAL, "cannot switch off O_DIRECT")
        self._direct = False

    def buffer(self) -> mmap.mmap:
        """A free buffer to fill: a new one while fewer than RECV_BUFFERS exist, else wait for one."""
        try:
            return self._free.get_nowait()
        except queue.Empty:
            pass
        if self._made < RECV_BUFFERS:
            if not self._started:  # the first bytes: the hashing and writing threads start
                self._started = True
                for thread in self._threads:
                    thread.start()
            self._made += 1
            return mmap.mmap(-1, RECV_CHUNK)  # untouched pages cost no memory until bytes land in them
        return self._free.get()

    @property
    def buffers(self) -> int:
        """How many big buffers exist now (none before the first bytes, none after `release`)."""
        return self._made

    def give_back(self, buf: mmap.mmap) -> None:
        """An unused buffer goes back to the free list."""
        self._free.put(buf)

    def submit(self, buf: mmap.mmap, n: int) -> None:
        self._hash_queue.put((buf, n))

    def release(self) -> None:
        """The flow paused: wait for every submitted buffer to be written, then let all of them go."""
        for _ in range(self._made):
            _unmap(self._free.get())
        self._made = 0

    def finish(self) -> str:
        """Wait for every submitted buffer to be hashed and written; return the hex digest."""
        self.close()
        if self.error is not None:
            raise self.error
        return self.sha.hexdigest()

    def close(self) -> None:
        if self._started and self._threads[0].is_alive():
            self._hash_queue.put(None)
        if self._started:
            for thread in self._threads:
                thread.join()
        while not self._free.empty():
            _unmap(self._free.get_nowait())
        self._made = 0


def _unmap(buf: mmap.mmap) -> None:
    """Give a buffer's memory back now, unless a view of it is still held (a traceback): then at its last use."""
    try:
        buf.close()
    except BufferError:
        pass


_os_write = os.write  # a name of our own, so tests can stand in for a difficult file system
_SYNC_FILE_RANGE_WRITE = 2


@functools.cache
def _sync_file_range() -> Callable[[int, int, int, int], int] | None:
    """libc's sync_file_range on Linux (start writing a range to disk, do not wait), else None."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes  # only here: start-up time that nothing else needs

    try:
        func = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    func.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    func.restype = ctypes.c_int
    return func


def _file_descriptor(out: BinaryIO) -> int:
    """The file descriptor to write `out` through (after flushing its buffer), or -1 if it is no real file."""
    try:
        out.flush()
        return out.fileno()
    except (OSError, ValueError, io.UnsupportedOperation):  # tests write to BytesIO
        return -1


def _set_direct(fd: int, on: bool) -> bool:
    """Turn O_DIRECT on or off for `fd`; False if the file system refuses, or the OS has no O_DIRECT."""
    if not hasattr(os, "O_DIRECT"):
        return False
    import fcntl

    try:
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        fcntl.fcntl(fd, fcntl.F_SETFL, (flags | os.O_DIRECT) if on else (flags & ~os.O_DIRECT))
    except OSError:
        return False
    return True


def receive_file_body(
    sock: socket.socket,
    first: bytes,
    out: BinaryIO,
    size: int,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] = lambda: False,
    *,
    offset: int = 0,
    prefix: Hash | None = None,
) -> str:
    """Write bytes offset..size of a file (starting with `first`) from the socket to `out`; return the SHA-256.

    The digest is of the whole file: `prefix` holds the hash of the bytes
    0..offset already there (a resumed transfer), and progress counts them.
    Bytes of `first` past the body are not part of the file: the caller keeps them.
    Every buffer is filled completely before it is submitted (but the last, or
    one the flow paused in), which keeps direct writes aligned and makes for
    fewer, fuller recv calls.  The big buffers exist only while bytes flow:
    the first recv, and the first after a pause of PAUSE_RELEASE seconds, go
    into a small one, and a pause lets them all go (`_Pipeline.release`), so a
    stalled transfer holds a few kB, not RECV_BUFFERS x RECV_CHUNK.  The
    socket's own time-out is the time without a byte before TransferStalled.
    """
    stall = sock.gettimeout()
    # While bytes flow, a recv waits at most PAUSE_RELEASE seconds: then the buffers go, and the small
    # recv waits out the rest of `stall`.  A `stall` that short ends the transfer at the first wait instead.
    pause = PAUSE_RELEASE if stall is None or stall > PAUSE_RELEASE else stall
    wait = stall  # the small recv's time-out: all of `stall` at first, what is left of it after a pause
    total, size = size, size - offset  # from here on `size` is the body, what the socket brings
    rest = memoryview(first)[:size]  # what is still to be copied into the buffers
    small = memoryview(bytearray(SMALL_RECV))
    pipeline = _Pipeline(out)
    if prefix is not None:
        pipeline.sha = prefix  # a resumed file's: the hash goes on from its first `offset` bytes
    done = 0  # bytes received
    flowing = False
    last_report = (0, time.monotonic())
    try:
        while done < size and pipeline.error is None:
            if not flowing:
                if not rest:  # nothing came yet, or the flow paused: wait for it with the small buffer
                    if cancelled():
                        raise TransferError("The transfer was cancelled.")
                    sock.settimeout(wait)
                    rest = small[: _recv_into(sock, small[: min(SMALL_RECV, size - done)], offset + done, total)]
                sock.settimeout(pause)
                flowing = True
            buf = pipeline.buffer()
            want = min(RECV_CHUNK, size - done)
            filled = len(rest[:want])
            buf[:filled] = rest[:filled]
            rest = rest[filled:]
            try:
                with memoryview(buf) as view:
                    while filled < want and flowing:
                        if cancelled():
                            raise TransferError("The transfer was cancelled.")
                        try:
                            filled += _recv_into(sock, view[filled:want], offset + done + filled, total)
                        except TransferStalled:
                            if pause == stall:
                                raise
                            flowing = False  # a pause: what came is written, the buffers go
                        if progress and _report_due(last_report, done + filled):
                            last_report = (done + filled, time.monotonic())
                            progress(offset + done + filled, total)
            except TransferError:
                if filled:  # what came before the failure is written too: a resume goes on after it
                    pipeline.submit(buf, filled)
                raise
            if filled:
                pipeline.submit(buf, filled)
            else:
                pipeline.give_back(buf)
            done += filled
            if not flowing:
                pipeline.release()
                wait = None if stall is None else stall - pause
        digest = pipeline.finish()
    except OSError as exc:  # from writing the file
        raise TransferError(f"Could not save the file: {exc.strerror or exc}.") from exc
    finally:
        with contextlib.suppress(OSError):  # a socket closed meanwhile has no time-out to give back
            sock.settimeout(stall)
        pipeline.close()
    if progress and (size == 0 or last_report[0] != size):
        progress(total, total)
    return digest


def _report_due(last: tuple[int, float], done: int) -> bool:
    """Progress is reported every PROGRESS_STEP bytes, or PROGRESS_INTERVAL seconds on a slow link."""
    return done - last[0] >= PROGRESS_STEP or time.monotonic() - last[1] >= PROGRESS_INTERVAL


def _recv_into(sock: socket.socket, view: memoryview, done: int, size: int) -> int:
    """One recv_into, with the failures turned into sentences."""
    try:
        n = sock.recv_into(view)
    except TimeoutError:
        raise TransferStalled(f"The other side stopped sending after {files.human_size(done)}.") from None
    except OSError as exc:
        raise TransferError(f"The connection failed: {exc.strerror or exc}") from None
    if n == 0:
        raise TransferError(f"The connection closed after {files.human_size(done)} of {files.human_size(size)}.")
    return n
