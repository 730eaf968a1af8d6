"""ClientWorker: a connection's network calls, in order, off the Tk thread (no Tk, no network)."""

from __future__ import annotations

import queue
import threading
import time

import pytest

from gui import client_worker
from gui.client_worker import CallDone, CallFailed, ClientWorker, close_in_background


class FakeClient:
    """Records what it was asked to do; close() can be held back with `hold`."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.hold = threading.Event()
        self.hold.set()

    def close(self) -> None:
        self.hold.wait(10)
        self.calls.append("close")


def _results(q: queue.Queue, n: int, timeout: float = 5.0) -> list[object]:
    return [q.get(timeout=timeout) for _ in range(n)]


def test_calls_run_in_order_on_another_thread_and_close_comes_last() -> None:
    client, results = FakeClient(), queue.Queue()
    worker = ClientWorker(client, results)
    threads: list[threading.Thread] = []
    for n in range(5):
        assert worker.submit(
            "say", lambda n=n: (client.calls.append(f"say {n}"), threads.append(threading.current_thread()))
        )
    worker.close()
    assert worker.join(5)
    assert client.calls == [f"say {n}" for n in range(5)] + ["close"]
    assert threading.current_thread() not in threads
    assert results.empty()  # nothing to report: no failures, nothing asked to report


def test_a_result_is_reported_when_asked_for() -> None:
    results: queue.Queue = queue.Queue()
    worker = ClientWorker(FakeClient(), results)
    worker.submit("online", lambda: 42, report=True, quiet=True)
    assert _results(results, 1) == [CallDone("online", 42, quiet=True)]
    worker.close()


@pytest.mark.parametrize(
    ("error", "sentence"),
    [
        (ConnectionError("Not connected to the host."), "Not connected to the host."),
        (ValueError("A message may have at most 4000 characters."), "A message may have at most 4000 characters."),
        (ConnectionError(), "Not connected to the host."),
        (RuntimeError("boom"), "Something went wrong talking to the host: boom"),
    ],
)
def test_a_failing_call_comes_back_as_a_sentence_and_the_worker_goes_on(error, sentence) -> None:
    results: queue.Queue = queue.Queue()
    client = FakeClient()
    worker = ClientWorker(client, results)

    def fail() -> None:
        raise error

    worker.submit("say", fail, text="hello")
    worker.submit("say", lambda: client.calls.append("next"))
    assert _results(results, 1) == [CallFailed("say", sentence, "hello")]
    worker.close()
    assert worker.join(5)
    assert client.calls == ["next", "close"]


def test_nothing_is_accepted_after_close_or_beyond_the_bound() -> None:
    client = FakeClient()
    release = threading.Event()
    worker = ClientWorker(client, queue.Queue(), max_pending=2)
    worker.submit("say", lambda: release.wait(5))  # running: the host is not reading
    deadline = time.monotonic() + 5
    while worker.pending() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert worker.submit("say", lambda: None)
    assert worker.submit("say", lambda: None)
    assert not worker.submit("say", lambda: None)  # two already wait
    release.set()
    worker.close()
    assert worker.closed
    assert not worker.submit("say", lambda: None)
    assert worker.join(5)


def test_close_returns_at_once_and_the_leave_thread_waits_a_bounded_time(monkeypatch) -> None:
    monkeypatch.setattr(client_worker, "LEAVE_GRACE", 0.3)
    client = FakeClient()
    client.hold.clear()  # a close() that does not finish, like a goodbye to a host that stopped reading
    worker = ClientWorker(client, queue.Queue())
    started = time.monotonic()
    waiter = worker.close()
    assert time.monotonic() - started < 0.2
    assert not waiter.daemon  # a program exiting now still gives the goodbye its chance...
    waiter.join(5)
    assert not waiter.is_alive()  # ...but is not held up for ever
    assert time.monotonic() - started < 3
    assert client.calls == []
    client.hold.set()
    assert worker.join(5)
    assert client.calls == ["close"]


def test_close_in_background_closes_off_the_calling_thread(monkeypatch) -> None:
    monkeypatch.setattr(client_worker, "LEAVE_GRACE", 5)
    client = FakeClient()
    client.hold.clear()
    started = time.monotonic()
    waiter = close_in_background(client)
    assert time.monotonic() - started < 0.2
    client.hold.set()
    waiter.join(5)
    assert client.calls == ["close"]


def test_a_close_that_raises_ends_the_worker_without_a_traceback(monkeypatch) -> None:
    crashes: list[object] = []
    monkeypatch.setattr(threading, "excepthook", crashes.append)

    class Broken(FakeClient):
        def close(self) -> None:
            raise OSError("already gone")

    worker = ClientWorker(Broken(), queue.Queue())
    worker.close()
    assert worker.join(5)
    assert crashes == []  # leaving a connection that is already gone is not an error
