"""Tests for mmchat.files: hostile names, collisions, never overwriting."""

from __future__ import annotations

import errno
import hashlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from mmchat import files
from mmchat.files import (
    BadFileName,
    check_filename,
    has_room_for,
    human_size,
    place_file,
    sha256_file,
    temp_path,
    unique_path,
)

HOSTILE_NAMES = [
    "../../etc/passwd",
    "/etc/passwd",
    "C:\\x",
    "a\\b",
    "a/b",
    "..",
    ".",
    "...",
    "",
    " ",
    ". .",
    "a\x00b",
    "a\nb",
    "a\tb",
    "bell\x07",
    "del\x7f",
    " lead",
    "trail ",
    "trail\t",
    "CON",
    "con.txt",
    "Nul.tar.gz",
    "LPT1",
    "com9.log",
    "aux",
    ".mmchat",
    ".MMCHAT",
    "x" * 256,
    "é" * 128,  # 128 characters but 256 UTF-8 bytes
    "\udcff",
    "ok\udcffname.txt",
    "x:y",
    "C:x",
    "file.txt:stream",
]

GOOD_NAMES = [
    "🎉 party.png",
    "résumé.pdf",
    ".bashrc",
    "a b.txt",
    "日本語.txt",
    "notes",
    "archive.tar.gz",
    "x" * 255,
    "CONSOLE.txt",
    "com10.txt",
    "a.",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_names_are_refused(name: str) -> None:
    with pytest.raises(BadFileName) as info:
        check_filename(name)
    message = str(info.value)
    assert message.startswith("Refused ")
    assert message.endswith(".")
    # The sentence is safe to show: no raw control characters or surrogates.
    assert message.isprintable()
    message.encode("utf-8")


def test_path_refusal_reads_as_a_sentence() -> None:
    with pytest.raises(BadFileName) as info:
        check_filename("../../etc/passwd")
    assert str(info.value) == ("Refused file name '../../etc/passwd': it must be a plain file name, not a path.")


def test_bad_file_name_is_a_value_error() -> None:
    assert issubclass(BadFileName, ValueError)


@pytest.mark.parametrize("name", GOOD_NAMES)
def test_good_names_are_accepted_unchanged(name: str) -> None:
    assert check_filename(name) is name


# -- unique_path ---------------------------------------------------------------


def test_unique_path_free_name(tmp_path: Path) -> None:
    assert unique_path(tmp_path, "a.txt") == tmp_path / "a.txt"


def test_unique_path_counts_up(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("0")
    assert unique_path(tmp_path, "a.txt") == tmp_path / "a (1).txt"
    (tmp_path / "a (1).txt").write_text("1")
    assert unique_path(tmp_path, "a.txt") == tmp_path / "a (2).txt"


def test_unique_path_splits_on_last_dot(tmp_path: Path) -> None:
    (tmp_path / "archive.tar.gz").write_text("x")
    assert unique_path(tmp_path, "archive.tar.gz") == tmp_path / "archive.tar (1).gz"


def test_unique_path_dotfile_has_no_extension(tmp_path: Path) -> None:
    (tmp_path / ".bashrc").write_text("x")
    assert unique_path(tmp_path, ".bashrc") == tmp_path / ".bashrc (1)"


def test_unique_path_without_extension(tmp_path: Path) -> None:
    (tmp_path / "notes").write_text("x")
    assert unique_path(tmp_path, "notes") == tmp_path / "notes (1)"


def test_unique_path_folder_counts_as_taken(tmp_path: Path) -> None:
    (tmp_path / "photos").mkdir()
    assert unique_path(tmp_path, "photos") == tmp_path / "photos (1)"


def test_unique_path_broken_symlink_counts_as_taken(tmp_path: Path) -> None:
    (tmp_path / "a.txt").symlink_to(tmp_path / "nowhere")
    assert unique_path(tmp_path, "a.txt") == tmp_path / "a (1).txt"


def test_unique_path_keeps_long_names_within_limit(tmp_path: Path) -> None:
    name = "x" * 251 + ".txt"
    (tmp_path / name).write_text("x")
    path = unique_path(tmp_path, name)
    assert path.name.endswith(" (1).txt")
    assert len(path.name.encode("utf-8")) <= 255


def test_unique_path_refuses_hostile_names(tmp_path: Path) -> None:
    with pytest.raises(BadFileName):
        unique_path(tmp_path, "../escape")


# -- place_file ----------------------------------------------------------------


def _temp_with(folder: Path, name: str, content: bytes) -> Path:
    tmp = temp_path(folder, name)
    tmp.write_bytes(content)
    return tmp


def test_place_file_moves_into_free_name(tmp_path: Path) -> None:
    tmp = _temp_with(tmp_path, "a.txt", b"new")
    assert place_file(tmp, tmp_path, "a.txt") == tmp_path / "a.txt"
    assert (tmp_path / "a.txt").read_bytes() == b"new"
    assert not tmp.exists()


def test_place_file_never_overwrites(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"old")
    tmp = _temp_with(tmp_path, "a.txt", b"new")
    final = place_file(tmp, tmp_path, "a.txt")
    assert final == tmp_path / "a (1).txt"
    assert (tmp_path / "a.txt").read_bytes() == b"old"
    assert final.read_bytes() == b"new"
    assert not tmp.exists()


def test_place_file_does_not_follow_a_symlink(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.write_bytes(b"precious")
    (tmp_path / "a.txt").symlink_to(target)
    final = place_file(_temp_with(tmp_path, "a.txt", b"new"), tmp_path, "a.txt")
    assert final == tmp_path / "a (1).txt"
    assert target.read_bytes() == b"precious"


def test_place_file_refuses_hostile_names(tmp_path: Path) -> None:
    tmp = _temp_with(tmp_path, "x", b"new")
    with pytest.raises(BadFileName):
        place_file(tmp, tmp_path, "../x")
    assert tmp.exists()


def _list_names(folder: Path) -> list[str]:
    return sorted(os.listdir(folder))


def _place_concurrently(folder: Path, count: int = 8) -> list[Path]:
    temps = [_temp_with(folder, "same.bin", f"content {i}".encode()) for i in range(count)]
    barrier = threading.Barrier(count)

    def worker(tmp: Path) -> Path:
        barrier.wait()  # start together to make the race as tight as possible
        return place_file(tmp, folder, "same.bin")

    with ThreadPoolExecutor(max_workers=count) as pool:
        # list() re-raises any worker's exception here.
        return list(pool.map(worker, temps))


def _check_concurrent_result(folder: Path, results: list[Path]) -> None:
    assert len(set(results)) == 8
    contents = sorted(path.read_bytes() for path in results)
    assert contents == sorted(f"content {i}".encode() for i in range(8))
    expected = ["same.bin"] + [f"same ({i}).bin" for i in range(1, 8)]
    assert _list_names(folder) == sorted(expected)  # no temporary file left


def test_place_file_concurrently_with_hard_links(tmp_path: Path) -> None:
    _check_concurrent_result(tmp_path, _place_concurrently(tmp_path))


def test_place_file_concurrently_without_hard_links(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_links(src: object, dst: object) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(files.os, "link", no_links)
    _check_concurrent_result(tmp_path, _place_concurrently(tmp_path))


def test_place_file_fallback_never_overwrites(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_links(src: object, dst: object) -> None:
        raise OSError(errno.ENOTSUP, "Operation not supported")

    monkeypatch.setattr(files.os, "link", no_links)
    (tmp_path / "a.txt").write_bytes(b"old")
    final = place_file(_temp_with(tmp_path, "a.txt", b"new"), tmp_path, "a.txt")
    assert final == tmp_path / "a (1).txt"
    assert (tmp_path / "a.txt").read_bytes() == b"old"
    assert final.read_bytes() == b"new"
    assert _list_names(tmp_path) == ["a (1).txt", "a.txt"]


# -- temp_path -----------------------------------------------------------------


def test_temp_path_is_hidden_empty_and_unique(tmp_path: Path) -> None:
    paths = {temp_path(tmp_path, "movie.mp4") for _ in range(50)}
    assert len(paths) == 50
    for path in paths:
        assert path.parent == tmp_path
        assert path.name.startswith(".movie.mp4.")
        assert path.name.endswith(".part")
        assert path.read_bytes() == b""


def test_temp_path_is_created_exclusively(tmp_path: Path) -> None:
    path = temp_path(tmp_path, "a.txt")
    with pytest.raises(FileExistsError):
        os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)


def test_temp_path_stays_under_255_bytes(tmp_path: Path) -> None:
    path = temp_path(tmp_path, "日" * 85)  # 255 bytes of name
    assert len(path.name.encode("utf-8")) < 255
    assert path.exists()


# -- sha256_file, sizes ----------------------------------------------------------


def test_sha256_file_matches_hashlib(tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 123)
    path = tmp_path / "random.bin"
    path.write_bytes(data)
    seen: list[int] = []
    assert sha256_file(path, seen.append, chunk=1 << 20) == hashlib.sha256(data).hexdigest()
    assert seen == sorted(seen)
    assert seen[-1] == len(data)
    assert len(seen) == 4


def test_sha256_file_of_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty"
    path.write_bytes(b"")
    assert sha256_file(path) == hashlib.sha256(b"").hexdigest()


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "0 B"),
        (1, "1 B"),
        (999, "999 B"),
        (1000, "1.0 kB"),
        (1200, "1.2 kB"),
        (999_949, "999.9 kB"),
        (999_999, "1.0 MB"),
        (58_700_000, "58.7 MB"),
        (3.2e9, "3.2 GB"),
        (4_500_000_000_000, "4.5 TB"),
        (2_000_000_000_000_000, "2000.0 TB"),
    ],
)
def test_human_size(n: int, text: str) -> None:
    assert human_size(n) == text


def test_has_room_for(tmp_path: Path) -> None:
    free = files.free_space(tmp_path)
    assert free > 0
    assert has_room_for(tmp_path, 0, margin=0)
    assert not has_room_for(tmp_path, free + 1, margin=0)
    assert not has_room_for(tmp_path, 1, margin=free)


def test_place_file_fallback_copies_across_file_systems(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_links(src: object, dst: object) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    def no_rename(src: object, dst: object) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(files.os, "link", no_links)
    monkeypatch.setattr(files.os, "replace", no_rename)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    tmp = _temp_with(elsewhere, "a.txt", b"new")
    final = place_file(tmp, tmp_path, "a.txt")
    assert final.read_bytes() == b"new"
    assert not tmp.exists()


class _Usage:
    def __init__(self, free: int) -> None:
        self.total, self.used, self.free = free * 2, free, free


def test_a_share_with_little_free_space_still_takes_a_small_file(tmp_path: Path, monkeypatch) -> None:
    # 10 MiB free: under the old fixed 64 MiB margin even 1 kB was refused.
    monkeypatch.setattr(files.shutil, "disk_usage", lambda folder: _Usage(10 * 1024 * 1024))
    assert has_room_for(tmp_path, 1000)
    assert has_room_for(tmp_path, 9 * 1024 * 1024)
    assert not has_room_for(tmp_path, 10 * 1024 * 1024)


def test_the_margin_scales_with_the_file_and_is_capped() -> None:
    assert files.margin_for(0) == files.MARGIN_MIN
    assert files.margin_for(1000) == files.MARGIN_MIN
    assert files.margin_for(1_000_000_000) == 10_000_000
    assert files.margin_for(10**13) == files.MARGIN_MAX
