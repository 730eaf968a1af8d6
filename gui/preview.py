"""Small inline previews of shared images.

Decoding and shrinking a picture can take a while, so it happens on a worker
thread that only uses Pillow and hands the finished thumbnail back through the
window's queue (`PreviewReady`); the window turns it into a PhotoImage on the
Tk thread and keeps a reference for as long as the image is shown.
"""

from __future__ import annotations

import queue
import threading
import tkinter as tk
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageTk

THUMBNAIL_SIZE = (320, 220)
MAX_PIXELS = 60_000_000  # refuse "decompression bombs" before decoding anything


@dataclass(frozen=True)
class PreviewReady:
    """A thumbnail made on a worker thread (or the sentence saying why there is none)."""

    path: Path
    image: Image.Image | None
    error: str = ""
    title: str = ""


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


def load_in_background(path: Path, results: queue.Queue, title: str = "") -> threading.Thread:
    """Make a thumbnail of `path` on a worker thread and put a PreviewReady on `results`."""

    def work() -> None:
        try:
            results.put(PreviewReady(path, load_thumbnail(path), title=title))
        except ValueError as exc:
            results.put(PreviewReady(path, None, str(exc), title=title))

    thread = threading.Thread(target=work, name="mmchat-preview", daemon=True)
    thread.start()
    return thread


def photo(master: tk.Misc, image: Image.Image) -> ImageTk.PhotoImage:
    """A Tk image of a thumbnail (Tk thread only; keep the returned object alive while shown)."""
    return ImageTk.PhotoImage(image, master=master)
