"""Tests for mmchat.protocol.events: every event type, and the kinds they carry."""

from __future__ import annotations

import dataclasses

import pytest

from mmchat.protocol import (
    encode,
)
from tests.protocol_helpers import (
    SAMPLES,
    all_event_types,
    decode_all,
    header_of_frame,
)


def test_every_event_type_has_samples():
    types = all_event_types()
    assert len(types) == 25
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
