"""The host's rules, sans-I/O: events about members in, actions for the loop out.

How this works
--------------
`Room` decides everything about the chat itself: who may join (no ban, the
version, the password, a valid name, a free variant of a taken name), the order
of every message by its sequence number, the history a newcomer is shown, the
online list, one-time codes, the `!cmd` queue of each member, and who is told
what when someone leaves, is kicked or the host stops.  It never touches a
socket, a thread, a disk or a clock: the loop (`server.py`) tells it what
happened, with the time, and carries out the actions it returns, in order:

`Send`/`Reply` (bytes for one connection; a `Reply` goes through its protocol
state machine), `Broadcast`, `Record` (history on disk), `Joined`, `HangUp`
(close once what is queued is sent) or `Close` (now), `Run` (a job for a
worker, handed out fairly by `room_requests.Requests`; its result comes back through
`command_finished` or `job_done`), `Pause` (do not read a member over budget,
or a guesser, until then: `spend`, `opened`) and `Log`; `actions.py` has each.

Connections are named by an integer the loop chooses (`ConnectionId`); who is still
there is `liveness.py`'s, who may knock (guesses, bans) `gate.py`'s.  `tests/test_room.py`
drives all of this with no network at all.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import ClassVar

from . import protocol
from .actions import (
    Action,
    Broadcast,
    Close,
    CloseReason,
    CommandJob,
    ConnectionId,
    HangUp,
    Job,
    Joined,
    Log,
    Pause,
    Record,
    Reply,
    Send,
)
from .budget import KIND_OF, Budgets, Limits, Step
from .commands import CommandOutcome
from .gate import BANNED_SENTENCE, BANNED_TRIES, BANNED_YOU, WRONG_PASSWORDS, Ban, Bans, Guesses, Password
from .hostlog import LogEvent, LogKind
from .liveness import KeepAlive, Openers, host_of
from .names import skeleton
from .protocol import (
    ErrorReply,
    Event,
    Goodbye,
    Hello,
    ListFiles,
    ListOnline,
    Notice,
    NoticeKind,
    OnlineList,
    Ping,
    Pong,
    ProtocolError,
    RefusalKind,
    Refused,
    RequestQR,
    RunCommand,
    Say,
    VerifyCode,
    Welcome,
)
from .qr import CodeBook
from .room_requests import Requests
from .storage import HistoryEntry, HistoryStatus, history_event

HISTORY_REPLAY = 50
SLOW_DOWN = "You are sending too fast: slow down, or you will be disconnected."
SLOW_DOWN_FRAME = protocol.encode_trusted(ErrorReply(message=SLOW_DOWN))
NOT_READING = "not reading (outbound queue full)"
KICKED_SENTENCE = "The host removed you from the chat."
_PUT_OUT_REASONS = {
    NoticeKind.KICKED: CloseReason.KICKED,
    NoticeKind.TIMED_OUT: CloseReason.TIMED_OUT,
    NoticeKind.DROPPED: CloseReason.DROPPED,
}
PING, PONG = protocol.encode_trusted(Ping()), protocol.encode_trusted(Pong())


# --- the room ----------------------------------------------------------------------------


@dataclass(eq=False)
class _Member:
    who: ConnectionId
    name: str
    address: str


class Room:
    """The chat's rules: join, rename, refusals, order, history, online list, commands, codes."""

    def __init__(
        self,
        *,
        password: str = "",
        host_label: str = "",
        last_seq: int = 0,
        history: Iterable[HistoryEntry] = (),
        codes: CodeBook | None = None,
        keepalive: KeepAlive | None = None,
        openers: Openers | None = None,
        limits: Limits | None = None,
        bans: Bans | None = None,
        guesses: Guesses | None = None,
    ) -> None:
        self._password = Password(password)
        self._host_label = host_label[:64]
        self._seq = last_seq
        self._recent: collections.deque[HistoryEntry] = collections.deque(history, maxlen=HISTORY_REPLAY)
        self.requests = Requests(codes)  # commands, file lists, codes, and the fair queue of their jobs
        self.codes = self.requests.codes
        self._members: dict[str, _Member] = {}  # join order (dicts keep insertion order)
        self._by_id: dict[ConnectionId, _Member] = {}
        # Public so the loop can say what it read (keepalive.heard) and when descriptors run out (openers).
        self.openers = openers if openers is not None else Openers()  # not yet said hello
        self.keepalive = keepalive if keepalive is not None else KeepAlive()
        self.budgets = Budgets(limits)
        self.bans = bans if bans is not None else Bans()  # gate.py: who is kept out, and guesses slowed
        self.guesses = guesses if guesses is not None else Guesses()
        self.stopping = False

    # --- what the loop asks -------------------------------------------------------------

    def online(self) -> list[str]:
        """Names of the members, in join order."""
        return list(self._members)

    def name_of(self, who: ConnectionId) -> str:
        """The member name of connection `who` ('' before it joined or after it left)."""
        member = self._by_id.get(who)
        return member.name if member else ""

    # --- connections ---------------------------------------------------------------------

    def opened(self, who: ConnectionId, address: str, mono: float) -> list[Action]:
        """A connection arrived: HELLO_TIMEOUT seconds to say hello; one too many from its address: closed;
        from an address that guessed wrong too often: not even read for a while (gate.py)."""
        if not self.openers.add(who, address, mono):
            return [Close(who, CloseReason.REFUSED)]
        if ready := self.guesses.arrived(who, address, mono):
            self.openers.delay(who, ready)
            return [Pause(who, ready)]
        return []

    def tick(self, mono: float) -> list[Action]:
        """Time passed (monotonic clock): close connections that never said hello."""
        return [Close(who, CloseReason.NO_GREETING) for who in self.openers.late(mono)]

    def receive(self, who: ConnectionId, event: Event, now: float) -> list[Action]:
        """A chat event from connection `who`, at wall-clock time `now`."""
        handler = self._HANDLERS.get(type(event))
        if handler is None:
            raise ProtocolError(f"unexpected {event.TYPE!r}")
        return handler(self, who, event, now)

    def closed(self, who: ConnectionId, reason: CloseReason, now: float) -> list[Action]:
        """Connection `who` is gone; tell the others if it was a member."""
        opener = self.openers.remove(who)
        self.keepalive.forget(who)
        self.guesses.forget(who)
        member = self._by_id.pop(who, None)
        self._forget(who)
        if member is None:
            if reason is CloseReason.DROPPED and opener:
                return [Log(LogEvent(now, LogKind.DROPPED, address=opener, reason=NOT_READING))]
            return []
        del self._members[member.name]
        actions: list[Action] = []
        if reason is CloseReason.DROPPED:
            actions.append(Log(LogEvent(now, LogKind.DROPPED, member=member.name, reason=NOT_READING)))
        if not self.stopping and reason is not CloseReason.KICKED:
            actions += self._announce(
                NoticeKind.DROPPED if reason is CloseReason.DROPPED else NoticeKind.LEAVE, now, member.name
            )
        actions.append(Log(LogEvent(now, LogKind.LEAVE, member=member.name, address=member.address)))
        actions.append(self._count(now))
        return actions

    # --- the host's own acts -----------------------------------------------------------

    def kick(self, name: str, now: float) -> list[Action]:
        """Put a member out: everyone is told, and their name is free at once."""
        member = self._members.get(name)
        if member is None:
            return []
        log = LogEvent(now, LogKind.KICKED, member=name, address=member.address)
        return self._put_out(member, NoticeKind.KICKED, log, KICKED_SENTENCE, now)

    def ban(self, name: str, now: float) -> list[Action]:
        """Ban a member's address: they, and every member from that address, are put out; [] if no such member."""
        member = self._members.get(name)
        if member is None:
            return []
        host = host_of(member.address)
        self.bans.add(Ban(host, name, now))
        actions: list[Action] = []
        for other in [m for m in self._members.values() if host_of(m.address) == host]:
            log = LogEvent(now, LogKind.BANNED, member=other.name, address=host)
            actions += self._put_out(other, NoticeKind.KICKED, log, BANNED_YOU, now)
        return actions

    def unban(self, address: str, now: float) -> list[Action]:
        """Lift the ban on `address` (with or without its port); [] if it was not banned."""
        lifted = self.bans.lift(address)
        return [Log(LogEvent(now, LogKind.UNBANNED, address=lifted.address))] if lifted else []

    def shutdown(self, now: float) -> list[Action]:
        """The host is stopping: tell everyone (the notice is stored, so its seq is never reused)."""
        self.stopping = True
        return [Log(LogEvent(now, LogKind.STOPPING)), *self._announce(NoticeKind.SHUTDOWN, now)]

    def history_status(self, status: HistoryStatus, now: float) -> list[Action]:
        """The history stopped (or started again) being saved: one log line, and every member is told."""
        if status.saving:
            log = LogEvent(now, LogKind.HISTORY_SAVED, count=status.lost)
            lost = f"{status.lost} entries were lost" if status.lost else "nothing was lost"
            sentence = f"The host is saving the chat history again; {lost}."
        else:
            log = LogEvent(now, LogKind.HISTORY_FAILED, reason=status.reason, count=status.lost)
            sentence = f"The host cannot save the chat history ({status.reason}); the chat goes on."
        return [Log(log), Broadcast(protocol.encode(ErrorReply(message=sentence[:4000])))]

    def shared(self, member: str, filename: str, size: int, now: float) -> list[Action]:
        """A member's upload is in the shared folder: announce it."""
        return self._announce(NoticeKind.SHARE, now, member, filename, size)

    def command_finished(self, job: CommandJob, outcome: CommandOutcome, now: float) -> list[Action]:
        """A worker ran `job`: answer the member, keep their folder, start the next job in turn."""
        name = self.name_of(job.to)
        if not name:  # left meanwhile: nobody to answer, nothing of theirs waits
            return self.requests.job_done(job)
        return self.requests.command_finished(job, name, outcome, now)

    def job_done(self, job: Job) -> list[Action]:
        """A worker gave `job` back: its slot goes to the next member in turn."""
        return self.requests.job_done(job)

    def spend(self, who: ConnectionId, event: Event, now: float, mono: float) -> list[Action]:
        """Charge `event` to its sender's budget: [] within it, else slow them, then tell, then drop them."""
        kind = KIND_OF.get(type(event))
        member = self._by_id.get(who)
        if kind is None or member is None:
            return []
        verdict = self.budgets.take(who, kind, mono)
        if verdict.step is Step.OK:
            return []
        if verdict.step is not Step.DROP:  # slowed; told once, when it goes on
            told: list[Action] = [Send(who, SLOW_DOWN_FRAME)] if verdict.step is Step.WARN else []
            return [*told, Pause(who, verdict.until)]
        reason = f"sent {kind} too fast for too long (more than {self.budgets.limits.of(kind).rate:g} a second)"
        log = LogEvent(now, LogKind.DROPPED, member=member.name, address=member.address, reason=reason)
        return self._put_out(member, NoticeKind.DROPPED, log, f"You were disconnected: you {reason}.", now)

    def request_failed(self, who: ConnectionId, ref: int, reason: str, now: float) -> list[Action]:
        """A worker could not do what a member asked: they get a sentence, the log a line."""
        name = self.name_of(who)
        return self.requests.failed(who, name, ref, reason, now) if name else []

    # --- who is still there (liveness.py has the rules) -----------------------------------

    def keep_alive(self, mono: float, now: float) -> list[Action]:
        """Once a second: ping members silent for a while, time out those silent too long, forget quiet guessers."""
        self.guesses.tick(mono)
        ping, gone = self.keepalive.due(mono, self._by_id)
        actions: list[Action] = [Send(who, PING) for who in ping]
        if problem := self.bans.problem:  # the ban list was damaged: said once, when the host runs
            self.bans.problem = None
            actions.append(Log(LogEvent(now, problem.kind, filename=problem.filename, reason=problem.reason)))
        silent = f"{self.keepalive.timeout:g} s"
        sentence = f"The host heard nothing from you for {silent}, so you were disconnected (timed out)."
        for member in [self._by_id[who] for who in gone]:
            log = LogEvent(now, LogKind.DROPPED, member=member.name, reason=f"timed out (nothing for {silent})")
            actions += self._put_out(member, NoticeKind.TIMED_OUT, log, sentence, now)
        return actions

    # --- handlers ------------------------------------------------------------------------

    def _on_hello(self, who: ConnectionId, event: Hello, now: float) -> list[Action]:
        address = self.openers.remove(who) or ""
        if address in self.bans:  # before anything else: a banned address learns nothing of the room
            kind = RefusalKind.BANNED if event.version == protocol.PROTOCOL_VERSION else RefusalKind.OTHER
            return self._refuse(who, address, now, BANNED_SENTENCE, kind, BANNED_TRIES)
        if event.version != protocol.PROTOCOL_VERSION:
            return self._refuse(
                who,
                address,
                now,
                f"This host speaks mmchat protocol {protocol.PROTOCOL_VERSION} and you speak "
                f"{event.version}: please use the same mmchat version as the host.",
            )
        if refusal := self._password.refusal(event.password):  # compared in constant time
            return self._refuse(who, address, now, *refusal, WRONG_PASSWORDS)
        self.guesses.accepted(who)  # the right password: its address starts afresh
        try:
            wanted = protocol.check_member_name(event.member)
        except ValueError as exc:
            return self._refuse(who, address, now, str(exc))
        name = self._free_variant(wanted)
        member = _Member(who, name, address)
        welcome = Welcome(version=protocol.PROTOCOL_VERSION, member=name, renamed=name != wanted, host=self._host_label)
        actions: list[Action] = [Reply(who, welcome)]
        if self._recent:
            replay = (history_event(entry) for entry in self._recent)
            frames = b"".join(protocol.encode_trusted(event) for event in replay if event is not None)
            actions.append(Send(who, frames))
        self._members[name] = member
        self._by_id[who] = member
        actions.append(Joined(who, name))
        asked = wanted if name != wanted else ""
        actions.append(Log(LogEvent(now, LogKind.JOIN, member=name, address=address, line=asked)))
        actions.append(self._count(now))
        return actions + self._announce(NoticeKind.JOIN, now, name)

    def say(self, who: ConnectionId, text: str, now: float) -> list[Action]:
        """A chat line from connection `who` (what `receive` does for a Say, without the dispatch)."""
        member = self._by_id.get(who)
        if member is None or not text.strip():
            return []
        self._seq += 1
        entry = HistoryEntry(self._seq, now, "message", member.name, text)
        self._recent.append(entry)
        return [Broadcast(protocol.encode_chat_message(entry.seq, now, member.name, text)), Record(entry)]

    def _on_say(self, who: ConnectionId, event: Say, now: float) -> list[Action]:
        return self.say(who, event.text, now)

    def _on_online(self, who: ConnectionId, event: ListOnline, now: float) -> list[Action]:
        return [Send(who, protocol.encode_trusted(OnlineList(members=tuple(self._members), ref=event.ref)))]

    def _on_files(self, who: ConnectionId, event: ListFiles, now: float) -> list[Action]:
        return self.requests.files(who, event.ref) if who in self._by_id else []

    def _on_command(self, who: ConnectionId, event: RunCommand, now: float) -> list[Action]:
        name = self.name_of(who)  # '' once kicked, while still being hung up on
        return self.requests.command(who, name, event.line, event.ref, now) if name else []

    def _on_qr(self, who: ConnectionId, event: RequestQR, now: float) -> list[Action]:
        name = self.name_of(who)
        return self.requests.qr(who, name, event.ref, now) if name else []

    def _on_verify(self, who: ConnectionId, event: VerifyCode, now: float) -> list[Action]:
        name = self.name_of(who)
        return self.requests.verify(who, name, event.code, event.ref, now) if name else []

    def _on_goodbye(self, who: ConnectionId, event: Goodbye, now: float) -> list[Action]:
        return [Close(who, CloseReason.LEFT)]

    _HANDLERS: ClassVar[dict[type, Callable[..., list[Action]]]] = {
        Hello: _on_hello,
        Say: _on_say,
        ListOnline: _on_online,
        ListFiles: _on_files,
        RunCommand: _on_command,
        RequestQR: _on_qr,
        VerifyCode: _on_verify,
        Goodbye: _on_goodbye,
        Ping: lambda self, who, event, now: [Send(who, PONG)],
        Pong: lambda self, who, event, now: [],  # it was heard: that is all a pong is for
    }

    # --- helpers -------------------------------------------------------------------------

    def _refuse(
        self, who: ConnectionId, address: str, now: float, reason: str,
        kind: RefusalKind = RefusalKind.OTHER, counted: str = "",
    ) -> list[Action]:  # fmt: skip
        """Refuse a hello; a `counted` refusal is a try its address pays for (gate.Guesses), logged per burst."""
        logged, burst = self.guesses.refused(who, now, counted) if counted else (True, None)
        said = [LogEvent(now, LogKind.JOIN_REFUSED, address=address, reason=reason)] if logged else []
        logs: list[Action] = [Log(event) for event in (*said, burst) if event is not None]
        return [*logs, Reply(who, Refused(reason=reason, kind=kind)), HangUp(who, CloseReason.REFUSED)]

    def _put_out(self, member: _Member, kind: NoticeKind, log: LogEvent, sentence: str, now: float) -> list[Action]:
        """Remove a member now (kicked, timed out, flooding): the log, everyone, and they themselves are told."""
        del self._by_id[member.who], self._members[member.name]
        self._forget(member.who)  # their budgets and waiting work go with them
        tell = Reply(member.who, ErrorReply(message=sentence, fatal=True))
        reason = _PUT_OUT_REASONS[kind]
        return [Log(log), *self._announce(kind, now, member.name), tell, HangUp(member.who, reason), self._count(now)]

    def _free_variant(self, wanted: str) -> str:
        # Compared by TR 39 skeleton: "аlice" (Cyrillic а) is taken while "alice" is online.
        taken = {skeleton(online) for online in self._members}
        name, n = wanted, 2
        while skeleton(name) in taken:
            suffix = f"-{n}"
            name = wanted[: protocol.MAX_NAME_CHARS - len(suffix)] + suffix
            n += 1
        return name

    def _forget(self, who: ConnectionId) -> None:
        self.budgets.forget(who)
        self.requests.forget(who)

    def _announce(
        self, kind: NoticeKind, now: float, member: str = "", filename: str = "", size: int = 0
    ) -> list[Action]:
        self._seq += 1
        notice = Notice(seq=self._seq, ts=now, kind=kind, member=member, filename=filename, size=size)
        entry = HistoryEntry(notice.seq, now, kind, member, "", filename, size)
        self._recent.append(entry)
        return [Broadcast(protocol.encode_trusted(notice)), Record(entry)]

    def _count(self, now: float) -> Log:
        return Log(LogEvent(now, LogKind.COUNT, count=len(self._members)))
