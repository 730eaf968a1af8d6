"""How other threads reach the host's loop: a queue of calls plus a socket that wakes the selector."""

from __future__ import annotations

import collections
import socket
from collections.abc import Callable


class CallQueue:
    """Calls for the loop thread, queued from any thread; the loop's selector watches `reader`."""

    def __init__(self) -> None:
        self._calls: collections.deque[Callable[[], None]] = collections.deque()  # append/popleft are atomic
        self.reader, self._writer = socket.socketpair()
        self.reader.setblocking(False)
        self._writer.setblocking(False)

    def call_soon(self, fn: Callable[[], None]) -> None:
        """Have the loop thread run `fn` (thread-safe, never blocks)."""
        self._calls.append(fn)
        try:
            self._writer.send(b"\0")
        except OSError:
            pass  # a wake-up is already pending (the buffer is full), or the loop is gone

    def drain(self) -> None:
        """Read the wake-up bytes (the selector said `reader` is readable)."""
        try:
            while self.reader.recv(4096):
                pass
        except OSError:
            pass

    def run_pending(self) -> None:
        """Run the calls queued so far; calls they queue wait for the next round."""
        for _ in range(len(self._calls)):
            self._calls.popleft()()

    def close(self) -> None:
        """Close both ends of the wake-up socket."""
        self.reader.close()
        self._writer.close()
