"""The member's side of keep-alive, sans-I/O: when to ask a quiet host whether it is there, and when to give up.

The reader tells `HostWatch` when bytes arrived (`heard`) and asks it between
reads (`check`, with the monotonic time): after `ping_after` seconds of
silence it says to send one `ping`; after `timeout` seconds it gives the
sentence the chat ends with.  The host's own pings count as bytes, so in a
quiet room the member seldom needs to ask.
"""

from __future__ import annotations

PING_AFTER = 15.0  # seconds without a byte from the host before we ask "are you there?"
HOST_TIMEOUT = 45.0  # seconds without a byte from the host, pings unanswered, before we give up


class HostWatch:
    """When the host was last heard from, and what to do about its silence."""

    def __init__(self, ping_after: float = PING_AFTER, timeout: float = HOST_TIMEOUT) -> None:
        self.ping_after = ping_after
        self.timeout = max(timeout, ping_after)
        self._heard_at = 0.0
        self._pinged = False

    def heard(self, mono: float) -> None:
        """Bytes from the host arrived at `mono`."""
        self._heard_at, self._pinged = mono, False

    def check(self, mono: float) -> tuple[bool, str]:
        """(send a ping now, the reason to give up or '') at `mono`; a ping is asked for once per silence."""
        silent = mono - self._heard_at
        if silent >= self.timeout:
            return False, f"The host stopped answering (nothing for {self.timeout:g} s)."
        if silent >= self.ping_after and not self._pinged:
            self._pinged = True
            return True, ""
        return False, ""
