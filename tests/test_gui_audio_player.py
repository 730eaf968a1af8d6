"""The in-place audio player and the video card, as real Tk widgets under Xvfb, playing on miniaudio's
null back end (a device that consumes frames at the sound card's pace, with no speaker)."""

from __future__ import annotations

import subprocess
import tkinter as tk
from pathlib import Path

import pytest

from gui.audio_player import PAUSE, PLAY, AudioPlayer, VideoCard
from mmchat import audio, system_open
from mmchat.audio import Player, PlayerState
from tests import gui_helpers
from tests.gui_helpers import pump_for, pump_until
from tests.test_media import DATA, box, mvhd, write_wav

tk_root = gui_helpers.tk_root  # the fixtures, used by name below
tk_errors = gui_helpers.tk_errors


@pytest.fixture(autouse=True)
def no_speaker(monkeypatch) -> None:
    monkeypatch.setenv(audio.BACKEND_VARIABLE, "null")


@pytest.fixture
def launched(monkeypatch) -> list[list[str]]:
    """What Open and Show in folder would start (recorded, never started)."""
    calls: list[list[str]] = []
    monkeypatch.setattr(subprocess, "Popen", lambda args, **kwargs: calls.append(list(args)))
    monkeypatch.setattr(system_open.sys, "platform", "linux")
    return calls


def make_player(root: tk.Misc, path: Path, errors: list[str] | None = None) -> AudioPlayer:
    widget = AudioPlayer(root, Player(path), path.name, on_error=(errors if errors is not None else []).append)
    widget.pack()
    pump_until(root, lambda: widget.player.state is not PlayerState.LOADING, what="the file measured")
    return widget


def test_play_pause_and_the_bar_follows_the_sound(tk_root, tk_errors, tmp_path) -> None:
    widget = make_player(tk_root, write_wav(tmp_path / "talk.wav", 4.0))
    pump_until(tk_root, lambda: widget.time["text"] == "0:00 / 0:04", what="the length shown")
    assert widget.button["text"] == PLAY and widget.bar.get() == 0.0
    widget.button.invoke()
    assert widget.button["text"] == PAUSE
    pump_until(tk_root, lambda: widget.bar.get() > 0.1, what="the bar to move")
    assert widget.player.state is PlayerState.PLAYING
    widget.button.invoke()
    assert widget.button["text"] == PLAY
    pump_until(tk_root, lambda: widget.player.state is PlayerState.PAUSED)
    pump_for(tk_root, 0.3)
    held = widget.bar.get()
    pump_for(tk_root, 0.3)
    assert widget.bar.get() == held and 0.1 < held < 1.0


def test_at_the_end_the_button_is_play_again_and_the_bar_at_the_start(tk_root, tk_errors) -> None:
    widget = make_player(tk_root, DATA / "tone.ogg")
    widget.button.invoke()
    pump_until(tk_root, lambda: widget.player.ended == 1, what="the end of the tone")
    pump_until(tk_root, lambda: widget.button["text"] == PLAY, what="Play again")
    pump_until(tk_root, lambda: widget.bar.get() == 0.0, what="the bar back at the start")
    assert widget._after_id is None  # nothing plays: no more polling


def test_dragging_the_bar_seeks(tk_root, tk_errors, tmp_path) -> None:
    widget = make_player(tk_root, write_wav(tmp_path / "long.wav", 60.0))
    pump_until(tk_root, widget.winfo_ismapped)
    widget.bar.event_generate("<ButtonPress-1>", x=2, y=2)
    widget.bar.set(0.5)
    widget.bar.event_generate("<ButtonRelease-1>", x=2, y=2)
    pump_until(tk_root, lambda: widget.player.position == pytest.approx(30.0), what="the seek to the middle")
    pump_until(tk_root, lambda: widget.time["text"] == "0:30 / 1:00", what="the time after the seek")


def test_a_file_that_does_not_play_says_why_once(tk_root, tk_errors, tmp_path) -> None:
    fake = tmp_path / "fake.mp3"
    fake.write_bytes(b"not an mp3" * 50)
    errors: list[str] = []
    widget = make_player(tk_root, fake, errors)
    widget.button.invoke()
    pump_until(tk_root, lambda: errors, what="the sentence")
    pump_for(tk_root, 0.3)
    assert errors == [widget.player.error] and errors[0].startswith("Cannot play fake.mp3")
    assert widget.button.instate(["disabled"]) and widget.button["text"] == PLAY


def test_open_and_show_in_folder(tk_root, tk_errors, tmp_path, launched) -> None:
    song = write_wav(tmp_path / "song.wav", 0.5)
    widget = make_player(tk_root, song)
    widget.files.open.invoke()
    widget.files.show.invoke()
    assert launched == [["xdg-open", str(song)], ["xdg-open", str(tmp_path)]]


def test_open_of_a_file_that_went_away_is_a_sentence(tk_root, tk_errors, tmp_path, launched) -> None:
    errors: list[str] = []
    song = write_wav(tmp_path / "song.wav", 0.5)
    widget = make_player(tk_root, song, errors)
    song.unlink()
    widget.files.open.invoke()
    assert errors == ["Could not open song.wav: it is no longer there."] and launched == []


def test_destroying_the_widget_closes_the_player(tk_root, tk_errors, tmp_path) -> None:
    widget = make_player(tk_root, write_wav(tmp_path / "a.wav", 5.0))
    widget.button.invoke()
    pump_until(tk_root, lambda: widget.player.state is PlayerState.PLAYING)
    player = widget.player
    widget.destroy()
    player.join(5)
    assert not player._thread.is_alive()
    pump_for(tk_root, 0.3)  # and no after() callback runs against the dead widget (tk_errors)


def test_a_video_card_shows_the_length_and_opens_in_the_system_player(tk_root, tk_errors, tmp_path, launched):
    film = tmp_path / "film.mp4"
    film.write_bytes(box(b"ftyp", b"isom") + box(b"mdat", bytes(1000)) + box(b"moov", mvhd(0, 600, 45_000)))
    card = VideoCard(tk_root, film, "film.mp4", on_error=lambda s: None)
    assert card.label["text"] == "Video: film.mp4  ·  1:15"
    card.files.open.invoke()
    assert launched == [["xdg-open", str(film)]]
    other = tmp_path / "clip.webm"
    other.write_bytes(b"\x1a\x45\xdf\xa3")
    assert VideoCard(tk_root, other, "clip.webm", on_error=lambda s: None).label["text"] == "Video: clip.webm"


def test_the_arrow_keys_on_the_bar_seek(tk_root, tk_errors, tmp_path) -> None:
    widget = make_player(tk_root, write_wav(tmp_path / "long.wav", 100.0))
    pump_until(tk_root, widget.winfo_ismapped)
    widget.bar.focus_force()
    pump_until(tk_root, lambda: widget.bar.focus_get() is widget.bar, what="the keyboard on the bar")
    for _ in range(3):
        widget.bar.event_generate("<KeyPress-Right>", keysym="Right")
    pump_until(tk_root, lambda: widget.player.position == pytest.approx(15.0), what="three steps of 5 s")
    widget.bar.event_generate("<KeyPress-Left>", keysym="Left")
    pump_until(tk_root, lambda: widget.player.position == pytest.approx(10.0), what="one step back")
    assert float(widget.bar.get()) == pytest.approx(0.10)
