"""The protocol's two error kinds (mmchat.protocol.errors): the peer's fault, or ours."""

from __future__ import annotations

import pytest

from mmchat import protocol
from mmchat.protocol import Connection, LocalProtocolError, ProtocolError, Role, Say


def test_the_two_kinds_are_distinct_so_a_bug_of_ours_is_never_blamed_on_the_peer():
    assert not issubclass(ProtocolError, LocalProtocolError)
    assert not issubclass(LocalProtocolError, ProtocolError)


def test_a_peer_breaking_the_protocol_raises_protocol_error():
    host = Connection(Role.HOST)
    host.receive_data(b"\x00\x00\x00\x00\x00\x00\x00\x00")  # a frame with an empty header
    with pytest.raises(ProtocolError):
        host.next_event()


def test_sending_what_the_state_forbids_raises_local_protocol_error():
    member = Connection(Role.MEMBER)
    with pytest.raises(LocalProtocolError):
        member.send(Say(text="before hello"))  # a member speaks only after it was welcomed
    assert protocol.ProtocolError is ProtocolError
