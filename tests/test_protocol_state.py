"""Tests for mmchat.protocol.state: the one table of who may send what, when."""

from __future__ import annotations

import pytest

from mmchat import protocol
from mmchat.protocol import (
    NEED_DATA,
    Connection,
    LocalProtocolError,
    ProtocolError,
    Role,
    State,
    encode,
)
from tests.protocol_helpers import (
    BIG,
    SAMPLES,
    all_event_types,
)


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
