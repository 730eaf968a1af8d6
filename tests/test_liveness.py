"""Keep-alive and hello deadlines (mmchat.liveness) with plain numbers for time: no clock, no sockets."""

from __future__ import annotations

from mmchat.liveness import KeepAlive, Openers, host_of


def test_host_of_drops_the_port_and_ipv6_brackets():
    assert host_of("10.0.0.5:4000") == "10.0.0.5"
    assert host_of("[fe80::1]:4000") == "fe80::1"
    assert host_of("fe80::1") == "fe80::1"


def test_a_member_heard_from_is_not_pinged_and_one_silent_too_long_is_gone():
    alive = KeepAlive(ping_after=2.0, timeout=5.0)
    alive.heard(1, 0.0)
    alive.heard(2, 0.0)
    assert alive.due(1.9, [1, 2]) == ([], [])
    alive.heard(2, 1.9)
    assert alive.due(2.0, [1, 2]) == ([1], [])
    assert alive.due(3.9, [1, 2]) == ([2], [])
    assert alive.due(4.0, [1, 2]) == ([], [])
    assert alive.due(5.0, [1, 2]) == ([], [1])
    alive.forget(1)
    assert alive.due(5.0, [2]) == ([], [])  # 2 was asked at 3.9 and has until 6.9
    assert alive.due(6.9, [2]) == ([], [2])


def test_a_member_never_heard_from_counts_from_when_first_looked_at():
    alive = KeepAlive(ping_after=2.0, timeout=5.0)
    assert alive.due(100.0, [7]) == ([], [])
    assert alive.due(102.0, [7]) == ([7], [])


def test_the_timeout_is_never_shorter_than_the_ping_interval():
    assert KeepAlive(ping_after=10.0, timeout=1.0).timeout == 10.0


def test_openers_cap_per_address_and_remove_returns_the_address():
    openers = Openers(per_address=2)
    assert openers.add(1, "10.0.0.1:1", 0.0) and openers.add(2, "10.0.0.1:2", 0.0)
    assert not openers.add(3, "10.0.0.1:3", 0.0) and 3 not in openers
    assert openers.remove(1) == "10.0.0.1:1" and openers.remove(1) is None
    assert openers.add(3, "10.0.0.1:3", 0.0) and len(openers) == 2


def test_pressure_shortens_deadlines_and_shed_picks_the_most_crowded_address():
    openers = Openers(hello_timeout=15.0, pressed_timeout=2.0)
    openers.add(1, "10.0.0.1:1", 0.0)
    openers.add(2, "10.0.0.2:1", 1.0)
    openers.add(3, "10.0.0.2:2", 2.0)
    assert openers.late(14.0) == [] and openers.shed() == 2
    openers.press(True, 5.0)
    assert openers.late(7.1) == [1, 2, 3]
    openers.add(4, "10.0.0.3:1", 8.0)
    assert 4 not in openers.late(9.9) and 4 in openers.late(10.1)


def test_a_delayed_opener_gets_its_hello_time_after_the_wait():
    openers = Openers(hello_timeout=15.0)
    openers.add(1, "10.0.0.7:1", 0.0)
    openers.add(2, "10.0.0.7:2", 0.0)
    openers.delay(1, 30.0)  # not read before 30 s: it may say hello until 45 s
    openers.delay(3, 99.0)  # not waiting: nothing happens
    assert openers.late(16.0) == [2]
    assert openers.late(44.0) == [2] and openers.late(45.5) == [1, 2]
