"""The host's structured log (mmchat.hostlog): one sentence per kind, and the bus that hands events out."""

from __future__ import annotations

import pytest

from mmchat.hostlog import MEMBERSHIP_KINDS, PROBLEM_KINDS, LogBus, LogEvent, LogKind, describe

FULL = {
    "member": "alice",
    "address": "192.168.1.7:50412",
    "line": "ls docs",
    "reason": "it broke",
    "filename": "notes.pdf",
    "size": 2048,
    "count": 3,
    "command_id": 9,
}


@pytest.mark.parametrize("kind", list(LogKind))
def test_every_kind_reads_as_a_sentence(kind):
    text = describe(LogEvent(0.0, kind, **FULL))
    assert (text[0].isupper() or text.startswith("alice ")) and "LogKind" not in text and "{" not in text


@pytest.mark.parametrize(
    ("event", "text"),
    [
        (LogEvent(0.0, LogKind.LISTEN, address="[::1]:12002"), "Server listening at [::1]:12002"),
        (LogEvent(0.0, LogKind.JOIN, member="alice", address="1.2.3.4:5"), "New connection: alice (1.2.3.4:5)"),
        (
            LogEvent(0.0, LogKind.JOIN, member="alice-2", address="1.2.3.4:5", line="alice"),
            "New connection: alice-2 (1.2.3.4:5, asked for 'alice')",
        ),
        (LogEvent(0.0, LogKind.COMMAND, member="bob", line="cat a.txt"), "Command to execute: cat a.txt (bob)"),
        (
            LogEvent(0.0, LogKind.UPLOAD_DONE, member="bob", filename="a.bin", size=2048),
            "File received: a.bin (2.0 kB) from bob",
        ),
        (
            LogEvent(
                0.0, LogKind.TRANSFER_FAILED, member="bob", address="h:1", filename="a", line="upload", reason="x"
            ),
            "Upload of a (bob, h:1) failed: x",
        ),
        (LogEvent(0.0, LogKind.DROPPED, address="1.2.3.4:5", reason="slow"), "Dropped 1.2.3.4:5: slow"),
        (LogEvent(0.0, LogKind.CODE_VERIFIED, member="bob"), "bob verified a code: invalid"),
    ],
)
def test_sentences(event, text):
    assert describe(event) == text == event.text


def test_problem_and_membership_kinds_are_kinds():
    assert LogKind.COMMAND_REFUSED in PROBLEM_KINDS and LogKind.JOIN not in PROBLEM_KINDS
    assert MEMBERSHIP_KINDS == {LogKind.JOIN, LogKind.LEAVE, LogKind.KICKED, LogKind.DROPPED, LogKind.BANNED}


def test_the_bus_hands_each_event_to_every_reader_and_survives_a_broken_one():
    bus, got = LogBus(), []

    def broken(event):
        raise RuntimeError("reader bug")

    bus.subscribe(broken)
    bus.subscribe(got.append)
    event = LogEvent(1.0, LogKind.STOPPED)
    bus.publish(event)
    assert got == [event] and got.append in bus
    bus.unsubscribe(got.append)
    bus.unsubscribe(got.append)  # twice is harmless
    bus.publish(event)
    assert got == [event] and got.append not in bus
