"""Calls into a ChatClient, made on a worker thread so the Tk thread never waits on the network.

How this works
--------------
Each connection gets one ClientWorker: a daemon thread that runs the calls the
window submits (send a message, ask who is online, run a command...) one at a
time, in the order they were submitted, so messages reach the host in the
order they were typed.  The Tk thread only appends to the worker's queue and
returns at once, however slowly the host reads.  What a call returns comes
back as a `CallDone`, what it raised as a `CallFailed` carrying the sentence to
show; both go on the `results` queue that the window already polls.

`close()` queues the client's own `close()` behind the calls still waiting, so
the goodbye leaves after the last message.  A short-lived thread that is *not*
a daemon waits up to LEAVE_GRACE seconds for that to happen: a program that
exits right after closing its window still says goodbye, and a host that
stopped reading holds the exit up for those seconds at most.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

MAX_PENDING = 500  # calls waiting for a host that does not read; beyond this the window says so
LEAVE_GRACE = 6.0  # seconds a closing program waits for the goodbye to leave


class Closable(Protocol):
    """What the worker needs of a ChatClient to leave the chat."""

    def close(self, wait: float = 0.0) -> object: ...


@dataclass(frozen=True)
class CallDone:
    """A submitted call returned `result` (sent only when it was submitted with `report=True`)."""

    what: str
    result: object
    quiet: bool = False


@dataclass(frozen=True)
class CallFailed:
    """A submitted call raised: `error` is the sentence to show, `text` the message that was not sent.

    `quiet` calls were made by the window for itself: their failure needs no sentence of its own.
    """

    what: str
    error: str
    text: str = ""
    quiet: bool = False


@dataclass(frozen=True)
class _Call:
    what: str
    run: Callable[[], object]
    report: bool
    quiet: bool
    text: str


_STOP = object()


class ClientWorker:
    """One thread that makes a connection's network calls in order and reports on `results`."""

    def __init__(self, client: Closable, results: queue.Queue, max_pending: int = MAX_PENDING) -> None:
        self.client = client
        self.results = results
        self.max_pending = max_pending
        self._calls: queue.Queue[_Call | object] = queue.Queue()  # bounded by submit(), never blocks a put
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="mmchat-client-calls", daemon=True)
        self._thread.start()

    @property
    def closed(self) -> bool:
        """Whether close() was called (nothing more is accepted)."""
        return self._closed

    def pending(self) -> int:
        """How many calls are waiting (the one running not included)."""
        return self._calls.qsize()

    def submit(
        self, what: str, run: Callable[[], object], *, report: bool = False, quiet: bool = False, text: str = ""
    ) -> bool:
        """Queue `run` for the worker; False (and nothing queued) once closed or with too many waiting."""
        # Only the Tk thread submits, so checking the size and then putting cannot race another producer.
        if self._closed or self._calls.qsize() >= self.max_pending:
            return False
        self._calls.put(_Call(what, run, report, quiet, text))
        return True

    def close(self) -> threading.Thread:
        """Leave the chat after the calls already queued; returns at once with the thread that waits."""
        if not self._closed:
            self._closed = True
            self._calls.put(_STOP)
        waiter = threading.Thread(target=self._thread.join, args=(LEAVE_GRACE,), name="mmchat-leave", daemon=False)
        waiter.start()
        return waiter

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the worker to finish (tests and shutdown); True if it did."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        while True:
            call = self._calls.get()
            if call is _STOP:
                break
            assert isinstance(call, _Call)
            try:
                result = call.run()
            except (ConnectionError, ValueError) as exc:
                error = str(exc) or "Not connected to the host."
                self.results.put(CallFailed(call.what, error, call.text, call.quiet))
            except Exception as exc:  # the window gets a sentence, never a silently dead worker
                error = f"Something went wrong talking to the host: {exc}"
                self.results.put(CallFailed(call.what, error, call.text, call.quiet))
            else:
                if call.report:
                    self.results.put(CallDone(call.what, result, call.quiet))
        _close_quietly(self.client)


def close_in_background(client: Closable) -> threading.Thread:
    """Close a client that has no worker (one that connected as the window closed), off the Tk thread."""
    closer = threading.Thread(target=_close_quietly, args=(client,), name="mmchat-close", daemon=True)
    closer.start()
    waiter = threading.Thread(target=closer.join, args=(LEAVE_GRACE,), name="mmchat-leave", daemon=False)
    waiter.start()
    return waiter


def _close_quietly(client: Closable) -> None:
    try:
        client.close()
    except Exception:  # leaving must never raise: the connection is going away in any case
        pass
