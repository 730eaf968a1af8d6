"""Feeding Tk from other threads: a queue drained from Tk's own event loop.

Network and worker threads only `put` on a queue.Queue; QueuePump takes at most
`batch` items off it every `interval_ms` and hands them to `handler` on the Tk
thread.  The bound keeps the window responsive during a flood (the rest waits
for the next round), and the pending `after` id is cancelled by `stop()` and
when the widget is destroyed, so no callback runs against a dead window.  A
handler that raises loses only its own item: the pump keeps polling.
"""

from __future__ import annotations

import queue
import tkinter as tk
from collections.abc import Callable
from typing import Any


class QueuePump:
    """Every `interval_ms`, hand at most `batch` queued items to `handler` on the Tk thread."""

    def __init__(
        self,
        widget: tk.Misc,
        source: queue.Queue,
        handler: Callable[[Any], object],
        interval_ms: int = 40,
        batch: int = 200,
    ) -> None:
        self.widget = widget
        self.source = source
        self.handler = handler
        self.interval_ms = interval_ms
        self.batch = batch
        self._after_id: str | None = None
        self._running = False
        widget.bind("<Destroy>", self._on_destroy, add="+")

    @property
    def running(self) -> bool:
        """Whether the pump is polling (started and not stopped)."""
        return self._running

    def start(self) -> None:
        """Begin polling."""
        self._running = True
        if self._after_id is None:
            self._after_id = self.widget.after(self.interval_ms, self._poll)

    def stop(self) -> None:
        """Stop polling and cancel the pending callback (also from inside a handler)."""
        self._running = False
        if self._after_id is not None:
            try:
                self.widget.after_cancel(self._after_id)
            except tk.TclError:
                pass
            self._after_id = None

    def drain(self) -> int:
        """Handle up to one batch of queued items now; return how many were handled."""
        handled = 0
        was_running = self._running
        while handled < self.batch:
            try:
                item = self.source.get_nowait()
            except queue.Empty:
                break
            handled += 1
            self.handler(item)
            if was_running and not self._running:
                break  # the handler stopped us (its window is closing): the rest stays queued
        return handled

    def _poll(self) -> None:
        self._after_id = None
        try:
            self.drain()
        finally:  # an exception in a handler is Tk's to report; the next items must still come
            if self._running and _exists(self.widget):
                self._after_id = self.widget.after(self.interval_ms, self._poll)

    def _on_destroy(self, event: tk.Event) -> None:
        if event.widget is self.widget:
            self.stop()


def _exists(widget: tk.Misc) -> bool:
    try:
        return bool(widget.winfo_exists())
    except tk.TclError:
        return False
