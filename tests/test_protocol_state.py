"""Tests for mmchat.protocol.state: the one table of who may send what, when."""

from __future__ import annotations

import pytest

from mmchat import protocol
from mmchat.protocol import (
    NEED_DATA,
    TRANSITIONS,
    Connection,
    ErrorReply,
    Hello,
    LocalProtocolError,
    ProtocolError,
    Role,
    Say,
    State,
    TransferHello,
    Welcome,
    encode,
)
from mmchat.protocol.state import HOST_REPLIES, MEMBER_REQUESTS, next_state
from tests.protocol_helpers import BIG, SAMPLES, all_event_types


def test_anything_missing_from_the_table_is_refused():
    samples = {cls: SAMPLES[cls][0] for cls in all_event_types()}
    for state in State:
        for role in Role:
            for cls, event in samples.items():
                if (state, role, cls) in protocol.TRANSITIONS:
                    continue
                sender = Connection(role)
                sender.state = state
                with pytest.raises(LocalProtocolError):
                    sender.send(event)
                assert sender.state is state
                receiver = Connection(Role.HOST if role is Role.MEMBER else Role.MEMBER, BIG)
                receiver.state = state
                receiver.receive_data(encode(event))
                if state is State.CLOSED or (role is Role.MEMBER and state is State.TRANSFER):
                    assert receiver.next_event() is NEED_DATA
                else:
                    with pytest.raises(ProtocolError):
                        receiver.next_event()


def test_next_state_follows_the_table_and_refuses_what_it_lacks():
    assert next_state(State.OPENING, Role.MEMBER, Hello(1, "Ada")) is State.GREETED
    assert next_state(State.GREETED, Role.HOST, Welcome(1, "Ada")) is State.CHATTING
    assert next_state(State.CHATTING, Role.MEMBER, Say("hi")) is State.CHATTING
    assert next_state(State.CHATTING, Role.HOST, Say("hi")) is None  # the host never says
    assert next_state(State.OPENING, Role.MEMBER, Say("hi")) is None


def test_a_fatal_error_closes_wherever_an_error_may_be_sent():
    for (state, role, cls), after in TRANSITIONS.items():
        if cls is ErrorReply:
            assert next_state(state, role, ErrorReply("x")) is after
            assert next_state(state, role, ErrorReply("x", fatal=True)) is State.CLOSED


def test_the_table_is_whole():
    # Nothing leaves CLOSED; every state can be reached from OPENING; every event type is in the table.
    assert not [key for key in TRANSITIONS if key[0] is State.CLOSED]
    reached, todo = {State.OPENING}, [State.OPENING]
    while todo:
        here = todo.pop()
        for (state, _, _), after in TRANSITIONS.items():
            if state is here and after not in reached:
                reached.add(after)
                todo.append(after)
    assert reached == set(State)
    assert {cls for _, _, cls in TRANSITIONS} == set(all_event_types())
    # Chat connections and transfer connections share no event but the error.
    chat = {cls for state, _, cls in TRANSITIONS if state in (State.GREETED, State.CHATTING)} | {Hello}
    transfer = {
        cls for state, _, cls in TRANSITIONS if state in (State.TRANSFER_ASKED, State.TRANSFER, State.VERIFYING)
    }
    assert chat & (transfer | {TransferHello}) == {ErrorReply}


def test_every_member_request_and_host_reply_keeps_chatting():
    for cls in MEMBER_REQUESTS:
        assert TRANSITIONS[(State.CHATTING, Role.MEMBER, cls)] is State.CHATTING
        assert (State.CHATTING, Role.HOST, cls) not in TRANSITIONS
    for cls in HOST_REPLIES:
        assert TRANSITIONS[(State.CHATTING, Role.HOST, cls)] is State.CHATTING
        assert (State.CHATTING, Role.MEMBER, cls) not in TRANSITIONS


def test_either_side_may_ping_and_pong_but_only_while_chatting():
    for role in Role:
        for event in (protocol.Ping(), protocol.Pong()):
            assert next_state(State.CHATTING, role, event) is State.CHATTING
            for state in (State.OPENING, State.GREETED, State.TRANSFER_ASKED, State.TRANSFER, State.VERIFYING):
                assert next_state(state, role, event) is None  # a transfer's raw bytes are never interrupted
