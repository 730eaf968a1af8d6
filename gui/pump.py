"""Feeding Tk from other threads: a queue drained from Tk's own event loop."""

from __future__ import annotations

import queue
import tkinter as tk
from collections.abc import Callable
from typing import Any


class QueuePump:
    """Every `interval_ms`, hand at most `batch` queued items to `handler` on the Tk thread.

    Bounded batches keep the window responsive during a flood; the pending
    `after` id is cancelled when the widget is destroyed, so no callback runs
    against a dead window.
    """

    def __init__(
        self,
        widget: tk.Misc,
        source: queue.Queue,
        handler: Callable[[Any], None],
        interval_ms: int = 40,
        batch: int = 200,
    ) -> None:
        self.widget = widget
        self.source = source
        self.handler = handler
        self.interval_ms = interval_ms
        self.batch = batch
        self._after_id: str | None = None
        widget.bind("<Destroy>", self._on_destroy, add="+")

    def start(self) -> None:
        """Begin polling."""
        if self._after_id is None:
            self._after_id = self.widget.after(self.interval_ms, self._poll)

    def stop(self) -> None:
        """Stop polling and cancel the pending callback."""
        if self._after_id is not None:
            try:
                self.widget.after_cancel(self._after_id)
            except tk.TclError:
                pass
            self._after_id = None

    def drain(self) -> int:
        """Handle up to one batch of queued items now; return how many were handled."""
        handled = 0
        while handled < self.batch:
            try:
                item = self.source.get_nowait()
            except queue.Empty:
                break
            handled += 1
            self.handler(item)
        return handled

    def _poll(self) -> None:
        self._after_id = None
        self.drain()
        if self.widget.winfo_exists():
            self._after_id = self.widget.after(self.interval_ms, self._poll)

    def _on_destroy(self, event: tk.Event) -> None:
        if event.widget is self.widget:
            self.stop()
