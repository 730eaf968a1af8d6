"""FileMeter: the bytes of files each member has moved through the host, for the admin window.

The chat connection's own counters (`Peer.bytes_in`/`bytes_out`) see only chat
frames: a file moves on a connection of its own, on a transfer thread.  Those
threads report their progress here (the same callbacks a progress bar would
get: bytes done so far, of the whole file), and the admin's snapshot adds each
member's totals to their chat bytes.  Counts are kept by member name and
forgotten when the member's chat connection closes.
"""

from __future__ import annotations

import threading

from .transfer import Progress


class FileMeter:
    """Per member: file bytes received from them (uploads) and sent to them (downloads); any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._moved: dict[str, list[int]] = {}  # member -> [received, sent]

    def progress(self, member: str, upload: bool, start: int = 0) -> Progress:
        """A progress callback for one transfer of `member`'s that begins at byte `start` (a resume)."""
        last = start
        side = 0 if upload else 1

        def report(done: int, total: int) -> None:
            nonlocal last
            moved, last = done - last, max(last, done)
            if moved > 0:
                with self._lock:
                    self._moved.setdefault(member, [0, 0])[side] += moved

        return report

    def totals(self, member: str) -> tuple[int, int]:
        """(received from, sent to) `member`, in bytes of files."""
        with self._lock:
            received, sent = self._moved.get(member, (0, 0))
        return received, sent

    def forget(self, member: str) -> None:
        """The member left: the next one by that name starts at zero."""
        with self._lock:
            self._moved.pop(member, None)
