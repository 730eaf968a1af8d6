"""Player and Recorder on miniaudio's null back end: a device that really consumes (or makes) frames
at the sound card's pace, with no speaker and no microphone."""

from __future__ import annotations

import queue
import time
import wave
from collections.abc import Callable
from pathlib import Path

import miniaudio
import pytest

from mmchat import audio
from mmchat.audio import Player, PlayerState, Recorder, RecordingDone
from tests.test_media import DATA, write_wav

NULL = [miniaudio.Backend.NULL]


def wait_until(condition: Callable[[], object], timeout: float = 10.0, what: str = "") -> object:
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        time.sleep(0.01)
    return result


@pytest.fixture
def players():
    made: list[Player] = []

    def make(path: Path) -> Player:
        player = Player(path, NULL)
        made.append(player)
        return player

    yield make
    for player in made:
        player.close()
        player.join(5)
        assert not player._thread.is_alive()


def test_a_player_measures_then_waits_at_the_start(tmp_path, players) -> None:
    player = players(write_wav(tmp_path / "a.wav", 1.0))
    wait_until(lambda: player.state is PlayerState.STOPPED, what="the file measured")
    assert player.duration == pytest.approx(1.0)
    time.sleep(0.2)
    assert player.position == 0.0  # nothing plays until asked


def test_play_moves_the_position_pause_holds_it_and_play_goes_on(tmp_path, players) -> None:
    player = players(write_wav(tmp_path / "a.wav", 3.0))
    player.play()
    wait_until(lambda: player.position > 0.3, what="the position to advance")
    assert player.state is PlayerState.PLAYING
    player.pause()
    wait_until(lambda: player.state is PlayerState.PAUSED)
    held = player.position
    time.sleep(0.3)
    assert player.position == held  # a paused device consumes nothing
    player.toggle()
    wait_until(lambda: player.position > held + 0.2, what="playing on after the pause")
    assert player.position < 3.0


def test_playing_to_the_end_goes_back_to_the_start(tmp_path, players) -> None:
    player = players(DATA / "tone.ogg")
    player.play()
    wait_until(lambda: player.ended == 1, timeout=15, what="the end of the tone")
    assert player.state is PlayerState.STOPPED and player.position == 0.0
    player.play()  # and it plays again
    wait_until(lambda: player.position > 0.1, what="a second play")


@pytest.mark.parametrize("name", ["tone.mp3", "tone.flac"])
def test_mp3_and_flac_play(players, name: str) -> None:
    player = players(DATA / name)
    player.play()
    wait_until(lambda: player.position > 0.2, what=f"{name} playing")
    assert player.error == ""


def test_seek_while_paused_and_while_playing(tmp_path, players) -> None:
    player = players(write_wav(tmp_path / "long.wav", 20.0))
    wait_until(lambda: player.state is PlayerState.STOPPED)
    player.seek(12.0)
    wait_until(lambda: player.position == pytest.approx(12.0), what="the seek")
    assert player.state is PlayerState.PAUSED
    player.play()
    wait_until(lambda: player.position > 12.2, what="playing from 12 s")
    player.seek(3.0)
    wait_until(lambda: 3.0 <= player.position < 5.0, what="the seek back while playing")
    assert player.state is PlayerState.PLAYING
    player.seek(99.0)  # past the end: at the end, which ends it
    wait_until(lambda: player.ended == 1, what="the end after seeking past it")


def test_a_file_that_is_not_audio_fails_with_a_sentence(tmp_path, players) -> None:
    fake = tmp_path / "fake.wav"
    fake.write_bytes(b"RIFF not really" * 20)
    player = players(fake)
    wait_until(lambda: player.state is PlayerState.FAILED)
    assert player.error.startswith("Cannot play fake.wav: it is not a readable audio file")
    player.play()  # does nothing, raises nothing
    time.sleep(0.1)
    assert player.state is PlayerState.FAILED


def test_no_sound_device_is_a_sentence_not_silence(tmp_path) -> None:
    # A back end that is not there on this system: the same path as a computer with no sound card.
    missing = [b for b in miniaudio.Backend if not miniaudio.is_backend_enabled(b)]
    player = Player(write_wav(tmp_path / "a.wav", 1.0), missing[:1])
    player.play()
    wait_until(lambda: player.state is PlayerState.FAILED)
    assert player.error == audio.NO_OUTPUT
    player.close()
    player.join(5)


def test_backends_leave_out_the_silent_one_unless_asked(monkeypatch) -> None:
    monkeypatch.delenv(audio.BACKEND_VARIABLE, raising=False)
    chosen = audio.backends()
    assert miniaudio.Backend.NULL not in chosen and miniaudio.Backend.CUSTOM not in chosen
    assert chosen == sorted(chosen, key=lambda b: b.value)
    monkeypatch.setenv(audio.BACKEND_VARIABLE, "null")
    assert audio.backends() == NULL
    assert audio.has_microphone()  # the null back end has a capture device that makes silence


def record(tmp_path: Path, seconds: float, max_seconds: float = 60) -> tuple[Recorder, RecordingDone]:
    results: queue.Queue[RecordingDone] = queue.Queue()
    recorder = Recorder(tmp_path / "voice.wav", results, NULL, max_seconds=max_seconds)
    recorder.start()
    wait_until(lambda: recorder.seconds >= seconds, what="recording")
    recorder.stop()
    return recorder, results.get(timeout=10)


def test_a_recording_becomes_a_mono_wav_that_plays(tmp_path, players) -> None:
    recorder, done = record(tmp_path, 1.0)
    assert done.path == tmp_path / "voice.wav" and done.error == ""
    assert done.seconds == pytest.approx(recorder.seconds) and done.seconds >= 1.0
    with wave.open(str(done.path)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, audio.VOICE_RATE)
        assert wav.getnframes() == recorder.frames
    player = players(done.path)  # it plays like any shared audio file
    wait_until(lambda: player.state is PlayerState.STOPPED)
    assert player.duration == pytest.approx(done.seconds)


def test_a_recording_stops_by_itself_at_the_maximum(tmp_path) -> None:
    results: queue.Queue[RecordingDone] = queue.Queue()
    recorder = Recorder(tmp_path / "voice.wav", results, NULL, max_seconds=0.8)
    recorder.start()
    done = results.get(timeout=10)  # nobody called stop()
    assert done.seconds == pytest.approx(0.8) and done.path is not None
    assert audio.audio_duration(done.path) == pytest.approx(0.8)


def test_a_too_short_recording_is_not_sent(tmp_path) -> None:
    results: queue.Queue[RecordingDone] = queue.Queue()
    recorder = Recorder(tmp_path / "voice.wav", results, NULL)
    recorder.start()
    recorder.stop()
    done = results.get(timeout=10)
    assert done.path is None and done.error == "The recording was too short to send."
    assert not (tmp_path / "voice.wav").exists()


def test_no_microphone_is_a_sentence(tmp_path) -> None:
    missing = [b for b in miniaudio.Backend if not miniaudio.is_backend_enabled(b)]
    results: queue.Queue[RecordingDone] = queue.Queue()
    Recorder(tmp_path / "voice.wav", results, missing[:1]).start()
    assert results.get(timeout=10) == RecordingDone(None, 0.0, audio.NO_INPUT)
    assert not audio.has_microphone(missing[:1])


def test_self_check_decodes_and_plays(tmp_path) -> None:
    assert audio.self_check(tmp_path).startswith(f"miniaudio {miniaudio.__version__} decodes and plays")
