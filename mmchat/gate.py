"""Who may knock, sans-I/O: password guesses are slowed per address, and banned addresses are kept out.

How this works
--------------
`Guesses` counts the refused tries (a wrong or missing password, a banned
address knocking) of each address, by its host part: `10.0.0.7`, whatever
the port.  The first `free_tries` cost nothing.  After them every new
connection from that address is not read until a moment `arrived` names:
1 s after it came, then 2 s, 4 s … at most `max_wait`, and always after the
connection slowed before it, so opening many at once buys nothing.  A
connection slowed on arrival counts as a try then (its wrong password does not
count twice).  A right password, or a quiet minute (`quiet` seconds with no
try and no slowed connection waiting), forgets the address.  Other addresses
never wait.  The admin log gets a line for each refusal until the slowing
starts, then one line for the burst (`GUESSING`), then none until it is over.

`Bans` is the table of banned addresses, with the name banned and when.
Changes replace the whole table, so the admin window may read `listed()` from
its own thread while the loop changes it.  `load_bans` and `save_bans` keep it
in a JSON file in the data folder (written to a temporary name, then
renamed), and are the only functions here that touch a disk; the loop calls
them, the rules never do.  Nothing here reads a clock or opens a socket:
`room.py` passes the time in, `tests/test_gate.py` drives it all.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .actions import ConnectionId
from .hostlog import LogEvent, LogKind
from .liveness import host_of
from .protocol import RefusalKind

FREE_TRIES = 5  # refused tries from one address that cost nothing
MAX_WAIT = 60.0  # seconds: the longest a slowed connection waits before it is read
QUIET = 60.0  # seconds without a try after which an address starts afresh
MAX_ADDRESSES = 10_000  # addresses remembered at once (the oldest burst goes first)
BANS_FILE = "bans.json"
PASSWORD_NEEDED = "This chat needs a password."
WRONG_PASSWORD = "Wrong password."
BANNED_SENTENCE = "You are banned from this chat."
BANNED_YOU = "The host banned you from this chat."
WRONG_PASSWORDS = "wrong passwords"
BANNED_TRIES = "tries while banned"


class Password:
    """The chat's password, kept as its SHA-256: compare_digest on two digests tells nothing, not even a length."""

    def __init__(self, password: str) -> None:
        self._digest = _digest(password) if password else b""

    def __bool__(self) -> bool:
        return bool(self._digest)

    def refusal(self, given: str) -> tuple[str, RefusalKind] | None:
        """None if `given` lets a member in, else the sentence and the kind to refuse the hello with."""
        if not self._digest or hmac.compare_digest(_digest(given), self._digest):
            return None
        if not given:
            return PASSWORD_NEEDED, RefusalKind.PASSWORD_NEEDED
        return WRONG_PASSWORD, RefusalKind.WRONG_PASSWORD


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


@dataclass(slots=True)
class _Burst:
    began: float  # wall clock of the first refused try, for the log line
    last: float  # monotonic: the last try, or when the last slowed connection will be read
    tries: int = 0
    ready: float = 0.0  # monotonic: the next slowed connection is read after this
    logged: bool = False
    slowed: set[ConnectionId] = field(default_factory=set)  # counted on arrival, still waiting for their hello


class Guesses:
    """Refused tries per address: a few free, then each new connection waits longer before it is read."""

    def __init__(self, free_tries: int = FREE_TRIES, max_wait: float = MAX_WAIT, quiet: float = QUIET) -> None:
        self.free_tries = free_tries
        self.max_wait = max_wait
        self.quiet = quiet
        self._bursts: dict[str, _Burst] = {}  # host -> its burst, oldest first
        self._arrived: dict[ConnectionId, tuple[str, float]] = {}  # not yet said hello: (host, when it is read)

    def arrived(self, who: ConnectionId, address: str, mono: float) -> float:
        """Connection `who` came from `address` at `mono`: the monotonic time it may be read, 0.0 for at once."""
        host = host_of(address)
        burst = self._current(host, mono)
        if burst is None or burst.tries < self.free_tries:
            self._arrived[who] = (host, mono)
            return 0.0
        wait = min(self.max_wait, 2.0 ** (burst.tries - self.free_tries))
        burst.ready = burst.last = max(mono, burst.ready) + wait
        burst.tries += 1
        burst.slowed.add(who)
        self._arrived[who] = (host, burst.ready)
        return burst.ready

    def refused(self, who: ConnectionId, now: float, what: str = WRONG_PASSWORDS) -> tuple[bool, LogEvent | None]:
        """`who`'s hello was refused (`what` names such tries in the log): (log the refusal?, the burst's line)."""
        host, mono = self._arrived.pop(who, ("", 0.0))
        if not host:
            return True, None
        burst = self._current(host, mono)
        if burst is None:
            burst = self._bursts[host] = _Burst(began=now, last=mono)
            self._forget_oldest()
        if who in burst.slowed:
            burst.slowed.discard(who)  # counted when it arrived
        else:
            burst.tries += 1
            burst.last = max(burst.last, mono)
        if burst.tries < self.free_tries:
            return True, None
        if burst.logged:
            return False, None
        burst.logged = True
        line = LogEvent(now, LogKind.GUESSING, address=host, count=burst.tries, seconds=now - burst.began, reason=what)
        return True, line

    def accepted(self, who: ConnectionId) -> None:
        """`who` got in: its address starts afresh."""
        host, _ = self._arrived.pop(who, ("", 0.0))
        self._bursts.pop(host, None)

    def forget(self, who: ConnectionId) -> None:
        """`who` is gone (before or after its hello); what it cost its address stays counted."""
        host, _ = self._arrived.pop(who, ("", 0.0))
        if burst := self._bursts.get(host):
            burst.slowed.discard(who)

    def slowed(self, address: str, mono: float) -> bool:
        """Whether a connection from `address` arriving at `mono` would wait."""
        burst = self._current(host_of(address), mono)
        return burst is not None and burst.tries >= self.free_tries

    def tick(self, mono: float) -> None:
        """Time passed: forget the addresses that have been quiet long enough."""
        for host in [host for host, burst in self._bursts.items() if self._is_quiet(burst, mono)]:
            del self._bursts[host]

    def __len__(self) -> int:
        return len(self._bursts)

    def _current(self, host: str, mono: float) -> _Burst | None:
        burst = self._bursts.get(host)
        if burst is not None and self._is_quiet(burst, mono):
            del self._bursts[host]
            return None
        return burst

    def _is_quiet(self, burst: _Burst, mono: float) -> bool:
        return not burst.slowed and mono - burst.last >= self.quiet

    def _forget_oldest(self) -> None:
        while len(self._bursts) > MAX_ADDRESSES:
            del self._bursts[next(iter(self._bursts))]


# --- bans --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ban:
    """One banned address (its host part), the member banned with it, and when (wall clock)."""

    address: str
    name: str = ""
    since: float = 0.0


class Bans:
    """The banned addresses; `listed()` may be read from any thread (changes replace the table)."""

    def __init__(self, bans: Iterable[Ban] = (), problem: LogEvent | None = None) -> None:
        self._table: dict[str, Ban] = {ban.address: ban for ban in bans}
        self.problem = problem  # the file they came from was damaged: the room logs this once

    def __contains__(self, address: object) -> bool:
        return isinstance(address, str) and host_of(address) in self._table

    def listed(self) -> list[Ban]:
        """The bans, oldest first."""
        return sorted(self._table.values(), key=lambda ban: (ban.since, ban.address))

    def add(self, ban: Ban) -> None:
        """Ban `ban.address` (a second ban of the same address replaces the first)."""
        self._table = {**self._table, ban.address: ban}

    def lift(self, address: str) -> Ban | None:
        """Lift the ban on `address` (with or without a port); the ban lifted, or None if there was none."""
        host = host_of(address.strip())
        ban = self._table.get(host)
        if ban is not None:
            self._table = {key: value for key, value in self._table.items() if key != host}
        return ban


def load_bans(data_dir: Path) -> Bans:
    """The bans kept in `data_dir`; a damaged file is put aside (not lost) and named in `Bans.problem`."""
    path = data_dir / BANS_FILE
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Bans()
    except (OSError, UnicodeDecodeError) as exc:
        return Bans(problem=_unreadable(path, exc))
    try:
        entries = json.loads(raw)["bans"]
        return Bans(Ban(host_of(str(e["address"])), str(e.get("name", "")), float(e.get("since", 0))) for e in entries)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        return Bans(problem=_unreadable(path, exc))


def _unreadable(path: Path, exc: Exception) -> LogEvent:
    aside = path.with_name(path.name + ".damaged")
    try:
        os.replace(path, aside)  # so the next save does not overwrite what a person may still recover
    except OSError:
        aside = path
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return LogEvent(0.0, LogKind.BANS_UNREADABLE, filename=str(aside), reason=reason)


def save_bans(data_dir: Path, bans: Iterable[Ban]) -> None:
    """Keep `bans` in `data_dir`: written to a temporary name, flushed, then renamed over the old file."""
    path = data_dir / BANS_FILE
    temp = path.with_name(path.name + ".tmp")
    entries = [{"address": ban.address, "name": ban.name, "since": ban.since} for ban in bans]
    try:
        with open(temp, "w", encoding="utf-8") as out:
            json.dump({"bans": entries}, out, ensure_ascii=False, indent=1)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except OSError:
        with contextlib.suppress(OSError):
            temp.unlink(missing_ok=True)
        raise
