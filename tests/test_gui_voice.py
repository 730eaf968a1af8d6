"""The microphone button: real Tk widgets under Xvfb, recording from miniaudio's null back end
(a capture device that makes silence at the sound card's pace, with no microphone)."""

from __future__ import annotations

import queue
import tkinter as tk
import wave
from pathlib import Path
from typing import cast

import pytest

from gui.voice import MIC, NO_INPUT, READY_HINT, VoiceButton
from mmchat import audio
from mmchat.audio import RecordingDone
from tests import gui_helpers
from tests.gui_helpers import pump_for, pump_until

tk_root = gui_helpers.tk_root  # the fixtures, used by name below
tk_errors = gui_helpers.tk_errors


@pytest.fixture(autouse=True)
def no_microphone_needed(monkeypatch) -> None:
    monkeypatch.setenv(audio.BACKEND_VARIABLE, "null")


class Voice:
    """A VoiceButton whose results queue is drained the way the chat's pump drains it."""

    def __init__(self, root: tk.Tk, folder: Path) -> None:
        self.root = root
        self.results: queue.Queue[RecordingDone] = queue.Queue()
        self.sent: list[Path] = []
        self.errors: list[str] = []
        self.button = VoiceButton(root, lambda: folder, self.results, self.sent.append, self.errors.append)
        self.button.button.pack()

    def pump_until_done(self, timeout: float = 10.0) -> None:
        done = pump_until(self.root, lambda: self._get(), timeout=timeout, what="the recording")
        self.button.done(cast(RecordingDone, done))

    def _get(self) -> RecordingDone | None:
        try:
            return self.results.get_nowait()
        except queue.Empty:
            return None


def test_disabled_until_a_microphone_is_found_and_the_hint_says_why(tk_root, tk_errors, tmp_path) -> None:
    voice = Voice(tk_root, tmp_path)
    b = voice.button
    assert b.button.instate(["disabled"])
    b.set_available(False)
    assert b.button.instate(["disabled"]) and b.hint.text == NO_INPUT
    pump_until(tk_root, b.button.winfo_ismapped)
    b.button.event_generate("<Enter>")
    top = pump_until(tk_root, lambda: b.hint.top, what="the hint under the button")
    [label] = top.winfo_children()
    assert label["text"] == NO_INPUT  # a disabled button still says why when the pointer rests on it
    b.button.event_generate("<Leave>")
    assert b.hint.top is None
    b.set_available(True)
    assert not b.button.instate(["disabled"]) and b.hint.text == READY_HINT


def test_press_records_shows_the_time_and_press_again_sends_a_wav(tk_root, tk_errors, tmp_path) -> None:
    voice = Voice(tk_root, tmp_path)
    b = voice.button
    b.set_available(True)
    b.button.invoke()
    assert b.recording
    pump_until(tk_root, lambda: b.button["text"] == "Stop 0:01", what="one second on the button")
    b.button.invoke()
    assert b.button.instate(["disabled"])  # saving
    voice.pump_until_done()
    assert not b.recording and b.button["text"] == MIC and not b.button.instate(["disabled"])
    [path] = voice.sent
    assert path.parent == tmp_path and path.name.startswith("voice-") and path.suffix == ".wav"
    with wave.open(str(path)) as wav:
        assert wav.getframerate() == audio.VOICE_RATE and wav.getnframes() >= audio.VOICE_RATE
    assert voice.errors == []


def test_the_recording_stops_by_itself_at_the_maximum(tk_root, tk_errors, tmp_path) -> None:
    voice = Voice(tk_root, tmp_path)
    voice.button.max_seconds = 0.8
    voice.button.set_available(True)
    voice.button.button.invoke()
    voice.pump_until_done()  # nobody pressed again
    [path] = voice.sent
    assert audio.audio_duration(path) == pytest.approx(0.8)


def test_a_too_short_recording_is_a_sentence_not_a_message(tk_root, tk_errors, tmp_path) -> None:
    voice = Voice(tk_root, tmp_path)
    voice.button.set_available(True)
    voice.button.button.invoke()
    voice.button.button.invoke()
    voice.pump_until_done()
    assert voice.sent == [] and voice.errors == ["The recording was too short to send."]


def test_not_connected_means_no_recording(tk_root, tk_errors, tmp_path) -> None:
    voice = Voice(tk_root, tmp_path)
    voice.button.can_record = lambda: False
    voice.button.set_available(True)
    voice.button.button.invoke()
    assert not voice.button.recording
    pump_for(tk_root, 0.1)
