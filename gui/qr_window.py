"""The one-time code window: the QR image and the seconds left, gone after five seconds.

The PNG comes from the host in memory and goes straight into a Tk image: it is
never written to disk.  Two `after` timers run (the countdown and the close);
both are cancelled however the window ends, so no callback outlives it.
"""

from __future__ import annotations

import io
import math
import time
import tkinter as tk
from tkinter import ttk

from PIL import Image, ImageTk

from . import theme

SHOW_SECONDS = 5.0
TICK_MS = 200


def decode_png(png: bytes) -> Image.Image:
    """The QR picture as an RGB image; raise ValueError with a sentence if it is not one."""
    try:
        with Image.open(io.BytesIO(png)) as image:
            if image.width * image.height > 4_000_000:
                raise ValueError("The QR image from the host is far too large.")
            return image.convert("RGB")
    except (OSError, SyntaxError, Image.DecompressionBombError):
        raise ValueError("The host sent a QR image that cannot be shown.") from None


class QRWindow:
    """A Toplevel showing a one-time code for `seconds`, then destroying itself."""

    def __init__(self, master: tk.Misc, png: bytes, code: str, expires_in: int, seconds: float = SHOW_SECONDS) -> None:
        picture = decode_png(png)  # before any window exists: a bad image opens nothing
        self.code = code
        now = time.monotonic()
        self.deadline = now + seconds
        self.expires = now + expires_in
        self.top = tk.Toplevel(master)
        self.top.title("One-time code")
        self.top.configure(background=theme.SURFACE)
        self.top.resizable(False, False)
        self.top.transient(master.winfo_toplevel())
        self.image: ImageTk.PhotoImage | None = ImageTk.PhotoImage(picture, master=self.top)  # kept alive

        body = ttk.Frame(self.top, style="Surface.TFrame", padding=20)
        body.pack(fill="both", expand=True)
        ttk.Label(body, text="Your one-time code", style="Title.TLabel", background=theme.SURFACE).pack()
        ttk.Label(body, image=self.image, style="Surface.TLabel").pack(pady=12)
        ttk.Label(body, text=code, font=theme.monospace(self.top, 14), style="Surface.TLabel").pack()
        self.validity = ttk.Label(body, style="Surface.TLabel", foreground=theme.MUTED)
        self.validity.pack(pady=(4, 0))
        self.countdown = ttk.Label(body, style="Surface.TLabel", foreground=theme.MUTED)
        self.countdown.pack(pady=(2, 12))
        ttk.Button(body, text="Close", command=self.close).pack()

        self.top.protocol("WM_DELETE_WINDOW", self.close)
        self.top.bind("<Escape>", lambda event: self.close())
        self.top.bind("<Destroy>", self._on_destroy, add="+")
        self._close_id: str | None = self.top.after(int(seconds * 1000), self.close)
        self._tick_id: str | None = None
        self._tick()

    def after_ids(self) -> list[str]:
        """The pending timer ids (empty once the window is gone)."""
        return [i for i in (self._close_id, self._tick_id) if i is not None]

    def exists(self) -> bool:
        """Whether the window is still on screen."""
        try:
            return bool(self.top.winfo_exists())
        except tk.TclError:
            return False

    def _tick(self) -> None:
        self._tick_id = None
        now = time.monotonic()
        left = max(math.ceil(self.deadline - now), 0)
        valid = max(math.ceil(self.expires - now), 0)
        self.countdown["text"] = f"This window closes in {left} s"
        self.validity["text"] = f"Valid once, for {valid} more seconds"
        self._tick_id = self.top.after(TICK_MS, self._tick)

    def _cancel_timers(self) -> None:
        for after_id in self.after_ids():
            try:
                self.top.after_cancel(after_id)
            except tk.TclError:
                pass
        self._close_id = self._tick_id = None

    def close(self) -> None:
        """Remove the window now (also what the five-second timer calls)."""
        self._cancel_timers()
        if self.exists():
            self.top.destroy()
        self.image = None  # release the Tk image now, on the Tk thread

    def _on_destroy(self, event: tk.Event) -> None:
        if event.widget is self.top:
            self._cancel_timers()
