"""TransferPanel and its rows: progress read from counters, Cancel, Dismiss, polling that stops."""

from __future__ import annotations

import tkinter as tk

import pytest

from gui import transfer_panel
from gui.transfer_panel import ProgressCounter, TransferPanel
from mmchat.client import Transfer
from tests import gui_helpers
from tests.gui_helpers import pump_for, pump_until

tk_root = gui_helpers.tk_root  # the fixtures, used by name below
tk_errors = gui_helpers.tk_errors


def _after_ids(root: tk.Tk) -> set[str]:
    return set(root.tk.splitlist(root.tk.call("after", "info")))


@pytest.fixture
def panel(tk_root) -> TransferPanel:
    top = tk.Toplevel(tk_root)
    p = TransferPanel(top)
    p.grid(row=0, column=0, sticky="ew")
    p.grid_remove()
    tk_root.update()
    return p


def _end(t: Transfer, ok: bool, error: str = "") -> None:
    t.ok, t.error = ok, error
    t._done.set()


def test_a_row_shows_progress_from_its_counter(tk_root, tk_errors, panel) -> None:
    t = Transfer("download", "movie.mp4")
    counter = ProgressCounter()
    row = panel.add(t, counter)
    tk_root.update()
    assert panel.winfo_ismapped()
    assert row.title["text"] == "↓  movie.mp4"
    assert row.status["text"] == "Starting…"  # nothing known yet
    counter(250, 1000)  # what the transfer thread does
    pump_until(tk_root, lambda: float(row.bar["value"]) == 25, what="the bar at 25 %")
    assert row.status["text"].startswith("25 %  ·  ")


def test_finishing_well_and_badly(tk_root, tk_errors, panel) -> None:
    good, bad, cancelled = Transfer("upload", "a.bin", 2048), Transfer("download", "b.bin"), Transfer("download", "c")
    rows = [panel.add(t, ProgressCounter()) for t in (good, bad, cancelled)]
    assert rows[0].title["text"] == "↑  a.bin"
    _end(good, True)
    _end(bad, False, "No such file on the host: b.bin")
    cancelled.cancel()
    _end(cancelled, False, "The transfer was cancelled.")
    for t in (good, bad, cancelled):
        panel.finish(t)
    assert float(rows[0].bar["value"]) == 100 and rows[0].status["text"] == "Done  ·  2.0 kB"
    assert rows[1].status["text"] == "No such file on the host: b.bin"
    assert rows[2].status["text"] == "Cancelled"
    assert all(row.button["text"] == "Dismiss" for row in rows)
    assert panel.active() == []


def test_cancel_asks_the_transfer_to_stop(tk_root, tk_errors, panel) -> None:
    t = Transfer("download", "big.bin")
    row = panel.add(t, ProgressCounter())
    row.button.invoke()
    assert t.cancelled
    assert row.status["text"] == "Cancelling…" and row.button.instate(["disabled"])


def test_dismiss_removes_the_row_and_hides_an_empty_panel(tk_root, tk_errors, panel) -> None:
    t = Transfer("upload", "a.bin")
    row = panel.add(t, ProgressCounter())
    _end(t, True)
    panel.finish(t)
    row.button.invoke()
    tk_root.update()
    assert panel.rows == {} and not panel.winfo_ismapped()


def test_only_the_last_finished_rows_stay(tk_root, tk_errors, panel) -> None:
    transfers = [Transfer("upload", f"f{n}") for n in range(transfer_panel.KEEP_FINISHED + 3)]
    running = Transfer("download", "still going")
    panel.add(running, ProgressCounter())
    for t in transfers:
        panel.add(t, ProgressCounter())
        _end(t, True)
        panel.finish(t)
    finished = [t for t, row in panel.rows.items() if row.finished]
    assert finished == transfers[-transfer_panel.KEEP_FINISHED :]
    assert running in panel.rows  # never removed while it runs


def test_polling_stops_when_nothing_runs_and_on_destroy(tk_root, tk_errors, panel, monkeypatch) -> None:
    monkeypatch.setattr(transfer_panel, "DISMISS_DONE_MS", 50)
    before = _after_ids(tk_root)
    t = Transfer("download", "x")
    row = panel.add(t, ProgressCounter())
    assert panel._after_id in _after_ids(tk_root)
    _end(t, True)  # its TransferFinished is still queued somewhere: the poll notices by itself
    pump_until(tk_root, lambda: row.finished, what="the row finished by the poll")
    pump_until(tk_root, lambda: not panel.rows, what="the finished row going by itself")
    pump_for(tk_root, transfer_panel.POLL_MS / 1000 * 2)
    assert panel._after_id is None and _after_ids(tk_root) - before == set()
    panel.add(Transfer("download", "y"), ProgressCounter())
    assert _after_ids(tk_root) - before
    quick = Transfer("download", "z")
    panel.add(quick, ProgressCounter())
    _end(quick, True)
    panel.finish(quick)  # a dismiss timer is waiting: destroying the panel cancels it too
    panel.destroy()
    assert _after_ids(tk_root) - before == set()


def test_finished_rows_go_by_themselves_failures_stay(tk_root, tk_errors, panel, monkeypatch) -> None:
    monkeypatch.setattr(transfer_panel, "DISMISS_DONE_MS", 100)
    good, bad, cancelled = Transfer("upload", "good"), Transfer("upload", "bad"), Transfer("download", "stop")
    for t in (good, bad, cancelled):
        panel.add(t, ProgressCounter())
    _end(good, True)
    _end(bad, False, "The host refused the file.")
    cancelled.cancel()
    _end(cancelled, False, "Cancelled.")
    for t in (good, bad, cancelled):
        panel.finish(t)
    assert good in panel.rows  # still there for a moment, showing Done
    pump_until(tk_root, lambda: good not in panel.rows, what="the finished row going by itself")
    pump_for(tk_root, 0.3)
    assert set(panel.rows) == {bad, cancelled}  # failures wait for the person
    panel.rows[bad].button.invoke()
    assert set(panel.rows) == {cancelled}


def test_the_rows_never_take_more_than_a_third_of_the_height(tk_root, tk_errors) -> None:
    top = tk.Toplevel(tk_root)
    top.geometry("600x420")
    top.rowconfigure(0, weight=1)
    top.columnconfigure(0, weight=1)
    messages = tk.Text(top, height=4)
    messages.grid(row=0, column=0, sticky="nsew")
    p = TransferPanel(top)
    p.grid(row=1, column=0, sticky="ew")
    for n in range(12):
        p.add(Transfer("download", f"big{n}.iso"), ProgressCounter())
    pump_for(tk_root, 0.3)
    assert p.winfo_height() <= top.winfo_height() / 3 + 8  # the padding of the frame around the rows
    assert messages.winfo_height() >= top.winfo_height() / 2
    assert p.scrollbar.winfo_ismapped()  # the rest scrolls
    top.geometry("600x700")
    pump_for(tk_root, 0.3)
    assert p.winfo_height() <= 700 / 3 + 8


def test_progress_counter_only_stores_numbers() -> None:
    counter = ProgressCounter()
    counter(5, 10)
    assert (counter.done, counter.total) == (5, 10)
