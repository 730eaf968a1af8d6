"""Audio and video in the chat window: players at the announcements, video cards, voice messages.

How this works
--------------
When a member shares an audio file, the announcement gets a mark under it
(like a picture's) and, if the share is live and at most AUTO_FETCH_BYTES, the
file downloads by itself into the preview folder (the window's cache, emptied
when it closes); once there, an AudioPlayer appears at the mark.  From the
history, or when larger, the announcement offers Play instead, which does
the same on a click.  A video's announcement offers Open: it downloads into
the same cache, then a VideoCard (length, Open, Show in folder) appears at
the mark and the system's player opens it.

Only one player plays at a time: starting one pauses the others.  The
microphone button (gui/voice.py) records into a temporary folder of our own
and shares the file as !send would; its results, and the answer to "is there
a microphone" (asked once on a worker thread), come back through this
module's own queue, drained on the Tk thread by a QueuePump.  Closing the
window closes every player first (a file still open cannot be removed on
Windows), then the cache and the voice folder go.
"""

from __future__ import annotations

import queue
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mmchat import describe, system_open
from mmchat.audio import Player, RecordingDone, has_microphone
from mmchat.client import Transfer
from mmchat.media import MediaKind, kind_of

from . import chat_format
from .audio_player import AudioPlayer, VideoCard
from .message_view import Run
from .pump import QueuePump
from .side_panel import LocalFiles
from .voice import VoiceButton

if TYPE_CHECKING:
    from .chat_window import ChatWindow

AUTO_FETCH_BYTES = 25 * 1024 * 1024  # a live audio share up to this size downloads by itself
CLOSE_WAIT_S = 1.0  # at most this long for the players to let go of their files when the window closes


@dataclass(frozen=True)
class _Microphone:
    available: bool


class ChatMedia:
    """The audio players, video cards and voice button of one ChatWindow."""

    def __init__(self, window: ChatWindow) -> None:
        self.window = window
        self.players: list[AudioPlayer] = []
        self._fetching: dict[Transfer, tuple[str, bool]] = {}  # cache download -> (shared name, open it)
        self.shown: dict[str, AudioPlayer | VideoCard] = {}  # shared name -> what shows it
        self._voice_folder: tempfile.TemporaryDirectory[str] | None = None
        self.events: queue.Queue[object] = queue.Queue()
        self._pump = QueuePump(window.frame, self.events, self._on_event)
        self._pump.start()
        self.voice = VoiceButton(
            window.layout.composer, self._voice_path, self.events, send=self._send_voice,
            on_error=self._error, can_record=lambda: window.require_client() is not None,
        )  # fmt: skip
        self.voice.button.grid(row=0, column=2, rowspan=2, sticky="ns", padx=(4, 0))
        window.side.local_files = LocalFiles(find=window.sharing.local_copy, open=self.open_file, show=self.show_file)
        threading.Thread(target=self._look_for_microphone, name="mmchat-microphone", daemon=True).start()

    def _look_for_microphone(self) -> None:
        self.events.put(_Microphone(has_microphone()))

    def _on_event(self, item: object) -> None:
        if isinstance(item, _Microphone):
            self.voice.set_available(item.available)
        elif isinstance(item, RecordingDone):
            self.voice.done(item)

    def _error(self, sentence: str) -> None:
        self.window.view.system(sentence, error=True)

    # --- announcements ------------------------------------------------------------------

    def links(self, name: str, size: int, history: bool) -> list[Run]:
        """What a share announcement offers for an audio or video file, beside Download."""
        view = self.window.view
        kind = kind_of(name)
        if kind is MediaKind.AUDIO and (history or size > AUTO_FETCH_BYTES):
            return [view.link("Play", lambda: self.fetch(name))]
        if kind is MediaKind.VIDEO:
            return [view.link("Open", lambda: self.fetch(name, open_it=True))]
        return []

    def shared(self, name: str, size: int, history: bool) -> None:
        """An announcement was shown (its mark set): a live, small audio file downloads by itself."""
        if kind_of(name) is MediaKind.AUDIO and not history and size <= AUTO_FETCH_BYTES:
            self.fetch(name)

    def fetch(self, name: str, open_it: bool = False) -> Transfer | None:
        """Download a shared audio or video file into the cache (once) and show it at its announcement.

        Asked again (a second click on Play or Open), it plays or opens what is shown already.
        """
        w = self.window
        shown = self.shown.get(name)
        if shown is not None and shown.winfo_exists():
            if isinstance(shown, AudioPlayer):
                if not shown.playing:
                    shown.toggle()
            else:
                shown.files.open_file()
            return None
        if any(fetching == name for fetching, _ in self._fetching.values()):
            return None  # on its way already
        cached = w.sharing.preview_paths.get(name)
        if cached is not None and cached.is_file():
            self.show(name, cached, open_it)
            return None
        t = w.sharing.start_download(name, folder=chat_format.preview_folder(w.downloads))
        if t is not None:
            self._fetching[t] = name, open_it
        return t

    def fetched(self, t: Transfer) -> bool:
        """A transfer ended: if it was one of ours, show what came (or why not); False if not ours."""
        if t not in self._fetching:
            return False
        w = self.window
        name, open_it = self._fetching.pop(t)
        cache = chat_format.preview_folder(w.downloads)
        if t.ok and t.path is not None and chat_format.is_inside(t.path, cache):
            w.sharing.preview_paths[name] = t.path  # removed with the other previews when the window closes
            self.show(name, t.path, open_it)
        else:
            w.view.system(describe.transfer_line(t), error=True)
        return True

    def show(self, name: str, path: Path, open_it: bool = False) -> None:
        """An AudioPlayer or a VideoCard for `path` under the announcement of `name`."""
        view = self.window.view
        at = view.anchors.get(name, "")
        if kind_of(name) is MediaKind.AUDIO:
            player = AudioPlayer(view.text, Player(path), name, on_error=self._error, on_play=self._pause_others)
            self.players.append(player)
            self.shown[name] = player
            view.add_widget(player, at=at)
            return
        card = VideoCard(view.text, path, name, on_error=self._error)
        self.shown[name] = card
        view.add_widget(card, at=at)
        if open_it:
            card.files.open_file()

    def _pause_others(self, starting: AudioPlayer) -> None:
        # A player whose lines the view forgot was destroyed with them (and closed its Player).
        self.players = [player for player in self.players if player.winfo_exists()]
        for player in self.players:
            if player is not starting:
                player.pause()

    def file_links(self, path: Path) -> list[Run]:
        """Open and Show in folder, as links for the line that says a download is saved."""
        view = self.window.view
        return [
            view.link("Open", lambda: self.open_file(path)),
            view.link("Show in folder", lambda: self.show_file(path)),
        ]

    def open_file(self, path: Path) -> None:
        """Open `path` with the system's program for it; a failure is a line in the chat."""
        self._system(system_open.open_path, path)

    def show_file(self, path: Path) -> None:
        """Show `path` in the system's file manager; a failure is a line in the chat."""
        self._system(system_open.show_in_folder, path)

    def _system(self, action: Callable[[Path], object], path: Path) -> None:
        try:
            action(path)
        except OSError as exc:
            self._error(str(exc))

    # --- voice messages -----------------------------------------------------------------

    def _voice_path(self) -> Path:
        if self._voice_folder is None:
            self._voice_folder = tempfile.TemporaryDirectory(prefix="mmchat-voice-", ignore_cleanup_errors=True)
        return Path(self._voice_folder.name)

    def _send_voice(self, path: Path) -> None:
        self.window.upload(path)

    # --- closing ------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the players and the microphone, and let go of every file (before the cache goes)."""
        self._pump.stop()
        players = [p.player for p in self.players]
        for player in players:
            player.close()
        deadline = time.monotonic() + CLOSE_WAIT_S
        for player in players:
            player.join(max(deadline - time.monotonic(), 0.0))
        self.players.clear()
        self.shown.clear()
        if self.voice.recorder is not None:
            self.voice.recorder.stop()
            self.voice.recorder.join(max(deadline - time.monotonic(), 0.0))
        if self._voice_folder is not None:
            self._voice_folder.cleanup()
            self._voice_folder = None
