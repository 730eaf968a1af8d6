"""Safe file names and safe file placement, shared by the host and the client.

How this works
--------------
A name that arrives over the wire is checked by `check_filename` before it
touches a disk: it must be one plain name in one folder, on Linux, macOS and
Windows alike.  A file is received into `temp_path` (created exclusively, so
nobody else writes there), verified by the caller, and then moved into place
by `place_file`, which never overwrites anything: it claims the final name
with `os.link`, which fails atomically if the name is taken, and tries
"name (1).ext", "name (2).ext", ... until one is free.
"""

from __future__ import annotations

import errno
import hashlib
import os
import secrets
import shutil
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path

MAX_NAME_BYTES = 255
RESERVED_NAMES = frozenset({".mmchat"})  # the host's private data folder
_WINDOWS_DEVICES = frozenset(
    {"CON", "PRN", "AUX", "NUL"} | {f"COM{i}" for i in range(1, 10)} | {f"LPT{i}" for i in range(1, 10)}
)
_MAX_CANDIDATES = 10_000
_SI_UNITS = ("kB", "MB", "GB", "TB")


class BadFileName(ValueError):
    """A file name from the wire that we refuse; str(exc) is a sentence for a person."""


def _shown(name: str, limit: int = 60) -> str:
    """The name as it can safely appear in a message: escaped and shortened."""
    # A newline or a terminal escape inside an error message would garble the
    # chat window, so anything unprintable is shown as a Python escape.
    text = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in name)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _refuse(name: str, reason: str) -> BadFileName:
    return BadFileName(f"Refused file name '{_shown(name)}': {reason}.")


def check_filename(name: str) -> str:
    """Return `name` unchanged if it is a safe plain file name, else raise BadFileName."""
    if not isinstance(name, str) or not name:
        raise BadFileName("Refused an empty file name.")
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:
        # Lone surrogates come from undecodable bytes; no file system agrees on them.
        raise _refuse(name, "it is not valid Unicode") from None
    if size > MAX_NAME_BYTES:
        raise _refuse(name, f"it is longer than {MAX_NAME_BYTES} bytes")
    if "/" in name or "\\" in name:
        raise _refuse(name, "it must be a plain file name, not a path")
    if any(unicodedata.category(c) == "Cc" for c in name):
        raise _refuse(name, "it contains control characters")
    if name.strip(". ") == "":
        raise _refuse(name, "it must be a plain file name, not a path")
    if name != name.strip():
        raise _refuse(name, "it starts or ends with a space")
    if ":" in name:
        # "C:x" is a drive-relative path on Windows and ":" names a stream on NTFS.
        raise _refuse(name, "it must not contain ':'")
    if name.split(".")[0].rstrip(" ").upper() in _WINDOWS_DEVICES:
        raise _refuse(name, "it is a reserved device name on Windows")
    if name.lower() in RESERVED_NAMES:
        raise _refuse(name, "that name is reserved by mmchat")
    return name


def _truncate_utf8(text: str, max_bytes: int) -> str:
    """The longest prefix of `text` that fits in `max_bytes` UTF-8 bytes."""
    return text.encode("utf-8")[:max_bytes].decode("utf-8", "ignore")


def _split_extension(name: str) -> tuple[str, str]:
    """Split on the last dot; a leading dot (".bashrc") does not start an extension."""
    dot = name.rfind(".")
    if dot <= 0:
        return name, ""
    return name[:dot], name[dot:]


def _candidates(name: str) -> Iterator[str]:
    """Yield `name`, then "stem (1).ext", "stem (2).ext", ... each within 255 bytes."""
    yield name
    stem, ext = _split_extension(name)
    for i in range(1, _MAX_CANDIDATES):
        suffix = f" ({i}){ext}"
        room = MAX_NAME_BYTES - len(suffix.encode("utf-8"))
        yield _truncate_utf8(stem, room).rstrip() + suffix


def _too_many(folder: Path, name: str) -> FileExistsError:
    return FileExistsError(
        f"Could not find a free name for '{_shown(name)}' in {folder}: {_MAX_CANDIDATES} copies already exist."
    )


def unique_path(folder: Path, name: str) -> Path:
    """Return folder/name if free, else the first free "stem (n).ext" in `folder`."""
    check_filename(name)
    for candidate in _candidates(name):
        path = folder / candidate
        # lexists, not exists: a broken symlink still occupies the name.
        if not os.path.lexists(path):
            return path
    raise _too_many(folder, name)


def place_file(tmp: Path, folder: Path, name: str) -> Path:
    """Move the finished file `tmp` into `folder` as `name` (or a free variant); never overwrite."""
    check_filename(name)
    use_links = True
    for candidate in _candidates(name):
        path = folder / candidate
        if use_links:
            try:
                os.link(tmp, path)
            except FileExistsError:
                continue
            except OSError:
                # No hard links here (FAT, some network shares): fall back below.
                use_links = False
            else:
                os.unlink(tmp)
                return path
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        # The empty placeholder is ours alone, so replacing it overwrites nothing.
        try:
            _replace_placeholder(tmp, path)
        except BaseException:
            os.unlink(path)
            raise
        return path
    raise _too_many(folder, name)


def _replace_placeholder(tmp: Path, path: Path) -> None:
    """Move `tmp` over our own placeholder at `path`, copying across file systems."""
    try:
        os.replace(tmp, path)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        shutil.copyfile(tmp, path)
        os.unlink(tmp)


def temp_path(folder: Path, name: str) -> Path:
    """Create and return a fresh, exclusively created, empty temporary file for receiving `name`."""
    token_bytes = 6
    # ".<name>.<12 hex>.part" must stay under 255 bytes, and so must its ".resume" sidecar (resume.py).
    overhead = len(".") + len(".") + 2 * token_bytes + len(".resume")
    short = _truncate_utf8(name, MAX_NAME_BYTES - 1 - overhead)
    while True:
        path = folder / f".{short}.{secrets.token_hex(token_bytes)}.part"
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return path


def sha256_file(path: Path, progress: Callable[[int], None] | None = None, chunk: int = 1 << 20) -> str:
    """Return the hex SHA-256 of the file at `path`, read in chunks."""
    digest = hashlib.sha256()
    done = 0
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
            done += len(block)
            if progress is not None:
                progress(done)
    return digest.hexdigest()


def human_size(n: float) -> str:
    """Format a byte count with decimal SI units: "999 B", "1.2 kB", "58.7 MB"."""
    if abs(n) < 1000:
        return f"{int(n)} B"
    value = float(n)
    for unit in _SI_UNITS:
        value /= 1000
        # Move up a unit when rounding would print "1000.0 kB".
        if abs(round(value, 1)) < 1000 or unit == _SI_UNITS[-1]:
            return f"{value:.1f} {unit}"
    raise AssertionError("unreachable")


def free_space(folder: Path) -> int:
    """Return the free bytes on the disk holding `folder`."""
    return shutil.disk_usage(folder).free


# What an upload must leave free besides itself: a share with a few MiB free
# still takes a small file, and a big one keeps 1 % of its size for the
# database, logs and temporary files -- never more than MARGIN_MAX.
MARGIN_MIN = 1024 * 1024
MARGIN_MAX = 64 * 1024 * 1024


def margin_for(size: int) -> int:
    """The free space an upload of `size` bytes must leave on the disk."""
    return min(MARGIN_MAX, max(MARGIN_MIN, size // 100))


def has_room_for(folder: Path, size: int, margin: int | None = None, free: int | None = None) -> bool:
    """Tell whether `folder` (or a disk with `free` bytes) can take `size` more bytes and keep `margin` free."""
    free = free_space(folder) if free is None else free
    return free >= size + (margin_for(size) if margin is None else margin)
