"""The member's chat connection (mmchat.client) against a real host and scripted fake hosts on 127.0.0.1."""

from __future__ import annotations

import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_host import FakeHost, Peer

from mmchat import client as client_module
from mmchat import protocol
from mmchat.client import ChatClient, ConnectError, Disconnected, OutboxFull, Request
from mmchat.protocol import (
    ChatMessage,
    CommandResult,
    ErrorReply,
    FileList,
    Goodbye,
    ListOnline,
    Notice,
    OnlineList,
    Ping,
    Pong,
    QRImage,
    RefusalKind,
    Refused,
    Say,
    VerifyResult,
)
from mmchat.server import ChatServer

TIMEOUT = 15.0
LONG_TEXT = "x" * protocol.MAX_TEXT_CHARS


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ChatServer]:
    host = ChatServer(share=tmp_path / "share", host="127.0.0.1", port=0)
    host.start()
    yield host
    host.stop()


@pytest.fixture
def join(server: ChatServer, tmp_path: Path) -> Iterator[Callable[..., ChatClient]]:
    clients: list[ChatClient] = []

    def connect(name: str, **options: Any) -> ChatClient:
        client = ChatClient("127.0.0.1", server.address[1], name, downloads=tmp_path / f"dl-{name}", **options)
        client.connect()
        clients.append(client)
        return client

    yield connect
    for client in clients:
        assert client.close(wait=TIMEOUT)


@pytest.fixture
def fake() -> Iterator[Callable[[Callable[[Peer], None]], FakeHost]]:
    hosts: list[FakeHost] = []

    def start(script: Callable[[Peer], None]) -> FakeHost:
        host = FakeHost(script)
        hosts.append(host)
        return host

    yield start
    for host in hosts:
        host.close()


def next_event(client: ChatClient, kind: type, timeout: float = TIMEOUT, where: Callable[[Any], bool] = bool) -> Any:
    """The next event of type `kind` (passing `where`) on the client's queue; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    seen = []
    while (left := deadline - time.monotonic()) > 0:
        try:
            event = client.events.get(timeout=left)
        except queue.Empty:
            break
        if isinstance(event, kind) and where(event):
            return event
        seen.append(event)
    raise AssertionError(f"no {kind.__name__} within {timeout}s; saw {seen!r}")


def free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return probe.getsockname()[1]


def in_thread(work: Callable[[], object]) -> threading.Thread:
    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread


def fill_until_stuck(client: ChatClient) -> str:
    """say() long messages until the outbox refuses and stays full (the kernel's buffers are full too)."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        try:
            client.say(LONG_TEXT)
            continue
        except OutboxFull as exc:
            refusal = str(exc)
        unsent = client.unsent_bytes
        for _ in range(3):  # a busy machine's writer may still be moving: unchanged three times running
            time.sleep(0.2)
            if client.unsent_bytes != unsent:
                break
        else:
            return refusal  # the writer is stuck: the host is not reading
    raise AssertionError(f"the outbox never stayed full within {TIMEOUT}s")


# --- connecting ----------------------------------------------------------------------


def test_connect_gives_the_name_and_says_when_it_was_taken(join) -> None:
    alice = join("alice")
    assert (alice.name, alice.renamed, alice.connected) == ("alice", False, True)
    again = join("alice")
    assert (again.wanted_name, again.name, again.renamed) == ("alice", "alice-2", True)


def test_connect_refused_is_a_sentence() -> None:
    port = free_port()
    with pytest.raises(ConnectError) as caught:
        ChatClient("127.0.0.1", port, "alice").connect(timeout=5)
    assert str(caught.value) == f"Nobody is hosting a chat at 127.0.0.1:{port} (connection refused)."


def test_a_bad_name_is_refused_before_connecting() -> None:
    with pytest.raises(ConnectError, match=r"^That name cannot be used: "):
        ChatClient("127.0.0.1", free_port(), "").connect()


def test_the_hosts_refusal_reaches_the_person(fake) -> None:
    reason = "This host speaks mmchat protocol 3 and you speak 2: please use the same mmchat version as the host."

    def refuse(peer: Peer) -> None:
        peer.read()
        peer.send(Refused(reason=reason))

    host = fake(refuse)
    with pytest.raises(ConnectError) as caught:
        ChatClient("127.0.0.1", host.port, "alice").connect()
    assert str(caught.value) == f"The host refused you: {reason}"


def test_password(tmp_path: Path) -> None:
    host = ChatServer(share=tmp_path / "share", host="127.0.0.1", port=0, password="sesame")
    host.start()
    try:
        port = host.address[1]
        with pytest.raises(ConnectError) as caught:
            ChatClient("127.0.0.1", port, "alice", password="wrong").connect()
        assert str(caught.value) == "Wrong password."
        assert caught.value.refusal is RefusalKind.WRONG_PASSWORD
        with pytest.raises(ConnectError) as caught:
            ChatClient("127.0.0.1", port, "alice").connect()
        assert str(caught.value) == "This chat needs a password."
        assert caught.value.refusal is RefusalKind.PASSWORD_NEEDED
        member = ChatClient("127.0.0.1", port, "alice", password="sesame")
        assert member.connect() == "alice"
        assert member.close(wait=TIMEOUT)
    finally:
        host.stop()


def test_something_else_than_a_host_is_named(fake) -> None:
    def babble(peer: Peer) -> None:
        peer.sock.sendall(b"SSH-2.0-OpenSSH_9.2\r\n" + b"\0" * 64)
        peer.sock.recv(100)

    host = fake(babble)
    with pytest.raises(ConnectError, match=r"^That does not look like an mmchat host \("):
        ChatClient("127.0.0.1", host.port, "alice").connect()


def test_connect_has_one_deadline_however_the_host_trickles(fake) -> None:
    # A host that sends one byte of a frame every 0.2 s: a time-out per recv() never fires.
    stop = threading.Event()

    def trickle(peer: Peer) -> None:
        peer.read()
        peer.sock.sendall(protocol.PREFIX.pack(1000, 0))
        while not stop.wait(0.2):
            peer.sock.sendall(b" ")

    host = fake(trickle)
    started = time.monotonic()
    try:
        with pytest.raises(ConnectError) as caught:
            ChatClient("127.0.0.1", host.port, "alice").connect(timeout=1.0)
    finally:
        stop.set()
    assert time.monotonic() - started < 4.0
    assert str(caught.value) == "The host did not answer. Is it an mmchat host?"


# --- chatting and asking -------------------------------------------------------------


def test_messages_arrive_in_the_order_said(join) -> None:
    alice, bob = join("alice"), join("bob")
    said = [f"message {i} 😎" for i in range(300)]
    for text in said:
        alice.say(text)
    got = [next_event(bob, ChatMessage, where=lambda e: not e.history) for _ in said]
    assert [(m.sender, m.text) for m in got] == [("alice", text) for text in said]
    seqs = [m.seq for m in got]
    assert seqs == sorted(seqs)


def test_a_message_too_long_is_refused_here(join) -> None:
    alice = join("alice")
    with pytest.raises(ValueError) as caught:
        alice.say("x" * (protocol.MAX_TEXT_CHARS + 1))
    assert str(caught.value) == f"A message may have at most {protocol.MAX_TEXT_CHARS} characters."


def test_requests_get_their_replies(join) -> None:
    alice, bob = join("alice"), join("bob")
    online = alice.online()
    assert isinstance(online, Request)
    reply = online.wait(TIMEOUT)
    assert isinstance(reply, OnlineList) and sorted(reply.members) == ["alice", "bob"]
    assert isinstance(alice.list_files().wait(TIMEOUT), FileList)
    result = alice.command("echo hello there").wait(TIMEOUT)
    assert isinstance(result, CommandResult) and "hello there" in result.output
    qr = alice.request_qr().wait(TIMEOUT)
    assert isinstance(qr, QRImage)
    verdict = bob.verify(f"  {qr.code} ").wait(TIMEOUT)
    assert isinstance(verdict, VerifyResult) and verdict.valid and verdict.owner == "alice"
    # The replies are on the queue too, in the order asked, for a window that only reads the queue.
    assert next_event(alice, OnlineList) == reply
    assert next_event(alice, CommandResult) == result


def test_pending_requests_fail_when_the_host_goes_away(fake) -> None:
    asked = threading.Event()

    def ignore_then_leave(peer: Peer) -> None:
        peer.welcome()
        assert isinstance(peer.read(), ListOnline)
        asked.set()

    host = fake(ignore_then_leave)
    member = ChatClient("127.0.0.1", host.port, "alice")
    member.connect()
    request = member.online()
    assert asked.wait(TIMEOUT)
    host.close()
    with pytest.raises(ConnectionError) as caught:
        request.wait(TIMEOUT)
    assert str(caught.value) == "The connection to the host was lost."
    assert request.done


def test_disconnected_when_the_host_stops(server: ChatServer, join) -> None:
    alice = join("alice")
    server.stop()
    gone = next_event(alice, Disconnected)
    assert gone == Disconnected("The host closed the connection.", by_us=False)
    assert not alice.connected
    with pytest.raises(ConnectionError) as caught:
        alice.say("anyone?")
    assert str(caught.value) == "Not connected to the host."


def test_a_fatal_error_is_the_disconnect_reason(fake) -> None:
    def throw_out(peer: Peer) -> None:
        peer.welcome()
        peer.send(ErrorReply(message="You were sending too much.", fatal=True))

    host = fake(throw_out)
    member = ChatClient("127.0.0.1", host.port, "alice")
    member.connect()
    assert next_event(member, Disconnected) == Disconnected("You were sending too much.", by_us=False)


# --- leaving -------------------------------------------------------------------------


def test_close_says_goodbye_and_the_others_hear_it(join) -> None:
    alice, bob = join("alice"), join("bob")
    alice.say("last words")
    assert alice.close(wait=TIMEOUT)
    assert next_event(alice, Disconnected).by_us
    assert next_event(bob, ChatMessage, where=lambda e: e.text == "last words")
    assert next_event(bob, Notice, where=lambda e: e.kind == "leave" and e.member == "alice")
    with pytest.raises(ConnectionError):
        alice.say("after leaving")
    assert alice.close() is True  # a second close is harmless


def test_a_close_while_connecting_leaves_once_connected(server: ChatServer) -> None:
    member = ChatClient("127.0.0.1", server.address[1], "late")
    member.close()  # e.g. the window went away while a worker was connecting
    assert member.connect() == "late"
    assert member.join(TIMEOUT)
    assert next_event(member, Disconnected).by_us


def test_goodbye_is_the_last_frame_the_host_gets(fake) -> None:
    got: list[object] = []

    def record(peer: Peer) -> None:
        peer.welcome()
        while not isinstance(event := peer.read(), Goodbye):
            got.append(event)
        got.append(event)

    host = fake(record)
    member = ChatClient("127.0.0.1", host.port, "alice")
    member.connect()
    for i in range(50):
        member.say(str(i))
    member.close()
    assert host.done.wait(TIMEOUT)
    assert got == [Say(text=str(i)) for i in range(50)] + [Goodbye()]


def hold_without_reading(hold: threading.Event) -> Callable[[Peer], None]:
    """A host script: let the member in, then never read again until `hold` is set."""

    def script(peer: Peer) -> None:
        peer.welcome()
        hold.wait(60)

    return script


def test_say_never_blocks_when_the_host_stops_reading(fake) -> None:
    hold = threading.Event()
    host = fake(hold_without_reading(hold))
    member = ChatClient("127.0.0.1", host.port, "alice", outbox_bytes=256 * 1024)
    member.connect()
    refusals: list[str] = []
    filler = in_thread(lambda: refusals.append(fill_until_stuck(member)))
    filler.join(TIMEOUT)
    hold.set()
    assert not filler.is_alive(), "say() blocked on a host that does not read"
    assert refusals == ["The host is not taking what you send right now, so this was not sent. Try again in a moment."]
    assert member.connected  # a full outbox is not the end of the chat
    member.close(wait=TIMEOUT)


def test_say_may_wait_a_while_for_room(fake) -> None:
    hold = threading.Event()
    host = fake(hold_without_reading(hold))
    member = ChatClient("127.0.0.1", host.port, "alice", outbox_bytes=256 * 1024)
    member.connect()
    try:
        for _ in range(5):  # a loaded machine's kernel may still take a little more: then fill again
            fill_until_stuck(member)
            started = time.monotonic()
            try:
                member.say(LONG_TEXT, wait=0.3)
            except OutboxFull:
                break
        else:
            raise AssertionError("say(wait=0.3) never refused on an outbox that stayed full")
        assert time.monotonic() - started >= 0.3
    finally:
        hold.set()
    member.close(wait=TIMEOUT)


def test_close_returns_at_once_when_the_host_stopped_reading(fake) -> None:
    hold = threading.Event()
    host = fake(hold_without_reading(hold))
    member = ChatClient("127.0.0.1", host.port, "alice", outbox_bytes=256 * 1024)
    member.connect()
    filler = in_thread(lambda: fill_until_stuck(member))
    filler.join(TIMEOUT)
    closer = in_thread(member.close)
    closer.join(1.0)
    try:
        assert not filler.is_alive(), "say() blocked on a host that does not read"
        assert not closer.is_alive(), "close() blocked on a host that does not read"
        # The threads give up on their own, within the goodbye's flush deadline.
        assert member.join(client_module.CLOSE_TIMEOUT + TIMEOUT)
        assert next_event(member, Disconnected).by_us
    finally:
        hold.set()


def test_join_has_one_deadline(fake) -> None:
    hold = threading.Event()
    host = fake(hold_without_reading(hold))
    member = ChatClient("127.0.0.1", host.port, "alice", outbox_bytes=256 * 1024)
    member.connect()
    fill_until_stuck(member)
    started = time.monotonic()
    try:
        assert member.close(wait=0.3) is False  # the writer still tries to flush
        assert time.monotonic() - started < client_module.CLOSE_TIMEOUT
    finally:
        hold.set()
    assert member.join(TIMEOUT)


def test_a_host_that_stops_reading_ends_the_chat_with_a_reason(fake) -> None:
    hold = threading.Event()
    host = fake(hold_without_reading(hold))
    member = ChatClient("127.0.0.1", host.port, "alice", outbox_bytes=256 * 1024, stall_timeout=0.5)
    member.connect()
    deadline = time.monotonic() + TIMEOUT
    try:
        while member.connected and time.monotonic() < deadline:  # keep the writer busy until it gives up
            try:
                member.say(LONG_TEXT)
            except OutboxFull:
                time.sleep(0.05)
            except ConnectionError:
                break
        gone = next_event(member, Disconnected)
    finally:
        hold.set()
    assert gone == Disconnected("The host stopped reading what you send (nothing went through for 0.5 s).")
    with pytest.raises(ConnectionError) as caught:
        member.say("hello?")
    assert str(caught.value) == "Not connected to the host."


def test_a_closed_client_still_says_goodbye_when_the_program_exits_at_once(server: ChatServer, join) -> None:
    bob = join("bob")
    program = (
        "import sys\n"
        "from mmchat.client import ChatClient\n"
        "c = ChatClient('127.0.0.1', int(sys.argv[1]), 'quick')\n"
        "c.connect()\n"
        "for i in range(300):\n"
        "    c.say(f'line {i}')\n"
        "c.close()\n"  # and exit at once: the exit hook lets the writer finish
    )
    root = Path(__file__).resolve().parent.parent
    subprocess.run([sys.executable, "-c", program, str(server.address[1])], cwd=root, check=True, timeout=TIMEOUT)
    assert next_event(bob, ChatMessage, where=lambda e: e.text == "line 299")
    assert next_event(bob, Notice, where=lambda e: e.kind == "leave" and e.member == "quick")


# --- keep-alive --------------------------------------------------------------------------


def test_the_hosts_ping_is_answered_and_never_reaches_the_window(fake) -> None:
    answers: list[object] = []

    def ping(peer: Peer) -> None:
        peer.welcome()
        peer.send(Ping())
        answers.append(peer.read())
        peer.send(Notice(seq=1, ts=0.0, kind=protocol.NoticeKind.JOIN, member="bob"))
        peer.read()  # the goodbye

    host = fake(ping)
    member = ChatClient("127.0.0.1", host.port, "alice")
    member.connect()
    assert next_event(member, Notice).member == "bob"
    assert answers == [Pong()]
    member.close(wait=TIMEOUT)
    assert not [e for e in _drain(member) if isinstance(e, Ping | Pong)]


def _drain(client: ChatClient) -> list[object]:
    events = []
    while not client.events.empty():
        events.append(client.events.get_nowait())
    return events


def test_a_host_that_goes_silent_is_pinged_then_given_up_on_with_a_sentence(fake) -> None:
    asked: list[object] = []
    release = threading.Event()

    def go_silent(peer: Peer) -> None:
        peer.welcome()
        asked.append(peer.read())  # the member's ping; the frozen host never answers it
        release.wait(TIMEOUT)

    host = fake(go_silent)
    member = ChatClient("127.0.0.1", host.port, "alice", ping_after=0.2, host_timeout=1.0)
    member.connect()
    started = time.monotonic()
    try:
        gone = next_event(member, Disconnected)
    finally:
        release.set()
    assert gone == Disconnected("The host stopped answering (nothing for 1 s).", by_us=False)
    assert asked == [Ping()] and 0.9 < time.monotonic() - started < 10
    assert not member.connected
