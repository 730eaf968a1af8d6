"""mmchat.host_partials: the host's shelf of partial uploads, on real files in a temporary folder."""

from __future__ import annotations

import time

import pytest

from mmchat import resume
from mmchat.host_partials import PartialShelf
from tests.test_resume import SHA_A, SHA_B, aged, make


def test_the_host_at_start_removes_every_part_without_a_sidecar_and_indexes_the_rest(tmp_path) -> None:
    crash = tmp_path / "x.part"
    crash.write_bytes(b"half")
    kept = make(tmp_path)
    stale = make(tmp_path, "old.bin", age=100)
    shelf = PartialShelf(tmp_path, keep=50)
    assert sorted(shelf.load(time.time())) == sorted([crash, stale.path])
    assert shelf.kept() == [kept]


def test_the_shelf_resumes_only_the_same_file_of_the_same_member_once_at_a_time(tmp_path) -> None:
    shelf = PartialShelf(tmp_path)
    mine = make(tmp_path, sha=SHA_A)
    theirs = make(tmp_path, owner="bob", sha=SHA_A)
    shelf.load(time.time())
    assert shelf.take("alice", "notes.pdf", 99, SHA_A) is None  # another size
    assert shelf.take("carol", "notes.pdf", 100, SHA_A) is None  # another member
    assert shelf.take("alice", "notes.pdf", 100, SHA_A) == mine
    assert shelf.take("alice", "notes.pdf", 100, SHA_A) is None  # in use: a second upload starts afresh
    shelf.release(mine)
    assert shelf.take("alice", "notes.pdf", 100, SHA_A) == mine
    assert theirs.path.exists()


@pytest.mark.parametrize("offered", [SHA_B, ""])
def test_another_sha256_or_none_offered_discards_the_kept_start(tmp_path, offered) -> None:
    shelf = PartialShelf(tmp_path)
    mine = make(tmp_path, sha=SHA_A)
    shelf.load(time.time())
    assert shelf.take("alice", "notes.pdf", 100, offered) is None
    assert not mine.path.exists() and not mine.sidecar.exists() and shelf.kept() == []


def test_a_partial_whose_sha256_was_not_known_takes_the_offered_one(tmp_path) -> None:
    shelf = PartialShelf(tmp_path)
    make(tmp_path, sha="")
    shelf.load(time.time())
    taken = shelf.take("alice", "notes.pdf", 100, SHA_B)
    assert taken is not None and taken.sha256 == SHA_B
    [saved] = resume.scan(tmp_path)
    assert saved.sha256 == SHA_B  # a host restart remembers it


def test_the_shelf_keeps_a_cut_upload_and_sweeps_it_later(tmp_path) -> None:
    shelf = PartialShelf(tmp_path, keep=60)
    partial = shelf.create("alice", "a.bin", 10, "", time.time())
    assert shelf.sweep(time.time() + 3600) == []  # in use
    shelf.keep_for_later(partial, time.time())
    assert shelf.sweep(time.time()) == []
    aged(partial.path, 120)
    assert shelf.sweep(time.time() + 120) == [partial.path]
    assert list(tmp_path.iterdir()) == []


def test_a_member_keeps_only_so_many_cut_uploads_the_oldest_go(tmp_path) -> None:
    shelf = PartialShelf(tmp_path, per_member=2)
    made = [shelf.create("alice", f"f{i}.bin", 10, "", time.time() + i) for i in range(3)]
    theirs = shelf.create("bob", "b.bin", 10, "", time.time())
    for i, partial in enumerate(made):
        shelf.keep_for_later(partial, time.time() + i)
    shelf.keep_for_later(theirs, time.time())
    assert sorted(p.filename for p in shelf.kept()) == ["b.bin", "f1.bin", "f2.bin"]
    assert not made[0].path.exists() and not made[0].sidecar.exists()
