"""Tests for mmchat.transfer.receiving: file bodies over a socketpair, exact bytes, digests and failures."""

from __future__ import annotations

import errno
import hashlib
import io
import itertools
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from mmchat import transfer
from mmchat.files import human_size
from mmchat.transfer import PROGRESS_STEP, RECV_CHUNK, TransferError, receive_file_body, receiving
from tests.transfer_helpers import MiB, Peer, payload, wait_for

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    sender, receiver = socket.socketpair()
    receiver.settimeout(10)
    yield sender, receiver
    sender.close()
    receiver.close()


def receive(
    pair: tuple[socket.socket, socket.socket],
    data: bytes,
    first_len: int = 0,
    progress: transfer.Progress | None = None,
) -> tuple[str, bytes]:
    """Send data[first_len:] from a peer thread, pre-supply data[:first_len]; return (digest, written bytes)."""
    sender, receiver = pair
    peer = Peer(sender, data[first_len:])
    out = io.BytesIO()
    try:
        digest = receive_file_body(receiver, data[:first_len], out, len(data), progress)
    finally:
        receiver.close()
        peer.join()
    return digest, out.getvalue()


SIZES = [0, 1, 1000, RECV_CHUNK - 1, RECV_CHUNK, RECV_CHUNK + 1, 3 * RECV_CHUNK + 12345]


@pytest.mark.parametrize("size", SIZES)
def test_output_and_digest_are_exact(pair: tuple[socket.socket, socket.socket], size: int) -> None:
    data = payload(size)
    digest, written = receive(pair, data)
    assert written == data
    assert digest == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("write_chunk", [3, 7, 1 << 20])
@pytest.mark.parametrize("size", [0, 1, 6, 7, 8, 13, 14, 15, 100])
def test_tiny_buffer_boundaries(
    pair: tuple[socket.socket, socket.socket], monkeypatch: pytest.MonkeyPatch, size: int, write_chunk: int
) -> None:
    # A 7-byte buffer puts every size above on, just before or just after a boundary.
    monkeypatch.setattr(receiving, "RECV_CHUNK", 7)
    monkeypatch.setattr(receiving, "WRITE_CHUNK", write_chunk)
    data = payload(size)
    digest, written = receive(pair, data, first_len=min(size, 3))
    assert written == data
    assert digest == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("first_len", [1, 65536, RECV_CHUNK - 1, RECV_CHUNK, RECV_CHUNK + 1])
def test_first_bytes_are_part_of_the_file(pair: tuple[socket.socket, socket.socket], first_len: int) -> None:
    data = payload(2 * RECV_CHUNK + 5)
    digest, written = receive(pair, data, first_len=first_len)
    assert written == data
    assert digest == hashlib.sha256(data).hexdigest()


def test_first_bytes_beyond_the_size_are_ignored(pair: tuple[socket.socket, socket.socket]) -> None:
    _, receiver = pair
    out = io.BytesIO()
    digest = receive_file_body(receiver, b"hello, and the next frame", out, 5)
    assert out.getvalue() == b"hello"
    assert digest == hashlib.sha256(b"hello").hexdigest()


def test_bytes_after_the_body_stay_in_the_socket(pair: tuple[socket.socket, socket.socket]) -> None:
    sender, receiver = pair
    sender.sendall(b"body" + b"NEXT")
    out = io.BytesIO()
    receive_file_body(receiver, b"", out, 4)
    assert out.getvalue() == b"body"
    assert receiver.recv(100) == b"NEXT"


def test_progress_reaches_the_end(pair: tuple[socket.socket, socket.socket], monkeypatch) -> None:
    monkeypatch.setattr(receiving, "PROGRESS_INTERVAL", 3600.0)  # by bytes only, however slow this machine
    size = 5 * PROGRESS_STEP + 17
    reports: list[tuple[int, int]] = []
    receive(pair, payload(size), progress=lambda done, total: reports.append((done, total)))
    assert reports[-1] == (size, size)
    assert all(total == size for _, total in reports)
    done = [d for d, _ in reports]
    assert done == sorted(set(done))
    # At most one report per PROGRESS_STEP, plus the final one.
    assert len(reports) <= size // PROGRESS_STEP + 1
    assert all(b - a >= PROGRESS_STEP for a, b in itertools.pairwise(done[:-1]))


def test_progress_moves_on_a_slow_link_too(monkeypatch) -> None:
    """Far less than PROGRESS_STEP arrives, slowly: the bar still moves, about every PROGRESS_INTERVAL."""
    monkeypatch.setattr(receiving, "PROGRESS_INTERVAL", 0.05)
    sender, receiver = socket.socketpair()
    receiver.settimeout(10)
    pieces = [payload(1000) for _ in range(6)]

    def trickle() -> None:
        for piece in pieces:
            sender.sendall(piece)
            time.sleep(0.1)

    thread = threading.Thread(target=trickle)
    thread.start()
    reports: list[int] = []
    digest = receive_file_body(receiver, b"", io.BytesIO(), 6000, progress=lambda done, total: reports.append(done))
    thread.join()
    sender.close()
    receiver.close()
    assert digest == hashlib.sha256(b"".join(pieces)).hexdigest()
    assert len(reports) >= 4 and reports[0] < 6000 and reports[-1] == 6000
    assert reports == sorted(reports)


def test_progress_for_an_empty_file(pair: tuple[socket.socket, socket.socket]) -> None:
    reports: list[tuple[int, int]] = []
    receive(pair, b"", progress=lambda done, total: reports.append((done, total)))
    assert reports == [(0, 0)]


def test_peer_closing_early(pair: tuple[socket.socket, socket.socket]) -> None:
    threads_before = threading.active_count()
    sender, receiver = pair
    peer = Peer(sender, payload(RECV_CHUNK + 1000))
    with pytest.raises(TransferError) as info:
        receive_file_body(receiver, b"", io.BytesIO(), 2 * RECV_CHUNK)
    peer.join()
    expected = f"The connection closed after {human_size(RECV_CHUNK + 1000)} of {human_size(2 * RECV_CHUNK)}."
    assert str(info.value) == expected
    assert threading.active_count() == threads_before


def test_peer_that_stops_sending_times_out(pair: tuple[socket.socket, socket.socket]) -> None:
    sender, receiver = pair
    sender.sendall(b"x" * 1500)
    receiver.settimeout(0.2)
    with pytest.raises(TransferError, match=r"^The other side stopped sending after 1\.5 kB\.$"):
        receive_file_body(receiver, b"", io.BytesIO(), 10_000)


def test_cancelled_before_the_end(pair: tuple[socket.socket, socket.socket]) -> None:
    threads_before = threading.active_count()
    sender, receiver = pair
    peer = Peer(sender, payload(3 * RECV_CHUNK))
    out = io.BytesIO()

    def cancelled() -> bool:  # the user clicks Cancel once the first buffer is on disk
        return out.tell() > 0

    with pytest.raises(TransferError, match=r"^The transfer was cancelled\.$"):
        receive_file_body(receiver, b"", out, 3 * RECV_CHUNK, cancelled=cancelled)
    receiver.close()  # unblocks the peer if it is still sending
    peer.join()
    assert 0 < len(out.getvalue()) < 3 * RECV_CHUNK
    assert threading.active_count() == threads_before


class FullDisk(io.BytesIO):
    """A file whose writes fail once `room` bytes are used, like a full disk."""

    def __init__(self, room: int) -> None:
        super().__init__()
        self.room = room

    def write(self, data: ReadableBuffer, /) -> int:
        if self.tell() + memoryview(data).nbytes > self.room:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return super().write(data)


@pytest.mark.parametrize("room", [0, 100, RECV_CHUNK + 1])
def test_a_failing_write_is_a_transfer_error(pair: tuple[socket.socket, socket.socket], room: int) -> None:
    threads_before = threading.active_count()
    sender, receiver = pair
    peer = Peer(sender, payload(3 * RECV_CHUNK))
    with pytest.raises(TransferError) as info:
        receive_file_body(receiver, b"x" * 50, FullDisk(room), 3 * RECV_CHUNK + 50)
    receiver.close()
    peer.join()
    assert str(info.value) == "Could not save the file: No space left on device."
    assert isinstance(info.value.__cause__, OSError)
    assert threading.active_count() == threads_before


# --- send_file_body and receive_to_folder, end to end ---------------------------------


def test_send_file_body_to_receive_to_folder(tmp_path: Path) -> None:
    data = payload(2 * RECV_CHUNK + 3)
    source = tmp_path / "source.bin"
    source.write_bytes(data)
    folder = tmp_path / "in"
    folder.mkdir()
    sender, receiver = socket.socketpair()
    receiver.settimeout(10)
    sent: list[tuple[int, int]] = []

    def send() -> None:
        with open(source, "rb") as fileobj:
            transfer.send_file_body(sender, fileobj, len(data), progress=lambda d, t: sent.append((d, t)))

    thread = threading.Thread(target=send)
    thread.start()
    try:
        final = transfer.receive_to_folder(
            receiver, b"", folder, "copy.bin", len(data), hashlib.sha256(data).hexdigest()
        )
    finally:
        thread.join()
        sender.close()
        receiver.close()
    assert final == folder / "copy.bin"
    assert final.read_bytes() == data
    assert sent[-1] == (len(data), len(data))
    assert sorted(p.name for p in folder.iterdir()) == ["copy.bin"]


def test_receive_to_folder_discards_a_damaged_file(tmp_path: Path) -> None:
    sender, receiver = socket.socketpair()
    receiver.settimeout(10)
    sender.sendall(b"not what was announced")
    with pytest.raises(TransferError, match="arrived damaged"):
        transfer.receive_to_folder(receiver, b"", tmp_path, "a.txt", 22, "00" * 32)
    sender.close()
    receiver.close()
    assert list(tmp_path.iterdir()) == []


def test_the_expected_digest_may_arrive_after_the_bytes(tmp_path: Path) -> None:
    """An upload's SHA-256 follows its bytes: receive_to_folder asks for it once they are in."""
    data = payload(3 * MiB + 1)
    sender, receiver = socket.socketpair()
    receiver.settimeout(10)
    peer = Peer(sender, data)
    asked: list[int] = []

    def digest_now() -> str:
        asked.append(len(list(tmp_path.glob(".*.part"))))  # the body is still under its temporary name
        return hashlib.sha256(data).hexdigest()

    final = transfer.receive_to_folder(receiver, b"", tmp_path, "late.bin", len(data), digest_now)
    peer.join()
    receiver.close()
    assert asked == [1]
    assert final.read_bytes() == data


def test_a_late_digest_that_does_not_match_discards_the_file(tmp_path: Path) -> None:
    data = payload(100)
    sender, receiver = socket.socketpair()
    receiver.settimeout(10)
    peer = Peer(sender, data)
    with pytest.raises(TransferError, match="arrived damaged"):
        transfer.receive_to_folder(receiver, b"", tmp_path, "a.bin", len(data), lambda: "0" * 64)
    peer.join()
    receiver.close()
    assert list(tmp_path.iterdir()) == []


# --- writing: O_DIRECT where the file system allows it ---------------------------------


def receive_into_file(path: Path, data: bytes, first: int = 100) -> str:
    sender, receiver = socket.socketpair()
    receiver.settimeout(10)
    peer = Peer(sender, data[first:])
    try:
        with open(path, "wb") as out:
            return receive_file_body(receiver, data[:first], out, len(data))
    finally:
        receiver.close()  # unblocks the peer if the receiver gave up
        peer.join()


def test_whole_buffers_are_written_directly_and_the_tail_the_ordinary_way(tmp_path: Path, monkeypatch) -> None:
    calls: list[tuple[bool, bool]] = []
    real = receiving._set_direct

    def spy(fd: int, on: bool) -> bool:
        calls.append((on, real(fd, on)))
        return calls[-1][1]

    monkeypatch.setattr(receiving, "_set_direct", spy)
    data = payload(2 * RECV_CHUNK + 123)
    path = tmp_path / "f.bin"
    assert receive_into_file(path, data) == hashlib.sha256(data).hexdigest()
    assert path.read_bytes() == data
    if calls == [(True, False)]:
        pytest.skip(f"the file system under {tmp_path} has no O_DIRECT (the ordinary path worked)")
    assert calls == [(True, True), (False, True)]  # on for the whole buffers, off for the last 123 bytes


def test_without_o_direct_the_disk_writing_starts_early(tmp_path: Path, monkeypatch) -> None:
    """Through the page cache, writing to disk is started every WRITEBACK_STEP, so the final fsync is short."""
    direct: list[bool] = []
    monkeypatch.setattr(receiving, "_set_direct", lambda fd, on: direct.append(on) or False)  # a file system without
    ranges: list[tuple[int, int]] = []
    real = receiving._sync_file_range()
    if real is not None:

        def spy(fd: int, offset: int, length: int, flags: int) -> int:
            ranges.append((offset, length))
            return real(fd, offset, length, flags)

        monkeypatch.setattr(receiving, "_sync_file_range", lambda: spy)
    monkeypatch.setattr(receiving, "WRITEBACK_STEP", RECV_CHUNK)
    data = payload(3 * RECV_CHUNK + 7)
    path = tmp_path / "f.bin"
    assert receive_into_file(path, data) == hashlib.sha256(data).hexdigest()
    assert path.read_bytes() == data
    assert direct == [True]  # asked once, refused
    if real is not None:  # Linux
        assert ranges == [(0, RECV_CHUNK), (RECV_CHUNK, RECV_CHUNK), (2 * RECV_CHUNK, RECV_CHUNK)]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="sync_file_range is Linux's")
def test_early_write_back_is_found_on_linux() -> None:
    assert receiving._sync_file_range() is not None


@pytest.mark.parametrize("code", [errno.EINVAL, errno.EOPNOTSUPP], ids=["EINVAL", "EOPNOTSUPP"])
def test_a_file_system_that_takes_the_flag_but_not_the_writes_gets_ordinary_writes(tmp_path: Path, monkeypatch, code):
    import fcntl

    refused = 0

    def picky_write(fd: int, data) -> int:
        nonlocal refused
        if fcntl.fcntl(fd, fcntl.F_GETFL) & getattr(os, "O_DIRECT", 0):
            refused += 1
            raise OSError(code, os.strerror(code))
        return os.write(fd, data)

    monkeypatch.setattr(receiving, "_os_write", picky_write)
    data = payload(2 * RECV_CHUNK + 5)
    path = tmp_path / "f.bin"
    assert receive_into_file(path, data) == hashlib.sha256(data).hexdigest()
    assert path.read_bytes() == data
    if not refused:
        pytest.skip(f"the file system under {tmp_path} has no O_DIRECT (the ordinary path worked)")
    assert refused == 1  # once refused, the writer stays on the ordinary path


def test_a_disk_error_on_a_real_file_is_a_transfer_error(tmp_path: Path, monkeypatch) -> None:
    threads_before = threading.active_count()
    written = 0

    def full_disk(fd: int, data) -> int:
        nonlocal written
        if written:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        written = os.write(fd, data)
        return written

    monkeypatch.setattr(receiving, "_os_write", full_disk)
    with pytest.raises(TransferError, match=r"^Could not save the file: No space left on device\.$"):
        receive_into_file(tmp_path / "f.bin", payload(4 * RECV_CHUNK))
    assert threading.active_count() == threads_before


# --- buffers only while bytes flow ------------------------------------------------------------


class Pipelines:
    """Every _Pipeline made while the test runs, so a test can look at how many buffers one holds."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.made: list[receiving._Pipeline] = []
        made = self.made

        class Recorded(receiving._Pipeline):
            def __init__(self, out) -> None:
                super().__init__(out)
                made.append(self)

        monkeypatch.setattr(receiving, "_Pipeline", Recorded)

    def buffers(self) -> int:
        return sum(p.buffers for p in self.made)


def pipeline_threads() -> int:
    return sum(t.name in ("mmchat-sha256", "mmchat-write") for t in threading.enumerate())


def test_no_big_buffer_and_no_thread_before_the_first_byte(monkeypatch) -> None:
    pipelines = Pipelines(monkeypatch)
    sender, receiver = socket.socketpair()
    receiver.settimeout(10)
    data = payload(2 * RECV_CHUNK + 5)
    result: list[str] = []
    thread = threading.Thread(target=lambda: result.append(receive_file_body(receiver, b"", io.BytesIO(), len(data))))
    threads_before = pipeline_threads()
    thread.start()
    try:
        assert wait_for(lambda: len(pipelines.made) == 1)
        time.sleep(0.2)  # the receiver waits in its first recv
        assert pipelines.buffers() == 0 and pipeline_threads() == threads_before
        sender.sendall(data)
        thread.join(10)
    finally:
        sender.close()
        receiver.close()
    assert result == [hashlib.sha256(data).hexdigest()]


def test_a_pause_lets_the_buffers_go_and_the_file_is_still_exact(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(receiving, "PAUSE_RELEASE", 0.2)
    pipelines = Pipelines(monkeypatch)
    sender, receiver = socket.socketpair()
    receiver.settimeout(10)
    data = payload(5 * RECV_CHUNK + 777)
    cut = 2 * RECV_CHUNK + 12345  # the pause comes in the middle of a buffer
    held_in_pause: list[int] = []

    def send() -> None:
        sender.sendall(data[:cut])
        time.sleep(0.3)  # past PAUSE_RELEASE: the receiver writes what came and lets its buffers go
        wait_for(lambda: pipelines.buffers() == 0, 5)
        held_in_pause.append(pipelines.buffers())
        sender.sendall(data[cut:])

    thread = threading.Thread(target=send)
    thread.start()
    try:
        with open(tmp_path / "file.bin", "wb") as out:  # a real file: direct writes, then ordinary ones
            digest = receive_file_body(receiver, b"", out, len(data))
        thread.join(10)
    finally:
        sender.close()
        receiver.close()
    assert held_in_pause == [0]
    assert digest == hashlib.sha256(data).hexdigest()
    assert (tmp_path / "file.bin").read_bytes() == data
    assert pipelines.buffers() == 0  # and none is left after the end


def test_a_pause_counts_towards_the_stall(monkeypatch) -> None:
    """PAUSE_RELEASE of the socket's time-out goes into the pause, the rest into the small recv: not both."""
    monkeypatch.setattr(receiving, "PAUSE_RELEASE", 0.3)
    sender, receiver = socket.socketpair()
    sender.sendall(b"x" * 1500)
    receiver.settimeout(0.8)
    started = time.monotonic()
    with pytest.raises(transfer.TransferStalled, match=r"^The other side stopped sending after 1\.5 kB\.$"):
        receive_file_body(receiver, b"", io.BytesIO(), 10_000)
    waited = time.monotonic() - started
    assert waited >= 0.75  # never before the stall (and well before pause + stall on an idle machine)
    assert receiver.gettimeout() == 0.8  # the caller's time-out is back, for the frames that follow
    sender.close()
    receiver.close()
