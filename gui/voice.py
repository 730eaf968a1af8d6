"""The microphone button beside the message box: record a voice message, send it as an audio file.

How this works
--------------
Press to record, press again to stop (or it stops by itself at
MAX_VOICE_SECONDS); the recording is a wav in a temporary folder that is then
shared through the same path as !send, and because it is an audio file it
plays in place for everyone.  The Recorder (mmchat.audio) records on its own
threads; this button only reads its `seconds` from `after()` to show the
time, and gets the finished file as a RecordingDone through the chat's
queue (`done`).  Whether there is a microphone at all takes a moment to find
out, so the chat asks on a worker thread and tells the button
(`set_available`); until then, and on a computer without one, the button is
disabled and its hint says why.
"""

from __future__ import annotations

import queue
import time
import tkinter as tk
from collections.abc import Callable
from pathlib import Path
from tkinter import ttk

from mmchat.audio import MAX_VOICE_SECONDS, NO_INPUT, Recorder, RecordingDone
from mmchat.media import clock_text

from . import theme
from .audio_player import glyph

POLL_MS = 200
HINT_DELAY_MS = 400
MIC = "Voice"  # its words (the button shows a drawn microphone: Tk shows emoji as empty boxes on Linux)
READY_HINT = f"Record a voice message (up to {MAX_VOICE_SECONDS // 60} minutes): press to start, press again to send."
LOOKING_HINT = "Looking for a microphone…"


class Hint:
    """A small note that appears under a widget while the pointer rests on it (also when disabled)."""

    def __init__(self, widget: tk.Misc, text: str) -> None:
        self.widget = widget
        self.text = text
        self.top: tk.Toplevel | None = None
        self._after_id: str | None = None
        widget.bind("<Enter>", lambda event: self._soon(), add="+")
        widget.bind("<Leave>", lambda event: self.hide(), add="+")
        widget.bind("<ButtonPress>", lambda event: self.hide(), add="+")
        widget.bind("<Destroy>", lambda event: self.hide(), add="+")

    def _soon(self) -> None:
        self.hide()
        self._after_id = self.widget.after(HINT_DELAY_MS, self.show)

    def show(self) -> None:
        """Show the note now."""
        self._after_id = None
        if self.top is not None or not self.widget.winfo_exists():
            return
        self.top = tk.Toplevel(self.widget)
        self.top.wm_overrideredirect(True)
        x = self.widget.winfo_rootx()
        y = self.widget.winfo_rooty() + self.widget.winfo_height() + 4
        self.top.wm_geometry(f"+{x}+{y}")
        tk.Label(self.top, text=self.text, background="#fffbe6", foreground=theme.TEXT, borderwidth=1,
                 relief="solid", padx=6, pady=3, wraplength=320, justify="left").pack()  # fmt: skip

    def hide(self) -> None:
        """Take the note away (and forget a pending one)."""
        if self._after_id is not None:
            self.widget.after_cancel(self._after_id)
            self._after_id = None
        if self.top is not None:
            self.top.destroy()
            self.top = None


class VoiceButton:
    """🎤 in the composer: records into `folder`, hands the finished file to `send`."""

    def __init__(
        self, master: tk.Misc, folder: Callable[[], Path], results: queue.Queue, send: Callable[[Path], object],
        on_error: Callable[[str], object], can_record: Callable[[], bool] = lambda: True,
    ) -> None:  # fmt: skip
        self.folder = folder  # made when the first recording needs it
        self.results = results  # where the Recorder reports (the chat's queue, which calls done())
        self.send = send
        self.on_error = on_error
        self.can_record = can_record  # False (after saying why) while not connected
        self.max_seconds: float = MAX_VOICE_SECONDS
        self.recorder: Recorder | None = None
        self.available = False
        self._after_id: str | None = None
        self.glyphs = {"mic": glyph(master, "mic")}  # let go of on <Destroy>, on the Tk thread
        # Only the symbol while it waits (the box keeps its width); the time beside it while recording.
        self.button = ttk.Button(master, text=MIC, image=self.glyphs["mic"], compound="image", command=self.press)
        self.button.state(["disabled"])
        self.hint = Hint(self.button, LOOKING_HINT)
        self.button.bind("<Destroy>", self._on_destroy, add="+")

    @property
    def recording(self) -> bool:
        """Whether the microphone is on."""
        return self.recorder is not None

    def set_available(self, available: bool) -> None:
        """Whether this computer has a microphone: enables the button, or says why not."""
        self.available = available
        self.hint.text = READY_HINT if available else NO_INPUT
        if not self.recording:
            self.button.state(["!disabled"] if available else ["disabled"])

    def press(self) -> None:
        """Start recording, or stop and send."""
        if self.recorder is not None:
            self.stop()
        elif self.available and self.can_record():
            self.start()

    def start(self) -> None:
        """Turn the microphone on."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        self.recorder = Recorder(self.folder() / f"voice-{stamp}.wav", self.results, max_seconds=self.max_seconds)
        self.recorder.start()
        self.button.configure(text=f"Stop {clock_text(0)}", style="Accent.TButton", compound="left")
        self._after_id = self.button.after(POLL_MS, self._tick)

    def stop(self) -> None:
        """Turn the microphone off; the file comes back through the queue (done)."""
        if self.recorder is not None:
            self.recorder.stop()
            self.button.configure(text="…")
            self.button.state(["disabled"])

    def _tick(self) -> None:
        self._after_id = None
        if self.recorder is None:
            return
        self.button["text"] = f"Stop {clock_text(self.recorder.seconds)}"
        self._after_id = self.button.after(POLL_MS, self._tick)

    def done(self, result: RecordingDone) -> None:
        """The recording is over (stopped, or at its maximum): send it, or say why not."""
        self.recorder = None
        if self._after_id is not None:
            self.button.after_cancel(self._after_id)
            self._after_id = None
        self.button.configure(text=MIC, style="TButton", compound="image")
        self.set_available(self.available)
        if result.path is None:
            self.on_error(result.error)
        else:
            self.send(result.path)

    def _on_destroy(self, event: tk.Event) -> None:
        if event.widget is not self.button:
            return
        self.glyphs.clear()  # the image goes here, on the Tk thread
        if self._after_id is not None:
            self.button.after_cancel(self._after_id)
            self._after_id = None
        if self.recorder is not None:
            self.recorder.stop()  # its file is written into the temporary folder and goes with it
