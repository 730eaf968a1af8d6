"""What one member may spend, sans-I/O: token buckets for what they send, fair turns at the workers.

How this works
--------------
Every member gets three `TokenBucket`s (chat lines, requests, transfer
offers), each a `Rate`: a burst spent at once, then a steady refill.  The
room charges one token per event with `take(now)`, `now` being the loop's
monotonic time (nothing here reads a clock).  A member who spends more than
there is goes into debt; the verdict says how to answer:

* `Step.SLOW`: stop reading them until the debt is paid (`until`); what they
  keep sending meanwhile waits in their own kernel buffer, nobody else's.
* `Step.WARN`: still over budget `warn_after` seconds into the episode: slow,
  and tell them in a sentence (once per episode).
* `Step.DROP`: still over budget `drop_after` seconds in: drop them.

An episode ends when the bucket is back at half its burst, that is when the
member paused for a while.  An honest person pasting a long text is slowed
and perhaps warned; only someone sending without pause for `drop_after`
seconds at more than the steady rate is dropped.

`Limits` also holds what one member's file transfers may hold at once
(`transfers_at_once`: tickets not yet used plus transfers running) and how
long a transfer may move no byte (`transfer_stall`) and how long an upload
cut short is kept for a resume (`partial_keep`); `transfer_refusal` is
the sentence a member over the first is told.  The transfer desk applies
them (host_transfers.py).

`FairQueue` hands the workers' slots out: one job per member at a time (a
`cd` must finish before their `ls`), members taken in turn, at most `running`
jobs out at once, so a member with 500 queued `cat`s delays another member's
`pwd` by at most one `cat`.
"""

from __future__ import annotations

import collections
import enum
from dataclasses import dataclass
from typing import Generic, TypeVar

from .protocol import ListFiles, ListOnline, OfferUpload, RequestDownload, RequestQR, RunCommand, Say, VerifyCode

WARN_AFTER = 3.0  # seconds over budget before the member is told
DROP_AFTER = 15.0  # seconds over budget before the member is dropped
TRANSFERS_AT_ONCE = 16  # tickets not yet used plus transfers running, per member
TRANSFER_STALL = 60.0  # seconds a transfer may move no byte before the host ends it
PARTIAL_KEEP = 24 * 3600.0  # seconds an upload cut short waits to be resumed before its bytes go


class Kind(enum.StrEnum):
    """What a token pays for."""

    CHAT = "chat"
    REQUESTS = "requests"
    TRANSFERS = "transfers"


KIND_OF: dict[type, Kind] = {
    Say: Kind.CHAT,
    ListOnline: Kind.REQUESTS,
    ListFiles: Kind.REQUESTS,
    RunCommand: Kind.REQUESTS,
    RequestQR: Kind.REQUESTS,
    VerifyCode: Kind.REQUESTS,
    OfferUpload: Kind.TRANSFERS,
    RequestDownload: Kind.TRANSFERS,
}


@dataclass(frozen=True, slots=True)
class Rate:
    """A budget: `burst` at once, then `rate` per second."""

    burst: float
    rate: float

    @classmethod
    def parse(cls, text: str) -> Rate:
        """Read "BURST/RATE" (e.g. "500/20"); ValueError with a sentence if it is not that."""
        burst, slash, rate = text.partition("/")
        try:
            parsed = cls(float(burst), float(rate))
        except ValueError:
            parsed = cls(0, 0)
        if not slash or parsed.burst < 1 or parsed.rate <= 0:
            raise ValueError(f"Expected BURST/RATE such as 500/20 (burst at least 1, rate above 0), not {text!r}.")
        return parsed

    def __str__(self) -> str:
        return f"{self.burst:g}/{self.rate:g}"


@dataclass(frozen=True, slots=True)
class Limits:
    """The three budgets every member gets, and what their file transfers may hold."""

    # Chat: a person types a line every few seconds; a pasted text or a script
    # piping a file (300 lines in the tests) goes at once, more at 20 lines a
    # second, which still reads as a flood to everyone else.  Requests (online,
    # files, !cmd, QR, verify): a script of 100 at once, then 5 a second.
    # Transfers: 20 offers or downloads at once (a folder's worth), then 1 a second.
    chat: Rate = Rate(500, 20)
    requests: Rate = Rate(100, 5)
    transfers: Rate = Rate(20, 1)
    warn_after: float = WARN_AFTER
    drop_after: float = DROP_AFTER
    # A person shares or fetches a file or two at a time (the window picks one file at once); each
    # transfer is a thread and two descriptors on the host, and up to 20 MiB while its bytes flow.
    transfers_at_once: int = TRANSFERS_AT_ONCE
    transfer_stall: float = TRANSFER_STALL
    partial_keep: float = PARTIAL_KEEP  # an upload cut short is kept this long for a resume (resume.py)

    def of(self, kind: Kind) -> Rate:
        """The budget for `kind`."""
        return {Kind.CHAT: self.chat, Kind.REQUESTS: self.requests, Kind.TRANSFERS: self.transfers}[kind]


def transfer_refusal(held: int, limits: Limits) -> str | None:
    """Why a member holding `held` tickets and transfers may not start another, or None if they may."""
    if held < limits.transfers_at_once:
        return None
    return (
        f"You have {held} transfers waiting or under way, the most the host allows at once "
        f"({limits.transfers_at_once}): try again when one has finished."
    )


class Step(enum.Enum):
    """How the room answers one event, from its budget."""

    OK = "ok"
    SLOW = "slow"
    WARN = "warn"
    DROP = "drop"


@dataclass(frozen=True, slots=True)
class Verdict:
    """The answer of `take`: the step, and (unless OK) until when not to read the member."""

    step: Step
    until: float = 0.0


class TokenBucket:
    """A burst, then a steady rate; spending more goes into debt, and the verdict says what to do."""

    def __init__(self, rate: Rate, now: float, warn_after: float = WARN_AFTER, drop_after: float = DROP_AFTER) -> None:
        self.rate = rate
        self.warn_after, self.drop_after = warn_after, drop_after
        self.tokens = rate.burst
        self._last = now
        self._over_since: float | None = None  # when this episode of over-spending began
        self._warned = False

    def take(self, now: float) -> Verdict:
        """Spend one token at monotonic time `now`."""
        rate = self.rate
        self.tokens = min(rate.burst, self.tokens + (now - self._last) * rate.rate)
        self._last = now
        if self.tokens >= rate.burst / 2:
            self._over_since, self._warned = None, False  # they paused: a new episode
        self.tokens -= 1
        if self.tokens >= 0:
            return Verdict(Step.OK)
        if self._over_since is None:
            self._over_since = now
        until = now - self.tokens / rate.rate  # when the debt is paid
        over = now - self._over_since
        if over >= self.drop_after:
            return Verdict(Step.DROP, until)
        if over >= self.warn_after and not self._warned:
            self._warned = True
            return Verdict(Step.WARN, until)
        return Verdict(Step.SLOW, until)


class Budgets:
    """The buckets of every member, made when first charged."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self._buckets: dict[tuple[int, Kind], TokenBucket] = {}

    def take(self, who: int, kind: Kind, now: float) -> Verdict:
        """Charge member `who` one token of `kind`."""
        bucket = self._buckets.get((who, kind))
        if bucket is None:
            limits = self.limits
            bucket = TokenBucket(limits.of(kind), now, limits.warn_after, limits.drop_after)
            self._buckets[(who, kind)] = bucket
        return bucket.take(now)

    def forget(self, who: int) -> None:
        """Member `who` is gone."""
        for kind in Kind:
            self._buckets.pop((who, kind), None)


J = TypeVar("J")


class FairQueue(Generic[J]):
    """Jobs of many members, one per member at a time, members in turn, at most `running` out at once."""

    def __init__(self, running: int = 2, waiting: int = 64) -> None:
        self.running = running
        self.waiting = waiting  # per member
        self._queues: dict[int, collections.deque[J]] = {}
        self._turns: collections.deque[int] = collections.deque()  # members with a job waiting, not busy
        self._busy: set[int] = set()  # members with a job out (gone members too, until it comes back)

    def add(self, who: int, job: J) -> bool:
        """Queue `job` for member `who`; False if they have `waiting` queued already."""
        queue = self._queues.setdefault(who, collections.deque())
        if len(queue) >= self.waiting:
            return False
        queue.append(job)
        if len(queue) == 1 and who not in self._busy:
            self._turns.append(who)
        return True

    def done(self, who: int) -> None:
        """Member `who`'s job came back: their next may go, after everyone else's turn."""
        self._busy.discard(who)
        if self._queues.get(who):
            self._turns.append(who)

    def forget(self, who: int) -> None:
        """Member `who` is gone: throw their waiting jobs away (one out still holds its slot)."""
        self._queues.pop(who, None)
        if who in self._turns:
            self._turns.remove(who)

    def start(self) -> list[J]:
        """The jobs to hand to the workers now."""
        started: list[J] = []
        while self._turns and len(self._busy) < self.running:
            who = self._turns.popleft()
            started.append(self._queues[who].popleft())
            self._busy.add(who)
        return started

    def queued(self, who: int) -> int:
        """How many of member `who`'s jobs wait (not counting one out)."""
        return len(self._queues.get(who, ()))
