"""The room's requests, sans-I/O: `!cmd` lines in each member's folder, the file list, one-time codes.

The room (`room.py`) hands each request here with the member's name; what is
slow becomes a job for a worker, and the jobs of all members are handed out
fairly (`budget.FairQueue`: members take turns, one job each at a time, a
bounded number waiting).  A member's folder changes only here, on the loop
thread, when a command's outcome comes back, and a command always runs in the
folder the commands before it left.
"""

from __future__ import annotations

import dataclasses

from . import protocol
from .actions import Action, CommandJob, ConnectionId, FileListJob, Job, Log, QRJob, Run, Send
from .budget import FairQueue
from .commands import CommandOutcome
from .hostlog import LogEvent, LogKind
from .protocol import CommandResult, ErrorReply, VerifyResult
from .qr import CodeBook

MAX_WAITING_COMMANDS = 64  # per member; more is refused with a sentence
MAX_RUNNING_JOBS = 2  # jobs out with the workers at once (host_jobs.WORKERS threads)


class Requests:
    """Commands, file lists and codes for the room's members, and the fair queue of their jobs."""

    def __init__(self, codes: CodeBook | None = None) -> None:
        self.codes = codes if codes is not None else CodeBook()
        self._jobs: FairQueue[Job] = FairQueue(MAX_RUNNING_JOBS, MAX_WAITING_COMMANDS)
        self._folders: dict[ConnectionId, str] = {}  # each member's current folder ('' = the share)
        self._command_ids = 0

    def files(self, who: ConnectionId, ref: int) -> list[Action]:
        """The shared-file list reads the disk: a job."""
        return self._queue(who, FileListJob(who, ref))

    def command(self, who: ConnectionId, name: str, line: str, ref: int, now: float) -> list[Action]:
        """A `!cmd` line: logged with its id (a refusal names the same id), then queued."""
        self._command_ids += 1
        job = CommandJob(who, ref, line, self._folders.get(who, ""), self._command_ids)
        log = Log(LogEvent(now, LogKind.COMMAND, member=name, line=line, command_id=job.command_id))
        queued = self._queue(who, job)
        return queued if queued and isinstance(queued[0], Send) else [log, *queued]

    def qr(self, who: ConnectionId, name: str, ref: int, now: float) -> list[Action]:
        """A one-time code for `name`, drawn by a worker."""
        code = self.codes.issue(name)
        job = QRJob(who, ref, code, int(self.codes.ttl))
        return [Log(LogEvent(now, LogKind.QR_ISSUED, member=name)), *self._queue(who, job)]

    def verify(self, who: ConnectionId, name: str, code: str, ref: int, now: float) -> list[Action]:
        """Check a code: valid the first time, from its owner's issue, within its lifetime."""
        owner = self.codes.verify(code.strip())
        reply = VerifyResult(code=code, valid=owner is not None, owner=owner or "", ref=ref)
        return [
            Log(LogEvent(now, LogKind.CODE_VERIFIED, member=name, line=owner or "")),
            Send(who, protocol.encode_trusted(reply)),
        ]

    def command_finished(self, job: CommandJob, name: str, outcome: CommandOutcome, now: float) -> list[Action]:
        """A command's outcome for member `name` (still online): answer, keep their folder, go on."""
        self._folders[job.to] = outcome.cwd
        output = outcome.output[: protocol.MAX_OUTPUT_CHARS]
        result = CommandResult(line=job.line, output=output, allowed=outcome.allowed, ref=job.ref)
        actions: list[Action] = [Send(job.to, protocol.encode_trusted(result))]
        if not outcome.allowed:
            event = LogEvent(
                now, LogKind.COMMAND_REFUSED, member=name, line=job.line, reason=outcome.output,
                command_id=job.command_id,
            )  # fmt: skip
            actions.append(Log(event))
        return actions + self.job_done(job)

    def job_done(self, job: Job) -> list[Action]:
        """A worker gave `job` back: its slot goes to the next member in turn."""
        self._jobs.done(job.to)
        return self._start()

    def failed(self, who: ConnectionId, name: str, ref: int, reason: str, now: float) -> list[Action]:
        """A worker could not do what `name` asked: they get a sentence, the log a line."""
        reply = ErrorReply(message=f"The host could not do that: {reason}", ref=ref)
        return [
            Log(LogEvent(now, LogKind.REQUEST_FAILED, member=name, reason=reason)),
            Send(who, protocol.encode_trusted(reply)),
        ]

    def forget(self, who: ConnectionId) -> None:
        """`who` left: their waiting work is thrown away and their folder forgotten."""
        self._jobs.forget(who)
        self._folders.pop(who, None)

    def _queue(self, who: ConnectionId, job: Job) -> list[Action]:
        if not self._jobs.add(who, job):
            message = f"You have {MAX_WAITING_COMMANDS} requests waiting already: wait for their answers first."
            return [Send(who, protocol.encode_trusted(ErrorReply(message=message, ref=job.ref)))]
        return self._start()

    def _start(self) -> list[Action]:
        runs: list[Action] = []
        for job in self._jobs.start():
            if isinstance(job, CommandJob) and job.to in self._folders:
                # The folder is the member's as it is now, after the commands before this one ran.
                job = dataclasses.replace(job, cwd=self._folders[job.to])
            runs.append(Run(job))
        return runs
