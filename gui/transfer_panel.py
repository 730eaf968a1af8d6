"""The transfers strip under the messages: one progress row per upload or download.

Transfer threads never touch Tk: their progress callback is a `ProgressCounter`
that only stores two numbers.  The panel reads the counters from `after()`
every few hundred milliseconds while anything is running, and stops polling
(and cancels its `after` id) when nothing is running or the panel is destroyed.

A row that finished well goes away by itself after DISMISS_DONE_MS (a failure
stays until dismissed, so it cannot be missed, and shows a Resume button where
its progress bar was: the transfer goes on from where it stopped, in a new row).  The rows sit in a canvas that
is never taller than MAX_SHARE of the panel's parent; beyond that it scrolls,
so transfers never push the conversation or the message box out of the window.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from tkinter import ttk

from mmchat.client import Transfer
from mmchat.files import human_size

from . import chat_format, theme
from .audio_player import FileButtons

POLL_MS = 150
KEEP_FINISHED = 4  # finished rows kept on screen (older ones are removed)
DISMISS_DONE_MS = 5000  # a row that finished well goes away by itself after this
MAX_SHARE = 1 / 3  # of the parent's height, at most; the rows scroll beyond it


class ProgressCounter:
    """The progress callback for a transfer thread: it stores the numbers, the window reads them."""

    def __init__(self) -> None:
        self.done = 0
        self.total = 0

    def __call__(self, done: int, total: int) -> None:
        self.done, self.total = done, total


class TransferRow(ttk.Frame):
    """Name, progress bar, percent and rate, and a Cancel button for one transfer."""

    def __init__(self, master: tk.Misc, transfer: Transfer, counter: ProgressCounter,
                 on_dismiss: Callable[[TransferRow], object],
                 on_resume: Callable[[Transfer], object] | None = None) -> None:  # fmt: skip
        super().__init__(master, style="Surface.TFrame", padding=(theme.PAD, 4))
        self.transfer = transfer
        self.counter = counter
        self.finished = False
        self.files: FileButtons | None = None  # Open and Show in folder, once downloaded
        self.resume_button: ttk.Button | None = None  # once failed: go on from where it stopped
        self._on_dismiss = on_dismiss
        self._on_resume = on_resume
        arrow = "↑" if transfer.direction == "upload" else "↓"
        name = chat_format.truncate(chat_format.single_line(transfer.filename), 40)
        self.title = ttk.Label(self, text=f"{arrow}  {name}", style="Surface.TLabel")
        self.status = ttk.Label(self, text="Starting…", style="Surface.TLabel", foreground=theme.MUTED)
        self.bar = ttk.Progressbar(self, orient="horizontal", mode="determinate", maximum=100, length=100)
        self.button = ttk.Button(self, text="Cancel", command=self.cancel, width=8)
        self.title.grid(row=0, column=0, sticky="w")
        self.status.grid(row=0, column=1, sticky="e")
        self.bar.grid(row=1, column=0, columnspan=2, sticky="ew", pady=(3, 0))
        self.button.grid(row=0, column=2, rowspan=2, sticky="e", padx=(theme.PAD * 2, 0))
        self.columnconfigure(1, weight=1)

    def refresh(self) -> None:
        """Show the latest numbers from the transfer thread."""
        if self.finished:
            return
        t = self.transfer
        done, total = self.counter.done or t.bytes_done, self.counter.total or t.size
        if not total and not done:
            return  # still asking the host
        self.bar["value"] = chat_format.percent(done, total)
        self.status["text"] = chat_format.transfer_status(done, total, t.rate())

    def cancel(self) -> None:
        """Ask the transfer to stop (its thread reports the end)."""
        # Transfer.cancel() only sets a flag and shuts its socket down: it never waits, so Tk may call it.
        self.transfer.cancel()
        self.status["text"] = "Cancelling…"
        self.button.state(["disabled"])

    def finish(self) -> None:
        """Show how the transfer ended and turn Cancel into Dismiss."""
        if self.finished:
            return
        self.finished = True
        t = self.transfer
        if t.ok:
            self.bar["value"] = 100
            self.status.configure(text=f"Done  ·  {human_size(t.size)}", foreground=theme.SUCCESS)
        else:
            error = "Cancelled" if t.cancelled else chat_format.truncate(chat_format.single_line(t.error), 60)
            self.status.configure(text=error, foreground=theme.ERROR)
            if self._on_resume is not None:  # where the bar was: the row gets no taller
                on_resume = self._on_resume
                text = "Resume" if t.resumable else "Try again"
                self.resume_button = ttk.Button(self, text=text, command=lambda: on_resume(t))
                self.bar.grid_remove()
                self.resume_button.grid(row=1, column=0, sticky="w", pady=(3, 0))
        self.button.configure(text="Dismiss", command=lambda: self._on_dismiss(self))
        self.button.state(["!disabled"])
        if t.ok and t.direction == "download" and t.path is not None:
            # Open and Show in folder where the full bar was: the row gets no wider.
            links = ttk.Frame(self, style="Surface.TFrame")
            self.files = files = FileButtons(links, t.path, self._say_error)
            files.open.pack(side="left")
            files.show.pack(side="left", padx=(theme.PAD, 0))
            self.bar.grid_remove()
            links.grid(row=1, column=0, columnspan=2, sticky="w", pady=(3, 0))

    def _say_error(self, sentence: str) -> None:
        self.status.configure(text=chat_format.truncate(sentence, 60), foreground=theme.ERROR)


class TransferPanel(ttk.Frame):
    """All current transfers; hides itself (grid_remove) when there are none."""

    def __init__(self, master: tk.Misc) -> None:
        super().__init__(master, style="Surface.TFrame", padding=(0, 2))
        self.rows: dict[Transfer, TransferRow] = {}
        self._after_id: str | None = None
        self._dismiss_ids: dict[TransferRow, str] = {}
        self.canvas = tk.Canvas(self, highlightthickness=0, borderwidth=0, background=theme.SURFACE, height=1)
        self.scrollbar = ttk.Scrollbar(self, orient="vertical", command=self.canvas.yview)
        self.canvas.configure(yscrollcommand=self.scrollbar.set)
        self.inner = ttk.Frame(self.canvas, style="Surface.TFrame")
        self._window = self.canvas.create_window(0, 0, window=self.inner, anchor="nw")
        self.canvas.grid(row=0, column=0, sticky="nsew")
        self.columnconfigure(0, weight=1)
        self.inner.bind("<Configure>", lambda event: self._fit(), add="+")
        self.canvas.bind("<Configure>", self._on_canvas_resize, add="+")
        master.bind("<Configure>", lambda event: self._fit(), add="+")
        self.bind("<Destroy>", self._on_destroy, add="+")

    def max_height(self) -> int:
        """The tallest the rows may be: a share of the parent's height (never the whole of it)."""
        return max(int(self.master.winfo_height() * MAX_SHARE), 40)

    def _fit(self) -> None:
        """Show every row if they fit in the share, else scroll."""
        wanted = self.inner.winfo_reqheight()
        height = min(wanted, self.max_height())
        if int(self.canvas["height"]) != height:
            self.canvas.configure(height=height)
        self.canvas.configure(scrollregion=(0, 0, 0, wanted))
        if wanted > height:
            self.scrollbar.grid(row=0, column=1, sticky="ns")
        else:
            self.scrollbar.grid_remove()
            self.canvas.yview_moveto(0)

    def _on_canvas_resize(self, event: tk.Event) -> None:
        self.canvas.itemconfigure(self._window, width=event.width)

    def add(
        self, transfer: Transfer, counter: ProgressCounter, on_resume: Callable[[Transfer], object] | None = None
    ) -> TransferRow:
        """Show a row for a transfer that has just started (`on_resume`: what its Resume button does, if it fails)."""
        row = TransferRow(self.inner, transfer, counter, self.dismiss, on_resume)
        row.pack(fill="x")
        self.rows[transfer] = row
        self.grid()
        self._schedule()
        return row

    def finish(self, transfer: Transfer) -> None:
        """The transfer ended: show the result; a success goes by itself, older finished rows go now."""
        row = self.rows.get(transfer)
        if row is None or row.finished:
            return
        row.refresh()
        row.finish()
        if transfer.ok:
            self._dismiss_ids[row] = self.after(DISMISS_DONE_MS, lambda: self.dismiss(row))
        finished = [r for r in self.rows.values() if r.finished]
        for old in finished[:-KEEP_FINISHED]:
            self.dismiss(old)

    def dismiss(self, row: TransferRow) -> None:
        """Remove a row (the transfer itself is not touched)."""
        after_id = self._dismiss_ids.pop(row, None)
        if after_id is not None:
            self.after_cancel(after_id)
        self.rows.pop(row.transfer, None)
        row.destroy()
        if not self.rows:
            self.grid_remove()

    def active(self) -> list[Transfer]:
        """The transfers still running."""
        return [t for t, row in self.rows.items() if not row.finished]

    def _schedule(self) -> None:
        if self._after_id is None and self.active():
            self._after_id = self.after(POLL_MS, self._poll)

    def _poll(self) -> None:
        self._after_id = None
        for row in list(self.rows.values()):
            row.refresh()
            if row.transfer.done:
                self.finish(row.transfer)  # in case its TransferFinished is still queued
        self._schedule()

    def _on_destroy(self, event: tk.Event) -> None:
        if event.widget is not self:
            return
        if self._after_id is not None:
            self.after_cancel(self._after_id)
            self._after_id = None
        for after_id in self._dismiss_ids.values():
            self.after_cancel(after_id)
        self._dismiss_ids.clear()
