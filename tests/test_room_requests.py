"""The room's requests (mmchat.room_requests) without sockets: folders, fair turns, codes, failures."""

from __future__ import annotations

from mmchat.actions import CommandJob, FileListJob, Log, QRJob, Run
from mmchat.commands import CommandOutcome
from mmchat.hostlog import LogKind
from mmchat.protocol import CommandResult, ErrorReply, VerifyResult
from mmchat.qr import CodeBook
from mmchat.room_requests import MAX_RUNNING_JOBS, MAX_WAITING_COMMANDS, Requests
from tests.protocol_helpers import decode_one

NOW = 1_700_000_000.0


def jobs(actions):
    return [a.job for a in actions if isinstance(a, Run)]


def test_a_command_runs_in_the_folder_the_last_one_left_and_is_answered():
    requests = Requests()
    (cd,) = jobs(requests.command(1, "alice", "cd docs", 1, NOW))
    assert requests.command(1, "alice", "ls", 2, NOW)[1:] == []  # logged, but waits for cd
    done = requests.command_finished(cd, "alice", CommandOutcome(True, "", "docs"), NOW)
    assert decode_one(done[0].frame) == CommandResult(line="cd docs", output="", allowed=True, ref=1)
    (ls,) = jobs(done)
    assert isinstance(ls, CommandJob) and (ls.line, ls.cwd) == ("ls", "docs")


def test_a_refusal_is_logged_with_the_commands_id():
    requests = Requests()
    actions = requests.command(1, "alice", "rm x", 1, NOW)
    logged = next(a.event for a in actions if isinstance(a, Log))
    (job,) = jobs(actions)
    refused = requests.command_finished(
        job, "alice", CommandOutcome(False, "No privileges to run the command", ""), NOW
    )
    log = next(a.event for a in refused if isinstance(a, Log))
    assert (log.kind, log.command_id) == (LogKind.COMMAND_REFUSED, logged.command_id)


def test_members_take_turns_and_only_a_few_jobs_are_out_at_once():
    requests = Requests()
    out = []
    for who in (1, 1, 1, 2, 3):
        out += jobs(requests.files(who, ref=who))
    assert [j.to for j in out] == [1, 2][:MAX_RUNNING_JOBS]
    assert [j.to for j in jobs(requests.job_done(out[0]))] == [3]  # member 3's turn before member 1's second


def test_too_many_waiting_jobs_get_a_sentence():
    requests = Requests()
    for ref in range(MAX_WAITING_COMMANDS + 1):
        requests.files(1, ref)
    (refusal,) = requests.files(1, 999)
    reply = decode_one(refusal.frame)
    assert isinstance(reply, ErrorReply) and reply.ref == 999 and "waiting already" in reply.message


def test_a_member_who_left_loses_their_queue_and_their_folder():
    requests = Requests()
    (first,) = jobs(requests.files(1, 1))
    requests.files(1, 2)
    requests.command_finished(CommandJob(1, 9, "cd docs", "", 1), "alice", CommandOutcome(True, "", "docs"), NOW)
    requests.forget(1)
    assert jobs(requests.job_done(first)) == []
    (job,) = jobs(requests.command(1, "alice-again", "pwd", 3, NOW))
    assert job.cwd == ""


def test_codes_are_issued_to_the_asker_and_verify_once():
    requests = Requests(CodeBook(clock=lambda: 0.0))
    (job,) = jobs(requests.qr(1, "alice", 4, NOW))
    assert isinstance(job, QRJob) and job.expires_in == 60
    (log, answer) = requests.verify(2, "bob", job.code, 5, NOW)
    assert log.event.line == "alice"
    assert decode_one(answer.frame) == VerifyResult(code=job.code, valid=True, owner="alice", ref=5)
    assert decode_one(requests.verify(2, "bob", job.code, 6, NOW)[1].frame).valid is False


def test_a_failed_request_is_a_sentence_and_a_log_line():
    log, reply = Requests().failed(1, "alice", 7, "disk on fire", NOW)
    assert log.event.kind is LogKind.REQUEST_FAILED
    assert decode_one(reply.frame) == ErrorReply(message="The host could not do that: disk on fire", ref=7)


def test_a_file_list_is_work_for_a_worker():
    assert jobs(Requests().files(1, 3)) == [FileListJob(1, 3)]
