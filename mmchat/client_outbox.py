"""The sending half of a member's chat connection: a bounded queue of frames and the thread that drains it.

How this works
--------------
`say()` and the requests run on the window's thread, which must never wait for
the network.  So they only append an encoded frame to an `Outbox` and return;
one writer thread per connection (`Outbox.run`) takes the frames off in the
order they were put and sends them.  The queue is bounded in bytes: when a host
stops reading, the kernel's buffers fill, then the queue, and `put()` refuses
at once with `OutboxFull` (a sentence) instead of blocking -- unless its caller
asked to wait for room a while (a terminal reading a pipe may; a window never).

The outbox sets a short time-out on the socket so the writer wakes up while a
send is stuck.  It gives up when no byte went through for `stall_timeout`
seconds (the host stopped reading), when `finish()` was called and its flush
deadline passed, or when `abort()` says the connection is over.  When it gives
up it shuts the socket down, which also wakes the reader; after a goodbye it
shuts down only the sending half, so that the reader can read on until the host
hangs up (`reader_may_stop()` says when to stop waiting).  The reader shares
the socket, so it sees the same short time-out: it treats `TimeoutError` from
`recv` as "nothing yet".
"""

from __future__ import annotations

import collections
import socket
import threading
import time

OUTBOX_BYTES = 1024 * 1024  # about 250 messages of the longest kind, thousands of ordinary ones
STALL_TIMEOUT = 15.0  # a host that takes no byte for this long has stopped reading
BATCH_BYTES = 256 * 1024  # the writer joins queued frames into sends of about this size
POLL_SECONDS = 0.5  # how often a stuck writer (and the idle reader) wakes up to look around


class OutboxFull(ConnectionError):
    """The host is not taking what we send, and the outbox is full; nothing was queued."""


class _Stopped(Exception):
    """The writer must stop; str() is why (empty when nobody needs to hear it)."""


class Outbox:
    """Frames waiting to go to the host, and the writer that sends them in order."""

    def __init__(
        self,
        sock: socket.socket,
        *,
        max_bytes: int = OUTBOX_BYTES,
        stall_timeout: float = STALL_TIMEOUT,
        poll: float = POLL_SECONDS,
    ) -> None:
        self._sock = sock
        self.max_bytes = max_bytes
        self.stall_timeout = stall_timeout
        self._frames: collections.deque[bytes] = collections.deque()
        self._queued = 0  # bytes in _frames
        self._cond = threading.Condition()
        self._flush_deadline: float | None = None  # set by finish(): send what is queued by then, then stop
        self._aborted = False
        self.stopped = False  # the writer has ended and the socket is shut down
        self.failure = ""  # why the writer gave up, a sentence; "" if it ended cleanly
        sock.settimeout(min(poll, stall_timeout))

    @property
    def queued_bytes(self) -> int:
        """Bytes put but not yet handed to the kernel."""
        with self._cond:
            return self._queued

    def put(self, frame: bytes, wait: float = 0.0) -> None:
        """Queue one frame; when full, wait up to `wait` s for room, then raise OutboxFull.

        Raises ConnectionError once the writer has stopped or `finish()` was called.
        """
        deadline = time.monotonic() + wait
        with self._cond:
            while True:
                if self.stopped or self._aborted or self._flush_deadline is not None:
                    raise ConnectionError(self.failure or "Not connected to the host.")
                # One frame always fits an empty queue, so no frame is refused for its size alone.
                if not self._queued or self._queued + len(frame) <= self.max_bytes:
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    raise OutboxFull(
                        "The host is not taking what you send right now, so this was not sent. Try again in a moment."
                    )
                self._cond.wait(left)
            self._frames.append(frame)
            self._queued += len(frame)
            self._cond.notify_all()  # the writer, and nobody else, waits for frames

    def finish(self, last: bytes | None, timeout: float) -> None:
        """Send what is queued and then `last`, within `timeout` seconds; then stop. Never blocks."""
        with self._cond:
            if self._flush_deadline is not None:
                return
            if last:
                self._frames.append(last)
                self._queued += len(last)
            self._flush_deadline = time.monotonic() + timeout
            self._cond.notify_all()

    def abort(self) -> None:
        """Stop the writer soon, sending nothing more. Never blocks."""
        with self._cond:
            self._aborted = True
            self._cond.notify_all()

    def run(self) -> None:
        """The writer thread's body: send frames in order until finished, aborted or stuck."""
        # After a goodbye only our half closes: the reader reads on until the host hangs up.
        # Closing with unread bytes would reset the connection and drop what is still in
        # the kernel's send buffer (the last messages, the goodbye itself).
        how = socket.SHUT_RDWR
        try:
            while True:
                frame = self._next_frame()
                if frame is None:
                    how = socket.SHUT_RDWR if self._aborted else socket.SHUT_WR
                    return
                self._send(frame)
        except _Stopped as exc:
            self.failure = str(exc)
        finally:
            with self._cond:
                self.stopped = True
                self._frames.clear()
                self._queued = 0
            try:
                self._sock.shutdown(how)
            except OSError:
                pass  # already shut down or closed

    def reader_may_stop(self) -> bool:
        """True once the reader should stop waiting for the host to hang up (given up, or past the deadline)."""
        with self._cond:
            if not self.stopped:
                return False
            if self.failure or self._aborted or self._flush_deadline is None:
                return True
            return time.monotonic() >= self._flush_deadline

    def _next_frame(self) -> bytes | None:
        with self._cond:
            while True:
                if self._aborted:
                    return None
                if self._frames:
                    # Everything queued goes out in one send (up to BATCH_BYTES): one system
                    # call and as few packets as possible for a burst of messages.
                    batch = [self._frames.popleft()]
                    size = len(batch[0])
                    while self._frames and size < BATCH_BYTES:
                        batch.append(self._frames.popleft())
                        size += len(batch[-1])
                    self._queued -= size
                    self._cond.notify_all()  # room for put() calls that wait
                    return batch[0] if len(batch) == 1 else b"".join(batch)
                if self._flush_deadline is not None:
                    return None  # everything went out, the goodbye included
                self._cond.wait()

    def _send(self, frame: bytes) -> None:
        view = memoryview(frame)
        last_progress = time.monotonic()
        while view:
            try:
                sent = self._sock.send(view)
            except TimeoutError:
                sent = 0
            except OSError as exc:
                raise _Stopped(f"The connection to the host was lost: {exc.strerror or exc}") from None
            now = time.monotonic()
            if sent:
                view = view[sent:]
                last_progress = now
            with self._cond:
                aborted, deadline = self._aborted, self._flush_deadline
            if aborted:
                raise _Stopped("")
            if deadline is not None and now >= deadline:
                raise _Stopped("The host did not take the last messages before we left.")
            if now - last_progress >= self.stall_timeout:
                raise _Stopped(
                    f"The host stopped reading what you send (nothing went through for {self.stall_timeout:g} s)."
                )
