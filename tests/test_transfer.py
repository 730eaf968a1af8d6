"""Tests for mmchat.transfer: file bodies over a socketpair, exact bytes, digests and failures."""

from __future__ import annotations

import errno
import hashlib
import io
import itertools
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mmchat import transfer
from mmchat.files import human_size
from mmchat.transfer import PROGRESS_STEP, RECV_CHUNK, TransferError, receive_file_body

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


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    sender, receiver = socket.socketpair()
    receiver.settimeout(10)
    yield sender, receiver
    sender.close()
    receiver.close()


def payload(size: int) -> bytes:
    return os.urandom(size)


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
    monkeypatch.setattr(transfer, "RECV_CHUNK", 7)
    monkeypatch.setattr(transfer, "WRITE_CHUNK", write_chunk)
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


def test_progress_reaches_the_end(pair: tuple[socket.socket, socket.socket]) -> None:
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
    peer = Peer(sender, payload(8 * MiB))
    out = io.BytesIO()
    calls = 0

    def cancelled() -> bool:
        nonlocal calls
        calls += 1
        return calls > 2

    with pytest.raises(TransferError, match=r"^The transfer was cancelled\.$"):
        receive_file_body(receiver, b"", out, 8 * MiB, cancelled=cancelled)
    receiver.close()  # unblocks the peer if it is still sending
    peer.join()
    assert 0 < len(out.getvalue()) < 8 * MiB
    assert threading.active_count() == threads_before


class FullDisk(io.BytesIO):
    """A file whose writes fail once `room` bytes are used, like a full disk."""

    def __init__(self, room: int) -> None:
        super().__init__()
        self.room = room

    def write(self, data: bytes | bytearray | memoryview, /) -> int:  # type: ignore[override]
        if self.tell() + len(data) > self.room:
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
