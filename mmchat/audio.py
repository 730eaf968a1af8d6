"""Playing audio files and recording voice messages, with miniaudio.

How this works
--------------
miniaudio (a wheel with its own C decoders for wav, mp3, ogg Vorbis and flac,
and the system's sound back ends: WASAPI, Core Audio, PulseAudio, ALSA...)
calls our generator from its own device thread whenever the sound card wants
frames.  That generator only takes the next chunk from the file's decoder
under a lock and counts the frames it handed over; the count is the position.
Everything that can take time or block — measuring the file, opening and
closing the device, seeking (a new decoder) — happens on the Player's worker
thread, which carries out the commands play/pause/seek/close that the window
puts on its queue, in order.  The window never waits: it reads `state`,
`position` and `duration` from `after()`.  When the decoder runs dry, the
device thread only queues "ended"; the worker closes the device (a device
cannot be closed from its own thread) and the player is back at the start.

A Recorder is the other way round: the device thread hands captured bytes to
a generator that keeps them (at most `max_seconds`, then it asks to stop), and
the recorder's worker writes them as a 16-bit mono wav with the `wave` module
once stopped, reporting a `RecordingDone` on the queue it was given.

Which back ends: the system's (all that miniaudio was built with, in its own
order of preference, except the silent null back end, so "no sound device"
is a sentence rather than silence), or the one named by MMCHAT_AUDIO_BACKEND
(e.g. "null" for a machine without sound, as the tests use, or "alsa").
"""

from __future__ import annotations

import enum
import os
import queue
import threading
import time
import wave
from array import array
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

import miniaudio

from .media import audio_duration, reason

OUTPUT_RATE = 48_000
OUTPUT_CHANNELS = 2
SAMPLE_BYTES = 2  # signed 16-bit
BUFFER_MS = 100  # what one device callback asks for, at most (the decoder reads ahead 16,384 frames)
VOICE_RATE = 16_000  # speech needs no more; mono 16-bit is 32 kB a second
MAX_VOICE_SECONDS = 120
MIN_VOICE_SECONDS = 0.5
BACKEND_VARIABLE = "MMCHAT_AUDIO_BACKEND"
Decoder = Generator[array, int, None]  # miniaudio.stream_file: send it a frame count, get samples
NO_OUTPUT = "No sound output was found on this computer, so mmchat cannot play audio here."
NO_INPUT = "No microphone was found on this computer, so mmchat cannot record a voice message."


def backends() -> list[miniaudio.Backend]:
    """The sound back ends to try, best first (MMCHAT_AUDIO_BACKEND names one instead)."""
    chosen = os.environ.get(BACKEND_VARIABLE, "").strip().upper()
    if chosen in miniaudio.Backend.__members__:
        return [miniaudio.Backend[chosen]]
    silent = (miniaudio.Backend.NULL, miniaudio.Backend.CUSTOM)
    # The enum's values are miniaudio's own order of preference (WASAPI first, null last).
    return sorted((b for b in miniaudio.get_enabled_backends() if b not in silent), key=lambda b: b.value)


def has_microphone(chosen: list[miniaudio.Backend] | None = None) -> bool:
    """Whether a capture device is there (may take a moment: call it off the Tk thread)."""
    try:
        return bool(miniaudio.Devices(chosen or backends()).get_captures())
    except miniaudio.MiniaudioError:
        return False


class PlayerState(enum.Enum):
    """Where a Player is."""

    LOADING = "loading"  # measuring the file
    STOPPED = "stopped"  # at the start (also after playing to the end)
    PLAYING = "playing"
    PAUSED = "paused"
    FAILED = "failed"  # `error` says why


class Player:
    """One audio file that plays, pauses and seeks without ever making its caller wait."""

    def __init__(self, path: Path, chosen: list[miniaudio.Backend] | None = None) -> None:
        self.path = Path(path)
        self.backends = chosen or backends()
        self.state = PlayerState.LOADING
        self.error = ""
        self.duration = 0.0
        self.ended = 0  # how many times it played to the end
        self._lock = threading.Lock()
        self._stream: Decoder | None = None  # the decoder, read by the device thread
        self._start_frame = 0  # where the decoder started (after a seek), in output frames
        self._played = 0  # frames handed to the device since then
        self._device: miniaudio.PlaybackDevice | None = None
        self._commands: queue.Queue[tuple[str, float]] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="mmchat-player", daemon=True)
        self._thread.start()

    # --- what the window calls (never waits) ------------------------------------------

    @property
    def position(self) -> float:
        """Seconds from the start of what has been handed to the sound card."""
        with self._lock:
            frames = self._start_frame + self._played
        return min(frames / OUTPUT_RATE, self.duration) if self.duration else frames / OUTPUT_RATE

    def play(self) -> None:
        """Start, or go on after a pause."""
        self._commands.put(("play", 0.0))

    def pause(self) -> None:
        """Stop where it is; play() goes on from there."""
        self._commands.put(("pause", 0.0))

    def toggle(self) -> None:
        """Play if not playing, else pause."""
        if self.state is PlayerState.PLAYING:
            self.pause()
        else:
            self.play()

    def seek(self, seconds: float) -> None:
        """Go to `seconds` from the start (playing on if it was playing)."""
        self._commands.put(("seek", max(seconds, 0.0)))

    def close(self) -> None:
        """Stop and let go of the device and the file (the worker does it, at once)."""
        self._commands.put(("close", 0.0))

    def join(self, timeout: float | None = None) -> None:
        """Wait for the worker to end after close() (for tests and shutdown)."""
        self._thread.join(timeout)

    # --- the worker thread --------------------------------------------------------------

    def _run(self) -> None:
        try:
            self.duration = audio_duration(self.path)
        except ValueError as exc:
            self._fail(str(exc))
        else:
            self.state = PlayerState.STOPPED
        while True:
            command, value = self._commands.get()
            if command == "close":
                self._close_device()
                self._set_stream(None, 0)
                return
            if self.state is PlayerState.FAILED:
                continue
            try:
                self._carry_out(command, value)
            except (miniaudio.MiniaudioError, OSError) as exc:
                self._close_device()
                self._fail(f"Cannot play {self.path.name}: {reason(exc)}.")

    def _carry_out(self, command: str, value: float) -> None:
        if command == "play" and self.state is not PlayerState.PLAYING:
            if self._stream is None:
                self._set_stream(self._open_stream(0), 0)
            if not self._open_device():
                return
            self.state = PlayerState.PLAYING
        elif command == "pause" and self.state is PlayerState.PLAYING:
            self._close_device()
            self.state = PlayerState.PAUSED
        elif command == "seek":
            frame = int(min(value, self.duration) * OUTPUT_RATE)
            self._set_stream(self._open_stream(frame), frame)
            if self.state is PlayerState.STOPPED:
                self.state = PlayerState.PAUSED  # a position other than the start, waiting for play
        elif command == "ended" and self._stream is None:  # not when a seek came in meanwhile
            self._close_device()
            self._set_stream(None, 0)
            self.ended += 1
            self.state = PlayerState.STOPPED

    def _open_stream(self, frame: int) -> Decoder:
        return miniaudio.stream_file(
            str(self.path), output_format=miniaudio.SampleFormat.SIGNED16, nchannels=OUTPUT_CHANNELS,
            sample_rate=OUTPUT_RATE, frames_to_read=4096, seek_frame=frame,
        )  # fmt: skip

    def _set_stream(self, stream: Decoder | None, frame: int) -> None:
        with self._lock:
            old, self._stream = self._stream, stream
            self._start_frame, self._played = frame, 0
        if old is not None:
            old.close()  # the device thread no longer sees it: free its decoder here

    def _open_device(self) -> bool:
        try:
            device = miniaudio.PlaybackDevice(
                output_format=miniaudio.SampleFormat.SIGNED16, nchannels=OUTPUT_CHANNELS, sample_rate=OUTPUT_RATE,
                buffersize_msec=BUFFER_MS, backends=self.backends, app_name="mmchat",
            )  # fmt: skip
        except miniaudio.MiniaudioError:
            self._fail(NO_OUTPUT)
            return False
        feed = self._feed()
        next(feed)
        device.start(feed)
        self._device = device
        return True

    def _close_device(self) -> None:
        device, self._device = self._device, None
        if device is not None:
            device.close()

    def _fail(self, sentence: str) -> None:
        self.error = sentence
        self.state = PlayerState.FAILED

    def _feed(self) -> Generator[bytes, int, None]:
        """The device thread's source of frames: the decoder's next chunk, or silence at the end."""
        frames = yield b""
        while True:
            chunk = b""
            with self._lock:
                stream = self._stream
                if stream is not None:
                    try:
                        chunk = bytes(stream.send(frames))
                    except StopIteration:
                        self._stream = None
                        self._commands.put(("ended", 0.0))
                    except miniaudio.MiniaudioError as exc:
                        self._stream = None
                        self._commands.put(("ended", 0.0))
                        self.error = f"{self.path.name} could not be read to the end ({reason(exc)})."
                    else:
                        self._played += len(chunk) // (SAMPLE_BYTES * OUTPUT_CHANNELS)
            frames = yield chunk


@dataclass(frozen=True)
class RecordingDone:
    """A Recorder finished: the wav it wrote, or the sentence saying why there is none."""

    path: Path | None
    seconds: float
    error: str = ""


class Recorder:
    """A voice message from the microphone into a wav file, on threads of its own."""

    def __init__(
        self, path: Path, results: queue.Queue, chosen: list[miniaudio.Backend] | None = None,
        max_seconds: float = MAX_VOICE_SECONDS,
    ) -> None:  # fmt: skip
        self.path = Path(path)
        self.results = results
        self.backends = chosen or backends()
        self.max_frames = int(max_seconds * VOICE_RATE)
        self.frames = 0  # captured so far (the window shows the time from it)
        self._chunks: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mmchat-recorder", daemon=True)

    @property
    def seconds(self) -> float:
        """How long the recording is so far."""
        return self.frames / VOICE_RATE

    def start(self) -> None:
        """Open the microphone and record until stop() or `max_seconds`."""
        self._thread.start()

    def stop(self) -> None:
        """Stop recording; the file is written and reported on the results queue."""
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the file to be written (for tests)."""
        self._thread.join(timeout)

    def _collect(self) -> Generator[None, bytes, None]:
        while True:
            data = yield
            room = (self.max_frames - self.frames) * SAMPLE_BYTES
            if room <= 0:
                self._stop.set()
                continue
            kept = bytes(data[:room])
            self._chunks.append(kept)
            self.frames += len(kept) // SAMPLE_BYTES

    def _run(self) -> None:
        try:
            device = miniaudio.CaptureDevice(
                input_format=miniaudio.SampleFormat.SIGNED16, nchannels=1, sample_rate=VOICE_RATE,
                buffersize_msec=BUFFER_MS, backends=self.backends, app_name="mmchat",
            )  # fmt: skip
        except miniaudio.MiniaudioError:
            self.results.put(RecordingDone(None, 0.0, NO_INPUT))
            return
        collect = self._collect()
        next(collect)
        try:
            device.start(collect)
            # Bounded: the generator asks to stop at max_frames; the margin covers a device that stalls.
            self._stop.wait(self.max_frames / VOICE_RATE + 10)
        except miniaudio.MiniaudioError as exc:
            self.results.put(RecordingDone(None, 0.0, f"The microphone could not be opened ({reason(exc)})."))
            return
        finally:
            device.close()
        self.results.put(self._write())

    def _write(self) -> RecordingDone:
        seconds = self.seconds
        if seconds < MIN_VOICE_SECONDS:
            return RecordingDone(None, seconds, "The recording was too short to send.")
        try:
            with wave.open(str(self.path), "wb") as out:
                out.setnchannels(1)
                out.setsampwidth(SAMPLE_BYTES)
                out.setframerate(VOICE_RATE)
                out.writeframes(b"".join(self._chunks))
        except OSError as exc:
            self.path.unlink(missing_ok=True)
            return RecordingDone(None, seconds, f"The recording could not be saved: {exc}.")
        return RecordingDone(self.path, seconds)


def self_check(folder: Path) -> str:
    """Write, measure, decode and play (on the null back end) a short tone; a sentence, or ValueError."""
    path = Path(folder) / "mmchat-selfcheck.wav"
    rate, frames = 8000, 2400
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(SAMPLE_BYTES)
        out.setframerate(rate)
        out.writeframes(bytes((i * 37) % 256 for i in range(frames * SAMPLE_BYTES)))
    decoded = miniaudio.decode_file(str(path), nchannels=1, sample_rate=rate)
    if abs(audio_duration(path) - 0.3) > 0.01 or decoded.num_frames != frames:
        raise ValueError(f"The audio decoder read {decoded.num_frames} frames of {frames}.")
    player = Player(path, [miniaudio.Backend.NULL])
    player.play()
    for _ in range(100):  # at most 5 s for 0.3 s of sound
        if player.ended or player.state is PlayerState.FAILED:
            break
        time.sleep(0.05)
    player.close()
    player.join(5)
    if not player.ended:
        raise ValueError(f"The audio player did not play to the end ({player.state.value}: {player.error}).")
    return f"miniaudio {miniaudio.__version__} decodes and plays"
