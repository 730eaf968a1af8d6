"""Tests for mmchat.protocol.events: every event type, and the kinds they carry."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from mmchat.protocol import Direction, Notice, NoticeKind, TransferReady, encode, encode_trusted
from tests.protocol_helpers import SAMPLES, all_event_types, decode_all, header_of_frame


def test_every_event_type_has_samples():
    types = all_event_types()
    assert len(types) == 27  # 25, and ping and pong (protocol 3)
    missing = [cls.__name__ for cls in types if cls not in SAMPLES]
    assert missing == [], f"add samples to SAMPLES for {missing}"
    assert len({cls.TYPE for cls in types}) == len(types), "two event types share a TYPE"


@pytest.mark.parametrize("cls", all_event_types(), ids=lambda cls: cls.TYPE)
def test_round_trip_of_every_event_type(cls):
    assert cls in SAMPLES, f"no sample for {cls.__name__}: add one to SAMPLES"
    for event in SAMPLES[cls]:
        frame = encode(event)
        header = header_of_frame(frame)
        assert header["type"] == cls.TYPE
        # Fields equal to their default stay off the wire; all others are there.
        expected_keys = {"type"} | {
            f.name for f in dataclasses.fields(event) if f.name != "png" and getattr(event, f.name) != f.default
        }
        assert set(header) == expected_keys
        decoded = decode_all(frame)
        assert decoded == [event]
        assert type(decoded[0]) is cls


# --- notice kinds and transfer directions: enums on our side, plain strings on the wire ----------


def test_the_notice_kinds_are_the_ones_the_host_announces():
    assert [str(kind) for kind in NoticeKind] == [
        "join",
        "leave",
        "dropped",
        "kicked",
        "timed out",
        "share",
        "shutdown",
    ]
    assert [str(direction) for direction in Direction] == ["upload", "download"]


@pytest.mark.parametrize("kind", list(NoticeKind), ids=str)
def test_a_decoded_notice_carries_its_kind_as_the_enum(kind):
    frame = encode(Notice(seq=1, ts=2.0, kind=kind, member="Ada"))
    assert header_of_frame(frame)["kind"] == kind.value  # a plain string on the wire
    (decoded,) = decode_all(frame)
    assert decoded.kind is kind
    assert type(decoded.kind) is NoticeKind


@pytest.mark.parametrize("direction", list(Direction), ids=str)
def test_a_decoded_transfer_ready_carries_its_direction_as_the_enum(direction):
    (decoded,) = decode_all(encode(TransferReady(token="tok", direction=direction, filename="a.txt")))
    assert decoded.direction is direction


def test_events_built_with_plain_strings_still_equal_the_decoded_ones():
    # Callers that pass "join" keep working: a StrEnum member equals its string.
    join: Any = "join"  # Any: a plain string where the type says NoticeKind, on purpose
    upload: Any = "upload"
    built = Notice(seq=1, ts=2.0, kind=join, member="Ada")
    (decoded,) = decode_all(encode_trusted(built))
    assert decoded == built
    assert decoded.kind == "join"
    assert hash(decoded) == hash(built)
    assert TransferReady("tok", upload, "a.txt") == TransferReady("tok", Direction.UPLOAD, "a.txt")
