"""The host and the client library over real sockets on 127.0.0.1."""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import queue
import socket
import sqlite3
import struct
import threading
import time
from pathlib import Path

import pytest

from mmchat import headless, protocol
from mmchat import outbox as outbox_module
from mmchat.budget import Limits, Rate
from mmchat.client import ChatClient, ConnectError, Disconnected, TransferFinished
from mmchat.liveness import KeepAlive
from mmchat.protocol import (
    ChatMessage,
    CommandResult,
    Connection,
    ErrorReply,
    FileList,
    Hello,
    ListFiles,
    Notice,
    OnlineList,
    QRImage,
    Role,
    RunCommand,
    Say,
    TransferHello,
    VerifyResult,
    Welcome,
    encode,
)
from mmchat.server import ChatServer, LogEvent, LogKind
from tests.tls_helpers import open_raw
from tests.transfer_helpers import random_file
from tests.waiting import wait_until

TIMEOUT = 15.0


@pytest.fixture
def share(tmp_path: Path) -> Path:
    path = tmp_path / "share"
    path.mkdir()
    return path


@pytest.fixture(params=[1, 2], ids=["one sending thread", "two sending threads"])
def send_threads(request, monkeypatch) -> int:
    """For the ordering tests: with 2, every round's sends are shared by two threads, however small."""
    if request.param == 2:
        monkeypatch.setattr(outbox_module, "PARALLEL_SEND_MIN", 1)
    return request.param


@pytest.fixture
def server(share: Path, request):
    threads = request.getfixturevalue("send_threads") if "send_threads" in request.fixturenames else 1
    host = ChatServer(share, "127.0.0.1", 0, send_threads=threads)
    log: list[LogEvent] = []
    host.subscribe(log.append)
    host.log = log  # type: ignore[attr-defined]
    host.start()
    yield host
    host.stop()


@pytest.fixture
def join(server: ChatServer, tmp_path: Path):
    clients: list[ChatClient] = []

    def connect(name: str, target: ChatServer | None = None) -> ChatClient:
        host = target or server
        downloads = tmp_path / f"dl-{name}-{len(clients)}"
        client = ChatClient("127.0.0.1", host.address[1], name, downloads=downloads)
        client.connect()
        clients.append(client)
        return client

    yield connect
    for client in clients:
        client.close()


def next_matching(client: ChatClient, predicate, timeout: float = TIMEOUT):
    """Take events off the client's queue until one matches; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    seen = []
    skipped = client.__dict__.setdefault("skipped", [])  # what earlier waits passed over
    for i, event in enumerate(skipped):
        if predicate(event):
            del skipped[i]
            return event
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no matching event within {timeout}s; saw {seen!r}")
        try:
            event = client.events.get(timeout=remaining)
        except queue.Empty:
            continue
        if predicate(event):
            return event
        seen.append(event)
        skipped.append(event)


def messages(client: ChatClient, count: int, timeout: float = TIMEOUT) -> list[ChatMessage]:
    """The next `count` live chat messages this client receives."""
    return [
        next_matching(client, lambda e: isinstance(e, ChatMessage) and not e.history, timeout) for _ in range(count)
    ]


def notice(client: ChatClient, kind: str, member: str) -> Notice:
    return next_matching(client, lambda e: isinstance(e, Notice) and e.kind == kind and e.member == member)


def frame(header: dict) -> bytes:
    """A frame built by hand, so tests can send what the client library never would."""
    data = json.dumps(header, ensure_ascii=False).encode()
    return struct.pack(">II", len(data), 0) + data


def raw_member(server: ChatServer, name: str) -> tuple[socket.socket, Connection]:
    """A hand-driven member socket, past the handshake."""
    sock = open_raw(server.address[1], timeout=TIMEOUT)
    conn = Connection(Role.MEMBER)
    sock.sendall(conn.send(Hello(protocol.PROTOCOL_VERSION, name)))
    while True:
        event = conn.next_event()
        if event is protocol.NEED_DATA:
            conn.receive_data(sock.recv(65536))
        elif isinstance(event, Welcome):
            return sock, conn


def read_until_closed(sock: socket.socket, limit: float = TIMEOUT) -> bytes:
    sock.settimeout(limit)
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


# --- chat --------------------------------------------------------------------------


def test_three_members_see_every_message_in_the_same_order(send_threads, server, join):
    members = [join(name) for name in ("alice", "bob", "carol")]
    per_sender = 60

    def chatter(client: ChatClient) -> None:
        for i in range(per_sender):
            client.say(f"{client.name} {i} 😎")

    threads = [threading.Thread(target=chatter, args=(m,)) for m in members]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = per_sender * len(members)
    seen = [[(m.seq, m.sender, m.text) for m in messages(client, total)] for client in members]
    assert seen[0] == seen[1] == seen[2]
    assert [s for s, _, _ in seen[0]] == sorted(s for s, _, _ in seen[0])
    for client in members:  # each sender's own messages stay in the order they were sent
        own = [text for _, sender, text in seen[0] if sender == client.name]
        assert own == [f"{client.name} {i} 😎" for i in range(per_sender)]


def test_emoji_and_any_unicode_round_trip_exactly(server, join):
    alice, bob = join("alice"), join("bob")
    text = "héllo 😎 👩‍👩‍👧 日本語 \u200b tab\tand\nnewline 𝄞"
    alice.say(text)
    assert messages(bob, 1)[0].text == text


def test_join_and_leave_notices_reach_everyone(server, join):
    alice = join("alice")
    bob = join("bob")
    assert notice(alice, "join", "bob").member == "bob"
    bob.close()
    assert notice(alice, "leave", "bob")
    assert any("bob left the chat" in e.text for e in server.log)


def test_online_lists_members_in_join_order(server, join):
    alice = join("alice")
    join("bob")
    join("carol")
    reply = alice.online().wait()
    assert isinstance(reply, OnlineList)
    assert reply.members == ("alice", "bob", "carol")
    assert [c.name for c in server.connections()] == ["alice", "bob", "carol"]


def test_duplicate_name_gets_a_suffix_and_is_told(server, join):
    join("alice")
    second = join("alice")
    assert second.name == "alice-2" and second.renamed
    assert join("alice").name == "alice-3"


@pytest.mark.parametrize("name", ["", "   ", "a" * 33, "bad\x00name", "[admin]", "!bang"])
def test_invalid_names_are_refused_with_a_sentence(server, name):
    client = ChatClient("127.0.0.1", server.address[1], name)
    with pytest.raises(ConnectError, match=r"That name cannot be used: [A-Z].*\."):
        client.connect()
    # The host refuses them too when a member skips the client's check.
    sock = open_raw(server.address[1], timeout=TIMEOUT)
    header = json.dumps({"type": "hello", "version": protocol.PROTOCOL_VERSION, "member": name}).encode()
    sock.sendall(struct.pack(">II", len(header), 0) + header)
    reply = read_until_closed(sock)
    assert (b'"type":"refused"' in reply and b"name" in reply and b"protocol" not in reply) or (
        b'"fatal":true' in reply and b"longer than 32" in reply
    )
    assert server.online() == []


def test_version_mismatch_is_refused_clearly(server):
    sock = open_raw(server.address[1], timeout=TIMEOUT)
    header = b'{"type":"hello","version":99,"member":"zed"}'
    sock.sendall(struct.pack(">II", len(header), 0) + header)
    reply = read_until_closed(sock)
    assert b'"type":"refused"' in reply
    assert f"protocol {protocol.PROTOCOL_VERSION}".encode() in reply and b"99" in reply


def test_password_is_required_when_set(share):
    host = ChatServer(share, "127.0.0.1", 0, password="s3cret")
    host.start()
    try:
        wrong = ChatClient("127.0.0.1", host.address[1], "alice", password="guess")
        with pytest.raises(ConnectError, match="Wrong password"):
            wrong.connect()
        right = ChatClient("127.0.0.1", host.address[1], "alice", password="s3cret")
        assert right.connect() == "alice"
        right.close()
    finally:
        host.stop()


def test_connecting_to_a_closed_port_gives_a_sentence():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    with pytest.raises(ConnectError, match="connection refused"):
        ChatClient("127.0.0.1", port, "alice").connect()


# --- history -------------------------------------------------------------------------


def test_late_joiner_gets_the_last_50_messages_marked_as_history(server, join):
    alice = join("alice")
    for i in range(60):
        alice.say(f"message {i}")
    messages(alice, 60)
    # History arrives right after the welcome, before our own (live) join notice.
    again = join("again")
    replay = []
    while True:
        event = next_matching(again, lambda e: isinstance(e, (ChatMessage, Notice)))
        if isinstance(event, Notice) and event.member == "again" and event.kind == "join" and not event.history:
            break
        replay.append(event)
    assert len(replay) == 50
    assert all(e.history for e in replay)
    texts = [e.text for e in replay if isinstance(e, ChatMessage)]
    assert texts[-1] == "message 59"
    assert texts == [f"message {i}" for i in range(60 - len(texts), 60)]
    assert [e.seq for e in replay] == sorted(e.seq for e in replay)


def test_history_survives_a_host_restart(share, tmp_path):
    first = ChatServer(share, "127.0.0.1", 0)
    first.start()
    alice = ChatClient("127.0.0.1", first.address[1], "alice")
    alice.connect()
    alice.say("before the restart ☕")
    messages(alice, 1)
    alice.close()
    first.stop()

    second = ChatServer(share, "127.0.0.1", 0)
    second.start()
    try:
        bob = ChatClient("127.0.0.1", second.address[1], "bob")
        bob.connect()
        old = next_matching(bob, lambda e: isinstance(e, ChatMessage))
        assert old.history and old.text == "before the restart ☕" and old.sender == "alice"
        bob.say("after")
        new = messages(bob, 1)[0]
        assert new.seq > old.seq  # sequence numbers go on where they stopped
        bob.close()
    finally:
        second.stop()


# --- files ---------------------------------------------------------------------------


def test_upload_and_download_are_byte_identical(server, join, tmp_path, share):
    alice, bob = join("alice"), join("bob")
    source = tmp_path / "holiday.bin"
    digest = random_file(source, 5 * 1024 * 1024 + 123)
    progress: list[tuple[int, int]] = []
    upload = alice.send_file(source, progress=lambda done, total: progress.append((done, total)))
    assert upload.wait(TIMEOUT) and upload.ok, upload.error
    assert upload.remote_name == "holiday.bin"
    assert progress[-1] == (source.stat().st_size, source.stat().st_size)
    shared = notice(bob, "share", "alice")
    assert shared.filename == "holiday.bin" and shared.size == source.stat().st_size
    assert hashlib.sha256((share / "holiday.bin").read_bytes()).hexdigest() == digest

    listing = bob.list_files().wait()
    assert isinstance(listing, FileList)
    assert [(f.filename, f.size, f.owner) for f in listing.files] == [("holiday.bin", source.stat().st_size, "alice")]

    download = bob.request_file("holiday.bin")
    assert download.wait(TIMEOUT) and download.ok, download.error
    assert download.path == bob.downloads / "holiday.bin"
    assert hashlib.sha256(download.path.read_bytes()).hexdigest() == digest
    finished = next_matching(bob, lambda e: isinstance(e, TransferFinished))
    assert finished.transfer is download
    assert not [p for p in bob.downloads.iterdir() if p.name.endswith(".part")]


def test_name_collisions_get_numbered_and_nothing_is_overwritten(server, join, tmp_path, share):
    alice = join("alice")
    first, second = tmp_path / "a" / "notes.txt", tmp_path / "b" / "notes.txt"
    first.parent.mkdir()
    second.parent.mkdir()
    first.write_text("first")
    second.write_text("second")
    for path, expected in ((first, "notes.txt"), (second, "notes (1).txt")):
        t = alice.send_file(path)
        assert t.wait(TIMEOUT) and t.ok, t.error
        assert t.remote_name == expected
    assert (share / "notes.txt").read_text() == "first"
    assert (share / "notes (1).txt").read_text() == "second"
    # Downloads follow the same rule in the downloads folder.
    for expected in ("notes.txt", "notes (1).txt"):
        t = alice.request_file("notes.txt")
        assert t.wait(TIMEOUT) and t.ok, t.error
        assert t.path.name == expected
        assert t.path.read_text() == "first"


def test_a_missing_file_gets_a_clear_error(server, join):
    bob = join("bob")
    t = bob.request_file("nothing-here.pdf")
    assert t.wait(TIMEOUT) and not t.ok
    assert t.error == "No such file on the host: nothing-here.pdf"


@pytest.mark.parametrize("name", ["../../etc/passwd", "/etc/passwd", "a\x00b", "..", ".mmchat", "C:evil"])
def test_hostile_upload_names_are_refused(server, name, tmp_path, share):
    sock, conn = raw_member(server, "mallory")
    header = {"type": "upload", "filename": name, "size": 3, "ref": 7}
    sock.sendall(frame(header))
    reply = next_reply(sock, conn, lambda e: isinstance(e, ErrorReply))
    assert reply.ref == 7 and "Refused file name" in reply.message
    sock.close()
    assert sorted(p.name for p in share.iterdir()) == [".mmchat"]


@pytest.mark.parametrize("name", ["../../etc/passwd", "/etc/passwd", ".mmchat", "..", "link-out"])
def test_hostile_download_names_find_nothing(server, join, name, share, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    (share / "link-out").symlink_to(secret)
    bob = join("bob")
    t = bob.request_file(name) if "/" not in name and name not in ("..", ".mmchat") else None
    if t is None:  # the client refuses such names itself; ask the host directly
        sock, conn = raw_member(server, "mallory")
        header = {"type": "download", "filename": name, "ref": 3}
        sock.sendall(frame(header))
        reply = next_reply(sock, conn, lambda e: isinstance(e, ErrorReply))
        assert reply.message == f"No such file on the host: {name}"
        sock.close()
    else:
        assert t.wait(TIMEOUT) and not t.ok
        assert t.error == f"No such file on the host: {name}"


def next_reply(sock: socket.socket, conn: Connection, predicate):
    sock.settimeout(TIMEOUT)
    while True:
        for event in conn.events():
            if predicate(event):
                return event
        data = sock.recv(65536)
        assert data, "host closed the connection"
        conn.receive_data(data)


def test_a_member_killed_mid_upload_leaves_no_file(server, join, tmp_path, share):
    alice = join("alice")
    source = tmp_path / "big.bin"
    random_file(source, 64 * 1024 * 1024)
    gate = threading.Event()

    def stall(done: int, total: int) -> None:
        gate.set()
        time.sleep(0.5)

    upload = alice.send_file(source, progress=stall)
    assert gate.wait(TIMEOUT)
    upload.cancel()  # the connection is torn down mid-stream, like a crash
    assert upload.wait(TIMEOUT) and not upload.ok
    wait_until(lambda: any(e.kind == "transfer-failed" for e in server.log))
    assert sorted(p.name for p in share.iterdir()) == [".mmchat"]  # nothing under a final name
    kept = sorted(p.suffix for p in (share / ".mmchat" / "tmp").iterdir())
    assert kept in ([], [".part", ".resume"])  # at most what arrived, hidden, waiting for a resume
    alice.say("still here")  # and the chat carries on
    assert messages(alice, 1)[0].text == "still here"


def open_upload(server, name: str, size: int) -> tuple[socket.socket, socket.socket, Connection]:
    """A hand-driven member offers an upload: (chat socket, transfer socket after hello, its Connection)."""
    sock, conn = raw_member(server, "mallory")
    sock.sendall(frame({"type": "upload", "filename": name, "size": size, "ref": 1}))
    ready = next_reply(sock, conn, lambda e: isinstance(e, protocol.TransferReady))
    data = open_raw(server.address[1], timeout=TIMEOUT)
    tconn = Connection(Role.MEMBER)
    data.sendall(tconn.send(TransferHello(protocol.PROTOCOL_VERSION, ready.token)))
    return sock, data, tconn, ready.token


def test_a_corrupted_upload_is_discarded(server, tmp_path, share):
    """The member's SHA-256 does not match the bytes: the file never appears."""
    sock, data, tconn, token = open_upload(server, "x.bin", 4)
    start = next_reply(data, tconn, lambda e: isinstance(e, protocol.TransferStart))
    assert (start.filename, start.size, start.sha256) == ("x.bin", 4, "")  # the host cannot know it yet
    data.sendall(b"abcd" + tconn.send(protocol.TransferEnd("a" * 64)))
    error = next_reply(data, tconn, lambda e: isinstance(e, ErrorReply))
    assert "damaged" in error.message
    assert not (share / "x.bin").exists()
    assert list((share / ".mmchat" / "tmp").iterdir()) == []
    # The token was single-use.
    again = open_raw(server.address[1], timeout=TIMEOUT)
    aconn = Connection(Role.MEMBER)
    again.sendall(aconn.send(TransferHello(protocol.PROTOCOL_VERSION, token)))
    assert "unknown or has expired" in next_reply(again, aconn, lambda e: isinstance(e, ErrorReply)).message
    for s in (sock, data, again):
        s.close()


def test_an_upload_sent_in_one_go_with_its_digest_is_accepted(server, join, share):
    """Bytes and `end` that arrive together (even with the hello) are told apart by the size."""
    watcher = join("watcher")
    body = b"end" + encode(Say("not a frame: file bytes")) + b"\x00"
    sock, conn = raw_member(server, "mallory")
    sock.sendall(frame({"type": "upload", "filename": "x.bin", "size": len(body), "ref": 1}))
    ready = next_reply(sock, conn, lambda e: isinstance(e, protocol.TransferReady))
    data = open_raw(server.address[1], timeout=TIMEOUT)
    tconn = Connection(Role.MEMBER)
    end = protocol.TransferEnd(hashlib.sha256(body).hexdigest())
    data.sendall(tconn.send(TransferHello(protocol.PROTOCOL_VERSION, ready.token)) + body + encode(end))
    next_reply(data, tconn, lambda e: isinstance(e, protocol.TransferStart))
    tconn.send(end)  # already on its way: only the state moves on
    done = next_reply(data, tconn, lambda e: isinstance(e, (protocol.TransferDone, ErrorReply)))
    assert isinstance(done, protocol.TransferDone), done
    assert (done.filename, done.size, done.sha256) == ("x.bin", len(body), hashlib.sha256(body).hexdigest())
    assert (share / "x.bin").read_bytes() == body
    share_notice = next_matching(watcher, lambda e: isinstance(e, Notice) and e.kind == "share")
    assert (share_notice.member, share_notice.filename) == ("mallory", "x.bin")
    for s in (sock, data):
        s.close()


@pytest.mark.parametrize(
    ("after", "reason"),
    [
        (frame({"type": "say", "text": "hi"}), "broke the protocol"),  # not allowed on a transfer connection
        (b"", "connection closed"),  # the member hangs up before saying the digest
    ],
    ids=["chat instead of the digest", "no digest"],
)
def test_an_upload_without_its_digest_is_discarded(server, share, after, reason):
    sock, data, tconn, _ = open_upload(server, "x.bin", 4)
    next_reply(data, tconn, lambda e: isinstance(e, protocol.TransferStart))
    data.sendall(b"abcd" + after)
    if not after:
        data.shutdown(socket.SHUT_WR)
    wait_until(lambda: any(e.kind == "transfer-failed" and reason in e.text for e in server.log))
    assert not (share / "x.bin").exists()  # never under its name unverified
    [partial] = server.desk.partials.kept()  # what arrived waits, hidden, for a resume (section 11.3)
    assert partial.length() == 4 and partial.sha256 == ""
    for s in (sock, data):
        s.close()


# --- a slow member slows only itself --------------------------------------------------


def test_a_member_who_stops_reading_is_dropped_and_delays_nobody(send_threads, share, tmp_path):
    # alice talks as fast as bob hears: no flood limit here, this is about the one who stops reading
    unlimited = Limits(chat=Rate(1e9, 1e9))
    host = ChatServer(share, "127.0.0.1", 0, outbound_limit=256 * 1024, send_threads=send_threads, flood=unlimited)
    log: list[LogEvent] = []
    host.subscribe(log.append)
    host.start()
    try:
        stuck = open_raw(host.address[1], timeout=None)
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck.sendall(Connection(Role.MEMBER).send(Hello(protocol.PROTOCOL_VERSION, "stuck")))
        # ...and never reads again.
        alice = ChatClient("127.0.0.1", host.address[1], "alice")
        alice.connect()
        bob = ChatClient("127.0.0.1", host.address[1], "bob")
        bob.connect()
        text = "x" * 3900
        worst = 0.0
        # Kernel buffers absorb a few MB before the host's own bound is reached: keep talking
        # (bounded) until "stuck" is dropped, checking that bob hears every message promptly.
        for i in range(5000):
            sent = time.monotonic()
            alice.say(f"{i} {text}")
            got = messages(bob, 1, timeout=5)[0]
            worst = max(worst, time.monotonic() - sent)
            assert got.text.startswith(f"{i} ")
            if "stuck" not in [p.name for p in host.outboxes.members()]:
                break  # let go: closed once it read its last words, or after the close grace
        assert worst < 5  # generous: the point is that bob never waited for "stuck"
        wait_until(lambda: any(e.kind == "dropped" and "stuck" in e.text for e in log))
        assert "stuck" not in alice.online().wait().members
        notice(bob, "dropped", "stuck")
        alice.close()
        bob.close()
        stuck.close()
    finally:
        host.stop()


def test_a_member_dropped_for_not_reading_is_told_why_in_a_sentence_before_the_close(share, monkeypatch):
    monkeypatch.setattr("mmchat.server.CLOSE_GRACE", 30.0)  # the test reads the last words at its own pace
    host = ChatServer(share, "127.0.0.1", 0, outbound_limit=256 * 1024, flood=Limits(chat=Rate(1e9, 1e9)))
    log: list[LogEvent] = []
    host.subscribe(log.append)
    host.start()
    try:
        stuck, conn = raw_member(host, "stuck")  # ...and reads nothing for a while
        alice = ChatClient("127.0.0.1", host.address[1], "alice")
        alice.connect()

        def gone() -> bool:
            return "stuck" not in [p.name for p in host.outboxes.members()]

        for i in range(5000):  # bounded: until the host lets "stuck" go
            alice.say(f"{i} " + "x" * 3900)
            if i % 50 == 49:
                alice.online().wait()  # the host has served what alice said so far
                if gone():
                    break
        assert gone()
        events: list[protocol.Event] = []
        while chunk := stuck.recv(1 << 20):  # everything the kernel held, then the host's last words
            conn.receive_data(chunk)
            events += conn.events()  # a frame cut in half would raise here
        assert isinstance(events[-1], ErrorReply) and events[-1].fatal
        assert events[-1].message == (
            "You were disconnected: you were not reading what the chat sent (your computer may be too slow or asleep)."
        )
        assert any(isinstance(e, ChatMessage) for e in events) and not any(
            isinstance(e, ErrorReply) for e in events[:-1]
        )
        wait_until(lambda: any(e.kind is LogKind.DROPPED and e.member == "stuck" for e in log))
        alice.close()
        stuck.close()
    finally:
        host.stop()


# --- commands ------------------------------------------------------------------------


def test_commands_run_in_the_share_and_each_member_has_a_folder(server, join, share):
    (share / "docs").mkdir()
    (share / "docs" / "readme.txt").write_text("hello from the share\n")
    alice, bob = join("alice"), join("bob")

    def run(client: ChatClient, line: str) -> CommandResult:
        reply = client.command(line).wait()
        assert isinstance(reply, CommandResult)
        return reply

    assert "docs/" in run(alice, "ls").output
    assert run(alice, "cd docs").allowed
    assert run(alice, "pwd").output == "/docs"
    assert run(bob, "pwd").output == "/"  # bob's folder did not move
    assert run(alice, "cat readme.txt").output == "hello from the share"
    assert run(alice, "echo hi 😎").output == "hi 😎"
    assert run(alice, "date").output.strip()
    assert "ls" in run(alice, "help").output
    refused = run(alice, "rm readme.txt")
    assert not refused.allowed and refused.output == "No privileges to run the command: rm readme.txt"
    assert (share / "docs" / "readme.txt").exists()
    assert any(e.text == "Command to execute: rm readme.txt (alice)" for e in server.log)
    assert any(e.kind == "command-refused" and "rm readme.txt" in e.text for e in server.log)


HOSTILE_COMMANDS = [
    "rm -rf /",
    "sudo ls",
    "sh",
    "bash -c id",
    "python -c 'print(1)'",
    "ls; rm x",
    "ls | cat",
    "ls && id",
    "echo $(id)",
    "echo `id`",
    "cat ../../etc/passwd",
    "cd ../..",
    "ls ..",
    "cat .mmchat/mmchat.db",
    "echo x > owned.txt",
    "cat < /etc/passwd",
    "ls\nrm x",
    "curl http://127.0.0.1/",
    "LS",
]


@pytest.mark.parametrize("line", HOSTILE_COMMANDS)
def test_hostile_commands_are_refused(server, join, share, line):
    alice = join("alice")
    reply = alice.command(line).wait()
    assert isinstance(reply, CommandResult)
    assert not reply.allowed, reply.output
    assert "root:" not in reply.output and str(share) not in reply.output
    assert sorted(p.name for p in share.iterdir()) == [".mmchat"]


# --- one-time QR codes ---------------------------------------------------------------


def test_qr_code_decodes_to_the_stored_code_and_verifies_once(server, join):
    zxingcpp = pytest.importorskip("zxingcpp")
    from PIL import Image

    alice, bob = join("alice"), join("bob")
    reply = alice.request_qr().wait()
    assert isinstance(reply, QRImage) and reply.expires_in == 60
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(reply.png)))
    assert decoded[0].text == reply.code
    first = bob.verify(reply.code).wait()
    assert isinstance(first, VerifyResult) and first.valid and first.owner == "alice"
    second = bob.verify(reply.code).wait()
    assert not second.valid
    assert alice.request_qr().wait().code != reply.code  # unique each time


def test_qr_codes_expire(server, join, monkeypatch):
    alice = join("alice")
    now = [1000.0]
    monkeypatch.setattr(server.codes, "_clock", lambda: now[0])
    code = alice.request_qr().wait().code
    now[0] += 61
    assert not alice.verify(code).wait().valid


# --- bad input never takes the host down ------------------------------------------------

BAD_FRAMES = {
    "oversized header": struct.pack(">II", 10_000_000, 0),
    "oversized body": struct.pack(">II", 10, 5_000_000),
    "not json": struct.pack(">II", 5, 0) + b"hello",
    "not utf-8": struct.pack(">II", 4, 0) + b"\xff\xfe\xfd\xfc",
    "unknown type": struct.pack(">II", 15, 0) + b'{"type":"evil"}',
    "json list": struct.pack(">II", 2, 0) + b"[]",
    "say before hello": struct.pack(">II", 26, 0) + b'{"type":"say","text":"hi"}',
    "oversized text": None,  # built below: a Say past MAX_TEXT_CHARS after a proper hello
    "empty header": struct.pack(">II", 0, 0),
    "deeply nested json": struct.pack(">II", 60_000, 0) + b"[" * 60_000,
    "lone surrogate": struct.pack(">II", 46, 0) + b'{"type":"hello","version":1,"member":"\\ud800"}',
}


@pytest.mark.parametrize("kind", BAD_FRAMES)
def test_bad_frames_are_refused_and_everyone_else_carries_on(server, join, kind):
    alice, bob = join("alice"), join("bob")
    if kind == "oversized text":
        sock, _ = raw_member(server, "mallory")
        header = {"type": "say", "text": "x" * (protocol.MAX_TEXT_CHARS + 1)}
        sock.sendall(frame(header))
    else:
        sock = open_raw(server.address[1], timeout=TIMEOUT)
        sock.sendall(BAD_FRAMES[kind])
    reply = read_until_closed(sock)
    assert b'"fatal":true' in reply and b"Protocol error" in reply
    sock.close()
    alice.say("still chatting")
    assert messages(bob, 1)[0].text == "still chatting"
    assert any(e.kind == "protocol-error" and "Protocol error" in e.text for e in server.log)


def test_a_silent_connection_does_not_block_others(server, join):
    idle = open_raw(server.address[1], timeout=None)  # says nothing at all
    alice, bob = join("alice"), join("bob")
    alice.say("hi")
    assert messages(bob, 1)[0].text == "hi"
    idle.close()


# --- the admin API ---------------------------------------------------------------------


def test_connections_report_addresses_and_byte_counts(server, join):
    alice = join("alice")
    alice.say("count me")
    messages(alice, 1)
    info = server.connections()[0]
    assert info.name == "alice" and info.address.startswith("127.0.0.1:")
    assert info.bytes_in > 0 and info.bytes_out > 0 and info.since <= time.time()


def test_connections_count_the_files_a_member_moved(server, join, tmp_path):
    alice, bob = join("alice"), join("bob")
    path = tmp_path / "big.bin"
    random_file(path, 3_000_000)
    assert alice.send_file(path).wait(TIMEOUT)
    got = bob.request_file("big.bin", folder=tmp_path / "bob-downloads")
    assert got.wait(TIMEOUT) and got.ok, got.error
    wait_until(lambda: server.connections()[1].file_bytes_out == 3_000_000)  # counted as the bytes went
    by_name = {c.name: c for c in server.connections()}
    assert by_name["alice"].file_bytes_in == 3_000_000 and by_name["alice"].file_bytes_out == 0
    assert by_name["alice"].bytes_in > 3_000_000  # Received: the file and the chat frames together
    assert by_name["bob"].bytes_out > 3_000_000 and by_name["bob"].file_bytes_in == 0
    alice.close()
    wait_until(lambda: [c.name for c in server.connections()] == ["bob"])
    assert join("alice").online().wait() and server.connections()[1].file_bytes_in == 0  # a new alice: from 0


def test_kick_removes_a_member_and_tells_everyone(server, join):
    alice, bob = join("alice"), join("bob")
    server.kick("bob")
    assert notice(bob, "kicked", "bob")
    # Told why in a sentence before the close (a fatal error), not only "The host closed the connection."
    gone = next_matching(bob, lambda e: isinstance(e, Disconnected))
    assert gone == Disconnected("The host removed you from the chat.", by_us=False)
    assert notice(alice, "kicked", "bob")
    assert alice.online().wait().members == ("alice",)
    assert any(e.kind == "kicked" for e in server.log)


def test_stop_tells_members_and_closes(share):
    host = ChatServer(share, "127.0.0.1", 0)
    host.start()
    alice = ChatClient("127.0.0.1", host.address[1], "alice")
    alice.connect()
    host.stop()
    assert next_matching(alice, lambda e: isinstance(e, Notice) and e.kind == "shutdown")
    assert next_matching(alice, lambda e: isinstance(e, Disconnected))
    with pytest.raises(ConnectError):
        ChatClient("127.0.0.1", host.address[1], "bob").connect()
    alice.close()


def test_say_is_refused_locally_when_too_long(server, join):
    alice = join("alice")
    with pytest.raises(ValueError, match="at most"):
        alice.say("x" * (protocol.MAX_TEXT_CHARS + 1))
    # Spoken by hand, the host refuses it as a protocol error (see the bad-frame tests).
    assert Say(text="x" * protocol.MAX_TEXT_CHARS)


def test_commands_sent_back_to_back_run_in_order(server, join, share):
    (share / "docs").mkdir()
    alice = join("alice")
    requests = [alice.command(line) for line in ("cd docs", "pwd", "cd ..", "pwd")] * 5
    outputs = [r.wait().output for r in requests]
    assert outputs == ["/docs", "/docs", "/", "/"] * 5


def test_replies_stay_in_order_with_broadcasts_sent_in_the_same_breath(send_threads, server, join):
    """Frames read in one go: the reply to `online` comes after the messages before it, before those after."""
    watcher = join("watcher")
    sock, conn = raw_member(server, "burst")
    frames = [conn.send(Say(text=f"m{i}")) for i in range(3)]
    frames.append(conn.send(protocol.ListOnline(ref=9)))
    frames += [conn.send(Say(text=f"m{i}")) for i in range(3, 6)]
    sock.sendall(b"".join(frames))
    order = []
    while len(order) < 7:
        event = next_reply(sock, conn, lambda e: isinstance(e, (ChatMessage, OnlineList)))
        order.append(event.text if isinstance(event, ChatMessage) else "online")
    assert order == ["m0", "m1", "m2", "online", "m3", "m4", "m5"]
    assert [m.text for m in messages(watcher, 6)] == [f"m{i}" for i in range(6)]
    sock.close()


# --- the loop's own clocks and threads ---------------------------------------------------


def test_a_wall_clock_jump_does_not_close_a_connection_that_is_still_in_time(server, monkeypatch):
    silent = open_raw(server.address[1], timeout=TIMEOUT)
    time.sleep(0.2)  # accepted before the clock jumps
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 3600)  # NTP, a laptop waking up, DST...
    silent.settimeout(2.5)  # two ticks of the loop
    with pytest.raises(TimeoutError):
        silent.recv(1)  # b"" here would mean the host hung up on a connection 0.2 s old
    silent.close()


def test_stopping_with_a_member_who_does_not_read_starts_no_timer_threads(share, monkeypatch):
    started = []

    class CountingTimer(threading.Timer):
        def start(self) -> None:
            started.append(self)
            super().start()

    monkeypatch.setattr(threading, "Timer", CountingTimer)
    unlimited = Limits(chat=Rate(1e9, 1e9))  # the talker floods on purpose: not what this is about
    host = ChatServer(share, "127.0.0.1", 0, outbound_limit=64 * 1024 * 1024, flood=unlimited)  # slow, not dropped
    host.start()
    stuck = open_raw(host.address[1], timeout=None, rcvbuf=4096)  # a small window
    stuck.sendall(Connection(Role.MEMBER).send(Hello(protocol.PROTOCOL_VERSION, "stuck")))
    talker, tconn = raw_member(host, "talker")
    said = b"".join(tconn.send(Say(text="x" * 3900)) for _ in range(1500))  # ~6 MB for each to take
    talker.sendall(said)
    wait_until(lambda: len(host.connections()) == 2 and host.connections()[1].bytes_in >= len(said))
    began = time.monotonic()
    host.stop(timeout=5)
    assert time.monotonic() - began < 5 + 2  # the close grace bounds how long "stuck" can hold it up
    assert started == []
    stuck.close()
    talker.close()


def test_stop_waits_for_all_transfers_together_not_each_in_turn(share):
    host = ChatServer(share, "127.0.0.1", 0)
    host.start()
    stalled = []
    for i in range(3):
        sock, data, _, _ = open_upload(host, f"slow{i}.bin", 10_000_000)
        data.sendall(b"a few bytes, then nothing")  # a member frozen mid-upload
        stalled.append((sock, data))
    wait_until(lambda: host.desk.busy() == 3)
    began = time.monotonic()
    host.stop(timeout=1.0)
    assert time.monotonic() - began < 2.5  # was 1 s per transfer thread, on top of the loop's
    wait_until(lambda: host.desk.busy() == 0, timeout=5)  # and they were cut, not left running
    assert sorted(p.name for p in share.iterdir()) == [".mmchat"]  # nothing half-received appears
    for sock, data in stalled:
        sock.close()
        data.close()


# --- keep-alive --------------------------------------------------------------------------


def decode_all(data: bytes) -> list[protocol.Event]:
    decoder = protocol.FrameDecoder(protocol.MEMBER_INBOUND)
    decoder.receive_data(data)
    events = []
    while (event := decoder.next_event()) is not protocol.NEED_DATA:
        events.append(event)
    return events


def test_a_frozen_member_is_pinged_told_and_shown_as_gone_within_a_bounded_time(share, tmp_path):
    host = ChatServer(share, "127.0.0.1", 0, keepalive=KeepAlive(ping_after=0.3, timeout=2.5))  # ticks are 1 s apart
    host.start()
    bob = ChatClient("127.0.0.1", host.address[1], "bob", downloads=tmp_path, ping_after=0.3, host_timeout=30)
    try:
        frozen, _ = raw_member(host, "frozen")  # joins, then never sends another byte (a stopped process)
        bob.connect()
        started = time.monotonic()
        seen = next_matching(bob, lambda e: isinstance(e, Notice) and e.member == "frozen" and e.kind != "join")
        assert seen.kind == protocol.NoticeKind.TIMED_OUT and time.monotonic() - started < 10
        assert "frozen" not in bob.online().wait(TIMEOUT).members
        events = decode_all(read_until_closed(frozen))  # what the frozen one would read on waking
        assert protocol.Ping() in events
        assert events[-1] == ErrorReply(
            message="The host heard nothing from you for 2.5 s, so you were disconnected (timed out).", fatal=True
        )
        # bob, who answers pings (his reader does), is still there after many ping intervals.
        time.sleep(3.0)
        assert bob.connected and host.online() == ["bob"]
        frozen.close()
    finally:
        bob.close()
        host.stop()


# --- floods --------------------------------------------------------------------------


def test_a_flooder_is_slowed_told_and_dropped_while_honest_messages_keep_arriving(share):
    limits = Limits(chat=Rate(20, 10), warn_after=0.5, drop_after=2.0)  # short times for the test
    host = ChatServer(share, "127.0.0.1", 0, flood=limits)
    log: list[LogEvent] = []
    host.subscribe(log.append)
    host.start()
    flooder, fconn = raw_member(host, "flooder")
    alice = ChatClient("127.0.0.1", host.address[1], "alice")
    bob = ChatClient("127.0.0.1", host.address[1], "bob")
    stop = threading.Event()
    sent = [0]

    def flood() -> None:  # as fast as the socket takes it, bounded in time
        batch = b"".join(fconn.send(Say(text=f"spam {i}")) for i in range(2000))
        flooder.settimeout(0.2)
        deadline = time.monotonic() + 10
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                flooder.sendall(batch)
                sent[0] += 2000
            except TimeoutError:
                continue  # paused: its own kernel buffer is full
            except OSError:
                return  # dropped

    thread = threading.Thread(target=flood)
    try:
        alice.connect()
        bob.connect()
        thread.start()
        worst = 0.0
        for i in range(40):  # 4 s of honest chat at 10 lines a second, within their budget
            began = time.monotonic()
            alice.say(f"honest {i}")
            got = next_matching(bob, lambda e: isinstance(e, ChatMessage) and e.sender == "alice", timeout=5)
            assert got.text == f"honest {i}"
            worst = max(worst, time.monotonic() - began)
            time.sleep(0.1)
        assert worst < 2.0  # generous: on main bob waited behind the whole flood
        notice(bob, "dropped", "flooder")
        (dropped,) = [e for e in log if e.kind is LogKind.DROPPED]
        assert dropped.member == "flooder" and "too fast" in dropped.reason
        spam = [e for e in bob.__dict__["skipped"] if isinstance(e, ChatMessage) and e.sender == "flooder"]
        assert 20 <= len(spam) < 200  # the burst, then 10 a second for about 2 s: not the flood it sent
        assert sent[0] >= 2000
        stop.set()
        thread.join(TIMEOUT)
        flooder.settimeout(TIMEOUT)
        told = []
        while data := flooder.recv(65536):  # what the flooder was told, up to the end
            fconn.receive_data(data)
            told += [e.message for e in fconn.events() if isinstance(e, ErrorReply)]
        assert told[0] == "You are sending too fast: slow down, or you will be disconnected."
        assert told[-1].startswith("You were disconnected: you sent chat too fast")
    finally:
        stop.set()
        thread.join(TIMEOUT)
        alice.close()
        bob.close()
        flooder.close()
        host.stop()


def test_another_members_pwd_is_served_next_while_a_flooder_has_hundreds_of_requests_waiting(server, join):
    ran: list[tuple[str, str]] = []
    do = server._workers.do

    def recording(job):
        ran.append((server.room.name_of(job.to), getattr(job, "line", "files")))
        time.sleep(0.002)  # each job takes a little while, as on a busy disk
        return do(job)

    server._workers.do = recording
    flooder, fconn = raw_member(server, "flooder")
    asks = [ListFiles(ref=i) if i % 2 else RunCommand(line="pwd", ref=i) for i in range(1, 90)]
    flooder.sendall(b"".join(fconn.send(event) for event in asks))  # within the request burst: all of them are accepted
    wait_until(lambda: len(ran) >= 1)
    bob = join("bob")
    answer = bob.command("pwd").wait(TIMEOUT)
    assert isinstance(answer, CommandResult) and answer.output == "/"
    mine = ran.index(("bob", "pwd"))
    assert mine <= 6  # on main it waited behind every file list the flooder asked for
    server.kick("flooder")
    wait_until(lambda: "flooder" not in server.online())
    count = len(ran)
    time.sleep(0.3)
    assert len(ran) <= count + 2  # what the flooder still had waiting is thrown away
    flooder.close()


# --- a full disk ---------------------------------------------------------------------------------


class FullDisk:
    """Stands in for the host storage's sqlite3 connection: history writes fail while `full`."""

    def __init__(self, conn) -> None:
        self.conn, self.full = conn, True

    def executemany(self, sql, rows):
        if self.full:
            raise sqlite3.OperationalError("database or disk is full")
        return self.conn.executemany(sql, rows)

    def __getattr__(self, name):
        return getattr(self.conn, name)

    def __enter__(self):
        return self.conn.__enter__()

    def __exit__(self, *exc):
        return self.conn.__exit__(*exc)


def fill_the_disk(host: ChatServer) -> FullDisk:
    disk = FullDisk(host.storage._conn)
    vars(host.storage).update(_conn=disk, _retry_interval=0.05)
    return disk


def told(client: ChatClient, words: str) -> ErrorReply:
    return next_matching(client, lambda e: isinstance(e, ErrorReply) and words in e.message)


def test_a_full_disk_is_told_once_the_chat_goes_on_and_history_catches_up(share, tmp_path):
    host = ChatServer(share, "127.0.0.1", 0, send_threads=1)
    log: list[LogEvent] = []
    host.subscribe(log.append)
    host.start()
    alice = ChatClient("127.0.0.1", host.address[1], "alice", downloads=tmp_path / "a")
    bob = ChatClient("127.0.0.1", host.address[1], "bob", downloads=tmp_path / "b")
    try:
        alice.connect()
        bob.connect()
        notice(alice, "join", "bob")
        disk = fill_the_disk(host)
        alice.say("one")
        assert told(bob, "cannot save").message == (
            "The host cannot save the chat history (database or disk is full); the chat goes on."
        )
        told(alice, "cannot save")
        alice.say("two")
        alice.say("three")
        assert [m.text for m in messages(bob, 3)] == ["one", "two", "three"]
        disk.full = False
        assert told(bob, "again").message == "The host is saving the chat history again; nothing was lost."
        problems = [e for e in log if e.kind is LogKind.HISTORY_FAILED]
        assert [e.reason for e in problems] == ["database or disk is full"]  # one line, not one per message
        assert not [e for e in bob.__dict__["skipped"] if isinstance(e, ErrorReply) and "cannot" in e.message]
    finally:
        alice.close()
        bob.close()
        host.stop()  # no exception
    again = ChatServer(share, "127.0.0.1", 0)
    try:
        assert [e.text for e in again.storage.recent_history() if e.kind == "message"] == ["one", "two", "three"]
    finally:
        again.storage.close()


def test_the_headless_host_stops_cleanly_after_the_disk_was_full(tmp_path, monkeypatch):
    disks: list[FullDisk] = []

    def full_server(args):
        host = real_make_server(args)
        disks.append(fill_the_disk(host))
        return host

    real_make_server = headless.make_server
    monkeypatch.setattr(headless, "make_server", full_server)
    args = argparse.Namespace(share=str(tmp_path / "share"), bind="127.0.0.1", port=0, data=None, password="")
    out, err, stop = io.StringIO(), io.StringIO(), threading.Event()
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(headless.run_host(args, out, err, stop)))
    thread.start()
    try:
        wait_until(lambda: "Server listening at" in out.getvalue())
        port = int(out.getvalue().split("Server listening at 127.0.0.1:")[1].split()[0])
        member = ChatClient("127.0.0.1", port, "alice", downloads=tmp_path / "dl")
        member.connect()  # her join notice is history the full disk refuses
        told(member, "cannot save")
        wait_until(lambda: "Chat history is not being saved: database or disk is full" in out.getvalue())
        disks[0].full = False
        told(member, "again")
        wait_until(lambda: "Chat history is being saved again" in out.getvalue())
        member.close()
    finally:
        stop.set()
        thread.join(TIMEOUT)
    assert not thread.is_alive()
    assert result == [0] and err.getvalue() == ""
