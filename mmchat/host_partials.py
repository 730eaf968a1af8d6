"""The host's partial uploads: which are kept for a resume, which are in use, and when they go.

The files and their sidecars are resume.py's; this is the host's index of
them, made from the sidecars at start (so a restart loses nothing) and kept
in memory after that, so the loop thread answers an upload offer without
reading a folder.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

from .budget import TRANSFERS_AT_ONCE
from .resume import KEEP_PARTIAL, Partial, discard, last_moved, new_partial, save, scan, sweep

PER_MEMBER = TRANSFERS_AT_ONCE  # partial uploads kept per member: as many as may run at once


class PartialShelf:
    """The host's partial uploads: an index of the sidecars in its temporary folder, and which are in use.

    The loop thread looks partials up and hands them to tickets; transfer
    threads keep or drop them when their transfer ends.  A partial in use is
    never offered to a second upload, nor swept.
    """

    def __init__(self, folder: Path, keep: float = KEEP_PARTIAL, per_member: int = PER_MEMBER) -> None:
        self.folder = folder
        self.keep = keep
        self.per_member = per_member  # kept at most per uploader: cut uploads cannot pile up on the disk
        self._lock = threading.Lock()
        self._kept: dict[Path, Partial] = {}
        self._busy: set[Path] = set()

    def load(self, now: float) -> list[Path]:
        """At start: sweep what is stale (and every part without a sidecar: a crash's), index the rest."""
        removed = sweep(self.folder, self.keep, now, orphans_after=0.0, any_part=True)
        with self._lock:
            self._kept = {p.path: p for p in scan(self.folder)}
        return removed

    def sweep(self, now: float) -> list[Path]:
        """Remove the partials nobody resumed within `keep` seconds."""
        with self._lock:
            stale = [p for p in self._kept.values() if p.path not in self._busy and now - last_moved(p) >= self.keep]
            for partial in stale:
                del self._kept[partial.path]
        for partial in stale:
            discard(partial)
        return [p.path for p in stale]

    def take(self, owner: str, filename: str, size: int, sha256: str) -> Partial | None:
        """The kept partial this offer resumes (in use from now on), or None.

        Only `owner`'s partial of that name and size that nothing uses, and
        only when its SHA-256 is `sha256` (or not known yet); one with another
        SHA-256, or any when the offer names none (the member starts over), is
        discarded.
        """
        with self._lock:
            found = [
                p for p in self._kept.values()
                if (p.owner, p.filename, p.size) == (owner, filename, size) and p.path not in self._busy
            ]  # fmt: skip
            match = next((p for p in found if sha256 and p.sha256 in ("", sha256)), None)
            for partial in found:
                if partial is not match:
                    del self._kept[partial.path]
            if match is not None:
                self._busy.add(match.path)
            if match is not None and sha256 != match.sha256:
                match = self._kept[match.path] = replace(match, sha256=sha256)  # the offer names it now
        for partial in found:
            if partial.path != getattr(match, "path", None):
                discard(partial)
        if match is not None:
            try:
                save(match)
            except OSError:
                self.drop(match)
                return None
        return match

    def create(self, owner: str, filename: str, size: int, sha256: str, now: float) -> Partial:
        """A new partial upload, in use."""
        partial = new_partial(self.folder, filename, size, sha256, owner, now)
        with self._lock:
            self._kept[partial.path] = partial
            self._busy.add(partial.path)
        return partial

    def keep_for_later(self, partial: Partial, now: float) -> None:
        """The transfer was cut short: keep what arrived for a resume."""
        partial = replace(partial, ts=now)
        try:
            save(partial)
        except OSError:
            self.drop(partial)
            return
        with self._lock:
            self._kept[partial.path] = partial
            self._busy.discard(partial.path)
            idle = [p for p in self._kept.values() if p.owner == partial.owner and p.path not in self._busy]
            oldest = sorted(idle, key=lambda p: p.ts)[: max(0, len(idle) - self.per_member)]
            for old in oldest:
                del self._kept[old.path]
        for old in oldest:
            discard(old)

    def release(self, partial: Partial) -> None:
        """Nothing uses the partial any more (its ticket went unused)."""
        with self._lock:
            self._busy.discard(partial.path)

    def drop(self, partial: Partial) -> None:
        """The partial is done with (it became the file, or turned out damaged): remove it."""
        with self._lock:
            self._kept.pop(partial.path, None)
            self._busy.discard(partial.path)
        discard(partial)

    def kept(self) -> list[Partial]:
        """The partials on the shelf, in use or not."""
        with self._lock:
            return list(self._kept.values())
