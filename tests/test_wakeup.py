"""Reaching the loop from other threads (mmchat.wakeup): the selector wakes, calls run in order."""

from __future__ import annotations

import selectors
import threading

from mmchat.wakeup import CallQueue


def test_a_call_from_another_thread_wakes_the_selector_and_runs_on_the_loop():
    calls, sel = CallQueue(), selectors.DefaultSelector()
    sel.register(calls.reader, selectors.EVENT_READ)
    ran: list[tuple[int, str]] = []
    threads = [
        threading.Thread(target=calls.call_soon, args=(lambda i=i: ran.append((i, threading.current_thread().name)),))
        for i in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sel.select(timeout=5)  # woken, not timed out
    calls.drain()
    assert sel.select(timeout=0) == []  # drained: no busy loop
    calls.run_pending()
    assert sorted(i for i, _ in ran) == [0, 1, 2]
    assert {name for _, name in ran} == {threading.current_thread().name}
    sel.close()
    calls.close()


def test_calls_queued_by_a_call_wait_for_the_next_round():
    calls, ran = CallQueue(), []
    calls.call_soon(lambda: (ran.append("first"), calls.call_soon(lambda: ran.append("second"))))
    calls.run_pending()
    assert ran == ["first"]
    calls.run_pending()
    assert ran == ["first", "second"]
    calls.close()


def test_many_calls_never_block_the_caller_even_with_nobody_draining():
    calls, ran = CallQueue(), []
    for i in range(100_000):  # far more wake-up bytes than the socket buffer holds
        calls.call_soon(lambda i=i: ran.append(i))
    calls.run_pending()
    assert ran == list(range(100_000))
    calls.close()
    calls.call_soon(lambda: None)  # after close: still no exception for the caller
