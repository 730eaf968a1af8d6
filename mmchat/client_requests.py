"""Questions sent to the host and the answers that come back, matched by `ref`.

A request frame carries a number (`ref`) that the host repeats in its answer.
`PendingRequests` hands out those numbers, keeps each `Request` until its answer
arrives (on the reader thread), and fails them all when the connection ends, so
that nobody waits for an answer that cannot come.
"""

from __future__ import annotations

import itertools
import threading

from .protocol import Event

REPLY_TIMEOUT = 30.0


class Request:
    """A question sent to the host; `wait()` returns the host's answer event."""

    def __init__(self, ref: int, *, internal: bool = False) -> None:
        self.ref = ref
        self.internal = internal  # a transfer's ticket: its errors go to the Transfer, not the queue
        self.reply: Event | None = None
        self._done = threading.Event()

    @property
    def done(self) -> bool:
        """True once answered or once the connection is gone."""
        return self._done.is_set()

    def _resolve(self, reply: Event | None) -> None:
        self.reply = reply
        self._done.set()

    def wait(self, timeout: float | None = REPLY_TIMEOUT) -> Event:
        """Block until the answer arrives; raise TimeoutError or ConnectionError."""
        if not self._done.wait(timeout):
            raise TimeoutError("The host did not answer in time.")
        if self.reply is None:
            raise ConnectionError("The connection to the host was lost.")
        return self.reply


class PendingRequests:
    """The requests still waiting for their answer, by ref (safe to use from any thread)."""

    def __init__(self) -> None:
        self._refs = itertools.count(1)
        self._lock = threading.Lock()
        self._by_ref: dict[int, Request] = {}

    def new(self, *, internal: bool = False) -> Request:
        """A Request with a fresh ref, waiting for its answer."""
        request = Request(next(self._refs), internal=internal)
        with self._lock:
            self._by_ref[request.ref] = request
        return request

    def forget(self, request: Request) -> None:
        """Stop waiting for `request` (it was never sent)."""
        with self._lock:
            self._by_ref.pop(request.ref, None)

    def answer(self, ref: int, reply: Event) -> Request | None:
        """Give `reply` to the request numbered `ref`; return that request, or None if none waits."""
        with self._lock:
            request = self._by_ref.pop(ref, None)
        if request is not None:
            request._resolve(reply)
        return request

    def fail_all(self) -> None:
        """The connection is gone: every waiting request's wait() raises ConnectionError."""
        with self._lock:
            waiting, self._by_ref = self._by_ref, {}
        for request in waiting.values():
            request._resolve(None)
