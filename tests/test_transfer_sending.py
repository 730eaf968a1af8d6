"""Tests for mmchat.transfer.sending: sendfile in chunks, and the SHA-256 read beside it."""

from __future__ import annotations

import hashlib
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mmchat import transfer
from mmchat.transfer import TransferError, send_file_body, sending
from tests.transfer_helpers import payload

# --- FileHasher: the sender's SHA-256, beside sendfile ---------------------------------


@pytest.mark.parametrize("size", [0, 1, transfer.HASH_CHUNK, 2 * transfer.HASH_CHUNK + 5])
def test_file_hasher_hashes_exactly_the_first_size_bytes(tmp_path: Path, size: int) -> None:
    data = payload(size + 1000)  # the file is longer: only `size` bytes are sent, and hashed
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    with open(path, "rb") as fileobj:
        hasher = transfer.FileHasher(fileobj, size)
        assert hasher.hexdigest() == hashlib.sha256(data[:size]).hexdigest()


def test_file_hasher_notices_a_file_that_got_shorter(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(payload(1000))
    with open(path, "rb") as fileobj:
        hasher = transfer.FileHasher(fileobj, 5000)  # the size taken before the file was cut
        with pytest.raises(TransferError, match="got shorter"):
            hasher.hexdigest()


def test_file_hasher_stops_when_closed(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(payload(4 * transfer.HASH_CHUNK))
    threads_before = threading.active_count()
    with open(path, "rb") as fileobj:
        transfer.FileHasher(fileobj, 4 * transfer.HASH_CHUNK).close()
    assert threading.active_count() == threads_before


@pytest.mark.parametrize("preadv", [True, False], ids=["preadv", "no preadv (Windows): a second handle"])
def test_file_hasher_leaves_the_senders_position_alone(tmp_path: Path, monkeypatch, preadv: bool) -> None:
    """sendfile's fallback reads at the file's position: the hasher must never move it."""
    if not preadv:
        monkeypatch.delattr(os, "preadv", raising=False)
    data = payload(2 * transfer.HASH_CHUNK + 11)
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    with open(path, "rb") as fileobj:
        fileobj.seek(5)
        assert transfer.FileHasher(fileobj, len(data)).hexdigest() == hashlib.sha256(data).hexdigest()
        assert fileobj.tell() == 5


# --- send_file_body: the bytes from offset to size, by sendfile ---------------------------------


def send_and_collect(path: Path, size: int, offset: int = 0, **kwargs) -> tuple[bytes, list[tuple[int, int]]]:
    """Send `path` with send_file_body over a socketpair; return what arrived, and the progress calls."""
    sender, receiver = socket.socketpair()
    receiver.settimeout(10)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.extend(iter_recv(receiver)), daemon=True)
    reader.start()
    calls: list[tuple[int, int]] = []
    try:
        with open(path, "rb") as fileobj:
            send_file_body(sender, fileobj, size, offset, progress=lambda d, t: calls.append((d, t)), **kwargs)
    finally:
        sender.close()
        reader.join(timeout=10)
        receiver.close()
    assert not reader.is_alive()
    return b"".join(got), calls


def iter_recv(sock: socket.socket) -> Iterator[bytes]:
    while data := sock.recv(1 << 16):
        yield data


def test_send_file_body_sends_from_the_offset_to_the_size(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(sending, "SEND_CHUNK", 1000)
    data = payload(3500)
    path = tmp_path / "f.bin"
    path.write_bytes(data + b"beyond the announced size")
    got, calls = send_and_collect(path, len(data), offset=700)
    assert got == data[700:]
    assert calls == [(1700, 3500), (2700, 3500), (3500, 3500)]  # one report per chunk, from the offset


def test_send_file_body_stops_when_cancelled(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(sending, "SEND_CHUNK", 1000)
    path = tmp_path / "f.bin"
    path.write_bytes(payload(5000))
    asked: list[int] = []

    def cancelled() -> bool:
        asked.append(1)
        return len(asked) > 2

    with pytest.raises(TransferError, match=r"^The transfer was cancelled\.$"):
        send_and_collect(path, 5000, cancelled=cancelled)


def test_send_file_body_notices_a_file_that_got_shorter(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(payload(100))
    with pytest.raises(TransferError, match=r"^The file got shorter while it was being sent\.$"):
        send_and_collect(path, 5000)  # the size was taken before the file was cut
