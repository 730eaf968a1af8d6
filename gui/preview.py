"""Small inline previews of shared images.

Decoding and shrinking a picture can take a while, so it happens on a worker
thread that only uses Pillow and hands the finished thumbnail back through the
window's queue (`PreviewReady`); the window turns it into a PhotoImage on the
Tk thread and keeps a reference for as long as the image is shown.

`show` puts a thumbnail under the announcement of its file when the view has
an anchor for it (else at the end).  A click on it loads the picture again,
shrunk to fit the screen, on a worker thread (`PreviewReady.full`), and
`PictureWindow` shows that full size until Escape or a click.
"""

from __future__ import annotations

import queue
import threading
import tkinter as tk
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image, ImageTk

if TYPE_CHECKING:
    from .message_view import MessageView

THUMBNAIL_SIZE = (320, 220)
SCREEN_SHARE = 0.9  # a full-size picture fits in this share of the screen, both ways
MAX_PIXELS = 60_000_000  # refuse "decompression bombs" before decoding anything


@dataclass(frozen=True)
class PreviewReady:
    """A thumbnail made on a worker thread (or the sentence saying why there is none)."""

    path: Path
    image: Image.Image | None
    error: str = ""
    title: str = ""
    full: bool = False  # made to fit the screen, for a PictureWindow


def load_thumbnail(path: Path, size: tuple[int, int] = THUMBNAIL_SIZE) -> Image.Image:
    """Open an image file and shrink it to fit `size`; raise ValueError with a sentence."""
    try:
        with Image.open(path) as image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise ValueError(f"{path.name} is too large to preview ({width}×{height} pixels).")
            image.draft("RGB", size)  # JPEG decodes straight to a smaller size
            image.thumbnail(size)
            has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
            return image.convert("RGBA" if has_alpha else "RGB")
    except (OSError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ValueError(f"Cannot preview {path.name}: it is not a readable image ({exc}).") from None


def load_in_background(
    path: Path, results: queue.Queue, title: str = "", size: tuple[int, int] | None = None
) -> threading.Thread:
    """Shrink `path` to a thumbnail (or to fit `size`) on a worker thread; a PreviewReady goes on `results`."""
    full = size is not None

    def work() -> None:
        try:
            results.put(PreviewReady(path, load_thumbnail(path, size or THUMBNAIL_SIZE), title=title, full=full))
        except ValueError as exc:
            results.put(PreviewReady(path, None, str(exc), title=title, full=full))

    thread = threading.Thread(target=work, name="mmchat-preview", daemon=True)
    thread.start()
    return thread


def photo(master: tk.Misc, image: Image.Image) -> ImageTk.PhotoImage:
    """A Tk image of a thumbnail (Tk thread only; keep the returned object alive while shown)."""
    return ImageTk.PhotoImage(image, master=master)


def screen_fit(master: tk.Misc) -> tuple[int, int]:
    """The largest size a full-size picture may have on `master`'s screen."""
    return int(master.winfo_screenwidth() * SCREEN_SHARE), int(master.winfo_screenheight() * SCREEN_SHARE)


def show(master: tk.Misc, view: MessageView, ready: PreviewReady, results: queue.Queue) -> PictureWindow | None:
    """Show a finished PreviewReady: a sentence, a thumbnail at its announcement, or a PictureWindow."""
    if ready.image is None:
        view.system(ready.error, error=True)
        return None
    if ready.full:
        return PictureWindow(master, ready.image, ready.title or ready.path.name)
    path, title = ready.path, ready.title

    def open_full() -> None:
        load_in_background(path, results, title=title, size=screen_fit(master))

    view.add_image(photo(view.text, ready.image), title, at=view.anchors.get(title, ""), on_click=open_full)
    return None


class PictureWindow:
    """A picture at full size (shrunk to fit the screen), closed by Escape or a click."""

    def __init__(self, master: tk.Misc, image: Image.Image, title: str) -> None:
        self.top = tk.Toplevel(master)
        self.top.title(title)
        self.photo: ImageTk.PhotoImage | None = photo(self.top, image)
        self.label = tk.Label(self.top, image=self.photo, borderwidth=0, cursor="hand2")
        self.label.pack()
        for widget in (self.top, self.label):
            widget.bind("<Escape>", lambda event: self.close())
            widget.bind("<Button-1>", lambda event: self.close())
        self.top.protocol("WM_DELETE_WINDOW", self.close)
        # Escape needs the keyboard: the person asked for this window by clicking, so take it once shown.
        self.top.bind("<Map>", lambda event: self.top.focus_force() if event.widget is self.top else None)
        self.top.bind("<Destroy>", self._on_destroy)

    def _on_destroy(self, event: tk.Event) -> None:
        if event.widget is self.top:
            self.photo = None  # let go of the image here, on the Tk thread

    def close(self) -> None:
        """Close the window (and let go of its image on the Tk thread)."""
        self.photo = None
        try:
            self.top.destroy()
        except tk.TclError:
            pass
