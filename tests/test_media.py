"""Which files are audio or video, and their lengths: real small files, no sound device."""

from __future__ import annotations

import struct
import wave
from pathlib import Path

import pytest

from mmchat import media
from mmchat.media import MediaKind

DATA = Path(__file__).parent / "data"


def write_wav(path: Path, seconds: float, rate: int = 8000, channels: int = 1) -> Path:
    """A wav of silence-ish samples, `seconds` long."""
    frames = int(seconds * rate)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(bytes((i * 7) % 256 for i in range(frames * channels * 2)))
    return path


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("voice.wav", MediaKind.AUDIO), ("Song.MP3", MediaKind.AUDIO), ("a.ogg", MediaKind.AUDIO),
        ("b.flac", MediaKind.AUDIO), ("c.oga", MediaKind.AUDIO), ("film.mp4", MediaKind.VIDEO),
        ("clip.MOV", MediaKind.VIDEO), ("x.webm", MediaKind.VIDEO), ("notes.txt", MediaKind.OTHER),
        ("cat.png", MediaKind.OTHER), ("wav", MediaKind.OTHER), ("archive.mp3.zip", MediaKind.OTHER),
    ],
)  # fmt: skip
def test_kinds_come_from_the_name(name: str, kind: MediaKind) -> None:
    assert media.kind_of(name) is kind
    assert media.is_audio(name) == (kind is MediaKind.AUDIO)
    assert media.is_video(name) == (kind is MediaKind.VIDEO)


def test_a_wav_we_wrote_has_its_length(tmp_path: Path) -> None:
    assert media.audio_duration(write_wav(tmp_path / "a.wav", 2.5)) == pytest.approx(2.5)
    assert media.audio_duration(write_wav(tmp_path / "b.wav", 0.75, rate=44100, channels=2)) == pytest.approx(0.75)


@pytest.mark.parametrize(("name", "seconds"), [("tone.ogg", 1.5), ("tone.flac", 1.5), ("tone.mp3", 1.584)])
def test_ogg_flac_and_mp3_are_read_by_the_bundled_decoders(name: str, seconds: float) -> None:
    assert media.audio_duration(DATA / name) == pytest.approx(seconds, abs=0.01)


def test_oga_is_read_as_ogg_vorbis(tmp_path: Path) -> None:
    renamed = tmp_path / "tone.oga"
    renamed.write_bytes((DATA / "tone.ogg").read_bytes())
    assert media.audio_duration(renamed) == pytest.approx(1.5, abs=0.01)


def test_a_file_that_is_not_audio_is_a_sentence(tmp_path: Path) -> None:
    fake = tmp_path / "fake.mp3"
    fake.write_bytes(b"this is not an mp3 at all" * 10)
    with pytest.raises(ValueError, match=r"^Cannot play fake\.mp3: it is not a readable audio file"):
        media.audio_duration(fake)
    with pytest.raises(ValueError, match=r"^Cannot play gone\.wav: the file is not there\.$"):
        media.audio_duration(tmp_path / "gone.wav")


def box(name: bytes, body: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(body), name) + body


def mvhd(version: int, timescale: int, duration: int) -> bytes:
    if version == 0:
        body = bytes([0, 0, 0, 0]) + struct.pack(">III", 1, 2, timescale) + struct.pack(">I", duration)
    else:
        body = bytes([1, 0, 0, 0]) + struct.pack(">QQI", 1, 2, timescale) + struct.pack(">Q", duration)
    return box(b"mvhd", body + bytes(80))


def test_mp4_length_comes_from_the_mvhd_box_even_after_the_media_data(tmp_path: Path) -> None:
    path = tmp_path / "film.mp4"
    mdat = box(b"mdat", bytes(50_000))  # the pictures first, as most cameras write it
    path.write_bytes(box(b"ftyp", b"isom\0\0\0\0isom") + mdat + box(b"moov", box(b"trak", b"") + mvhd(0, 600, 76_500)))
    assert media.video_duration(path) == pytest.approx(127.5)
    assert media.clock_text(media.video_duration(path) or 0) == "2:07"


def test_mp4_version_1_and_64_bit_box_sizes(tmp_path: Path) -> None:
    path = tmp_path / "long.mov"
    big_mdat = struct.pack(">I4sQ", 1, b"mdat", 16 + 1000) + bytes(1000)
    path.write_bytes(box(b"ftyp", b"qt  ") + big_mdat + box(b"moov", mvhd(1, 1000, 3_723_000)))
    assert media.video_duration(path) == pytest.approx(3723.0)
    assert media.clock_text(3723.0) == "1:02:03"


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not an mp4 file, just text" * 4,
        box(b"ftyp", b"isom") + box(b"mdat", bytes(100)),  # no moov at all
        box(b"ftyp", b"isom") + struct.pack(">I4s", 4000, b"moov") + bytes(10),  # a size past the end
        box(b"moov", mvhd(0, 0, 100)),  # no timescale
        box(b"moov", mvhd(0, 600, 0xFFFFFFFF)),  # length unknown
    ],
)
def test_an_mp4_without_a_usable_length_has_none(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "broken.mp4"
    path.write_bytes(content)
    assert media.video_duration(path) is None


def test_other_videos_have_no_length_rather_than_a_slow_guess(tmp_path: Path) -> None:
    path = tmp_path / "clip.webm"
    path.write_bytes(box(b"moov", mvhd(0, 600, 600)))  # even if it looked like an mp4 inside
    assert media.video_duration(path) is None
    assert media.video_duration(tmp_path / "missing.mp4") is None


def test_searching_for_moov_is_bounded(tmp_path: Path) -> None:
    path = tmp_path / "many.mp4"
    path.write_bytes(box(b"free", b"") * (media.MAX_BOXES + 1) + box(b"moov", mvhd(0, 1, 5)))
    assert media.video_duration(path) is None
    path.write_bytes(box(b"free", b"") * (media.MAX_BOXES - 1) + box(b"moov", mvhd(0, 1, 5)))
    assert media.video_duration(path) == 5.0


def test_clock_text() -> None:
    assert [media.clock_text(s) for s in (0, 7.9, 65, 3600, -3)] == ["0:00", "0:07", "1:05", "1:00:00", "0:00"]


def test_miniaudio_errors_are_worded_without_their_numbers() -> None:
    import miniaudio

    assert media.reason(miniaudio.DecodeError("failed to init decoder", -10)) == "failed to init decoder"
    assert media.reason(ValueError()) == ""
