"""Tests for mmchat.storage: history batching, file records, restarts."""

from __future__ import annotations

import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from mmchat.storage import FileRecord, HistoryEntry, HistoryStatus, Storage, StorageError


def message(seq: int, member: str = "ana", text: str | None = None) -> HistoryEntry:
    return HistoryEntry(
        seq=seq,
        ts=1000.0 + seq,
        kind="message",
        member=member,
        text=text or f"hello {seq}",
    )


def file_record(name: str, ts: float = 1.0) -> FileRecord:
    return FileRecord(filename=name, size=42, sha256="ab" * 32, owner="ana", ts=ts, mtime_ns=123)


@pytest.fixture
def storage(tmp_path: Path):
    store = Storage(tmp_path / "data")
    yield store
    store.close()


def test_creates_data_dir_and_database(tmp_path: Path) -> None:
    with Storage(tmp_path / "a" / "b") as store:
        assert store.path == tmp_path / "a" / "b" / "mmchat.db"
        assert store.path.exists()
    conn = sqlite3.connect(tmp_path / "a" / "b" / "mmchat.db")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_empty_history(storage: Storage) -> None:
    assert storage.last_seq() == 0
    assert storage.recent_history() == []


def test_recent_history_is_last_50_oldest_first(storage: Storage) -> None:
    for seq in range(1, 121):
        storage.record(message(seq))
    storage.flush()
    history = storage.recent_history()
    assert [entry.seq for entry in history] == list(range(71, 121))
    assert history[0] == message(71)
    assert [e.seq for e in storage.recent_history(limit=3)] == [118, 119, 120]
    assert storage.recent_history(limit=0) == []


def test_recent_history_sees_unflushed_records(storage: Storage) -> None:
    storage.record(message(1))
    assert storage.recent_history() == [message(1)]


def test_notices_keep_all_fields(storage: Storage) -> None:
    share = HistoryEntry(seq=1, ts=5.5, kind="share", member="bo", filename="a.pdf", size=99)
    join = HistoryEntry(seq=2, ts=6.0, kind="join", member="cy")
    storage.record(share)
    storage.record(join)
    assert storage.recent_history() == [share, join]


def test_last_seq_includes_queued_entries(tmp_path: Path) -> None:
    # A long flush interval keeps entries in the writer's hands for a while.
    with Storage(tmp_path, flush_interval=10.0) as store:
        store.record(message(1))
        store.record(message(7))
        store.record(message(3))
        assert store.last_seq() == 7
        store.flush()
        assert store.last_seq() == 7


def test_record_does_not_wait_for_the_disk(tmp_path: Path) -> None:
    with Storage(tmp_path, flush_interval=10.0) as store:
        started = time.monotonic()
        for seq in range(1, 1001):
            store.record(message(seq))
        assert time.monotonic() - started < 1.0
        store.flush()
        assert len(store.recent_history(limit=2000)) == 1000


def test_history_and_files_survive_a_restart(tmp_path: Path) -> None:
    store = Storage(tmp_path)
    for seq in range(1, 11):
        store.record(message(seq))
    store.add_file(file_record("a.pdf"))
    store.close()

    store = Storage(tmp_path)
    try:
        assert store.last_seq() == 10
        assert [e.seq for e in store.recent_history()] == list(range(1, 11))
        assert store.get_file("a.pdf") == file_record("a.pdf")
    finally:
        store.close()


def test_close_commits_queued_entries(tmp_path: Path) -> None:
    store = Storage(tmp_path, flush_interval=10.0)
    store.record(message(1))
    store.close()
    with Storage(tmp_path) as again:
        assert again.recent_history() == [message(1)]


def test_many_threads_all_land(storage: Storage) -> None:
    threads_count, per_thread = 8, 250

    def worker(index: int) -> None:
        for i in range(per_thread):
            storage.record(message(index * per_thread + i + 1, member=f"m{index}"))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    total = threads_count * per_thread
    assert storage.last_seq() == total
    history = storage.recent_history(limit=total + 10)
    assert [e.seq for e in history] == list(range(1, total + 1))


def test_readers_and_writers_in_parallel(storage: Storage) -> None:
    def writer(index: int) -> None:
        for i in range(50):
            storage.record(message(index * 100 + i + 1))
            storage.add_file(file_record(f"f{index}-{i}"))

    def reader(_: int) -> None:
        for _ in range(20):
            storage.recent_history()
            storage.list_files()

    with ThreadPoolExecutor(max_workers=6) as pool:
        futures = [pool.submit(writer, i) for i in range(4)]
        futures += [pool.submit(reader, i) for i in range(2)]
        for future in futures:
            future.result()  # re-raises a worker's exception here
    assert len(storage.recent_history(limit=1000)) == 200
    assert len(storage.list_files()) == 200


def test_add_get_list_remove_files(storage: Storage) -> None:
    assert storage.get_file("a.pdf") is None
    assert storage.list_files() == []
    storage.add_file(file_record("b.png", ts=2.0))
    storage.add_file(file_record("a.pdf", ts=1.0))
    storage.add_file(file_record("c.txt", ts=3.0))
    assert [r.filename for r in storage.list_files()] == ["a.pdf", "b.png", "c.txt"]
    assert storage.get_file("b.png") == file_record("b.png", ts=2.0)

    replaced = FileRecord("b.png", 7, "cd" * 32, "bo", 4.0, 999)
    storage.add_file(replaced)
    assert storage.get_file("b.png") == replaced
    assert [r.filename for r in storage.list_files()] == ["a.pdf", "c.txt", "b.png"]

    storage.remove_file("a.pdf")
    storage.remove_file("not-there")
    assert storage.get_file("a.pdf") is None
    assert [r.filename for r in storage.list_files()] == ["c.txt", "b.png"]


def test_garbage_file_raises_storage_error(tmp_path: Path) -> None:
    (tmp_path / "mmchat.db").write_bytes(b"this is not a database, " * 200)
    with pytest.raises(StorageError) as info:
        Storage(tmp_path)
    message_text = str(info.value)
    assert message_text.startswith(f"Cannot open the chat history at {tmp_path / 'mmchat.db'}: ")
    assert message_text.endswith(".")


def test_newer_schema_raises_storage_error(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "mmchat.db")
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(StorageError, match="newer version of mmchat"):
        Storage(tmp_path)


def test_close_is_idempotent(tmp_path: Path) -> None:
    store = Storage(tmp_path)
    store.record(message(1))
    store.close()
    store.close()
    assert not store._writer.is_alive()
    store.flush()  # nothing to do once closed
    with pytest.raises(StorageError):
        store.record(message(2))
    with pytest.raises(StorageError):
        store.list_files()


def test_a_failed_write_is_reported_and_the_writer_survives(storage: Storage) -> None:
    storage.record(HistoryEntry(seq=1, ts=1.0, kind="share", member="a", size=2**70))
    with pytest.raises(StorageError, match="Cannot write the chat history"):
        storage.flush()
    storage.record(message(2))
    assert storage.recent_history() == [message(2)]


def rows_on_disk(path: Path, member: str | None = None) -> int:
    """Count history rows through a second connection, as another process would see them."""
    conn = sqlite3.connect(path)
    try:
        if member is None:
            return conn.execute("SELECT COUNT(*) FROM history").fetchone()[0]
        return conn.execute("SELECT COUNT(*) FROM history WHERE member = ?", (member,)).fetchone()[0]
    finally:
        conn.close()


def wait_for_rows(path: Path, count: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while rows_on_disk(path) < count:
        assert time.monotonic() < deadline, f"{count} rows never reached the disk"
        time.sleep(0.01)


def test_the_writer_commits_without_being_asked(tmp_path: Path) -> None:
    # No flush(): record() alone must wake the writer, every time it has gone idle.
    with Storage(tmp_path, flush_interval=0.02) as store:
        store.record(message(1))
        wait_for_rows(store.path, 1)
        store.record(message(2))
        wait_for_rows(store.path, 2)
        for seq in range(3, 503):
            store.record(message(seq))
        wait_for_rows(store.path, 502)


def test_flush_and_close_do_not_wait_for_the_interval(tmp_path: Path) -> None:
    store = Storage(tmp_path, flush_interval=60.0)
    store.record(message(1))
    started = time.monotonic()
    store.flush()
    assert rows_on_disk(store.path) == 1
    store.record(message(2))
    store.close()
    assert time.monotonic() - started < 2.0
    assert rows_on_disk(store.path) == 2


def test_flush_covers_everything_recorded_before_it_in_every_thread(storage: Storage) -> None:
    def worker(index: int) -> None:
        member = f"m{index}"
        for i in range(300):
            storage.record(message(index * 1000 + i + 1, member=member))
            if i % 50 == 49:
                storage.flush()
                assert rows_on_disk(storage.path, member) == i + 1

    with ThreadPoolExecutor(max_workers=4) as pool:
        for future in [pool.submit(worker, i) for i in range(4)]:
            future.result()


def test_a_big_burst_is_written_in_several_transactions(storage: Storage) -> None:
    for seq in range(1, 5001):
        storage.record(message(seq))
    storage.flush()
    assert rows_on_disk(storage.path) == 5000
    assert storage.recent_history(limit=1) == [message(5000)]


def test_record_refuses_what_is_not_a_history_entry(storage: Storage) -> None:
    with pytest.raises(TypeError):
        storage.record((1, 1.0, "message", "ana", "hi", "", 0))  # type: ignore[arg-type]


def test_the_history_on_disk_is_bounded_and_the_oldest_go_first(tmp_path: Path) -> None:
    store = Storage(tmp_path / "data", history_max=100)
    for seq in range(1, 1001):
        store.record(message(seq))
        if seq % 250 == 0:
            store.flush()  # several batches, as in a long chat
    store.flush()
    kept = rows_on_disk(store.path)
    assert 100 <= kept <= 100 + 10  # pruned in batches: at most a tenth over the bound
    assert [e.seq for e in store.recent_history(3)] == [998, 999, 1000]
    with sqlite3.connect(store.path) as db:
        oldest = db.execute("SELECT MIN(seq) FROM history").fetchone()[0]
    assert oldest > 1000 - 110
    store.close()
    reopened = Storage(tmp_path / "data", history_max=50)  # a smaller bound on a restart applies too
    for seq in range(1001, 1011):
        reopened.record(message(seq))
    reopened.flush()
    assert 50 <= rows_on_disk(reopened.path) <= 55
    assert reopened.last_seq() == 1010
    reopened.close()


class FullDisk:
    """Stands in for the storage's sqlite3 connection: history writes fail while `full`, as on a full disk."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn, self.full, self.tries = conn, True, 0

    def executemany(self, sql: str, rows: Any) -> sqlite3.Cursor:
        if self.full:
            self.tries += 1
            raise sqlite3.OperationalError("database or disk is full")
        return self.conn.executemany(sql, rows)

    def __getattr__(self, name: str) -> object:
        return getattr(self.conn, name)

    def __enter__(self) -> sqlite3.Connection:
        return self.conn.__enter__()

    def __exit__(self, *exc: Any) -> Any:
        return self.conn.__exit__(*exc)


def wait_for(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition never came true"
        time.sleep(0.01)


def full_storage(tmp_path: Path, statuses: list[HistoryStatus], **kwargs: int) -> tuple[Storage, FullDisk]:
    store = Storage(tmp_path, flush_interval=0.01, retry_interval=0.05, on_status=statuses.append, **kwargs)
    disk = FullDisk(store._conn)
    vars(store)["_conn"] = disk  # the writer and readers go through it from now on
    return store, disk


def test_history_the_full_disk_refuses_is_told_once_kept_and_written_when_there_is_room(tmp_path: Path) -> None:
    statuses: list[HistoryStatus] = []
    store, disk = full_storage(tmp_path, statuses)
    store.record(message(1))
    wait_for(lambda: statuses)
    assert statuses == [HistoryStatus(saving=False, reason="database or disk is full")]
    for seq in range(2, 6):  # chat goes on; nobody is told twice
        store.record(message(seq))
    with pytest.raises(StorageError, match="not being saved"):
        store.flush()
    wait_for(lambda: disk.tries >= 4)  # it keeps trying, about every retry_interval
    assert len(statuses) == 1 and rows_on_disk(store.path) == 0
    disk.full = False
    wait_for(lambda: len(statuses) == 2)
    assert statuses[1] == HistoryStatus(saving=True, lost=0)
    assert [e.seq for e in store.recent_history()] == [1, 2, 3, 4, 5]
    store.close()


def test_while_the_disk_is_full_memory_is_bounded_and_the_loss_is_told(tmp_path: Path) -> None:
    statuses: list[HistoryStatus] = []
    store, disk = full_storage(tmp_path, statuses, unwritten_max=2)
    for seq in range(1, 6):
        store.record(message(seq))
    wait_for(lambda: statuses)
    with pytest.raises(StorageError):
        store.flush()  # all five have reached the writer
    disk.full = False
    wait_for(lambda: len(statuses) == 2)
    assert statuses[1] == HistoryStatus(saving=True, lost=3)
    assert [e.seq for e in store.recent_history()] == [4, 5]  # the oldest went first
    store.close()


def test_close_while_the_disk_is_full_does_not_raise_and_tells_what_was_lost(tmp_path: Path) -> None:
    statuses: list[HistoryStatus] = []
    store, _disk = full_storage(tmp_path, statuses)
    store.record(message(1))
    store.record(message(2))
    wait_for(lambda: statuses)
    store.close()  # no exception: the host stops cleanly
    assert not store._writer.is_alive()
    assert statuses[-1].saving is False and statuses[-1].lost == 2
