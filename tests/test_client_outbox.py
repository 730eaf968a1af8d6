"""The member's outbox and writer thread (mmchat.client_outbox) over a socketpair."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from mmchat.client_outbox import Outbox, OutboxFull

TIMEOUT = 10.0


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    ours, theirs = socket.socketpair()
    # Small buffers so that "the peer stopped reading" fills them with little data.
    for sock in (ours, theirs):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16 * 1024)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
    yield ours, theirs
    ours.close()
    theirs.close()


def start(outbox: Outbox) -> threading.Thread:
    writer = threading.Thread(target=outbox.run, daemon=True)
    writer.start()
    return writer


def read_all(sock: socket.socket) -> bytes:
    """Everything the peer receives until the writer's side shuts down."""
    sock.settimeout(TIMEOUT)
    chunks = []
    while data := sock.recv(65536):
        chunks.append(data)
    return b"".join(chunks)


def fill(outbox: Outbox, frame: bytes) -> None:
    """put() until the outbox refuses and stays full: the peer's buffers are full as well."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        try:
            outbox.put(frame)
            continue
        except OutboxFull:
            pass
        before = outbox.queued_bytes
        time.sleep(0.1)
        if outbox.queued_bytes == before:
            return
    raise AssertionError("the outbox never stayed full")


def test_frames_leave_in_order_and_intact(pair) -> None:
    ours, theirs = pair
    outbox = Outbox(ours)
    writer = start(outbox)
    frames = [f"frame {i};".encode() * (i % 50 + 1) for i in range(2000)]
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(read_all(theirs)), daemon=True)
    reader.start()
    for frame in frames:
        outbox.put(frame)
    outbox.finish(b"goodbye", TIMEOUT)
    writer.join(TIMEOUT)
    reader.join(TIMEOUT)
    assert received == [b"".join(frames) + b"goodbye"]
    assert outbox.stopped and outbox.failure == ""
    assert outbox.reader_may_stop() is False  # after a clean goodbye the reader waits for the host


def test_a_full_outbox_refuses_with_a_sentence_and_never_blocks(pair) -> None:
    ours, _theirs = pair
    outbox = Outbox(ours, max_bytes=64 * 1024)
    start(outbox)
    fill(outbox, b"x" * 1000)
    started = time.monotonic()
    with pytest.raises(OutboxFull) as caught:
        outbox.put(b"x" * 1000)
    assert time.monotonic() - started < 1.0
    assert str(caught.value) == (
        "The host is not taking what you send right now, so this was not sent. Try again in a moment."
    )
    assert isinstance(caught.value, ConnectionError)  # what the terminal and the window already catch
    outbox.abort()


def test_one_frame_larger_than_the_bound_still_goes(pair) -> None:
    ours, theirs = pair
    outbox = Outbox(ours, max_bytes=10)
    writer = start(outbox)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(read_all(theirs)), daemon=True)
    reader.start()
    outbox.put(b"y" * 100_000)
    outbox.finish(None, TIMEOUT)
    writer.join(TIMEOUT)
    reader.join(TIMEOUT)
    assert received == [b"y" * 100_000]


def test_a_peer_that_stops_reading_stops_the_writer_with_a_reason(pair) -> None:
    ours, _theirs = pair
    outbox = Outbox(ours, max_bytes=64 * 1024, stall_timeout=0.3)
    writer = start(outbox)
    deadline = time.monotonic() + TIMEOUT
    while not outbox.stopped and time.monotonic() < deadline:
        try:
            outbox.put(b"z" * 4096)
        except OutboxFull:
            time.sleep(0.02)
        except ConnectionError:
            break
    writer.join(TIMEOUT)
    assert not writer.is_alive()
    assert outbox.failure == "The host stopped reading what you send (nothing went through for 0.3 s)."
    assert outbox.reader_may_stop()
    with pytest.raises(ConnectionError) as caught:
        outbox.put(b"later")
    assert str(caught.value) == outbox.failure


def test_finish_gives_up_at_its_deadline_when_the_peer_does_not_read(pair) -> None:
    ours, _theirs = pair
    outbox = Outbox(ours, max_bytes=64 * 1024)  # the stall limit (15 s) is not what stops it here
    writer = start(outbox)
    fill(outbox, b"w" * 4096)
    started = time.monotonic()
    outbox.finish(b"goodbye", 0.5)
    writer.join(TIMEOUT)
    assert not writer.is_alive() and time.monotonic() - started < 5.0
    assert outbox.failure == "The host did not take the last messages before we left."
    with pytest.raises(ConnectionError):
        outbox.put(b"after finish")


def test_abort_stops_an_idle_writer_at_once(pair) -> None:
    ours, theirs = pair
    outbox = Outbox(ours)
    writer = start(outbox)
    outbox.abort()
    writer.join(TIMEOUT)
    assert not writer.is_alive() and outbox.failure == ""
    theirs.settimeout(TIMEOUT)
    assert theirs.recv(10) == b""  # the writer shut the socket down
    with pytest.raises(ConnectionError) as caught:
        outbox.put(b"x")
    assert str(caught.value) == "Not connected to the host."


def test_finish_twice_keeps_the_first(pair) -> None:
    ours, theirs = pair
    outbox = Outbox(ours)
    writer = start(outbox)
    outbox.finish(b"bye", TIMEOUT)
    outbox.finish(b"again", TIMEOUT)
    writer.join(TIMEOUT)
    assert read_all(theirs) == b"bye"


def test_put_can_wait_for_room(pair) -> None:
    ours, theirs = pair
    outbox = Outbox(ours, max_bytes=64 * 1024)
    writer = start(outbox)
    fill(outbox, b"v" * 1000)
    with pytest.raises(OutboxFull):
        outbox.put(b"v" * 1000)  # no waiting asked for: refused at once
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(read_all(theirs)), daemon=True)
    reader.start()  # the peer reads again: room appears
    outbox.put(b"last", wait=TIMEOUT)
    outbox.finish(None, TIMEOUT)
    writer.join(TIMEOUT)
    reader.join(TIMEOUT)
    assert received[0].endswith(b"v" * 1000 + b"last") and outbox.failure == ""
