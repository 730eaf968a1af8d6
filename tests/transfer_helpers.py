"""What the transfer tests share: random payloads and files, SHA-256 of a file, and a peer that sends from a thread."""

from __future__ import annotations

import hashlib
import os
import queue
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

MiB = 1 << 20


class Peer:
    """The sending side of a socketpair: sends `data` from a thread, then closes."""

    def __init__(self, sock: socket.socket, data: bytes) -> None:
        self.sock = sock
        self.data = data
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.sock.sendall(self.data)
        except OSError:
            pass  # the receiver gave up first; that is what some tests want
        finally:
            self.sock.close()

    def join(self) -> None:
        self.thread.join(timeout=10)
        assert not self.thread.is_alive()


def random_file(path: Path, size: int) -> str:
    """Write `size` random bytes to `path` (and its folder, if new); their SHA-256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = os.urandom(size)
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file's bytes, as hex."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def queued_of(events: queue.Queue, *kinds: type) -> list:
    """The events of these kinds on `events` right now (a member's queue), taking everything off it."""
    found = []
    while True:
        try:
            event = events.get_nowait()
        except queue.Empty:
            return found
        if isinstance(event, kinds):
            found.append(event)


def payload(size: int) -> bytes:
    return os.urandom(size)


def wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    """Poll `condition` until it holds or `seconds` pass; whether it holds."""
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    return condition()
