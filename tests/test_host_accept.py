"""Accepting when descriptors run out (mmchat.host_accept), with a fake listener whose accept() fails on cue."""

from __future__ import annotations

import errno
import socket

import pytest

from mmchat.host_accept import ACCEPTS_PER_ROUND, CALM, Acceptor
from mmchat.hostlog import LogKind

EMFILE = OSError(errno.EMFILE, "Too many open files")


class FakeListener:
    """accept() works through `script`: an exception is raised, anything else returned; then EAGAIN."""

    def __init__(self, script):
        self.script = list(script)
        self.calls = 0

    def accept(self):
        self.calls += 1
        if not self.script:
            raise BlockingIOError
        step = self.script.pop(0)
        if isinstance(step, BaseException):
            raise step
        return step


class FakeSelector:
    def __init__(self):
        self.registered = True

    def register(self, sock, events, data):
        assert not self.registered
        self.registered = True

    def unregister(self, sock):
        assert self.registered
        self.registered = False


@pytest.fixture
def make():
    made = []

    def build(script):
        logs, presses, selector = [], [], FakeSelector()
        listener = FakeListener(script)
        acceptor = Acceptor(listener, selector, logs.append, lambda on, mono: presses.append((on, mono)), lambda: 0.0)
        made.append(acceptor)
        return acceptor, listener, selector, logs, presses

    yield build
    for acceptor in made:
        acceptor.stop()


def test_connections_are_accepted_while_descriptors_last(make):
    a, b = socket.socketpair()
    try:
        acceptor, _, _, logs, presses = make([(a, ("10.0.0.1", 1))])
        assert acceptor.accept(0.0, lambda: False) == [(a, ("10.0.0.1", 1))]
        assert logs == [] and presses == [] and not acceptor.pressed
    finally:
        a.close()
        b.close()


def test_out_of_descriptors_a_silent_connection_is_shed_and_the_newcomer_gets_its_place(make):
    newcomer = object()
    acceptor, _, _, logs, presses = make([EMFILE, (newcomer, ("10.0.0.2", 2))])
    shed = []
    assert acceptor.accept(5.0, lambda: shed.append(1) or True) == [(newcomer, ("10.0.0.2", 2))]
    assert shed == [1] and presses == [(True, 5.0)]
    (log,) = logs
    assert log.kind is LogKind.ACCEPT_FAILED and log.reason.startswith("Too many open files: ")


def test_with_nobody_to_shed_the_reserve_refuses_one_waiting_connection(make):
    a, b = socket.socketpair()
    try:
        acceptor, _, selector, _, _ = make([EMFILE, (a, ("10.0.0.3", 3))])
        assert acceptor.accept(0.0, lambda: False) == []
        assert acceptor.refused == 1 and a.fileno() == -1  # accepted and closed at once
        assert selector.registered
        b.settimeout(5)
        assert b.recv(1) == b""  # the peer sees the connection end instead of waiting
    finally:
        a.close()
        b.close()


def test_no_spin_and_one_log_line_per_episode(make):
    acceptor, listener, selector, logs, presses = make([EMFILE] * 100_000)
    for second in range(20):  # the loop would call accept whenever the listener is readable
        if selector.registered:
            acceptor.accept(float(second), lambda: False)
        acceptor.tick(float(second) + 0.5)
    # Each round: a failure, the reserve's accept fails too, and the listener is put aside until the tick.
    assert listener.calls <= 20 * 2 and len(logs) == 1 and presses == [(True, 0.0)]
    listener.script.clear()
    acceptor.tick(19.0 + CALM)  # a calm spell ends the episode
    assert presses[-1] == (False, 19.0 + CALM) and not acceptor.pressed
    listener.script = [EMFILE]
    acceptor.accept(100.0, lambda: False)
    assert len(logs) == 2  # a new episode, a new line


def test_a_round_is_bounded(make):
    acceptor, _, _, _, _ = make([(object(), ("10.0.0.4", n)) for n in range(ACCEPTS_PER_ROUND * 2)])
    assert len(acceptor.accept(0.0, lambda: False)) == ACCEPTS_PER_ROUND


def test_a_connection_that_gave_up_before_accept_is_skipped_quietly(make):
    acceptor, _, _, logs, _ = make([OSError(errno.ECONNABORTED, "aborted"), (object(), ("10.0.0.5", 5))])
    assert len(acceptor.accept(0.0, lambda: False)) == 1 and logs == []
