"""Transfers that resume: the partial files kept after an interruption, and what is known of them.

How this works
--------------
A transfer cut short (the connection lost, either side killed, the host
restarted) keeps what arrived under its hidden temporary name
(`files.temp_path`: ".<name>.<12 hex>.part"), beside a small sidecar of the
same name ending in ".resume" (JSON): the file's name, its whole size and
SHA-256 as far as known, whose it is, and when it last moved.  Asking for the
same file again (same name, size and SHA-256) continues from the partial
file's length.  The whole file's SHA-256 is still checked at the end, so a
partial that does not belong is found out and discarded, and nothing appears
under a final name unverified.  A partial that nobody resumed for
`KEEP_PARTIAL` seconds is swept away (`sweep`).

The host keeps its partial uploads in its data folder (host_partials.py's
`PartialShelf`, an index in memory of the sidecars there); a member keeps its partial downloads in the
downloads folder (`find_download`), and remembers the uploads it did not
finish in its config folder (`UploadMemory`), so `!send` again resumes even
after either side restarted.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import stat
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import files
from .protocol.fields import is_sha256

if TYPE_CHECKING:
    from _hashlib import HASH

KEEP_PARTIAL = 24 * 3600.0  # seconds a partial file waits to be resumed before it is removed
SIDECAR = ".resume"
_PART_NAME = re.compile(r"\..+\.[0-9a-f]{12}\.part", re.DOTALL)  # files.temp_path's ".<name>.<12 hex>.part"
UPLOADS_REMEMBERED = 200  # the member's unfinished uploads kept at most (the oldest are forgotten first)


@dataclass(frozen=True)
class Partial:
    """A file that arrived in part: its temporary file, and what the whole will be."""

    path: Path  # the ".part" file
    filename: str
    size: int  # of the whole file
    sha256: str  # of the whole file; "" while not known (an upload's first try)
    owner: str  # the host's: who uploads it; a member's: ""
    ts: float  # when it last moved (time.time())

    @property
    def sidecar(self) -> Path:
        return sidecar_of(self.path)

    def length(self) -> int:
        """How many bytes of the file are there (0 if the part is gone)."""
        try:
            return os.path.getsize(self.path)
        except OSError:
            return 0


def sidecar_of(part: Path) -> Path:
    """The sidecar beside a partial file: ".<name>.<12 hex>.resume"."""
    return part.with_name(part.name.removesuffix(".part") + SIDECAR)


def new_partial(folder: Path, filename: str, size: int, sha256: str, owner: str, now: float) -> Partial:
    """A fresh, empty partial file in `folder`, with its sidecar."""
    partial = Partial(files.temp_path(folder, filename), filename, size, sha256, owner, now)
    save(partial)
    return partial


def save(partial: Partial) -> None:
    """Write the partial's sidecar (atomically: a half-written one would be worse than none)."""
    record = asdict(partial)
    record["path"] = partial.path.name
    tmp = partial.path.parent / f".{secrets.token_hex(6)}.resume-new"
    try:
        tmp.write_text(json.dumps(record), encoding="utf-8")
        os.replace(tmp, partial.sidecar)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def discard(partial: Partial) -> None:
    """Remove the partial file and its sidecar."""
    for path in (partial.path, partial.sidecar):
        with contextlib.suppress(OSError):
            path.unlink()


def load(sidecar: Path) -> Partial | None:
    """The partial a sidecar describes, or None if it is damaged or its file is gone."""
    try:
        record = json.loads(sidecar.read_text(encoding="utf-8"))
        partial = _partial_from(sidecar.parent, record)
        if not stat.S_ISREG(os.lstat(partial.path).st_mode) or sidecar_of(partial.path) != sidecar:
            return None
    except (OSError, ValueError, TypeError, KeyError):
        return None
    return partial


def _partial_from(folder: Path, record: Any) -> Partial:
    if not isinstance(record, dict):
        raise ValueError("not a record")
    path, filename, sha, owner = record["path"], record["filename"], record["sha256"], record["owner"]
    size, ts = record["size"], record["ts"]
    if not all(isinstance(v, str) for v in (path, filename, sha, owner)) or not _is_part_name(path):
        raise ValueError("not a partial's record")
    if type(size) is not int or size < 0 or not isinstance(ts, (int, float)) or (sha and not is_sha256(sha)):
        raise ValueError("not a partial's record")
    return Partial(folder / path, files.check_filename(filename), size, sha, owner, float(ts))


def _is_part_name(name: str) -> bool:
    """A name as `files.temp_path` makes them, in the folder itself (no path, no way out of it)."""
    return bool(_PART_NAME.fullmatch(name)) and "/" not in name and "\\" not in name and "\0" not in name


def scan(folder: Path) -> list[Partial]:
    """Every partial described by a sound sidecar in `folder`."""
    try:
        names = [entry.name for entry in os.scandir(folder) if entry.name.endswith(SIDECAR)]
    except OSError:
        return []
    return [p for p in (load(folder / name) for name in names) if p is not None]


def sweep(
    folder: Path,
    keep: float,
    now: float,
    busy: frozenset[Path] = frozenset(),
    orphans_after: float | None = None,
    any_part: bool = False,
) -> list[Path]:
    """Remove the partials in `folder` untouched for `keep` seconds (and sidecars without their file).

    A part without a sidecar goes once `orphans_after` seconds old (default
    `keep`); only names as `files.temp_path` makes them count, or with
    `any_part` every "*.part" (the host's own temporary folder).  The paths removed.
    """
    orphans_after = keep if orphans_after is None else orphans_after
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    described: set[str] = set()
    for entry in entries:
        if not entry.name.endswith(SIDECAR):
            continue
        partial = load(Path(entry.path))
        if partial is None:
            with contextlib.suppress(OSError):
                if time.time() - os.lstat(entry.path).st_mtime > 5:  # not one being written just now
                    os.unlink(entry.path)
            continue
        described.add(partial.path.name)
        if partial.path in busy:
            continue
        if now - last_moved(partial) >= keep:
            discard(partial)
            removed.append(partial.path)
    for entry in entries:
        ours = _is_part_name(entry.name) or (any_part and entry.name.endswith(".part"))
        if not ours or entry.name in described or Path(entry.path) in busy:
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(info.st_mode) and now - info.st_mtime >= orphans_after:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            continue  # gone already, or not ours to remove
    return removed


def last_moved(partial: Partial) -> float:
    try:
        return max(partial.ts, os.path.getmtime(partial.path))
    except OSError:
        return partial.ts


def sha256_prefix(path: Path, length: int, chunk: int = 1 << 20) -> HASH:
    """The SHA-256 of the first `length` bytes of the file, still open for the rest."""
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        left = length
        while left > 0 and (block := source.read(min(chunk, left))):
            digest.update(block)
            left -= len(block)
    if left:
        raise OSError(f"{path.name} is shorter than {length} bytes")
    return digest


# --- a member's side ---------------------------------------------------------------------

_claimed: set[Path] = set()  # partial downloads a transfer of this process is writing
_claimed_lock = threading.Lock()


def find_download(folder: Path, filename: str) -> Partial | None:
    """The partial download of `filename` in `folder` that no transfer here writes to (claimed now), or None."""
    with _claimed_lock:
        found = [p for p in scan(folder) if p.filename == filename and p.path not in _claimed]
        if not found:
            return None
        latest = max(found, key=lambda p: p.ts)
        _claimed.add(latest.path)
    for other in found:  # older tries of the same file: only the latest is worth resuming
        if other is not latest:
            discard(other)
    return latest


def claim(partial: Partial) -> None:
    """This transfer writes to `partial` now: no other one here resumes it."""
    with _claimed_lock:
        _claimed.add(partial.path)


def unclaim(partial: Partial) -> None:
    with _claimed_lock:
        _claimed.discard(partial.path)


@dataclass(frozen=True)
class Unfinished:
    """An upload the member did not finish: enough to know the file again, and its SHA-256 once hashed."""

    path: str
    size: int
    mtime_ns: int
    sha256: str  # "" until hashed
    ts: float


class UploadMemory:
    """The uploads this member did not finish, in a small JSON file in its config folder."""

    def __init__(self, path: Path | None = None) -> None:
        self._path = path
        self._lock = threading.Lock()

    @property
    def path(self) -> Path:
        if self._path is None:
            from .settings import config_dir  # only here: the settings module is the launcher's

            return config_dir() / "uploads.json"
        return self._path

    def recall(self, path: Path, size: int, mtime_ns: int) -> Unfinished | None:
        """The unfinished upload of this very file (same size and modification time), or None."""
        with self._lock:
            found = self._read().get(str(path))
        if found is None or (found.size, found.mtime_ns) != (size, mtime_ns):
            return None
        return found

    def remember(self, path: Path, size: int, mtime_ns: int, sha256: str, now: float) -> None:
        """Remember (or update) an upload under way, so that it can resume if it is cut short."""
        with self._lock:
            records = self._read()
            records[str(path)] = Unfinished(str(path), size, mtime_ns, sha256, now)
            records = {
                k: v for k, v in records.items() if now - v.ts < KEEP_PARTIAL
            }  # a host keeps a partial no longer
            newest = sorted(records.values(), key=lambda u: u.ts)[-UPLOADS_REMEMBERED:]
            self._write({u.path: u for u in newest})

    def forget(self, path: Path) -> None:
        """The upload finished (or will start over): nothing to resume."""
        with self._lock:
            records = self._read()
            if records.pop(str(path), None) is not None:
                self._write(records)

    def _read(self) -> dict[str, Unfinished]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        records: dict[str, Unfinished] = {}
        for item in data if isinstance(data, list) else []:
            try:
                record = Unfinished(**item)
            except TypeError:
                continue
            if isinstance(record.path, str) and type(record.size) is int and type(record.mtime_ns) is int:
                if isinstance(record.sha256, str) and (not record.sha256 or is_sha256(record.sha256)):
                    records[record.path] = record
        return records

    def _write(self, records: dict[str, Unfinished]) -> None:
        target = self.path
        try:
            if not records:  # nothing unfinished: no file left behind
                target.unlink(missing_ok=True)
                return
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}")
            tmp.write_text(json.dumps([asdict(r) for r in records.values()]), encoding="utf-8")
            os.replace(tmp, target)
        except OSError:
            pass  # nothing to resume next time: the upload starts over, which is still right
