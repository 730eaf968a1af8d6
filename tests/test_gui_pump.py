"""QueuePump: bounded batches on the Tk thread, after ids cancelled, a failing handler survived."""

from __future__ import annotations

import queue
import threading
import tkinter as tk
from tkinter import ttk

from gui.pump import QueuePump
from tests import gui_helpers
from tests.gui_helpers import pump_for, pump_until

tk_root = gui_helpers.tk_root  # the fixtures, used by name below
tk_errors = gui_helpers.tk_errors


def _after_ids(root: tk.Tk) -> set[str]:
    return set(root.tk.splitlist(root.tk.call("after", "info")))


def test_items_from_another_thread_reach_the_handler_on_the_tk_thread(tk_root, tk_errors) -> None:
    source: queue.Queue[int] = queue.Queue()
    seen: list[tuple[int, bool]] = []
    pump = QueuePump(tk_root, source, lambda item: seen.append((item, threading.current_thread() is main)))
    main = threading.current_thread()
    pump.start()
    worker = threading.Thread(target=lambda: [source.put(n) for n in range(5)])
    worker.start()
    worker.join()
    pump_until(tk_root, lambda: len(seen) == 5, what="five items")
    assert seen == [(n, True) for n in range(5)]  # in order, and never on the worker thread
    pump.stop()


def test_each_poll_handles_at_most_one_batch(tk_root, tk_errors) -> None:
    source: queue.Queue[int] = queue.Queue()
    for n in range(25):
        source.put(n)
    seen: list[int] = []
    pump = QueuePump(tk_root, source, seen.append, batch=10)
    assert pump.drain() == 10
    assert seen == list(range(10)) and source.qsize() == 15  # the flood waits for the next rounds
    assert pump.drain() == 10
    assert pump.drain() == 5
    assert pump.drain() == 0


def test_a_flood_is_spread_over_several_polls(tk_root, tk_errors, monkeypatch) -> None:
    source: queue.Queue[int] = queue.Queue()
    for n in range(30):
        source.put(n)
    batches: list[int] = []
    pump = QueuePump(tk_root, source, lambda item: None, interval_ms=5, batch=10)
    real_drain = pump.drain
    monkeypatch.setattr(pump, "drain", lambda: batches.append(real_drain()) or batches[-1])
    pump.start()
    pump_until(tk_root, lambda: source.empty(), what="the queue emptied")
    pump.stop()
    assert [b for b in batches if b] == [10, 10, 10]


def test_stop_cancels_the_pending_after_id(tk_root, tk_errors) -> None:
    before = _after_ids(tk_root)
    source: queue.Queue[int] = queue.Queue()
    seen: list[int] = []
    pump = QueuePump(tk_root, source, seen.append, interval_ms=10)
    pump.start()
    assert len(_after_ids(tk_root) - before) == 1
    pump.stop()
    assert _after_ids(tk_root) - before == set()
    assert not pump.running
    source.put(1)
    pump_for(tk_root, 0.1)
    assert seen == []  # stopped means stopped


def test_destroying_the_widget_cancels_the_pump(tk_root, tk_errors) -> None:
    before = _after_ids(tk_root)
    frame = ttk.Frame(tk_root)
    source: queue.Queue[int] = queue.Queue()
    pump = QueuePump(frame, source, lambda item: None, interval_ms=10)
    pump.start()
    pump_for(tk_root, 0.05)
    assert _after_ids(tk_root) - before
    frame.destroy()
    assert _after_ids(tk_root) - before == set()
    source.put(1)
    pump_for(tk_root, 0.1)  # nothing fires against the dead frame (tk_errors checks)
    assert source.qsize() == 1


def test_a_handler_that_stops_the_pump_leaves_the_rest_queued(tk_root, tk_errors) -> None:
    # As when an event closes the window: the pump must not handle more, nor start polling again.
    before = _after_ids(tk_root)
    source: queue.Queue[str] = queue.Queue()
    for item in ("first", "closing", "after"):
        source.put(item)
    seen: list[str] = []

    def handle(item: str) -> None:
        seen.append(item)
        if item == "closing":
            pump.stop()

    pump = QueuePump(tk_root, source, handle, interval_ms=5)
    pump.start()
    pump_for(tk_root, 0.2)
    assert seen == ["first", "closing"]
    assert source.get_nowait() == "after"
    assert _after_ids(tk_root) - before == set()


def test_a_handler_that_raises_loses_only_its_own_item(tk_root, monkeypatch) -> None:
    errors: list[object] = []
    monkeypatch.setattr(tk_root, "report_callback_exception", lambda *exc: errors.append(exc[1]))
    source: queue.Queue[int] = queue.Queue()
    seen: list[int] = []

    def handle(item: int) -> None:
        if item == 1:
            raise RuntimeError("bad event")
        seen.append(item)

    pump = QueuePump(tk_root, source, handle, interval_ms=5)
    pump.start()
    source.put(1)
    pump_until(tk_root, lambda: errors, what="the handler's error reported")
    source.put(2)
    pump_until(tk_root, lambda: seen == [2], what="the pump to go on after the error")
    assert [str(e) for e in errors] == ["bad event"]
    pump.stop()
