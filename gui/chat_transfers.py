"""The chat window's files: sharing, downloading, inline previews of shared images.

`ChatClient.send_file` and `request_file` return at once and do everything
that touches the network (the ticket request included) on their own
transfer thread, so they are safe to call on the Tk thread.  Progress comes
back through a ProgressCounter that the TransferPanel polls, the end as a
TransferFinished on the client's queue (`finished`).  A failed transfer's row
has a Resume button (`resume`: the same transfer again, which goes on from
where it stopped, in a new row); when the window connects again after a drop,
the failed transfers that left something to resume go on by themselves
(`reconnected`).  Files dropped onto the window upload DROPPED_AT_ONCE at a
time and the rest wait their turn (the host allows a member 16 transfers at
once, and twenty files dropped together should all arrive, not four refused).
Preview copies live in the downloads folder's preview folder and are removed
when the window closes.
"""

from __future__ import annotations

import collections
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from mmchat import describe
from mmchat.client import ChatClient, Transfer

from . import chat_format, preview
from .transfer_panel import ProgressCounter

if TYPE_CHECKING:
    from .chat_window import ChatWindow

DROPPED_AT_ONCE = 4  # uploads from drops that run at once; the others wait in order


class ChatTransfers:
    """Uploads, downloads and previews for one ChatWindow."""

    def __init__(self, window: ChatWindow) -> None:
        self.window = window
        self._previews: set[Transfer] = set()
        self.preview_paths: dict[str, Path] = {}  # shared name -> its copy in the preview folder
        self._upload_paths: dict[Transfer, Path] = {}
        self._again: dict[Transfer, Callable[[], Transfer | None]] = {}  # how to ask for a failed one again
        self._client_of: dict[Transfer, ChatClient] = {}  # the connection each transfer was asked on
        self.saved: dict[str, Path] = {}  # shared name -> where this member last downloaded it
        self._text_folder: tempfile.TemporaryDirectory[str] | None = None  # too-long messages, as files
        self._waiting: collections.deque[Path] = collections.deque()  # dropped files not started yet
        self._dropped: set[Transfer] = set()  # uploads from drops, running

    def upload_text(self, text: str) -> Transfer | None:
        """Share `text` as a UTF-8 .txt file named after the sender and the time."""
        w = self.window
        if w.require_client() is None:
            return None
        if self._text_folder is None:
            self._text_folder = tempfile.TemporaryDirectory(prefix="mmchat-text-")
        stamp = time.strftime("%Y%m%d-%H%M%S")
        sender = chat_format.default_save_name(chat_format.single_line(w.name)) or "message"
        path = Path(self._text_folder.name) / f"message-{sender}-{stamp}.txt"
        path.write_text(text, encoding="utf-8")
        return self.upload(path)

    def attach(self) -> None:
        """Pick a file with the window's dialog and share it."""
        if self.window.require_client() is None:
            return
        path = self.window._ask_open_path()
        if path:
            self.upload(Path(path))

    def dropped(self, paths: list[Path]) -> None:
        """Files dropped onto the window: each is shared; a folder gets a sentence instead."""
        if self.window.require_client() is None:
            return
        for path in paths:
            if path.is_dir():
                shown = chat_format.single_line(path.name or str(path))
                self.window.view.system(f"{shown} is a folder: drop the files in it instead.", error=True)
            else:
                self._waiting.append(path)
        self._next_dropped()
        if self._waiting:
            more = len(self._waiting)
            files = "1 more file waits" if more == 1 else f"{more} more files wait"
            self.window.view.system(f"{files} their turn: each starts when an upload before it ends.")

    def _next_dropped(self) -> None:
        """Start waiting dropped files while fewer than DROPPED_AT_ONCE run (and the window is connected)."""
        w = self.window
        while self._waiting and len(self._dropped) < DROPPED_AT_ONCE:
            if w.client is None or w.ended or not w.client.connected:
                return  # they start once the window is connected again (`reconnected`)
            t = self.upload(self._waiting.popleft())
            if t is not None:  # None: the file went away meanwhile (the row says so)
                self._dropped.add(t)

    def upload(self, path: Path) -> Transfer | None:
        """Share a local file through the host, with a progress row."""
        w = self.window
        client = w.require_client()
        if client is None:
            return None
        if not path.is_file():
            w.view.system(f"No such file here: {path}", error=True)
            return None
        counter = ProgressCounter()
        t = client.send_file(path, progress=counter)  # returns at once; the transfer thread does the rest
        self._upload_paths[t] = path
        self._asked(t, client, lambda: self.upload(path))
        w.transfers.add(t, counter, self.resume)
        return t

    def download(self, name: str) -> Transfer | None:
        """Ask where to save a shared file, then download it."""
        if self.window.require_client() is None:
            return None
        path = self.window._ask_save_path(name)
        return self.start_download(name, save_as=Path(path)) if path else None

    def download_selected(self) -> None:
        """Download the file chosen in the side panel (the menu's Download…)."""
        w = self.window
        name = w.side.selected_file()
        if name:
            self.download(name)
        else:
            w.view.system("Choose a file in the Shared files list first, then Download.")
            w.side.files.focus_set()

    def preview(self, name: str) -> Transfer | None:
        """Download a shared image into the preview folder (once) and show it inline."""
        w = self.window
        fetched = self.preview_paths.get(name)
        if fetched is not None and fetched.is_file():
            preview.load_in_background(fetched, w.ui_events, title=name)
            return None
        t = self.start_download(name, folder=chat_format.preview_folder(w.downloads))
        if t is not None:
            self._previews.add(t)
            self._again[t] = lambda: self.preview(name)
        return t

    def start_download(self, name: str, save_as: Path | None = None, folder: Path | None = None) -> Transfer | None:
        """Download `name` with a progress row (no dialog); None when not connected."""
        w = self.window
        client = w.require_client()
        if client is None:
            return None
        counter = ProgressCounter()
        t = client.request_file(name, progress=counter, save_as=save_as, folder=folder)  # returns at once
        self._asked(t, client, lambda: self.start_download(name, save_as, folder))
        w.transfers.add(t, counter, self.resume)
        return t

    def _asked(self, t: Transfer, client: ChatClient, again: Callable[[], Transfer | None]) -> None:
        self._again[t] = again
        self._client_of[t] = client

    def resume(self, t: Transfer) -> Transfer | None:
        """Ask for a failed transfer again (its Resume button): it goes on from where it stopped, in a new row."""
        again = self._again.pop(t, None)
        if again is None:
            return None
        new = again()
        if new is None:  # not connected: the button stays for later
            self._again[t] = again
            return None
        self._client_of.pop(t, None)
        row = self.window.transfers.rows.get(t)
        if row is not None:
            self.window.transfers.dismiss(row)
        return new

    def reconnected(self) -> None:
        """The window is connected again: the failed transfers that left something to resume go on."""
        rows = self.window.transfers.rows
        for t in [t for t in self._again if t not in rows]:  # dismissed meanwhile
            del self._again[t]
            self._client_of.pop(t, None)
        for t, row in list(rows.items()):
            if row.finished and not t.ok and t.resumable and not t.cancelled:
                self.resume(t)
        self._next_dropped()

    def finished(self, t: Transfer) -> None:
        """A transfer ended: update its row, say how it went, preview a picture."""
        w = self.window
        w.transfers.finish(t)
        if t in self._dropped:
            self._dropped.discard(t)
            self._next_dropped()
        if t.ok:
            self._again.pop(t, None)
        asked_on = self._client_of.pop(t, None) if t.ok or not t.resumable else self._client_of.get(t)
        if w.media.fetched(t):
            return  # an audio or video file for its player or card
        is_preview = t in self._previews
        self._previews.discard(t)
        local = t.path or self._upload_paths.pop(t, None)  # where the bytes are on this machine
        if is_preview and t.ok and t.path is not None:
            if chat_format.is_inside(t.path, chat_format.preview_folder(w.downloads)):
                self.preview_paths[t.filename] = t.path
        else:
            saved = t.path if t.ok and t.direction == "download" else None
            if saved is not None:
                self.saved[t.filename] = saved
            links = w.media.file_links(saved) if saved is not None else []  # Open, Show in folder
            w.view.system(describe.transfer_line(t), error=not t.ok, links=links)
        if t.ok and local is not None and chat_format.is_image(local.name):
            preview.load_in_background(local, w.ui_events, title=t.remote_name or t.filename)
        if not t.ok and t.resumable and asked_on is not None and asked_on is not w.client and not w.ended:
            self.resume(t)  # it failed after the window had connected again: it goes on at once

    def local_copy(self, name: str) -> Path | None:
        """This member's copy of the shared file `name`: the download, else a preview or player copy."""
        for path in (self.saved.get(name), self.preview_paths.get(name)):
            if path is not None and path.is_file():
                return path
        return None

    def remove_previews(self) -> None:
        """Delete the preview copies (the preview folder if that leaves it empty) and the text files."""
        if self._text_folder is not None:
            self._text_folder.cleanup()
            self._text_folder = None
        folder = chat_format.preview_folder(self.window.downloads)
        for path in self.preview_paths.values():
            if chat_format.is_inside(path, folder):
                path.unlink(missing_ok=True)
        try:
            folder.rmdir()  # only if empty: never anything the person put there
        except OSError:
            pass
