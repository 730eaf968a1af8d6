"""mmchat.resume: partial files, their sidecars, the host's shelf and the member's memory of unfinished uploads."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import pytest

from mmchat import resume
from mmchat.resume import UploadMemory

SHA_A = "a" * 64
SHA_B = "b" * 64


def aged(path: Path, seconds: float) -> Path:
    then = time.time() - seconds
    os.utime(path, (then, then))
    return path


def make(folder: Path, name: str = "notes.pdf", size: int = 100, sha: str = "", owner: str = "alice",
         data: bytes = b"half", age: float = 0.0) -> resume.Partial:  # fmt: skip
    partial = resume.new_partial(folder, name, size, sha, owner, time.time() - age)
    partial.path.write_bytes(data)
    if age:
        aged(partial.path, age)
    return partial


def test_a_partial_and_its_sidecar_are_hidden_and_found_again(tmp_path) -> None:
    partial = make(tmp_path, sha=SHA_A)
    assert partial.path.name.startswith(".notes.pdf.") and partial.path.name.endswith(".part")
    assert partial.sidecar.name == partial.path.name.removesuffix(".part") + ".resume"
    [found] = resume.scan(tmp_path)
    assert found == partial and found.length() == 4


def test_the_sidecar_of_the_longest_name_stays_within_255_bytes(tmp_path) -> None:
    partial = make(tmp_path, name="日" * 85)  # 255 bytes of name
    assert len(partial.sidecar.name.encode()) <= 255 and len(partial.path.name.encode()) <= 255


@pytest.mark.parametrize(
    "record",
    [
        "not json",
        json.dumps([1, 2]),
        json.dumps(
            {"path": "../../.x.0123456789ab.part", "filename": "x", "size": 1, "sha256": "", "owner": "", "ts": 0}
        ),
        json.dumps({"path": ".x.0123456789ab.part", "filename": "a/b", "size": 1, "sha256": "", "owner": "", "ts": 0}),
        json.dumps({"path": ".x.0123456789ab.part", "filename": "x", "size": -1, "sha256": "", "owner": "", "ts": 0}),
        json.dumps({"path": ".x.0123456789ab.part", "filename": "x", "size": 1, "sha256": "XYZ", "owner": "", "ts": 0}),
        json.dumps({"path": ".x.0123456789ab.part", "filename": "x", "size": True, "sha256": "", "owner": "", "ts": 0}),
    ],
)
def test_a_damaged_or_hostile_sidecar_describes_nothing_and_is_swept(tmp_path, record) -> None:
    (tmp_path / ".x.0123456789ab.part").write_bytes(b"x")
    sidecar = aged_sidecar = tmp_path / ".x.0123456789ab.resume"
    sidecar.write_text(record)
    aged(aged_sidecar, 60)
    assert resume.scan(tmp_path) == []
    resume.sweep(tmp_path, keep=3600, now=time.time())
    assert not sidecar.exists()


def test_sweep_removes_what_nobody_resumed_in_time_and_keeps_the_rest(tmp_path) -> None:
    stale = make(tmp_path, "old.bin", age=7200)
    fresh = make(tmp_path, "new.bin")
    busy = make(tmp_path, "busy.bin", age=7200)
    orphan = tmp_path / ".lost.bin.0123456789ab.part"  # a member killed mid-download, before sidecars
    orphan.write_bytes(b"x")
    aged(orphan, 7200)
    young_orphan = tmp_path / ".young.bin.0123456789ab.part"
    young_orphan.write_bytes(b"x")
    theirs = tmp_path / "notes.part"
    theirs.write_bytes(b"x")
    aged(theirs, 7200)
    removed = resume.sweep(tmp_path, keep=3600, now=time.time(), busy=frozenset({busy.path}))
    assert sorted(removed) == sorted([stale.path, orphan])
    assert not stale.sidecar.exists() and fresh.path.exists() and busy.path.exists() and young_orphan.exists()
    assert theirs.exists()  # not named as ours are


def test_a_partial_still_written_to_is_not_stale_whatever_its_record_says(tmp_path) -> None:
    partial = make(tmp_path, age=7200)
    os.utime(partial.path)  # bytes arrived just now
    assert resume.sweep(tmp_path, keep=3600, now=time.time()) == []


def test_sha256_prefix_hashes_the_start_and_goes_on(tmp_path) -> None:
    data = os.urandom(3 << 20)
    (tmp_path / "f").write_bytes(data)
    prefix = resume.sha256_prefix(tmp_path / "f", 1 << 20, chunk=4096)
    prefix.update(data[1 << 20 :])
    assert prefix.hexdigest() == hashlib.sha256(data).hexdigest()
    with pytest.raises(OSError):
        resume.sha256_prefix(tmp_path / "f", len(data) + 1)


def test_the_upload_memory_knows_the_same_file_only(tmp_path) -> None:
    memory = UploadMemory(tmp_path / "cfg" / "uploads.json")
    path = tmp_path / "notes.pdf"
    memory.remember(path, 100, 5, SHA_A, time.time())
    assert memory.recall(path, 100, 5).sha256 == SHA_A
    assert memory.recall(path, 100, 6) is None  # modified since
    assert memory.recall(path, 101, 5) is None
    memory.forget(path)
    assert memory.recall(path, 100, 5) is None
    assert not (tmp_path / "cfg" / "uploads.json").exists()  # nothing unfinished: no file left behind


def test_the_upload_memory_is_bounded_and_survives_a_damaged_file(tmp_path) -> None:
    where = tmp_path / "uploads.json"
    memory = UploadMemory(where)
    where.write_text("{not json")
    assert memory.recall(tmp_path / "x", 1, 1) is None
    now = time.time()
    for i in range(resume.UPLOADS_REMEMBERED + 5):
        memory.remember(tmp_path / f"f{i}", 1, 1, "", now + i)
    assert len(json.loads(where.read_text())) == resume.UPLOADS_REMEMBERED
    assert memory.recall(tmp_path / "f0", 1, 1) is None  # the oldest went first
    memory.remember(tmp_path / "new", 1, 1, "", now + resume.KEEP_PARTIAL * 2)
    assert json.loads(where.read_text()) == [
        {"path": str(tmp_path / "new"), "size": 1, "mtime_ns": 1, "sha256": "", "ts": now + resume.KEEP_PARTIAL * 2}
    ]  # a host keeps a partial a day: older records are of no use


def test_the_upload_memory_lives_in_the_config_folder(private_config_dir) -> None:
    memory = UploadMemory()
    memory.remember(Path("/x/y.bin"), 1, 2, "", time.time())
    assert (private_config_dir / "uploads.json").is_file()


def test_find_download_claims_the_latest_try_and_drops_older_ones(tmp_path) -> None:
    older = make(tmp_path, "movie.bin", owner="", age=50)
    latest = make(tmp_path, "movie.bin", owner="")
    make(tmp_path, "other.bin", owner="")
    found = resume.find_download(tmp_path, "movie.bin")
    try:
        assert found == latest and not older.path.exists()
        assert resume.find_download(tmp_path, "movie.bin") is None  # claimed by the first
    finally:
        resume.unclaim(latest)
    assert resume.find_download(tmp_path, "movie.bin") == latest
    resume.unclaim(latest)
