"""Tests for mmchat.protocol.connection: both sides of a conversation, fed bytes with no network."""

from __future__ import annotations

import hashlib

import pytest

from mmchat.protocol import (
    HOST_INBOUND,
    MEMBER_INBOUND,
    NEED_DATA,
    ChatMessage,
    Connection,
    ErrorReply,
    Event,
    Goodbye,
    Hello,
    LocalProtocolError,
    ProtocolError,
    QRImage,
    Refused,
    RequestQR,
    Role,
    Say,
    State,
    TransferDone,
    TransferEnd,
    TransferHello,
    TransferStart,
    Welcome,
    encode,
)
from mmchat.protocol.state import MEMBER_REQUESTS
from tests.protocol_helpers import EMOJI_NAME, EMOJI_TEXT, PNG, SAMPLES, SHA


def pair() -> tuple[Connection, Connection]:
    """A member and a host connection, both at OPENING."""
    return Connection(Role.MEMBER), Connection(Role.HOST)


def deliver(sender: Connection, receiver: Connection, event: Event) -> Event:
    """Send `event` from one side and return what the other side decodes."""
    receiver.receive_data(sender.send(event))
    got = receiver.next_event()
    assert got is not NEED_DATA
    assert receiver.next_event() is NEED_DATA
    return got


def chatting() -> tuple[Connection, Connection]:
    member, host = pair()
    deliver(member, host, Hello(1, "Ada"))
    deliver(host, member, Welcome(1, "Ada"))
    return member, host


def test_default_limits_follow_the_role():
    assert Connection(Role.HOST)._decoder.limits == HOST_INBOUND
    assert Connection(Role.MEMBER)._decoder.limits == MEMBER_INBOUND


def test_say_before_hello_is_refused_by_the_host():
    host = Connection(Role.HOST)
    host.receive_data(encode(Say("hi")))
    with pytest.raises(ProtocolError, match="member may not send 'say' while opening"):
        host.next_event()


def test_member_may_not_send_say_before_hello():
    member = Connection(Role.MEMBER)
    with pytest.raises(LocalProtocolError, match="member may not send 'say' while opening"):
        member.send(Say("hi"))
    assert member.state is State.OPENING


def test_member_may_not_say_before_welcome():
    member, host = pair()
    deliver(member, host, Hello(1, "Ada"))
    with pytest.raises(LocalProtocolError, match="while greeted"):
        member.send(Say("hi"))
    host.receive_data(encode(Say("hi")))
    with pytest.raises(ProtocolError, match="member may not send 'say' while greeted"):
        host.next_event()


def test_welcome_moves_both_sides_to_chatting():
    member, host = pair()
    assert deliver(member, host, Hello(1, EMOJI_NAME, "pw")) == Hello(1, EMOJI_NAME, "pw")
    assert (member.state, host.state) == (State.GREETED, State.GREETED)
    assert deliver(host, member, Welcome(1, EMOJI_NAME)) == Welcome(1, EMOJI_NAME)
    assert (member.state, host.state) == (State.CHATTING, State.CHATTING)
    assert deliver(member, host, Say(EMOJI_TEXT)) == Say(EMOJI_TEXT)
    message = ChatMessage(1, 2.0, EMOJI_NAME, EMOJI_TEXT)
    assert deliver(host, member, message) == message
    assert deliver(member, host, RequestQR(ref=1)) == RequestQR(ref=1)
    qr = QRImage("MMC-ABCDEFGHJK", 60, PNG, ref=1)
    assert deliver(host, member, qr) == qr
    assert (member.state, host.state) == (State.CHATTING, State.CHATTING)


@pytest.mark.parametrize(
    "request_event", [e for cls in MEMBER_REQUESTS for e in SAMPLES[cls][:1]], ids=lambda e: e.TYPE
)
def test_every_member_request_is_allowed_while_chatting(request_event):
    member, host = chatting()
    assert deliver(member, host, request_event) == request_event
    assert host.state is State.CHATTING


def test_refused_closes_both_sides():
    member, host = pair()
    deliver(member, host, Hello(1, "Ada"))
    assert deliver(host, member, Refused("Wrong password for this chat.")) == Refused("Wrong password for this chat.")
    assert (member.state, host.state) == (State.CLOSED, State.CLOSED)
    with pytest.raises(LocalProtocolError, match="while closed"):
        member.send(Say("hi"))
    with pytest.raises(LocalProtocolError, match="host may not send 'welcome' while closed"):
        host.send(Welcome(1, "Ada"))


def test_goodbye_closes_and_the_host_ignores_what_follows():
    member, host = chatting()
    frame = member.send(Goodbye())
    assert member.state is State.CLOSED
    host.receive_data(frame + encode(Say("after goodbye")))
    assert host.next_event() == Goodbye()
    assert host.state is State.CLOSED
    assert host.next_event() is NEED_DATA


def test_host_may_not_send_chat_before_welcome():
    member, host = pair()
    message = ChatMessage(1, 2.0, "Ada", "early")
    with pytest.raises(LocalProtocolError, match="host may not send 'message' while opening"):
        host.send(message)
    deliver(member, host, Hello(1, "Ada"))
    with pytest.raises(LocalProtocolError, match="host may not send 'message' while greeted"):
        host.send(message)
    member.receive_data(encode(message))
    with pytest.raises(ProtocolError, match="host may not send 'message' while greeted"):
        member.next_event()


def test_hello_only_once_and_only_from_the_member():
    member, _host = chatting()
    with pytest.raises(LocalProtocolError, match="member may not send 'hello' while chatting"):
        member.send(Hello(1, "Ada"))
    with pytest.raises(LocalProtocolError, match="host may not send 'hello' while opening"):
        Connection(Role.HOST).send(Hello(1, "Ada"))
    member2 = Connection(Role.MEMBER)
    member2.receive_data(encode(Welcome(1, "Ada")))
    with pytest.raises(ProtocolError, match="host may not send 'welcome' while opening"):
        member2.next_event()


def test_non_fatal_error_keeps_chatting_and_fatal_error_closes():
    member, host = chatting()
    assert deliver(host, member, ErrorReply("No such file on the host: x", ref=4)).ref == 4
    assert (member.state, host.state) == (State.CHATTING, State.CHATTING)
    assert deliver(host, member, ErrorReply("Protocol error: x", fatal=True)).fatal is True
    assert (member.state, host.state) == (State.CLOSED, State.CLOSED)


def test_fatal_error_in_answer_to_hello_closes():
    member, host = pair()
    deliver(member, host, Hello(1, "x"))
    deliver(host, member, ErrorReply("Protocol error: x", fatal=True))
    assert (member.state, host.state) == (State.CLOSED, State.CLOSED)


def test_transfer_hello_is_not_allowed_on_a_chat_connection():
    member, host = chatting()
    with pytest.raises(LocalProtocolError, match="member may not send 'transfer' while chatting"):
        member.send(TransferHello(1, "tok"))
    host.receive_data(encode(TransferHello(1, "tok")))
    with pytest.raises(ProtocolError, match="while chatting"):
        host.next_event()


def test_upload_connection_raw_bytes_then_end_then_done():
    member, host = pair()
    raw = b"\x00file bytes\x00" + encode(Say("not a frame in TRANSFER"))
    # The member's hello and the first raw bytes may arrive in one recv().
    host.receive_data(member.send(TransferHello(1, "tok")))
    assert host.next_event() == TransferHello(1, "tok")
    assert host.state is State.TRANSFER_ASKED
    start = TransferStart("a.txt", len(raw))
    assert deliver(host, member, start) == start
    assert (member.state, host.state) == (State.TRANSFER, State.TRANSFER)
    end = member.send(TransferEnd(SHA))
    assert member.state is State.VERIFYING
    host.receive_data(raw + end[:5])
    assert host.next_event() is NEED_DATA  # raw bytes are never parsed as frames
    assert host.take_buffered() == raw + end[:5]
    host.end_of_body(end[:5])  # what came after the body goes back to the decoder
    assert host.next_event() is NEED_DATA
    host.receive_data(end[5:])
    assert host.next_event() == TransferEnd(SHA)
    assert host.state is State.VERIFYING
    assert deliver(host, member, TransferDone("a (1).txt", len(raw), SHA)) == TransferDone("a (1).txt", len(raw), SHA)
    assert (member.state, host.state) == (State.CLOSED, State.CLOSED)


def test_end_of_body_is_only_for_a_host_receiving_an_upload():
    member, host = pair()
    with pytest.raises(LocalProtocolError, match="end_of_body"):
        host.end_of_body()
    deliver(member, host, TransferHello(1, "tok"))
    deliver(host, member, TransferStart("a", 1))
    with pytest.raises(LocalProtocolError, match="end_of_body"):
        member.end_of_body()


def test_host_may_not_confirm_an_upload_before_its_digest():
    member, host = pair()
    deliver(member, host, TransferHello(1, "tok"))
    deliver(host, member, TransferStart("a", 1))
    with pytest.raises(LocalProtocolError, match="host may not send 'done' while transfer"):
        host.send(TransferDone("a", 1, SHA))
    host.end_of_body()
    host.receive_data(encode(TransferDone("a", 1, SHA)))  # a member pretending to be the host
    with pytest.raises(ProtocolError, match="member may not send 'done'"):
        host.next_event()


def test_raw_bytes_that_arrive_with_the_transfer_hello_are_handed_over():
    member, host = pair()
    host.receive_data(member.send(TransferHello(1, "tok")) + b"early raw bytes")
    assert host.next_event() == TransferHello(1, "tok")
    assert host.take_buffered() == b"early raw bytes"


def test_download_connection_transfer_start_then_raw_bytes():
    member, host = pair()
    deliver(member, host, TransferHello(1, "tok"))
    body = bytes(range(256)) * 4
    member.receive_data(host.send(TransferStart("a.bin", len(body), hashlib.sha256(body).hexdigest())) + body)
    start = member.next_event()
    assert start == TransferStart("a.bin", 1024, hashlib.sha256(body).hexdigest())
    assert member.state is State.TRANSFER
    assert member.take_buffered() == body


def test_transfer_refused_with_fatal_error():
    member, host = pair()
    deliver(member, host, TransferHello(1, "expired"))
    reply = deliver(host, member, ErrorReply("This transfer is unknown or has expired.", fatal=True))
    assert reply.message == "This transfer is unknown or has expired."
    assert (member.state, host.state) == (State.CLOSED, State.CLOSED)


def test_member_may_not_send_transfer_done_or_chat_on_a_transfer_connection():
    member, host = pair()
    deliver(member, host, TransferHello(1, "tok"))
    with pytest.raises(LocalProtocolError, match="while transfer asked"):
        member.send(Say("hi"))
    deliver(host, member, TransferStart("a", 1))
    with pytest.raises(LocalProtocolError, match="member may not send 'done' while transfer"):
        member.send(TransferDone("a", 1, SHA))
    member.send(TransferEnd(SHA))
    with pytest.raises(LocalProtocolError, match="member may not send 'end' while verifying"):
        member.send(TransferEnd(SHA))


def test_events_iterator_yields_everything_buffered():
    member, _host = chatting()
    member.receive_data(b"".join(encode(ChatMessage(i, 1.0, "a", str(i))) for i in range(1, 4)))
    assert [e.seq for e in member.events()] == [1, 2, 3]
    assert list(member.events()) == []
