"""Accepting connections when file descriptors run out: no spin, one log line, and room for newcomers.

How this works
--------------
When the process has no descriptor left, `accept()` fails with EMFILE (or
ENFILE for the whole system) and leaves the connection in the backlog, so the
listening socket stays readable and a naive loop spins on it, logging each
failure.  `Acceptor` instead, at the first failure of an episode, logs one
line and tells the room (`press(True, mono)`: hello time-outs shrink), then:

1. asks the loop to close one connection that has not said hello (`shed`,
   the room's choice: the oldest from the most crowded address) and retries,
   so a newcomer from another address gets that descriptor;
2. with nobody to shed, uses its reserve, a descriptor kept open for this
   moment (the classic trick): closes it, accepts the waiting connection,
   closes that at once (the peer sees the connection refused rather than a
   silent wait) and opens the reserve again;
3. if even that fails, stops listening until the next tick.

An episode ends when no accept has failed for `CALM` seconds (`tick`).
"""

from __future__ import annotations

import errno
import os
import selectors
import socket
from collections.abc import Callable

from .hostlog import LogEvent, LogKind

OUT_OF_DESCRIPTORS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
ACCEPTS_PER_ROUND = 64  # bounded: keep serving members during a connection storm
CALM = 5.0  # seconds without a failed accept that end an episode


def listen(host: str, port: int, backlog: int = 512) -> socket.socket:
    """A non-blocking listening socket on (host, port); an OSError whose text names the address."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    if os.name != "nt":
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as exc:
        listener.close()
        raise OSError(exc.errno, f"Cannot listen on {host}:{port}: {exc.strerror}") from None
    listener.listen(backlog)
    listener.setblocking(False)
    return listener


def _open_reserve() -> int | None:
    try:
        return os.open(os.devnull, os.O_RDONLY)
    except OSError:
        return None


class Acceptor:
    """Takes new connections off a listening socket, and copes when descriptors run out."""

    def __init__(
        self,
        listener: socket.socket,
        selector: selectors.BaseSelector,
        publish: Callable[[LogEvent], None],
        press: Callable[[bool, float], None],
        clock: Callable[[], float],
    ) -> None:
        """`press(pressed, mono)` tells the room; `clock()` is the wall clock for log events."""
        self._listener = listener
        self._selector = selector
        self._publish = publish
        self._press = press
        self._clock = clock
        self._reserve = _open_reserve()
        self.pressed = False
        self.paused = False  # the listener is out of the selector until the next tick
        self._stopped = False
        self._last_failure = 0.0
        self.refused = 0  # connections accepted and closed at once, for want of a descriptor

    def accept(self, mono: float, shed: Callable[[], bool]) -> list[tuple[socket.socket, tuple[str, int]]]:
        """Up to ACCEPTS_PER_ROUND new connections; `shed()` closes one silent connection, False if none."""
        accepted: list[tuple[socket.socket, tuple[str, int]]] = []
        for _ in range(ACCEPTS_PER_ROUND):
            try:
                sock, addr = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                if exc.errno in (errno.ECONNABORTED, errno.EPROTO):
                    continue  # that one gave up before we got to it
                self._failed(mono, exc)
                # A descriptor freed (a silent connection shed) goes to the next accept;
                # with none to shed, the reserve refuses one waiting connection instead.
                if exc.errno in OUT_OF_DESCRIPTORS and (shed() or self._refuse_one()):
                    continue
                self._pause()
                break
            accepted.append((sock, (str(addr[0]), int(addr[1]))))
        return accepted

    def tick(self, mono: float) -> None:
        """Once a second: listen again after a pause, refill the reserve, end a calm episode."""
        if self.paused and not self._stopped:
            self._selector.register(self._listener, selectors.EVENT_READ, "listen")
            self.paused = False
        if self._reserve is None:
            self._reserve = _open_reserve()
        if self.pressed and mono - self._last_failure >= CALM:
            self.pressed = False
            self._press(False, mono)

    def stop(self) -> None:
        """No more accepting: the listener leaves the selector and the reserve is given back."""
        if not self._stopped and not self.paused:
            self._selector.unregister(self._listener)
        self._stopped = True
        if self._reserve is not None:
            os.close(self._reserve)
            self._reserve = None

    def _failed(self, mono: float, exc: OSError) -> None:
        self._last_failure = mono
        if self.pressed:
            return  # one line per episode, not one per failed accept
        self.pressed = True
        reason = f"{exc.strerror or exc}: new connections are refused or wait, silent ones are closed sooner"
        self._publish(LogEvent(self._clock(), LogKind.ACCEPT_FAILED, reason=reason))
        self._press(True, mono)

    def _refuse_one(self) -> bool:
        """The reserve trick: free a descriptor, accept with it, close at once; False if it did not work."""
        if self._reserve is None:
            return False
        os.close(self._reserve)
        self._reserve = None
        try:
            sock, _ = self._listener.accept()
            sock.close()  # before the reserve is opened again: this is the descriptor it gets
            self.refused += 1
            done = True
        except OSError:
            done = False
        self._reserve = _open_reserve()
        return done

    def _pause(self) -> None:
        if not self.paused and not self._stopped:
            self.paused = True
            self._selector.unregister(self._listener)
