"""Bans and the slowing of guesses on a real host, over real sockets on loopback addresses.

Linux answers on all of 127.0.0.0/8, so a test can knock from 127.0.0.2 (the
"attacker") while an honest member connects from 127.0.0.1.
"""

from __future__ import annotations

import queue
import select
import socket
import threading
import time
from pathlib import Path

import pytest

from mmchat.client import ChatClient, ConnectError, Disconnected
from mmchat.gate import Guesses
from mmchat.hostlog import LogEvent, LogKind
from mmchat.protocol import (
    PROTOCOL_VERSION,
    Connection,
    ErrorReply,
    Event,
    Hello,
    Notice,
    NoticeKind,
    RefusalKind,
    Refused,
    Role,
    Welcome,
)
from mmchat.server import ChatServer
from tests.tls_helpers import open_tcp, secure
from tests.waiting import wait_until

TIMEOUT = 15.0
ATTACKER = "127.0.0.2"


def _loopback_alias_works() -> bool:
    try:
        with socket.socket() as probe:
            probe.bind((ATTACKER, 0))
    except OSError:
        return False
    return True


pytestmark = pytest.mark.skipif(not _loopback_alias_works(), reason="127.0.0.2 is not a loopback address here")


@pytest.fixture
def host(tmp_path: Path):
    server = ChatServer(tmp_path / "share", "127.0.0.1", 0, password="s3cret", data_dir=tmp_path / "data")
    log: list[LogEvent] = []
    server.subscribe(log.append)
    server.start()
    server.seen = log  # type: ignore[attr-defined]
    yield server
    server.stop()


class Knock:
    """A raw connection from `source` that says hello and collects what the host answers."""

    def __init__(self, port: int, source: str = ATTACKER) -> None:
        self.raw = open_tcp(port, timeout=TIMEOUT, source=source)
        self.conn = Connection(Role.MEMBER)
        self._secured: socket.socket | None = None
        self._said = threading.Event()

    def hello(self, name: str, password: str) -> None:
        """TLS, then the hello, on a thread: a slowed address's handshake waits until the host reads it."""
        frame = self.conn.send(Hello(PROTOCOL_VERSION, name, password))

        def run() -> None:
            try:
                self._secured = secure(self.raw, TIMEOUT)
                self._secured.sendall(frame)
            except OSError:
                pass  # closed by the test meanwhile
            finally:
                self._said.set()

        threading.Thread(target=run, daemon=True).start()

    @property
    def sock(self) -> socket.socket:
        """The TLS connection, once the hello went out."""
        self._said.wait(TIMEOUT)
        assert self._secured is not None
        return self._secured

    def close(self) -> None:
        (self._secured or self.raw).close()

    def answers(self, timeout: float = TIMEOUT) -> list[Event]:
        """Everything the host sends until it hangs up."""
        self.sock.settimeout(timeout)
        while data := self.sock.recv(65536):
            self.conn.receive_data(data)
        self.sock.close()
        return list(self.conn.events())

    def waiting(self) -> bool:
        """Nothing has come back yet (the host has not even answered our TLS handshake, or not our hello)."""
        if not self._said.is_set():
            return True
        readable, _, _ = select.select([self.sock], [], [], 0)  # a closed connection is readable too
        return not readable


def member(server: ChatServer, name: str, password: str = "s3cret") -> ChatClient:
    client = ChatClient("127.0.0.1", server.address[1], name, password=password)
    client.connect()
    return client


def wait_for(events: queue.Queue, kind: type, timeout: float = TIMEOUT) -> object:
    deadline = time.monotonic() + timeout
    while True:
        event = events.get(timeout=max(0.01, deadline - time.monotonic()))
        if isinstance(event, kind):
            return event


def kicked(events: queue.Queue) -> Notice:
    while True:
        notice = wait_for(events, Notice)
        assert isinstance(notice, Notice)
        if notice.kind is NoticeKind.KICKED:
            return notice


def test_guessing_from_one_address_is_slowed_while_another_joins_at_once(host: ChatServer):
    host.room.guesses = Guesses(free_tries=3)  # fewer free tries: the test reaches long waits sooner
    port = host.address[1]
    for attempt in range(3):
        knock = Knock(port)
        knock.hello("mallory", f"guess{attempt}")
        assert knock.answers() == [Refused("Wrong password.", RefusalKind.WRONG_PASSWORD)]
    started = time.monotonic()
    slowed = [Knock(port) for _ in range(4)]  # read after 1 s, then 2, 4 and 8 s more: 15 s for the last
    for knock in slowed:
        knock.hello("mallory", "guess")
    honest = member(host, "alice")  # from 127.0.0.1: let in at once, while the guesses wait
    assert honest.name == "alice" and all(knock.waiting() for knock in slowed[2:])  # read 7 s and 15 s on
    assert slowed[0].answers()[0].kind is RefusalKind.WRONG_PASSWORD
    assert time.monotonic() - started >= 0.9  # the host did not read it before its second was up
    assert slowed[-1].waiting()
    for knock in slowed:
        knock.close()
    honest.close(wait=TIMEOUT)
    guessing = [e for e in host.seen if e.kind is LogKind.GUESSING]  # type: ignore[attr-defined]
    assert [(e.address, e.count) for e in guessing] == [(ATTACKER, 3)]
    refused = [e for e in host.seen if e.kind is LogKind.JOIN_REFUSED]  # type: ignore[attr-defined]
    assert len(refused) == 3  # one line per try until the slowing starts, then none per guess


def test_a_banned_member_is_dropped_and_their_address_sees_nothing_of_the_room(host: ChatServer, tmp_path: Path):
    port = host.address[1]
    alice = member(host, "alice")
    alice.say("something mallory must never read", wait=TIMEOUT)
    mallory = Knock(port)
    mallory.hello("mallory", "s3cret")
    wait_until(lambda: "mallory" in host.online())
    host.ban("mallory")
    told = mallory.answers()
    assert ErrorReply("The host banned you from this chat.", fatal=True) in told
    wait_until(lambda: [ban.address for ban in host.bans()] == [ATTACKER])
    assert kicked(alice.events).member == "mallory"  # the others are told, as for a kick
    again = Knock(port)
    again.hello("mallory", "s3cret")
    assert again.answers() == [Refused("You are banned from this chat.", RefusalKind.BANNED)]  # no history, no list
    assert "alice" in host.online() and alice.connected
    host.ban("alice")  # the client library connects from 127.0.0.1: ban that too, to see its sentence
    assert "banned" in wait_for(alice.events, Disconnected).reason  # type: ignore[attr-defined]
    wait_until(lambda: len(host.bans()) == 2)
    with pytest.raises(ConnectError, match=r"^You are banned from this chat\.$") as caught:
        ChatClient("127.0.0.1", port, "eve", password="s3cret").connect()
    assert caught.value.refusal is RefusalKind.BANNED
    host.unban("127.0.0.1")
    wait_until(lambda: [ban.address for ban in host.bans()] == [ATTACKER])
    assert member(host, "alice").close(wait=TIMEOUT)


def test_bans_hold_across_a_restart_and_can_be_lifted(tmp_path: Path):
    data = tmp_path / "data"
    first = ChatServer(tmp_path / "share", "127.0.0.1", 0, data_dir=data)
    first.start()
    try:
        mallory = Knock(first.address[1])
        mallory.hello("mallory", "")
        wait_until(lambda: "mallory" in first.online())
        first.ban("mallory")
        wait_until(lambda: (data / "bans.json").exists())
    finally:
        first.stop()
    second = ChatServer(tmp_path / "share", "127.0.0.1", 0, data_dir=data)
    second.start()
    try:
        assert [(ban.address, ban.name) for ban in second.bans()] == [(ATTACKER, "mallory")]
        knock = Knock(second.address[1])
        knock.hello("mallory", "")
        assert [e.kind for e in knock.answers() if isinstance(e, Refused)] == [RefusalKind.BANNED]
        second.unban(f"{ATTACKER}:4000")
        wait_until(lambda: second.bans() == [])
        knock = Knock(second.address[1])
        knock.hello("mallory", "")
        knock.sock.settimeout(TIMEOUT)
        data_in = knock.sock.recv(65536)
        knock.conn.receive_data(data_in)
        assert isinstance(next(iter(knock.conn.events())), Welcome)
        knock.sock.close()
    finally:
        second.stop()
