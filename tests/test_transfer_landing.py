"""mmchat.transfer.landing: a file received into a partial one, kept or removed as the failure asks."""

from __future__ import annotations

import hashlib
import os
import socket
from pathlib import Path

import pytest

from mmchat import files, resume
from mmchat.transfer import TransferDamaged, TransferError, receive_to_folder
from tests.transfer_helpers import Peer


def test_a_resumed_file_keeps_its_start_receives_the_rest_and_checks_the_whole(tmp_path: Path) -> None:
    data = os.urandom(300_000)
    part = files.temp_path(tmp_path, "a.bin")
    part.write_bytes(data[:100_000] + b"bytes past what was counted")  # cut in the middle of a write
    receiver, sender = socket.socketpair()
    peer = Peer(sender, data[100_000:])
    reports: list[int] = []
    final = receive_to_folder(
        receiver, b"", tmp_path, "a.bin", len(data), hashlib.sha256(data).hexdigest(), partial=part,
        offset=100_000, prefix=resume.sha256_prefix(part, 100_000), progress=lambda done, total: reports.append(done),
    )  # fmt: skip
    peer.join()
    receiver.close()
    assert final.read_bytes() == data and not part.exists()
    assert reports[0] > 100_000 and reports[-1] == len(data)  # progress counts what was there already


@pytest.mark.parametrize("keep", [True, False])
def test_a_cut_transfer_keeps_what_arrived_only_when_asked(tmp_path: Path, keep: bool) -> None:
    data = os.urandom(200_000)
    receiver, sender = socket.socketpair()
    peer = Peer(sender, data[:50_000])  # then the connection closes
    part = files.temp_path(tmp_path, "a.bin")
    with pytest.raises(TransferError) as failed:
        receive_to_folder(receiver, b"", tmp_path, "a.bin", len(data), "0" * 64, partial=part, keep=lambda: keep)
    peer.join()
    receiver.close()
    assert not isinstance(failed.value, TransferDamaged)
    assert str(failed.value) == "The connection closed after 50.0 kB of 200.0 kB."
    assert (part.read_bytes() == data[:50_000]) if keep else not part.exists()
    assert not (tmp_path / "a.bin").exists()


def test_a_damaged_file_is_removed_even_when_a_resume_was_wanted(tmp_path: Path) -> None:
    data = os.urandom(10_000)
    receiver, sender = socket.socketpair()
    peer = Peer(sender, data)
    part = files.temp_path(tmp_path, "a.bin")
    with pytest.raises(TransferDamaged):
        receive_to_folder(receiver, b"", tmp_path, "a.bin", len(data), "0" * 64, partial=part, keep=lambda: True)
    peer.join()
    receiver.close()
    assert list(tmp_path.iterdir()) == []
