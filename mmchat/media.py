"""Which shared files are audio or video, and how long they play.

How this works
--------------
A shared file's kind comes from its name alone (`kind_of`), so the window can
decide what to offer when the announcement arrives, before any byte is there:
audio files get a player in the chat, videos an Open button for the system's
player.  Lengths need the file itself.  An audio file's comes from miniaudio,
which reads wav, mp3, ogg (Vorbis) and flac headers with its own decoders
(`audio_duration`).  A video's comes only where it is cheap: MP4 and
QuickTime files keep it in the 'mvhd' box inside 'moov', found by walking the
top-level boxes by their sizes without reading what lies between
(`mp4_duration`); for other videos there is no length, rather than a slow
guess.  Every read is bounded: at most MAX_BOXES boxes are looked at.

Nothing here opens a sound device: playing and recording are mmchat.audio's.
"""

from __future__ import annotations

import enum
import struct
from pathlib import Path
from typing import BinaryIO

import miniaudio

AUDIO_SUFFIXES = frozenset({".wav", ".mp3", ".ogg", ".oga", ".flac"})
VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi", ".mpg", ".mpeg", ".ogv", ".3gp"})
MP4_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".3gp"})
MAX_BOXES = 64  # top-level boxes looked at before giving up on finding 'moov'
MAX_MOOV_CHILDREN = 64


class MediaKind(enum.Enum):
    """What the chat can do with a shared file beyond downloading it."""

    AUDIO = "audio"  # plays in place
    VIDEO = "video"  # opens in the system's player
    OTHER = "other"


def kind_of(name: str) -> MediaKind:
    """The kind of a shared file, from its name."""
    suffix = Path(name).suffix.lower()
    if suffix in AUDIO_SUFFIXES:
        return MediaKind.AUDIO
    if suffix in VIDEO_SUFFIXES:
        return MediaKind.VIDEO
    return MediaKind.OTHER


def is_audio(name: str) -> bool:
    """Whether a shared file plays in the chat."""
    return kind_of(name) is MediaKind.AUDIO


def is_video(name: str) -> bool:
    """Whether a shared file is a video (opened with the system's player)."""
    return kind_of(name) is MediaKind.VIDEO


def audio_duration(path: Path) -> float:
    """How many seconds an audio file plays; ValueError with a sentence when it cannot be read."""
    # miniaudio picks its reader by the suffix; '.oga' is Ogg Vorbis under another name.
    suffix = path.suffix.lower()
    if not path.is_file():
        raise ValueError(f"Cannot play {path.name}: the file is not there.")
    try:
        if suffix == ".oga":
            info = miniaudio.vorbis_get_file_info(str(path))
        else:
            info = miniaudio.get_file_info(str(path))
    except (miniaudio.MiniaudioError, OSError) as exc:
        raise ValueError(f"Cannot play {path.name}: it is not a readable audio file ({reason(exc)}).") from None
    if info.sample_rate <= 0:
        raise ValueError(f"Cannot play {path.name}: it says it has no sample rate.")
    return info.num_frames / info.sample_rate


def reason(exc: Exception) -> str:
    """miniaudio's own words for an error (its exceptions carry them with a number)."""
    return exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc)


def mp4_duration(path: Path) -> float | None:
    """The length of an MP4 or QuickTime video from its 'mvhd' box, or None if it is not there."""
    try:
        with open(path, "rb") as f:
            size = path.stat().st_size
            moov = _find_box(f, 0, size, b"moov", MAX_BOXES)
            if moov is None:
                return None
            mvhd = _find_box(f, moov[0], moov[1], b"mvhd", MAX_MOOV_CHILDREN)
            if mvhd is None:
                return None
            f.seek(mvhd[0])
            return _mvhd_seconds(f.read(min(mvhd[1] - mvhd[0], 128)))
    except OSError:
        return None


def _find_box(f: BinaryIO, start: int, end: int, wanted: bytes, limit: int) -> tuple[int, int] | None:
    """(first byte of its content, end) of the first box called `wanted` between start and end."""
    at = start
    for _ in range(limit):
        if at + 8 > end:
            return None
        f.seek(at)
        head = f.read(8)
        if len(head) < 8:
            return None
        size, name = struct.unpack(">I4s", head)
        content = at + 8
        if size == 1:  # a 64-bit size follows the name
            large = f.read(8)
            if len(large) < 8:
                return None
            size = struct.unpack(">Q", large)[0]
            content = at + 16
        elif size == 0:  # the box runs to the end of the file
            size = end - at
        if size < content - at or at + size > end:
            return None  # a size that does not fit: not a file we understand
        if name == wanted:
            return content, at + size
        at += size
    return None


def _mvhd_seconds(body: bytes) -> float | None:
    """Duration / timescale from an 'mvhd' box's content (versions 0 and 1)."""
    if len(body) < 4:
        return None
    version = body[0]
    if version == 0 and len(body) >= 20:
        timescale, duration = struct.unpack(">II", body[12:20])
    elif version == 1 and len(body) >= 32:
        timescale, duration = struct.unpack(">IQ", body[20:32])
    else:
        return None
    if timescale == 0 or duration in (0, 0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF):
        return None  # unknown, as some live recorders write it
    return duration / timescale


def video_duration(path: Path) -> float | None:
    """A video's length where it is cheap to find (MP4 / QuickTime), else None."""
    if path.suffix.lower() in MP4_SUFFIXES:
        return mp4_duration(path)
    return None


def clock_text(seconds: float) -> str:
    """'0:07', '3:25', '1:02:03'."""
    whole = max(int(seconds), 0)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"
