"""The member's keep-alive rule (mmchat.client_keepalive) with plain numbers for time."""

from __future__ import annotations

from mmchat.client_keepalive import HostWatch


def test_a_quiet_host_is_pinged_once_per_silence_and_given_up_on_at_the_timeout():
    watch = HostWatch(ping_after=15.0, timeout=45.0)
    watch.heard(100.0)
    assert watch.check(114.9) == (False, "")
    assert watch.check(115.0) == (True, "")
    assert watch.check(130.0) == (False, "")  # asked already: wait for an answer
    watch.heard(131.0)  # any byte is an answer
    assert watch.check(146.0) == (True, "")
    assert watch.check(176.0) == (False, "The host stopped answering (nothing for 45 s).")


def test_the_timeout_is_never_shorter_than_the_ping_interval():
    assert HostWatch(ping_after=5.0, timeout=1.0).timeout == 5.0
