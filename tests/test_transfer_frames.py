"""Tests for mmchat.transfer.frames: a transfer connection's opening frames, and their failures as sentences."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from mmchat.protocol import Connection, ErrorReply, Role, TransferHello, TransferStart, encode
from mmchat.transfer import TransferError, read_frame


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    member, host = socket.socketpair()
    member.settimeout(5)
    yield member, host
    member.close()
    host.close()


def greeted_member() -> Connection:
    """A member's transfer connection that has sent its TransferHello."""
    conn = Connection(Role.MEMBER)
    conn.send(TransferHello(2, "tok"))
    return conn


def test_read_frame_waits_for_the_whole_frame(pair) -> None:
    member, host = pair
    frame = encode(TransferStart("a.txt", 3, "0" * 64))
    host.sendall(frame[:5])
    host.sendall(frame[5:] + b"raw")
    conn = greeted_member()
    assert read_frame(member, conn) == TransferStart("a.txt", 3, "0" * 64)
    assert conn.take_buffered() == b"raw"  # the file's first bytes stay for the receiver


def test_an_error_reply_becomes_its_sentence(pair) -> None:
    member, host = pair
    host.sendall(encode(ErrorReply("This transfer is unknown or has expired.", fatal=True)))
    with pytest.raises(TransferError, match=r"^This transfer is unknown or has expired\.$"):
        read_frame(member, greeted_member())


def test_a_closed_connection_is_a_sentence(pair) -> None:
    member, host = pair
    host.close()
    with pytest.raises(TransferError, match=r"^The connection closed unexpectedly\.$"):
        read_frame(member, greeted_member())


def test_a_peer_that_breaks_the_protocol_is_named(pair) -> None:
    member, host = pair
    host.sendall(encode(TransferHello(2, "tok")))  # the host may not send this
    with pytest.raises(TransferError, match=r"^The other side broke the protocol: host may not send 'transfer'"):
        read_frame(member, greeted_member())


def test_a_silent_peer_times_out_with_a_sentence(pair) -> None:
    member, _host = pair
    member.settimeout(0.05)
    with pytest.raises(TransferError, match=r"^The other side stopped answering\.$"):
        read_frame(member, greeted_member())
