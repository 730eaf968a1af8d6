"""Outboxes and fan-out (mmchat.outbox) over socketpairs: order, bounds, full sockets, hang-ups."""

from __future__ import annotations

import selectors
import socket
import time

import pytest

from mmchat import outbox as outbox_module
from mmchat.actions import CloseReason
from mmchat.outbox import TOO_SLOW, TOO_SLOW_FRAME, Outboxes, Peer
from mmchat.protocol import MEMBER_INBOUND, ErrorReply, FrameDecoder


@pytest.fixture
def selector():
    sel = selectors.DefaultSelector()
    yield sel
    sel.close()


@pytest.fixture
def make_peer(selector):
    made = []

    def make(pid: int, name: str = "") -> tuple[Peer, socket.socket]:
        ours, theirs = socket.socketpair()
        ours.setblocking(False)
        theirs.settimeout(5)
        peer = Peer(id=pid, sock=ours, address=f"peer{pid}", since=0.0, name=name)
        selector.register(ours, selectors.EVENT_READ, peer)
        made.append((ours, theirs))
        return peer, theirs

    yield make
    for ours, theirs in made:
        ours.close()
        theirs.close()


def received(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk
        data += chunk
    return data


@pytest.mark.parametrize("threads", [1, 2])
def test_a_round_of_broadcasts_reaches_every_member_in_order(selector, make_peer, monkeypatch, threads):
    monkeypatch.setattr(outbox_module, "PARALLEL_SEND_MIN", 2)  # so two threads share even this round
    boxes = Outboxes(selector, limit=1 << 20, send_threads=threads)
    members = [make_peer(i, f"m{i}") for i in range(5)]
    _, outsider_end = make_peer(99)
    for peer, _ in members:
        boxes.add_member(peer)
    boxes.broadcast(b"one;")
    boxes.broadcast(b"two;")
    boxes.flush()
    for peer, end in members:
        assert received(end, 8) == b"one;two;" and peer.bytes_out == 8
    outsider_end.setblocking(False)
    with pytest.raises(BlockingIOError):
        outsider_end.recv(1)  # not a member: no broadcasts
    boxes.shutdown()


def test_a_private_frame_after_a_broadcast_stays_behind_it(selector, make_peer):
    boxes = Outboxes(selector, limit=1 << 20)
    alice, alice_end = make_peer(1, "alice")
    bob, bob_end = make_peer(2, "bob")
    boxes.add_member(alice)
    boxes.add_member(bob)
    boxes.broadcast(b"[all]")
    boxes.send(alice, b"[yours]")
    boxes.broadcast(b"[all again]")
    boxes.flush()
    assert received(alice_end, 23) == b"[all][yours][all again]"
    assert received(bob_end, 16) == b"[all][all again]"


def test_a_member_who_joins_mid_round_gets_only_what_follows(selector, make_peer):
    boxes = Outboxes(selector, limit=1 << 20)
    alice, alice_end = make_peer(1, "alice")
    boxes.add_member(alice)
    boxes.broadcast(b"before;")  # the newcomer sees this in their history instead
    bob, bob_end = make_peer(2, "bob")
    boxes.add_member(bob)
    boxes.broadcast(b"after;")
    boxes.flush()
    assert received(alice_end, 13) == b"before;after;"
    assert received(bob_end, 6) == b"after;"


def test_an_outbox_over_its_bound_is_dropped_and_the_others_go_on(selector, make_peer):
    boxes = Outboxes(selector, limit=4096, close_grace=30.0)
    slow, _ = make_peer(1, "slow")
    fast, fast_end = make_peer(2, "fast")
    slow.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    boxes.add_member(slow)
    boxes.add_member(fast)
    for _ in range(200):  # "slow" never reads; "fast" does
        boxes.broadcast(b"x" * 1000)
        boxes.flush()
        assert received(fast_end, 1000) == b"x" * 1000
        if slow.dropped:
            break
    assert slow.dropped and slow not in boxes.members()
    # Its backlog is let go at once: what stays is at most a frame begun, then the reason.
    left = b"".join(slow.outbox)
    assert left.endswith(TOO_SLOW_FRAME) and slow.outbox_bytes == len(left) <= 1000 + len(TOO_SLOW_FRAME)
    assert slow.hangup_reason is CloseReason.DROPPED and slow.closing_deadline > time.monotonic() + 20
    assert boxes.take_failed() == []  # closed once it has read that, or at the deadline


def test_a_dropped_member_gets_the_frame_it_had_begun_then_the_reason(selector, make_peer):
    boxes = Outboxes(selector, limit=100_000)
    slow, end = make_peer(1, "slow")
    slow.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    boxes.add_member(slow)
    begun = b"[" + b"a" * 60_000 + b"]"
    boxes.send(slow, begun)
    boxes.flush()
    assert slow.want_write and 0 < slow.bytes_out < len(begun)  # the socket took part of it
    for i in range(200):
        boxes.broadcast(b"<%03d>" % i + b"b" * 995)
        boxes.flush()
        if slow.dropped:
            break
    assert slow.dropped
    boxes.send(slow, b"too late")  # nothing after the reason
    boxes.broadcast(b"nor this")
    boxes.flush()
    end.setblocking(False)
    got = b""
    for _ in range(10_000):  # bounded: read a little, let the loop write a little
        try:
            got += end.recv(1 << 16)
        except BlockingIOError:
            pass
        boxes.writable(slow)
        boxes.flush()
        if failed := boxes.take_failed():
            break
    assert failed == [(slow, CloseReason.DROPPED)]  # all said: now it closes, reason unchanged
    got += end.recv(1 << 16)
    # The frame it had begun, whole, then the fatal reason: no frame cut in half, nothing queued since.
    assert got == begun + TOO_SLOW_FRAME
    decoder = FrameDecoder(MEMBER_INBOUND)
    decoder.receive_data(TOO_SLOW_FRAME)
    assert decoder.next_event() == ErrorReply(message=TOO_SLOW, fatal=True)
    assert TOO_SLOW.startswith("You were disconnected: you were not reading what the chat sent")


def test_a_full_socket_waits_for_the_selector_then_finishes(selector, make_peer):
    boxes = Outboxes(selector, limit=64 << 20)
    peer, end = make_peer(1, "reader")
    payload = bytes(range(256)) * 16384  # 4 MiB: more than a socketpair holds
    boxes.send(peer, payload)
    boxes.flush()
    assert peer.want_write and peer.outbox_bytes > 0
    assert selector.get_key(peer.sock).events == selectors.EVENT_READ | selectors.EVENT_WRITE
    got = bytearray()
    for _ in range(10_000):  # bounded: read a little, let the loop write a little
        got += end.recv(1 << 20)
        boxes.writable(peer)
        boxes.flush()
        if len(got) == len(payload):
            break
    assert bytes(got) == payload
    assert not peer.want_write and selector.get_key(peer.sock).events == selectors.EVENT_READ


def test_a_hung_up_peer_gets_the_last_broadcast_then_is_closed_with_its_reason(selector, make_peer):
    boxes = Outboxes(selector, limit=1 << 20)
    alice, alice_end = make_peer(1, "alice")
    boxes.add_member(alice)
    boxes.broadcast(b"[you are kicked]")
    boxes.hang_up(alice, deadline=1e9, reason=CloseReason.KICKED)
    boxes.broadcast(b"[after]")  # no longer a member
    boxes.flush()
    assert boxes.take_failed() == [(alice, CloseReason.KICKED)]
    alice_end.setblocking(False)
    assert alice_end.recv(100) == b"[you are kicked]"


def test_a_broken_connection_is_reported_lost(selector, make_peer):
    boxes = Outboxes(selector, limit=1 << 20)
    peer, end = make_peer(1, "gone")
    end.close()
    boxes.send(peer, b"hello?")
    boxes.flush()
    boxes.send(peer, b"anyone?")  # the first send may still land in the buffer
    boxes.flush()
    assert boxes.take_failed() == [(peer, CloseReason.LOST)]


def test_info_is_a_snapshot_of_the_counters(make_peer):
    peer, _ = make_peer(1, "alice")
    peer.bytes_in, peer.bytes_out = 10, 20
    info = peer.info()
    peer.bytes_in = 99
    assert (info.name, info.address, info.bytes_in, info.bytes_out) == ("alice", "peer1", 10, 20)
