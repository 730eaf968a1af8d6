"""Who may knock (mmchat.gate), with no network and no clock: guesses slowed per address, bans kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mmchat.actions import Close, CloseReason, HangUp, Log, Pause, Reply
from mmchat.gate import (
    BANS_FILE,
    FREE_TRIES,
    MAX_WAIT,
    QUIET,
    Ban,
    Bans,
    Guesses,
    Password,
    load_bans,
    save_bans,
)
from mmchat.hostlog import LogKind
from mmchat.liveness import HELLO_TIMEOUT
from mmchat.protocol import PROTOCOL_VERSION, Hello, RefusalKind, Refused
from mmchat.room import Room

NOW = 1_700_000_000.0
ATTACKER = "10.0.0.7"


def wrong_tries(guesses: Guesses, count: int, mono: float = 0.0, host: str = ATTACKER, first: int = 1) -> list:
    """`count` connections from `host`, each refused; the log lines of the bursts."""
    lines = []
    for who in range(first, first + count):
        ready = guesses.arrived(who, f"{host}:{40000 + who}", mono)
        mono = max(mono, ready)
        _, line = guesses.refused(who, NOW + mono)
        lines += [line] if line else []
    return lines


def test_the_first_tries_are_free_then_the_waits_double_up_to_a_minute():
    guesses = Guesses()
    wrong_tries(guesses, FREE_TRIES)
    waits, mono = [], 0.0
    for who in range(100, 112):
        ready = guesses.arrived(who, f"{ATTACKER}:5", mono)
        waits.append(ready - mono)
        mono = ready  # the try is read when its wait is over, and fails
        guesses.refused(who, NOW + mono)
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60, 60, 60, 60, 60]
    assert max(waits) == MAX_WAIT


def test_connections_opened_together_wait_one_after_the_other():
    guesses = Guesses()
    wrong_tries(guesses, FREE_TRIES)
    readies = [guesses.arrived(who, f"{ATTACKER}:{who}", 10.0) for who in range(50, 54)]
    assert readies == [11.0, 13.0, 17.0, 25.0]  # opening many at once buys nothing


def test_a_slowed_connection_counts_once_not_again_when_its_password_is_wrong():
    guesses = Guesses()
    wrong_tries(guesses, FREE_TRIES)
    ready = guesses.arrived(50, f"{ATTACKER}:1", 0.0)
    guesses.refused(50, NOW)
    assert guesses.arrived(51, f"{ATTACKER}:2", ready) == ready + 2  # the 7th try waits 2 s, not 4


def test_other_addresses_never_wait():
    guesses = Guesses()
    wrong_tries(guesses, 20)
    assert guesses.slowed(ATTACKER, 1.0)
    assert guesses.arrived(99, "10.0.0.8:5000", 1.0) == 0.0
    assert guesses.arrived(98, "[fe80::1]:5000", 1.0) == 0.0


def test_the_right_password_starts_the_address_afresh():
    guesses = Guesses()
    wrong_tries(guesses, FREE_TRIES + 2)
    ready = guesses.arrived(50, f"{ATTACKER}:1", 0.0)
    assert ready > 0
    guesses.accepted(50)
    assert not guesses.slowed(ATTACKER, ready) and guesses.arrived(51, f"{ATTACKER}:2", ready) == 0.0


def test_a_quiet_minute_starts_the_address_afresh_but_a_wait_is_not_quiet():
    guesses = Guesses()
    wrong_tries(guesses, FREE_TRIES)
    ready = guesses.arrived(50, f"{ATTACKER}:1", 0.0)
    # While a slowed connection waits, and for a minute after it is read, the address is not quiet.
    assert guesses.slowed(ATTACKER, ready + QUIET - 1)
    guesses.refused(50, NOW)
    assert guesses.slowed(ATTACKER, ready + QUIET - 1)
    assert not guesses.slowed(ATTACKER, ready + QUIET)
    guesses.tick(ready + QUIET)
    assert len(guesses) == 0  # forgotten, not only ignored


def test_a_slow_guesser_at_a_minute_a_try_is_never_quiet():
    guesses = Guesses()
    wrong_tries(guesses, FREE_TRIES)
    mono = 0.0
    for who in range(50, 60):
        mono = guesses.arrived(who, f"{ATTACKER}:1", mono + 0.5)
        guesses.refused(who, NOW + mono)
    assert guesses.slowed(ATTACKER, mono + 0.5)


def test_one_log_line_per_burst_not_one_per_guess():
    guesses = Guesses()
    logged = []
    for who in range(1, 31):
        ready = guesses.arrived(who, f"{ATTACKER}:{who}", float(who))
        said, line = guesses.refused(who, NOW + 2.0 * who)
        logged.append(said)
        if line:
            assert (line.kind, line.address, line.count) == (LogKind.GUESSING, ATTACKER, FREE_TRIES)
            assert line.seconds == 8.0 and "wrong passwords from 10.0.0.7 in 8 s; its tries are slowed" in line.text
        assert ready >= 0
    assert logged == [True] * FREE_TRIES + [False] * (30 - FREE_TRIES)
    assert len(wrong_tries(Guesses(), 30)) == 1


def test_a_new_burst_after_a_quiet_minute_gets_its_own_line():
    guesses = Guesses()
    assert len(wrong_tries(guesses, 10)) == 1
    assert len(wrong_tries(guesses, 10, mono=10_000.0, first=100)) == 1


def test_a_connection_that_leaves_before_its_hello_still_cost_its_try():
    guesses = Guesses()
    wrong_tries(guesses, FREE_TRIES)
    first = guesses.arrived(50, f"{ATTACKER}:1", 0.0)
    guesses.forget(50)
    assert guesses.arrived(51, f"{ATTACKER}:2", 0.0) == first + 2


def test_the_password_is_compared_and_the_two_refusals_differ():
    password = Password("s3cret ☕")
    assert password.refusal("s3cret ☕") is None
    assert password.refusal("s3cret") == ("Wrong password.", RefusalKind.WRONG_PASSWORD)
    assert password.refusal("") == ("This chat needs a password.", RefusalKind.PASSWORD_NEEDED)
    assert Password("").refusal("anything") is None and not Password("")


# --- the room's use of it -------------------------------------------------------------


def knock(room: Room, who: int, address: str, mono: float, password: str = "nope") -> list:
    return room.opened(who, address, mono) + room.receive(who, Hello(PROTOCOL_VERSION, f"m{who}", password), NOW)


def test_the_room_pauses_a_guesser_before_its_hello_is_read_and_gives_it_more_time():
    room = Room(password="s3cret")
    for who in range(1, FREE_TRIES + 1):
        actions = knock(room, who, f"{ATTACKER}:{who}", 0.0)
        assert isinstance(actions[-1], HangUp) and actions[-1].reason is CloseReason.REFUSED
        room.closed(who, CloseReason.REFUSED, NOW)
    assert room.opened(10, f"{ATTACKER}:10", 0.0) == [Pause(10, 1.0)]
    assert room.tick(HELLO_TIMEOUT + 0.5) == []  # its hello deadline moved with the wait
    assert room.tick(1.0 + HELLO_TIMEOUT + 0.5) == [Close(10, CloseReason.NO_GREETING)]
    assert room.opened(11, "10.0.0.8:1", 0.0) == []  # another address: at once
    assert any(isinstance(a, Reply) and a.event.kind is RefusalKind.WRONG_PASSWORD for a in knock(room, 12, "x:1", 0))


def test_the_room_logs_the_first_refusals_then_one_line_for_the_burst():
    room = Room(password="s3cret")
    kinds = []
    for who in range(1, 21):
        actions = knock(room, who, f"{ATTACKER}:{who}", 0.0)
        kinds += [a.event.kind for a in actions if isinstance(a, Log)]
        room.closed(who, CloseReason.REFUSED, NOW)
    assert kinds == [LogKind.JOIN_REFUSED] * FREE_TRIES + [LogKind.GUESSING]


def test_the_right_password_still_gets_in_and_resets():
    room = Room(password="s3cret")
    for who in range(1, FREE_TRIES + 1):
        knock(room, who, f"{ATTACKER}:{who}", 0.0)
    assert room.opened(10, f"{ATTACKER}:10", 0.0) == [Pause(10, 1.0)]
    room.receive(10, Hello(PROTOCOL_VERSION, "alice", "s3cret"), NOW)
    assert room.online() == ["alice"]
    assert room.opened(11, f"{ATTACKER}:11", 2.0) == []


def test_a_banned_address_is_refused_first_with_nothing_of_the_room():
    room = Room(password="s3cret", bans=Bans([Ban(ATTACKER, "mallory", NOW)]))
    room.opened(1, "10.0.0.9:1", 0.0)
    room.receive(1, Hello(PROTOCOL_VERSION, "alice", "s3cret"), NOW)
    room.say(1, "hello", NOW)
    actions = knock(room, 2, f"{ATTACKER}:2", 0.0, password="s3cret")
    replies = [a for a in actions if isinstance(a, Reply)]
    assert replies == [Reply(2, Refused("You are banned from this chat.", RefusalKind.BANNED))]
    assert [type(a) for a in actions] == [Log, Reply, HangUp]  # no welcome, history, list or notice
    assert room.online() == ["alice"]


# --- bans -------------------------------------------------------------------------------


def test_bans_add_list_and_lift_by_host_part():
    bans = Bans()
    bans.add(Ban("10.0.0.7", "mallory", 2.0))
    bans.add(Ban("fe80::1", "eve", 1.0))
    assert "10.0.0.7:5000" in bans and "[fe80::1]:7" in bans and "10.0.0.8:1" not in bans
    assert [ban.name for ban in bans.listed()] == ["eve", "mallory"]
    before = bans.listed()
    assert bans.lift("10.0.0.7:5000") == Ban("10.0.0.7", "mallory", 2.0)
    assert bans.lift("10.0.0.7") is None
    assert "10.0.0.7:1" not in bans and len(before) == 2  # a snapshot read meanwhile is not changed


def test_bans_are_kept_and_read_back(tmp_path: Path):
    save_bans(tmp_path, [Ban("10.0.0.7", "mallory ☕", NOW)])
    assert load_bans(tmp_path).listed() == [Ban("10.0.0.7", "mallory ☕", NOW)]
    assert not list(tmp_path.glob("*.tmp"))
    save_bans(tmp_path, [])
    assert load_bans(tmp_path).listed() == []


def test_no_file_means_no_bans_and_no_problem(tmp_path: Path):
    bans = load_bans(tmp_path)
    assert bans.listed() == [] and bans.problem is None


@pytest.mark.parametrize("damage", [b"{not json", b'{"bans": [{"name": "x"}]}', b"[1, 2]", b"\xff\xfe"])
def test_a_damaged_file_is_put_aside_and_said(tmp_path: Path, damage: bytes):
    (tmp_path / BANS_FILE).write_bytes(damage)
    bans = load_bans(tmp_path)
    assert bans.listed() == [] and bans.problem is not None
    assert bans.problem.kind is LogKind.BANS_UNREADABLE
    assert (tmp_path / (BANS_FILE + ".damaged")).read_bytes() == damage
    room = Room(bans=bans)
    lines = [a.event for a in room.keep_alive(0.0, NOW) if isinstance(a, Log)]
    assert [e.kind for e in lines] == [LogKind.BANS_UNREADABLE] and lines[0].ts == NOW
    assert not [a for a in room.keep_alive(1.0, NOW) if isinstance(a, Log)]  # said once


def test_a_failed_save_leaves_the_old_file(tmp_path: Path):
    save_bans(tmp_path, [Ban("10.0.0.7")])
    (tmp_path / (BANS_FILE + ".tmp")).mkdir()  # the temporary name cannot be written
    with pytest.raises(OSError):
        save_bans(tmp_path, [])
    assert json.loads((tmp_path / BANS_FILE).read_text())["bans"][0]["address"] == "10.0.0.7"


def test_a_member_of_another_version_gets_refusals_it_can_read():
    room = Room(bans=Bans([Ban(ATTACKER)]))
    room.opened(1, f"{ATTACKER}:1", 0.0)
    (reply,) = [a for a in room.receive(1, Hello(PROTOCOL_VERSION - 1, "m", ""), NOW) if isinstance(a, Reply)]
    assert reply.event == Refused("You are banned from this chat.")  # no kind: a version-3 member refuses fields
