"""What the host remembers: chat history and shared files, in SQLite.

How this works
--------------
One sqlite3 connection, shared by every thread and guarded by one lock, lives
in ``<data_dir>/mmchat.db`` (WAL mode, so a crash loses at most the last
batch, never the file).  The host's event loop must never wait on the disk,
and every microsecond the writer spends holding the GIL is taken from that
loop, so both sides of the hand-over are kept as cheap as possible:

* `Storage.record` appends the entry (a named tuple, which is already the row
  sqlite3 wants) to a list under a short lock, and wakes the writer thread
  only if it is idle -- once per batch, not once per entry.
* The writer, once woken, sleeps `flush_interval` so the batch can grow, then
  swaps the list for an empty one and inserts it with one `executemany` per
  transaction (sqlite3 keeps the statement prepared).
* `Storage.flush` adds an Event to a list of waiters that the writer takes in
  the same swap as the entries, and wakes the writer at once; the writer sets
  those events after committing, so everything recorded before the call is on
  disk when flush() returns.

When the disk refuses a batch (sqlite3.OperationalError: "database or disk is
full", an I/O error) the entries are kept in memory -- at most `unwritten_max`,
the oldest go first -- and retried every `retry_interval` seconds.  The writer
tells `on_status` once when history stops being saved and once when it has
caught up (with how many entries were lost), so the host can tell the room;
close() never raises for it, so a host whose disk filled up still stops cleanly.

File records are few and written by transfer threads, so they go straight
to the database.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import Any, NamedTuple, Self

from .protocol import ChatMessage, Notice, NoticeKind

DB_NAME = "mmchat.db"
SCHEMA_VERSION = 1
# How long the writer lets a batch grow.  Each batch costs a wake-up, a timed
# wait and a commit (~0.2 ms of CPU together on the benchmark VM), so at 200
# messages/s 0.05 s cost 34 µs per entry and 0.2 s costs 14 µs.  A crash loses
# at most this much history; flush() and close() never wait for it.
FLUSH_INTERVAL = 0.2
# Rows per transaction: long enough to make commits rare, short enough that a
# reader waiting for the database lock (a download looking up its file) is not
# held up for long by a burst.
_MAX_BATCH = 2000
# History entries kept on disk; the oldest go first.  A flood of 4,000-character
# lines then costs at most ~1 GB, an ordinary chat keeps months.
HISTORY_MAX = 100_000
# Entries kept in memory while the disk refuses them (at most ~40 MB of 4,000-character lines).
UNWRITTEN_MAX = 10_000
RETRY_INTERVAL = 2.0  # seconds between tries to write what the disk refused

_SCHEMA = """
CREATE TABLE IF NOT EXISTS history (
    seq INTEGER PRIMARY KEY,
    ts REAL NOT NULL,
    kind TEXT NOT NULL,
    member TEXT NOT NULL,
    text TEXT NOT NULL DEFAULT '',
    filename TEXT NOT NULL DEFAULT '',
    size INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS files (
    filename TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    owner TEXT NOT NULL,
    ts REAL NOT NULL,
    mtime_ns INTEGER NOT NULL
);
"""
_HISTORY_COLUMNS = "seq, ts, kind, member, text, filename, size"
_FILE_COLUMNS = "filename, size, sha256, owner, ts, mtime_ns"
# OR REPLACE: one repeated seq must not cost the rest of the batch.
NOTICE_KIND_VALUES = frozenset(kind.value for kind in NoticeKind)
_INSERT_HISTORY = f"INSERT OR REPLACE INTO history ({_HISTORY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"


class StorageError(Exception):
    """The chat history cannot be read or written; str(exc) is a sentence for a person."""


class HistoryEntry(NamedTuple):
    """One line of chat history: a message or a notice such as "join"."""

    # A named tuple rather than a dataclass: the host makes one per message,
    # and a tuple is built in a third of the time and goes to sqlite3 as is.

    seq: int
    ts: float
    kind: str
    member: str
    text: str = ""
    filename: str = ""
    size: int = 0


def history_event(entry: HistoryEntry) -> ChatMessage | Notice | None:
    """The event a newcomer is shown for a history entry (None for a row of a kind nobody knows)."""
    if entry.kind == "message":
        return ChatMessage(seq=entry.seq, ts=entry.ts, sender=entry.member, text=entry.text, history=True)
    if entry.kind not in NOTICE_KIND_VALUES:
        return None  # an older or damaged database: members would refuse it, so it is not replayed
    return Notice(
        seq=entry.seq,
        ts=entry.ts,
        kind=NoticeKind(entry.kind),
        member=entry.member,
        filename=entry.filename,
        size=entry.size,
        history=True,
    )


@dataclass(frozen=True)
class HistoryStatus:
    """Whether history is being saved: told once when writes start failing, once when they catch up."""

    saving: bool
    reason: str = ""  # why not (saving False)
    lost: int = 0  # entries dropped while the disk refused them (saving True: caught up)


@dataclass(frozen=True)
class FileRecord:
    """A file shared on the host, as the host last verified it."""

    filename: str
    size: int
    sha256: str
    owner: str
    ts: float
    mtime_ns: int


class Storage:
    """The host's history and file list in ``data_dir/mmchat.db``; safe to share between threads."""

    def __init__(
        self,
        data_dir: Path,
        flush_interval: float = FLUSH_INTERVAL,
        history_max: int = HISTORY_MAX,
        on_status: Callable[[HistoryStatus], None] | None = None,
        retry_interval: float = RETRY_INTERVAL,
        unwritten_max: int = UNWRITTEN_MAX,
    ) -> None:
        """`on_status` is called on the writer thread when history stops or starts again being saved."""
        self.path = Path(data_dir) / DB_NAME
        self._flush_interval = flush_interval
        self.on_status = on_status
        self._retry_interval = retry_interval
        self._unwritten_max = max(1, unwritten_max)
        self._unwritten: list[HistoryEntry] = []  # refused by the disk, retried first (the writer's)
        self._lost = 0  # dropped from _unwritten since history stopped being saved (the writer's)
        self._failing = False  # the writer's: on_status was told history is not saved
        self._next_try = 0.0  # the writer's: time.monotonic() of the next try at _unwritten
        self.history_max = max(1, history_max)
        # The writer prunes once the history is this much over the bound: one DELETE per batch, not per row.
        self._prune_slack = max(1, min(10_000, self.history_max // 10))
        self._conn = _open(self.path)
        self._db_lock = threading.Lock()
        # A separate lock for what record() touches, so it never waits behind
        # a commit holding _db_lock.  It guards the five fields below it.
        self._seq_lock = threading.Lock()
        row = self._conn.execute("SELECT COALESCE(MAX(seq), 0) FROM history").fetchone()
        self._last_seq: int = row[0]
        self._rows: int = self._conn.execute("SELECT COUNT(*) FROM history").fetchone()[0]  # the writer's
        self._pending: list[HistoryEntry] = []  # recorded, not yet taken by the writer
        self._flush_waiters: list[threading.Event] = []
        self._writer_idle = True  # nothing pending: the next record() must wake the writer
        self._closed = False
        self._wake = threading.Event()
        self._write_error: Exception | None = None
        self._writer = threading.Thread(target=self._run_writer, name="mmchat-storage", daemon=True)
        self._writer.start()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- history -----------------------------------------------------------

    def last_seq(self) -> int:
        """Return the highest seq recorded so far (0 when empty), queued entries included."""
        with self._seq_lock:
            return self._last_seq

    def record(self, entry: HistoryEntry) -> None:
        """Queue `entry` for the writer thread; returns at once."""
        if not isinstance(entry, HistoryEntry):
            raise TypeError(f"expected a HistoryEntry, got {entry!r}")
        with self._seq_lock:
            if self._closed:
                raise StorageError("The chat history is closed; nothing more can be recorded.")
            if entry.seq > self._last_seq:
                self._last_seq = entry.seq
            self._pending.append(entry)
            if self._writer_idle:
                self._writer_idle = False
                self._wake.set()

    def flush(self, timeout: float = 5.0) -> None:
        """Block until everything recorded so far is committed."""
        with self._seq_lock:
            if self._closed:
                return
            done = threading.Event()
            self._flush_waiters.append(done)
            self._wake.set()
        if not done.wait(timeout):
            raise StorageError(f"The chat history was not written to {self.path} within {timeout:g} seconds.")
        self._raise_write_error()
        if self._failing:
            raise StorageError(f"The chat history at {self.path} is not being saved: the disk refuses it.")

    def recent_history(self, limit: int = 50) -> list[HistoryEntry]:
        """Return the last `limit` entries by seq, oldest first."""
        self.flush()
        rows = self._query(
            f"SELECT {_HISTORY_COLUMNS} FROM history ORDER BY seq DESC LIMIT ?",
            (max(limit, 0),),
        )
        return [HistoryEntry._make(row) for row in reversed(rows)]

    # -- files -------------------------------------------------------------

    def add_file(self, record: FileRecord) -> None:
        """Insert `record`, replacing any record with the same file name."""
        self._execute(
            f"INSERT OR REPLACE INTO files ({_FILE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
            astuple(record),
        )

    def get_file(self, filename: str) -> FileRecord | None:
        """Return the record for `filename`, or None."""
        rows = self._query(f"SELECT {_FILE_COLUMNS} FROM files WHERE filename = ?", (filename,))
        return FileRecord(*rows[0]) if rows else None

    def list_files(self) -> list[FileRecord]:
        """Return every file record, oldest first."""
        rows = self._query(f"SELECT {_FILE_COLUMNS} FROM files ORDER BY ts, rowid")
        return [FileRecord(*row) for row in rows]

    def remove_file(self, filename: str) -> None:
        """Forget `filename`; does nothing if it is not there."""
        self._execute("DELETE FROM files WHERE filename = ?", (filename,))

    # -- lifetime ----------------------------------------------------------

    def close(self) -> None:
        """Flush, stop the writer thread and close the database; safe to call twice.

        History the disk still refuses is lost (and told to `on_status`), never raised."""
        with self._seq_lock:
            if self._closed:
                return
            self._closed = True
            self._wake.set()
        self._writer.join()
        with self._db_lock:
            self._conn.close()
        self._write_error = None

    # -- internals ---------------------------------------------------------

    def _query(self, sql: str, params: tuple[object, ...] = ()) -> list[Any]:
        with self._db_lock:
            self._check_open()
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise StorageError(f"Cannot read the chat history at {self.path}: {exc}.") from exc

    def _execute(self, sql: str, params: tuple[object, ...]) -> None:
        with self._db_lock:
            self._check_open()
            try:
                with self._conn:
                    self._conn.execute(sql, params)
            except sqlite3.Error as exc:
                raise StorageError(f"Cannot write the chat history at {self.path}: {exc}.") from exc

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError("The chat history is closed.")

    def _raise_write_error(self) -> None:
        error, self._write_error = self._write_error, None
        if error is not None:
            raise StorageError(f"Cannot write the chat history at {self.path}: {error}.") from error

    def _run_writer(self) -> None:
        while True:
            self._wake.wait(self._retry_interval if self._unwritten else None)
            self._wake.clear()
            if not self._flush_waiters and not self._closed:
                # Let the batch grow, or while the disk refuses wait for the next try (not one per
                # message); flush() and close() cut this short.
                retry = self._next_try - time.monotonic()
                self._wake.wait(max(0.0, retry) if self._unwritten else self._flush_interval)
                self._wake.clear()
            with self._seq_lock:
                batch, self._pending = self._pending, []
                waiters, self._flush_waiters = self._flush_waiters, []
                stop = self._closed
                self._writer_idle = True
            self._write_all(self._unwritten + batch)
            if self._rows >= self.history_max + self._prune_slack and not self._unwritten:
                self._prune()
            if stop and self._unwritten:
                self._lost += len(self._unwritten)
                self._unwritten = []
                self._tell(
                    HistoryStatus(saving=False, reason="the host stopped before the disk took them", lost=self._lost)
                )
            for waiter in waiters:
                waiter.set()
            if stop:
                return

    def _write_all(self, batch: list[HistoryEntry]) -> None:
        """Write `batch` in transactions; what the disk refuses stays in _unwritten for the next try."""
        self._unwritten = []
        for start in range(0, len(batch), _MAX_BATCH):
            try:
                self._write_batch(batch[start : start + _MAX_BATCH])
            except sqlite3.OperationalError as exc:  # disk full, I/O error, locked: worth another try
                self._unwritten, self._next_try = batch[start:], time.monotonic() + self._retry_interval
                if len(self._unwritten) > self._unwritten_max:  # the oldest go first, as on disk
                    self._lost += len(self._unwritten) - self._unwritten_max
                    del self._unwritten[: -self._unwritten_max]
                if not self._failing:
                    self._failing = True
                    self._tell(HistoryStatus(saving=False, reason=str(exc)))
                return
            except Exception as exc:
                # A row sqlite3 cannot take (a bug of ours): retrying would never end.
                # The next flush() reports this to whoever can show it.
                self._write_error = exc
        if self._failing:
            self._failing = False
            lost, self._lost = self._lost, 0
            self._tell(HistoryStatus(saving=True, lost=lost))

    def _write_batch(self, rows: list[HistoryEntry]) -> None:
        with self._db_lock, self._conn:
            self._conn.executemany(_INSERT_HISTORY, rows)
        self._rows += len(rows)  # an upper bound: OR REPLACE may have replaced some

    def _tell(self, status: HistoryStatus) -> None:
        if self.on_status is not None:
            try:
                self.on_status(status)
            except Exception:  # the listener's bug must not stop the history being written
                pass

    def _prune(self) -> None:
        """Keep the newest `history_max` entries (on the writer thread, after a batch)."""
        try:
            with self._db_lock, self._conn:
                self._conn.execute(
                    "DELETE FROM history WHERE seq <= (SELECT seq FROM history ORDER BY seq DESC LIMIT 1 OFFSET ?)",
                    (self.history_max,),
                )
                self._rows = self._conn.execute("SELECT COUNT(*) FROM history").fetchone()[0]
        except Exception as exc:
            self._write_error = exc


def _open(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) the database at `path` and bring its schema up to date."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"Cannot open the chat history at {path}: {exc.strerror or exc}.") from exc
    conn: sqlite3.Connection | None = None
    try:
        conn = sqlite3.connect(path, check_same_thread=False, timeout=5.0)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StorageError(f"Cannot open the chat history at {path}: it was written by a newer version of mmchat.")
        if version < SCHEMA_VERSION:
            with conn:
                conn.executescript(_SCHEMA)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        # Read a table so that a damaged file fails here, not in the middle of a chat.
        conn.execute("SELECT COUNT(*) FROM history").fetchone()
    except sqlite3.Error as exc:
        if conn is not None:
            conn.close()
        raise StorageError(f"Cannot open the chat history at {path}: {exc}.") from exc
    except StorageError:
        if conn is not None:
            conn.close()
        raise
    return conn
