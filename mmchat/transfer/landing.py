"""Landing a received file: a temporary name, the whole file's SHA-256 checked, then its final name.

A transfer may resume: then the temporary file already holds the first
`offset` bytes (kept from a try that was cut short), their hash is `prefix`,
and only the rest comes over the socket; the SHA-256 checked is still the
whole file's.  On a failure the temporary file is removed, unless the caller
wants it kept for a later resume (`keep`); a file that arrived damaged is
always removed.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from .. import files
from .frames import Progress, TransferError
from .receiving import receive_file_body

if TYPE_CHECKING:
    from _hashlib import HASH


class TransferDamaged(TransferError):
    """The bytes arrived but are not the file (SHA-256 or size mismatch): nothing of them is kept."""


def receive_to_folder(
    sock: socket.socket,
    first: bytes,
    folder: Path,
    filename: str,
    size: int,
    sha256: str | Callable[[], str],
    *,
    temp_folder: Path | None = None,
    save_as: Path | None = None,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] = lambda: False,
    partial: Path | None = None,
    offset: int = 0,
    prefix: HASH | None = None,
    keep: Callable[[], bool] = lambda: False,
) -> Path:
    """Receive a file into a temporary name, verify size and SHA-256, then give it its final name.

    `sha256` is the expected digest, or a function that fetches it once the
    bytes are in (an upload's `TransferEnd`).  The final name follows the
    collision rule in `folder` (nothing is ever overwritten), unless `save_as`
    names a path the user chose explicitly.  `partial` is the temporary file
    to receive into (else a new one); its first `offset` bytes stay, hashed
    as `prefix`.  On any failure TransferError is raised and the temporary
    file removed, unless `keep()` says to keep it for a resume (never when
    the file arrived damaged: TransferDamaged).
    """
    where = temp_folder or folder
    if not files.has_room_for(where, size - offset):
        raise TransferError(
            f"Not enough free space for {filename} ({files.human_size(size)}): "
            f"{files.human_size(files.free_space(where))} free."
        )
    tmp = partial if partial is not None else files.temp_path(where, filename)
    kept = False
    try:
        with open(tmp, "r+b") as out:
            try:
                out.truncate(offset)  # a part may hold a few bytes more than were counted: they go
                out.seek(offset)
                digest = receive_file_body(sock, first, out, size, progress, cancelled, offset=offset, prefix=prefix)
                if digest != (sha256() if callable(sha256) else sha256):
                    raise TransferDamaged(f"{filename} arrived damaged (SHA-256 mismatch) and was discarded.")
                out.flush()
                os.fsync(out.fileno())
            except TransferError as exc:
                kept = not isinstance(exc, TransferDamaged) and keep()
                if kept:
                    _make_durable(out)  # what arrived survives a crash of this computer too
                raise
        if os.path.getsize(tmp) != size:
            raise TransferDamaged(f"{filename} arrived with the wrong size.")
        if save_as is not None:
            os.replace(tmp, save_as)
            return save_as
        return files.place_file(tmp, folder, filename)
    except BaseException:
        if not kept:
            tmp.unlink(missing_ok=True)
        raise


def _make_durable(out: object) -> None:
    try:
        out.flush()  # type: ignore[attr-defined]
        os.fsync(out.fileno())  # type: ignore[attr-defined]
    except (OSError, ValueError):
        pass  # kept as far as it got: the SHA-256 check at the end finds out anything missing
