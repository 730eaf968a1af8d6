"""Accepting when descriptors run out (mmchat.host_accept), with a fake listener whose accept() fails on cue."""

from __future__ import annotations

import errno
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mmchat.client import ChatClient
from mmchat.host_accept import ACCEPTS_PER_ROUND, CALM, Acceptor, listen
from mmchat.hostlog import LogKind
from mmchat.liveness import OPENERS_PER_ADDRESS
from mmchat.server import ChatServer

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


# --- real sockets: many silent connections, and a host out of descriptors ---------------------

TIMEOUT = 15.0
HOST_SCRIPT = r"""
import resource, sys, threading
from pathlib import Path
resource.setrlimit(resource.RLIMIT_NOFILE, (int(sys.argv[2]), int(sys.argv[2])))
from mmchat.server import ChatServer
host = ChatServer(Path(sys.argv[1]), "127.0.0.1", 0)
host.subscribe(lambda e: print("LOG", e.kind, e.reason, flush=True))
print("PORT", host.start()[1], flush=True)
sys.stdin.read()  # until the test closes our stdin
host.stop()
"""


def silent_connections(port: int, sources: list[str], each: int) -> list[socket.socket]:
    """`each` connections from every source address that say nothing (connect() does not wait)."""
    socks = []
    for source in sources:
        for _ in range(each):
            sock = socket.socket()
            sock.bind((source, 0))  # Linux answers on all of 127.0.0.0/8
            sock.setblocking(False)
            sock.connect_ex(("127.0.0.1", port))
            socks.append(sock)
    return socks


def closed_by_host(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True  # reset


linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="127.0.0.x source addresses")


@linux_only
def test_one_address_gets_a_few_waiting_connections_and_a_newcomer_from_another_joins_at_once(tmp_path):
    host = ChatServer(tmp_path / "share", "127.0.0.1", 0)
    host.start()
    port = host.address[1]
    socks = silent_connections(port, ["127.0.0.2"], 40)
    try:
        deadline = time.monotonic() + TIMEOUT
        while sum(map(closed_by_host, socks)) < 40 - OPENERS_PER_ADDRESS and time.monotonic() < deadline:
            time.sleep(0.05)
        open_ones = [s for s in socks if not closed_by_host(s)]
        assert len(open_ones) == OPENERS_PER_ADDRESS  # the rest were closed as they arrived
        newcomer = ChatClient("127.0.0.1", port, "newcomer", downloads=tmp_path)
        assert newcomer.connect(timeout=2.0) == "newcomer"
        newcomer.close(wait=TIMEOUT)
    finally:
        for sock in socks:
            sock.close()
        host.stop()


@linux_only
def test_out_of_descriptors_the_host_does_not_spin_logs_once_and_a_newcomer_joins_within_2_s(tmp_path):
    host = subprocess.Popen(
        [sys.executable, "-c", HOST_SCRIPT, str(tmp_path / "share"), "64"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    socks: list[socket.socket] = []
    try:
        assert host.stdout is not None
        line = host.stdout.readline()
        while line.startswith("LOG "):  # "listen" comes before the port is printed
            line = host.stdout.readline()
        assert line.startswith("PORT "), line
        port = int(line.split()[1])
        # 20 addresses x 8 waiting connections: far more than the host's 64 descriptors.
        socks = silent_connections(port, [f"127.0.0.{n}" for n in range(2, 22)], 8)
        time.sleep(1.0)  # the host runs into its limit
        started = time.monotonic()
        newcomer = ChatClient("127.0.0.1", port, "newcomer", downloads=tmp_path)
        assert newcomer.connect(timeout=2.0) == "newcomer"
        joined_after = time.monotonic() - started
        newcomer.close(wait=TIMEOUT)
        time.sleep(1.0)
    finally:
        for sock in socks:
            sock.close()
        try:
            out, _ = host.communicate(input="", timeout=TIMEOUT)  # closes its stdin: it stops
        except subprocess.TimeoutExpired:
            host.kill()
            out, _ = host.communicate()
    failures = [line for line in out.splitlines() if line.startswith("LOG accept-failed")]
    assert 1 <= len(failures) <= 3, out[-2000:]  # one line per episode, not thousands
    assert "Too many open files" in failures[0]
    assert joined_after < 2.0 and host.returncode == 0


def test_listen_names_the_address_it_could_not_take() -> None:
    first = listen("127.0.0.1", 0)
    try:
        port = first.getsockname()[1]
        assert not first.getblocking()
        if os.name == "nt":
            return  # Windows lets a second socket share a port only with SO_REUSEADDR, which we do not set there
        with pytest.raises(OSError, match=f"Cannot listen on 127.0.0.1:{port}"):
            listen("127.0.0.1", port).close()
    finally:
        first.close()
