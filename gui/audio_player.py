"""What a shared audio or video file looks like in the conversation: a player, or a video's card.

How this works
--------------
AudioPlayer is a small frame (play/pause button, a ttk.Scale position bar,
the time, Open and Show in folder) around an mmchat.audio.Player.  The Player
does its work on its own threads and never calls back: this widget reads its
`state`, `position` and `duration` from `after()` every POLL_MS while it is
loading or playing, and stops polling when it is paused, stopped or failed
(the next press starts it again).  While the person drags the bar, the
polled position does not move it; letting go seeks there.  The `after` id is
cancelled and the Player closed when the widget is destroyed.

VideoCard is the same line for a video: its name, its length where
mmchat.media finds it cheaply, and Open (the system's player) and Show in
folder.  Both report what went wrong through `on_error`, as a sentence.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from pathlib import Path
from tkinter import ttk

from PIL import Image, ImageDraw, ImageTk

from mmchat import system_open
from mmchat.audio import Player, PlayerState
from mmchat.media import clock_text, video_duration

from . import chat_format, theme

POLL_MS = 100
SETTLE_POLLS = 5
STEP_S = 5.0  # what the arrow keys on the position bar move
PLAY, PAUSE = "Play", "Pause"  # the buttons' words, beside their drawn symbols
BAR_LENGTH = 240
NAME_CHARS = 28
GLYPH_SIZE = 14
ErrorSink = Callable[[str], object]


def glyph(master: tk.Misc, name: str, colour: str = theme.TEXT) -> ImageTk.PhotoImage:
    """A small drawn symbol: 'play', 'pause' or 'mic' (drawn, since Tk shows emoji as empty boxes on Linux).

    Tk thread only; keep the image while it is shown and let go of it on the Tk thread.
    """
    big = GLYPH_SIZE * 4  # drawn large, then shrunk: smooth edges
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    if name == "play":
        draw.polygon([(10, 4), (10, big - 4), (big - 6, big // 2)], fill=colour)
    elif name == "pause":
        draw.rectangle((10, 6, 22, big - 6), fill=colour)
        draw.rectangle((big - 22, 6, big - 10, big - 6), fill=colour)
    else:  # a microphone: the head, its holder and the stand
        draw.rounded_rectangle((19, 2, big - 19, 34), radius=9, fill=colour)
        draw.arc((10, 12, big - 10, 42), start=0, end=180, fill=colour, width=4)
        draw.rectangle((big // 2 - 2, 42, big // 2 + 2, 50), fill=colour)
        draw.rectangle((16, 50, big - 16, 54), fill=colour)
    return ImageTk.PhotoImage(image.resize((GLYPH_SIZE, GLYPH_SIZE), Image.Resampling.LANCZOS), master=master)


class FileButtons:
    """Open and Show in folder for a file on this computer, as two buttons on `master`."""

    def __init__(self, master: tk.Misc, path: Path, on_error: ErrorSink) -> None:
        self.path = path
        self.on_error = on_error
        # width=0: as wide as the words (a theme's buttons are at least 11 characters wide).
        self.open = ttk.Button(master, text="Open", style="Link.TButton", width=0, command=self.open_file)
        self.show = ttk.Button(master, text="Show in folder", style="Link.TButton", width=0, command=self.show_file)

    def open_file(self) -> None:
        """Open the file with the system's program for it."""
        try:
            system_open.open_path(self.path)
        except OSError as exc:
            self.on_error(str(exc))

    def show_file(self) -> None:
        """Show the file in its folder."""
        try:
            system_open.show_in_folder(self.path)
        except OSError as exc:
            self.on_error(str(exc))


class AudioPlayer(ttk.Frame):
    """An audio file that plays in place: play/pause, a position bar, the time, Open and Show in folder."""

    def __init__(
        self, master: tk.Misc, player: Player, title: str, on_error: ErrorSink,
        on_play: Callable[[AudioPlayer], object] | None = None,
    ) -> None:  # fmt: skip
        super().__init__(master, style="Surface.TFrame", padding=(4, 2))
        self.player = player
        self.on_error = on_error
        self.on_play = on_play  # the chat pauses the other players
        self._after_id: str | None = None
        self._dragging = False
        self._reported = False
        self._wants_play = False
        self._settle = 0  # polls left after a command, whatever the state
        self._ended_seen = 0  # the Player's `ended` when play was pressed: a change means it ended
        # Narrow enough for the narrowest conversation (about 350 pixels): the name and the time,
        # the bar under them, then Open and Show in folder; the button shows only its symbol.
        name = chat_format.truncate(chat_format.single_line(title), NAME_CHARS)
        self.glyphs = {kind: glyph(self, kind) for kind in ("play", "pause")}  # let go of on <Destroy>
        self.button = ttk.Button(self, text=PLAY, image=self.glyphs["play"], compound="image", command=self.toggle)
        self.name = ttk.Label(self, text=name, style="Surface.TLabel")
        self.bar = ttk.Scale(self, orient="horizontal", from_=0.0, to=1.0, length=BAR_LENGTH)
        self.time = ttk.Label(self, text="…", style="Muted.TLabel", background=theme.SURFACE)
        links = ttk.Frame(self, style="Surface.TFrame")
        self.files = FileButtons(links, player.path, on_error)
        self.button.grid(row=0, column=0, rowspan=3, padx=(0, 8))
        self.name.grid(row=0, column=1, sticky="w")
        self.time.grid(row=0, column=2, sticky="e", padx=(8, 0))
        self.bar.grid(row=1, column=1, columnspan=2, sticky="ew")
        links.grid(row=2, column=1, columnspan=2, sticky="w")
        self.files.open.pack(side="left")
        self.files.show.pack(side="left", padx=(6, 0))
        self.bar.bind("<ButtonPress-1>", self._drag_start, add="+")
        self.bar.bind("<ButtonRelease-1>", self._drag_end, add="+")
        # The Scale's own arrow keys step by one unit, here the whole file: step by STEP_S instead.
        self.bar.bind("<Left>", lambda event: self.step(-STEP_S))
        self.bar.bind("<Right>", lambda event: self.step(STEP_S))
        self.bind("<Destroy>", self._on_destroy, add="+")
        self._schedule()

    @property
    def playing(self) -> bool:
        """Whether the person asked it to play (and it has not ended or failed since)."""
        return self._wants_play

    def toggle(self) -> None:
        """Play, or pause while playing."""
        if self._wants_play:
            self.pause()
            return
        if self.on_play is not None:
            self.on_play(self)
        self._wants_play, self._ended_seen = True, self.player.ended
        self.player.play()
        self._show(PAUSE)
        self._schedule()

    def pause(self) -> None:
        """Pause if playing (also when another player starts)."""
        if self._wants_play:
            self._wants_play = False
            self.player.pause()
            self._show(PLAY)
            self._schedule()

    def _show(self, action: str) -> None:
        self.button.configure(text=action, image=self.glyphs["pause" if action == PAUSE else "play"])

    def step(self, seconds: float) -> str:
        """Seek `seconds` forward (or back, when negative) from where it is."""
        p = self.player
        if p.duration:
            # From the bar, not the player: a step just before has set the bar, and its seek may still be on its way.
            target = min(max(float(self.bar.get()) * p.duration + seconds, 0.0), p.duration)
            self.bar.set(target / p.duration)
            p.seek(target)
            self._schedule()
        return "break"

    def _drag_start(self, event: tk.Event) -> None:
        self._dragging = True

    def _drag_end(self, event: tk.Event) -> None:
        self._dragging = False
        if self.player.duration:
            self.player.seek(float(self.bar.get()) * self.player.duration)
            self._schedule()

    def refresh(self) -> None:
        """Show the player's state and position (Tk thread)."""
        p = self.player
        state = p.state
        if self._wants_play and (p.ended != self._ended_seen or state is PlayerState.FAILED):
            self._wants_play = False  # it played to the end (and is back at the start), or it failed
            self._show(PLAY)
        if state is PlayerState.FAILED:
            self.button.state(["disabled"])
            self.bar.state(["disabled"])
            self.time["text"] = "—"
            if not self._reported:
                self._reported = True
                self.on_error(p.error)
            return
        if state is PlayerState.LOADING:
            return
        position = p.position
        if not self._dragging and p.duration:
            self.bar.set(position / p.duration)
        self.time["text"] = f"{clock_text(position)} / {clock_text(p.duration)}"

    def _schedule(self) -> None:
        self._settle = SETTLE_POLLS  # the worker carries the command out soon: show what it did
        if self._after_id is None:
            self._after_id = self.after(POLL_MS, self._poll)

    def _poll(self) -> None:
        self._after_id = None
        self.refresh()
        state = self.player.state
        self._settle -= 1
        busy = state in (PlayerState.LOADING, PlayerState.PLAYING) or self._wants_play or self._dragging
        if (busy or self._settle > 0) and state is not PlayerState.FAILED:
            self._after_id = self.after(POLL_MS, self._poll)

    def _on_destroy(self, event: tk.Event) -> None:
        if event.widget is not self:
            return
        if self._after_id is not None:
            self.after_cancel(self._after_id)
            self._after_id = None
        self.player.close()
        self.glyphs.clear()  # the images go here, on the Tk thread


class VideoCard(ttk.Frame):
    """A downloaded video: its name and length, Open (the system's player) and Show in folder."""

    def __init__(self, master: tk.Misc, path: Path, title: str, on_error: ErrorSink) -> None:
        super().__init__(master, style="Surface.TFrame", padding=(4, 2))
        self.path = path
        seconds = video_duration(path)
        length = f"  ·  {clock_text(seconds)}" if seconds is not None else ""
        name = chat_format.truncate(chat_format.single_line(title), 40)
        self.label = ttk.Label(self, text=f"Video: {name}{length}", style="Surface.TLabel")
        self.files = FileButtons(self, path, on_error)
        self.label.grid(row=0, column=0, sticky="w", padx=(0, 6))
        self.files.open.grid(row=0, column=1)
        self.files.show.grid(row=0, column=2)
