"""The host's rules (mmchat.room) with no network, no threads and no clock: events in, actions out."""

from __future__ import annotations

import pytest

from mmchat import protocol
from mmchat.actions import (
    Broadcast,
    Close,
    CloseReason,
    CommandJob,
    FileListJob,
    HangUp,
    Joined,
    Log,
    Pause,
    QRJob,
    Record,
    Reply,
    Run,
    Send,
)
from mmchat.budget import DROP_AFTER, WARN_AFTER, Limits, Rate
from mmchat.commands import CommandOutcome
from mmchat.hostlog import LogKind
from mmchat.liveness import HELLO_TIMEOUT, KeepAlive, Openers
from mmchat.protocol import (
    ChatMessage,
    CommandResult,
    ErrorReply,
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
    TransferEnd,
    VerifyCode,
    VerifyResult,
    Welcome,
)
from mmchat.qr import CodeBook
from mmchat.room import HISTORY_REPLAY, SLOW_DOWN, Room
from mmchat.room_requests import MAX_RUNNING_JOBS, MAX_WAITING_COMMANDS
from mmchat.storage import HistoryEntry, HistoryStatus
from tests.protocol_helpers import decode_all

NOW = 1_700_000_000.0


decode = decode_all  # every event in one or several frames joined


def of(actions, kind):
    return [a for a in actions if isinstance(a, kind)]


def logs(actions):
    return [a.event for a in of(actions, Log)]


def broadcasts(actions):
    return [event for a in of(actions, Broadcast) for event in decode(a.frame)]


def sent(actions, to):
    return [event for a in of(actions, Send) if a.to == to for event in decode(a.frame)]


def hello(name, version=protocol.PROTOCOL_VERSION, password=""):
    return Hello(version=version, member=name, password=password)


def join(room, who, name, **kwargs):
    room.opened(who, f"10.0.0.{who}:5000", 0.0)
    return room.receive(who, hello(name, **kwargs), NOW)


@pytest.fixture
def room():
    return Room(host_label="testhost", codes=CodeBook(clock=lambda: 0.0))


# --- joining -----------------------------------------------------------------------------


def test_a_member_joins_is_welcomed_and_announced(room):
    actions = join(room, 1, "alice")
    (reply,) = of(actions, Reply)
    assert reply.to == 1 and reply.event == Welcome(protocol.PROTOCOL_VERSION, "alice", False, "testhost")
    assert of(actions, Joined) == [Joined(1, "alice")]
    (notice,) = broadcasts(actions)
    assert isinstance(notice, Notice) and (notice.kind, notice.member, notice.seq) == ("join", "alice", 1)
    assert [r.entry.kind for r in of(actions, Record)] == ["join"]
    join_log, count = logs(actions)
    assert (join_log.kind, join_log.member, join_log.address) == (LogKind.JOIN, "alice", "10.0.0.1:5000")
    assert (count.kind, count.count) == (LogKind.COUNT, 1)
    assert room.online() == ["alice"] and room.name_of(1) == "alice"


def test_a_taken_name_gets_a_free_variant_and_the_log_says_what_was_asked(room):
    join(room, 1, "alice")
    join(room, 2, "alice")
    actions = join(room, 3, "alice")
    assert of(actions, Reply)[0].event.member == "alice-3" and of(actions, Reply)[0].event.renamed
    assert logs(actions)[0].line == "alice"
    long = "x" * protocol.MAX_NAME_CHARS
    join(room, 4, long)
    renamed = of(join(room, 5, long), Reply)[0].event.member
    assert renamed == "x" * (protocol.MAX_NAME_CHARS - 2) + "-2"
    assert room.online() == ["alice", "alice-2", "alice-3", long, renamed]


@pytest.mark.parametrize(
    "look_alike",
    [
        "\u0430lice",  # Cyrillic а
        "\u0430l\u0456\u0441\u0435",  # four of five letters Cyrillic
        "\uff41\uff4c\uff49\uff43\uff45",  # fullwidth
        "aIice",  # capital I for l
        "a1ice",  # digit one for l
    ],
)
def test_a_name_that_only_looks_like_an_online_name_gets_a_free_variant(room, look_alike):
    join(room, 1, "alice")
    welcome = of(join(room, 2, look_alike), Reply)[0].event
    assert welcome.renamed and welcome.member == look_alike + "-2"
    assert room.online() == ["alice", look_alike + "-2"]


def test_a_look_alike_of_a_free_variant_is_renamed_again(room):
    join(room, 1, "alice")
    join(room, 2, "alice")  # alice-2
    assert of(join(room, 3, "\u0430lice-2"), Reply)[0].event.member == "\u0430lice-2-2"


def test_names_that_differ_in_what_a_person_sees_are_both_kept(room):
    for who, name in enumerate(["alice", "alicé", "Alice", "bob"], start=1):
        assert not of(join(room, who, name), Reply)[0].event.renamed
    assert room.online() == ["alice", "alicé", "Alice", "bob"]


@pytest.mark.parametrize(
    "hidden",
    ["al\u200dice", "al\u200cice", "alice\ufe0f", "alice\u3164", "\u3164", "alice\u115f", "ali\u00adce", "\u202ealice"],
)
def test_a_name_with_invisible_characters_is_refused_with_a_sentence(room, hidden):
    actions = join(room, 1, hidden)
    assert of(actions, Reply)[0].event == Refused(reason="A name may not contain invisible characters.")
    assert room.online() == []


@pytest.mark.parametrize(
    ("kwargs", "reason", "kind"),
    [
        ({"version": 3}, "This host speaks mmchat protocol 5 and you speak 3", RefusalKind.OTHER),  # 3 reads it
        ({"password": "guess"}, "Wrong password.", RefusalKind.WRONG_PASSWORD),
        ({"password": ""}, "This chat needs a password.", RefusalKind.PASSWORD_NEEDED),
    ],
)
def test_refusals_are_sentences_and_hang_up(kwargs, reason, kind):
    room = Room(password="s3cret")
    actions = join(room, 1, "alice", **kwargs)
    (reply,) = of(actions, Reply)
    assert isinstance(reply.event, Refused) and reply.event.reason.startswith(reason)
    assert reply.event.kind is kind
    assert of(actions, HangUp) == [HangUp(1, CloseReason.REFUSED)]
    assert [(e.kind, e.address) for e in logs(actions)] == [(LogKind.JOIN_REFUSED, "10.0.0.1:5000")]
    assert room.online() == [] and not of(actions, Broadcast)


def test_the_right_password_lets_a_member_in():
    room = Room(password="s3cret ☕")
    assert of(join(room, 1, "alice", password="s3cret ☕"), Joined)


def test_a_bad_name_is_refused_with_the_reason(room):
    (reply,) = of(join(room, 1, "  "), Reply)
    assert isinstance(reply.event, Refused) and "name" in reply.event.reason.lower()


def test_a_newcomer_is_shown_the_recent_history_then_joins(room):
    history = [HistoryEntry(i, NOW, "message", "old", f"m{i}") for i in range(1, HISTORY_REPLAY + 11)]
    room = Room(last_seq=len(history), history=history)
    actions = join(room, 1, "alice")
    replay = sent(actions, 1)
    assert len(replay) == HISTORY_REPLAY and all(isinstance(e, ChatMessage) and e.history for e in replay)
    assert [e.text for e in replay][-1] == f"m{HISTORY_REPLAY + 10}"
    # The welcome comes first, then the replay, then the member joins the broadcasts.
    order = [type(a) for a in actions if isinstance(a, Reply | Send | Joined)]
    assert order == [Reply, Send, Joined]
    assert broadcasts(actions)[0].seq == HISTORY_REPLAY + 11  # numbering goes on after a restart


# --- talking -----------------------------------------------------------------------------


def test_messages_are_numbered_in_one_order_and_carry_the_senders_room_name(room):
    join(room, 1, "alice")
    join(room, 2, "alice")  # alice-2 cannot speak as alice: the name is the room's, not the frame's
    first = room.receive(1, Say(text="hi ☕"), NOW)
    second = room.receive(2, Say(text="hello"), NOW + 1)
    (m1,), (m2,) = broadcasts(first), broadcasts(second)
    assert (m1.seq, m1.sender, m1.text) == (3, "alice", "hi ☕")
    assert (m2.seq, m2.sender, m2.ts) == (4, "alice-2", NOW + 1)
    assert [r.entry for r in of(second, Record)] == [HistoryEntry(4, NOW + 1, "message", "alice-2", "hello")]


def test_blank_messages_are_ignored(room):
    join(room, 1, "alice")
    assert room.receive(1, Say(text=" \n\t "), NOW) == []


def test_the_online_list_answers_the_asker_only(room):
    join(room, 1, "alice")
    join(room, 2, "bob")
    actions = room.receive(2, ListOnline(ref=7), NOW)
    assert sent(actions, 2) == [OnlineList(members=("alice", "bob"), ref=7)] and not sent(actions, 1)


def test_an_event_the_room_does_not_handle_is_a_protocol_error(room):
    join(room, 1, "alice")
    with pytest.raises(ProtocolError, match="unexpected 'end'"):
        room.receive(1, TransferEnd(sha256="0" * 64), NOW)


# --- leaving -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reason", "notice"),
    [(CloseReason.LEFT, "leave"), (CloseReason.LOST, "leave"), (CloseReason.DROPPED, "dropped")],
)
def test_the_others_are_told_when_a_member_goes(room, reason, notice):
    join(room, 1, "alice")
    actions = room.closed(1, reason, NOW)
    assert [n.kind for n in broadcasts(actions)] == [notice]
    kinds = [e.kind for e in logs(actions)]
    assert kinds[-2:] == [LogKind.LEAVE, LogKind.COUNT]
    assert (LogKind.DROPPED in kinds) == (reason is CloseReason.DROPPED)
    assert room.online() == [] and room.closed(1, reason, NOW) == []


def test_goodbye_closes_the_connection(room):
    join(room, 1, "alice")
    assert room.receive(1, Goodbye(), NOW) == [Close(1, CloseReason.LEFT)]


def test_a_kicked_member_is_announced_once_and_their_name_is_free_at_once(room):
    join(room, 1, "alice")
    actions = room.kick("alice", NOW)
    assert [n.kind for n in broadcasts(actions)] == ["kicked"]
    assert HangUp(1, CloseReason.KICKED) in actions
    # They are told why in a sentence, and it ends their chat (the Reply closes the protocol state).
    assert of(actions, Reply) == [Reply(1, ErrorReply(message="The host removed you from the chat.", fatal=True))]
    assert actions.index(of(actions, Reply)[0]) < actions.index(HangUp(1, CloseReason.KICKED))
    assert room.online() == [] and room.kick("alice", NOW) == []
    assert room.closed(1, CloseReason.KICKED, NOW) == []  # the connection closing later says nothing more
    assert of(join(room, 2, "alice"), Reply)[0].event.member == "alice"


def test_nobody_is_announced_leaving_while_the_host_stops(room):
    join(room, 1, "alice")
    actions = room.shutdown(NOW)
    assert [n.kind for n in broadcasts(actions)] == ["shutdown"] and of(actions, Record)
    assert logs(actions)[0].kind is LogKind.STOPPING
    assert not broadcasts(room.closed(1, CloseReason.SHUTDOWN, NOW))


def test_a_shared_file_is_announced(room):
    (notice,) = broadcasts(room.shared("alice", "notes.pdf", 1234, NOW))
    assert (notice.kind, notice.member, notice.filename, notice.size) == ("share", "alice", "notes.pdf", 1234)


# --- time ----------------------------------------------------------------------------------


def test_a_connection_that_never_says_hello_is_closed_by_the_monotonic_clock(room):
    room.opened(1, "10.0.0.1:1", mono=100.0)
    room.opened(2, "10.0.0.2:1", mono=100.0)
    room.receive(2, hello("bob"), NOW)  # said hello in time: no longer waited for
    assert room.tick(100.0 + HELLO_TIMEOUT - 0.1) == []
    assert room.tick(100.0 + HELLO_TIMEOUT + 0.1) == [Close(1, CloseReason.NO_GREETING)]
    room.closed(1, CloseReason.NO_GREETING, NOW)
    assert room.tick(1e9) == []


# --- commands ------------------------------------------------------------------------------


def run_jobs(actions):
    return [a.job for a in of(actions, Run)]


def test_a_members_commands_run_one_at_a_time_each_in_the_folder_the_last_left(room):
    join(room, 1, "alice")
    first = room.receive(1, RunCommand(line="cd docs", ref=1), NOW)
    (cd,) = run_jobs(first)
    assert (cd.line, cd.cwd) == ("cd docs", "")
    logged = logs(first)[0]
    assert (logged.kind, logged.line, logged.command_id) == (LogKind.COMMAND, "cd docs", cd.command_id)
    assert run_jobs(room.receive(1, RunCommand(line="ls", ref=2), NOW)) == []  # waits for cd
    done = room.command_finished(cd, CommandOutcome(True, "", "docs"), NOW)
    assert sent(done, 1) == [CommandResult(line="cd docs", output="", allowed=True, ref=1)]
    (ls,) = run_jobs(done)
    assert (ls.line, ls.cwd, ls.ref) == ("ls", "docs", 2)


def test_another_members_commands_do_not_wait_for_a_busy_one(room):
    join(room, 1, "alice")
    join(room, 2, "bob")
    assert run_jobs(room.receive(1, RunCommand(line="cat big", ref=1), NOW))
    assert run_jobs(room.receive(2, RunCommand(line="pwd", ref=1), NOW))


def test_a_refused_command_is_logged_with_the_id_of_its_arrival(room):
    join(room, 1, "alice")
    (job,) = run_jobs(room.receive(1, RunCommand(line="rm x", ref=5), NOW))
    actions = room.command_finished(job, CommandOutcome(False, "No privileges to run the command: rm x", ""), NOW)
    (refused,) = logs(actions)
    assert (refused.kind, refused.command_id, refused.line) == (LogKind.COMMAND_REFUSED, job.command_id, "rm x")
    assert sent(actions, 1)[0].allowed is False


def test_a_member_who_left_gets_no_answer_and_their_queue_is_dropped(room):
    join(room, 1, "alice")
    (job,) = run_jobs(room.receive(1, RunCommand(line="cat a", ref=1), NOW))
    room.receive(1, RunCommand(line="cat b", ref=2), NOW)
    room.closed(1, CloseReason.LOST, NOW)
    assert room.command_finished(job, CommandOutcome(True, "a", ""), NOW) == []


def test_too_many_waiting_commands_are_refused_with_a_sentence(room):
    join(room, 1, "alice")
    for ref in range(MAX_WAITING_COMMANDS + 1):  # the first runs, the rest wait
        room.receive(1, RunCommand(line="ls", ref=ref), NOW)
    (reply,) = sent(room.receive(1, RunCommand(line="ls", ref=999), NOW), 1)
    assert isinstance(reply, ErrorReply) and reply.ref == 999 and "wait for their answers" in reply.message


def test_a_failed_request_gets_a_sentence(room):
    join(room, 1, "alice")
    actions = room.request_failed(1, 3, "disk on fire", NOW)
    assert sent(actions, 1) == [ErrorReply(message="The host could not do that: disk on fire", ref=3)]
    assert logs(actions)[0].kind is LogKind.REQUEST_FAILED


def test_a_failed_command_still_lets_the_next_one_run(room):
    join(room, 1, "alice")
    (job,) = run_jobs(room.receive(1, RunCommand(line="cat a", ref=1), NOW))
    room.receive(1, RunCommand(line="pwd", ref=2), NOW)
    room.request_failed(1, 1, "disk on fire", NOW)  # the member was answered with that sentence
    actions = room.job_done(job)  # what the loop does next, as for every failed job
    assert not of(actions, Send) and [j.line for j in run_jobs(actions)] == ["pwd"]


# --- files and codes ----------------------------------------------------------------------


def test_the_file_list_is_work_for_a_worker(room):
    join(room, 1, "alice")
    assert run_jobs(room.receive(1, ListFiles(ref=4), NOW)) == [FileListJob(1, 4)]


def test_a_qr_code_is_issued_to_the_asker_and_verifies_once(room):
    join(room, 1, "alice")
    join(room, 2, "bob")
    actions = room.receive(1, RequestQR(ref=1), NOW)
    (job,) = run_jobs(actions)
    assert isinstance(job, QRJob) and job.to == 1 and job.expires_in == 60 and job.code.startswith("MMC-")
    assert logs(actions)[0].kind is LogKind.QR_ISSUED
    first = room.receive(2, VerifyCode(code=f" {job.code} ", ref=2), NOW)
    assert sent(first, 2) == [VerifyResult(code=f" {job.code} ", valid=True, owner="alice", ref=2)]
    assert logs(first)[0].line == "alice"
    again = room.receive(2, VerifyCode(code=job.code, ref=3), NOW)
    assert sent(again, 2)[0].valid is False


def test_command_jobs_carry_what_the_worker_needs_and_nothing_else():
    job = CommandJob(1, 2, "ls", "docs", 3)
    with pytest.raises(AttributeError):
        job.cwd = "elsewhere"  # frozen: a worker cannot change a member's folder


# --- keep-alive and connections that never say hello (a fake clock: plain numbers) ----------


def keepalive_room(**kwargs):
    return Room(keepalive=KeepAlive(ping_after=15.0, timeout=45.0), openers=Openers(**kwargs))


def test_a_silent_member_is_pinged_once_then_timed_out_and_everyone_sees_it():
    room = keepalive_room()
    join(room, 1, "alice")
    join(room, 2, "bob")
    room.keepalive.heard(1, 0.0)
    room.keepalive.heard(2, 0.0)
    assert room.keep_alive(14.0, NOW) == []
    pings = room.keep_alive(15.0, NOW)
    assert [(a.to, decode(a.frame)) for a in of(pings, Send)] == [(1, [Ping()]), (2, [Ping()])]
    assert room.keep_alive(20.0, NOW) == []  # one ping per silence, not one a second
    room.keepalive.heard(2, 30.0)  # bob answers (any bytes count)
    actions = room.keep_alive(45.0, NOW)
    (notice,) = broadcasts(actions)
    assert (notice.kind, notice.member) == (NoticeKind.TIMED_OUT, "alice")
    (reply,) = of(actions, Reply)
    assert reply.to == 1 and reply.event.fatal
    assert reply.event.message == "The host heard nothing from you for 45 s, so you were disconnected (timed out)."
    assert HangUp(1, CloseReason.TIMED_OUT) in actions
    (dropped, count) = logs(actions)
    assert (dropped.kind, dropped.member, dropped.reason) == (LogKind.DROPPED, "alice", "timed out (nothing for 45 s)")
    assert count.count == 1 and room.online() == ["bob"]
    assert room.closed(1, CloseReason.TIMED_OUT, NOW) == []  # the hang-up later says nothing more
    assert [a.to for a in of(actions, Send)] == [2]  # bob, quiet since 30, is asked again


def test_a_ping_is_answered_with_a_pong_and_a_pong_needs_nothing():
    room = keepalive_room()
    join(room, 1, "alice")
    assert sent(room.receive(1, Ping(), NOW), 1) == [Pong()]
    assert room.receive(1, Pong(), NOW) == []


def test_a_member_who_left_is_forgotten_by_the_keepalive():
    room = keepalive_room()
    join(room, 1, "alice")
    room.keepalive.heard(1, 0.0)
    room.closed(1, CloseReason.LOST, NOW)
    assert room.keep_alive(100.0, NOW) == []


def test_an_address_may_have_a_few_connections_waiting_for_hello_and_no_more():
    room = keepalive_room(per_address=3)
    assert [room.opened(who, f"10.0.0.9:{4000 + who}", 0.0) for who in (1, 2, 3)] == [[], [], []]
    assert room.opened(4, "10.0.0.9:4004", 0.0) == [Close(4, CloseReason.REFUSED)]
    assert room.opened(5, "10.0.0.8:4000", 0.0) == []  # another address is not held up
    room.receive(1, hello("alice"), NOW)  # one of them joins: its place is free again
    assert room.opened(6, "10.0.0.9:4006", 0.0) == []
    room.closed(2, CloseReason.LOST, NOW)
    assert room.opened(7, "10.0.0.9:4007", 0.0) == []
    assert room.opened(8, "[fe80::1]:1", 0.0) == [] and room.opened(9, "[fe80::1]:2", 0.0) == []


def test_under_descriptor_pressure_hello_deadlines_shrink_and_the_most_crowded_address_is_shed_first():
    room = keepalive_room(hello_timeout=15.0, pressed_timeout=3.0)
    room.opened(1, "10.0.0.5:1", 0.0)
    room.opened(2, "10.0.0.7:1", 1.0)
    room.opened(3, "10.0.0.7:2", 2.0)
    assert room.tick(10.0) == []
    assert room.openers.shed() == 2  # the oldest of the address with the most waiting
    room.openers.press(True, 10.0)
    room.opened(4, "10.0.0.6:1", 10.5)
    assert room.tick(12.9) == []
    assert {a.to for a in room.tick(13.1)} == {1, 2, 3}  # 3 s from when the pressure began
    assert [a.to for a in room.tick(13.6)] == [1, 2, 3, 4]  # the loop closes them; 4 had 3 s too
    for who in (1, 2, 3, 4):
        room.closed(who, CloseReason.NO_GREETING, NOW)
    assert room.openers.shed() is None and len(room.openers) == 0
    room.openers.press(False, 20.0)
    room.opened(5, "10.0.0.5:2", 20.0)
    assert room.tick(34.0) == [] and room.tick(35.5) == [Close(5, CloseReason.NO_GREETING)]


# --- floods --------------------------------------------------------------------------------


def flood(room, who, event, start, seconds):
    """Send `event` as fast as the loop reads (honouring each Pause) for `seconds`: every batch of actions."""
    t, out = start, []
    while t < start + seconds:
        actions = room.spend(who, event, NOW + t, t)
        out.append((t, actions))
        if of(actions, HangUp):
            break
        pauses = of(actions, Pause)
        t = max([t, *(p.until for p in pauses)])
    return out


def test_within_budget_nothing_happens(room):
    join(room, 1, "alice")
    assert all(room.spend(1, Say(text="hi"), NOW, 0.0) == [] for _ in range(int(Limits().chat.burst)))


def test_a_flooder_is_first_slowed(room):
    join(room, 1, "alice")
    for _ in range(int(Limits().chat.burst)):
        room.spend(1, Say(text="hi"), NOW, 0.0)
    actions = room.spend(1, Say(text="hi"), NOW, 0.0)
    (pause,) = actions
    assert isinstance(pause, Pause) and pause.to == 1 and pause.until == pytest.approx(1 / Limits().chat.rate)


def test_a_flooder_is_then_told_in_a_sentence_once(room):
    join(room, 1, "alice")
    batches = flood(room, 1, ListOnline(ref=1), 0.0, WARN_AFTER + 1)
    told = [(t, sent(a, 1)) for t, a in batches if of(a, Send)]
    assert len(told) == 1 and told[0][1] == [ErrorReply(message=SLOW_DOWN)] and told[0][0] >= WARN_AFTER
    assert room.online() == ["alice"]


def test_a_flooder_is_at_last_dropped_with_a_sentence_and_everyone_sees_it(room):
    join(room, 1, "alice")
    join(room, 2, "bob")
    t, actions = flood(room, 1, Say(text="spam"), 0.0, DROP_AFTER + 5)[-1]
    assert t >= DROP_AFTER and of(actions, HangUp) == [HangUp(1, CloseReason.DROPPED)]
    (reply,) = of(actions, Reply)
    farewell = reply.event
    assert reply.to == 1 and farewell.fatal
    assert farewell.message.startswith("You were disconnected: you sent chat too fast")
    (dropped,) = [e for e in logs(actions) if e.kind is LogKind.DROPPED]
    assert dropped.member == "alice" and "too fast" in dropped.reason
    (notice,) = broadcasts(actions)
    assert (notice.kind, notice.member) == ("dropped", "alice")
    assert room.online() == ["bob"]
    assert room.closed(1, CloseReason.DROPPED, NOW) == []  # told once, when they were dropped


def test_an_honest_member_is_not_charged_for_a_flooder(room):
    join(room, 1, "alice")
    join(room, 2, "bob")
    flood(room, 1, Say(text="spam"), 0.0, WARN_AFTER)
    assert room.spend(2, Say(text="hello"), NOW, WARN_AFTER) == []


def test_the_budgets_can_be_changed():
    room = Room(limits=Limits(transfers=Rate(1, 0.5)))
    join(room, 1, "alice")
    offer = protocol.OfferUpload(filename="a.txt", size=1, ref=1)
    assert room.spend(1, offer, NOW, 0.0) == []
    (pause,) = room.spend(1, offer, NOW, 0.0)
    assert pause.until == pytest.approx(2.0)


def test_a_dropped_flooders_queued_commands_are_thrown_away(room):
    join(room, 1, "alice")
    join(room, 2, "bob")
    (first,) = run_jobs(room.receive(1, RunCommand(line="cat big", ref=0), NOW))
    for ref in range(1, 40):
        room.receive(1, RunCommand(line="cat big", ref=ref), NOW)
    flood(room, 1, Say(text="spam"), 0.0, DROP_AFTER + 5)  # dropped
    assert room.command_finished(first, CommandOutcome(True, "x", ""), NOW) == []  # nothing of theirs starts
    assert [j.line for j in run_jobs(room.receive(2, RunCommand(line="pwd", ref=1), NOW))] == ["pwd"]


def test_another_members_pwd_goes_next_while_a_flooder_has_500_jobs_queued(room):
    join(room, 1, "alice")
    join(room, 2, "bob")
    started = []
    for ref in range(500):  # on main every file list went to the workers at once, ahead of bob
        event = ListFiles(ref=ref) if ref % 2 else RunCommand(line="cat big", ref=ref)
        started += run_jobs(room.receive(1, event, NOW))
    assert len(started) == 1  # one of alice's at a time, the rest wait in the room
    (pwd,) = run_jobs(room.receive(2, RunCommand(line="pwd", ref=1), NOW))
    assert pwd.line == "pwd"


def test_no_more_than_max_running_jobs_are_out_and_members_take_turns(room):
    for who, name in enumerate(["alice", "bob", "carol", "dave"], start=1):
        join(room, who, name)
    out = []
    for who in (1, 1, 2, 2, 3, 4):
        out += run_jobs(room.receive(who, RunCommand(line=f"echo {who}", ref=who), NOW))
    assert [job.to for job in out] == [1, 2][:MAX_RUNNING_JOBS]
    done = room.command_finished(out[0], CommandOutcome(True, "1", ""), NOW)
    assert [job.to for job in run_jobs(done)] == [3]  # carol before alice's second and bob's second
    done = room.job_done(FileListJob(2, 0))  # any job of bob's coming back frees his slot
    assert [job.to for job in run_jobs(done)] == [4]


def test_history_not_being_saved_is_told_to_every_member_and_logged_once(room):
    join(room, 1, "alice")
    join(room, 2, "bob")
    failed = room.history_status(HistoryStatus(saving=False, reason="database or disk is full"), NOW)
    assert [(e.kind, e.reason) for e in logs(failed)] == [(LogKind.HISTORY_FAILED, "database or disk is full")]
    told = broadcasts(failed)  # one broadcast: every member, not a history entry of its own
    assert len(told) == 1 and isinstance(told[0], ErrorReply) and not told[0].fatal
    assert told[0].message == "The host cannot save the chat history (database or disk is full); the chat goes on."
    assert not of(failed, Record)
    back = room.history_status(HistoryStatus(saving=True, lost=3), NOW)
    assert [(e.kind, e.count) for e in logs(back)] == [(LogKind.HISTORY_SAVED, 3)]
    assert [e.message for e in broadcasts(back)] == ["The host is saving the chat history again; 3 entries were lost."]
