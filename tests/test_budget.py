"""Budgets (mmchat.budget): token buckets and the fair job queue, with time passed in and no clock."""

from __future__ import annotations

import pytest

from mmchat.budget import (
    DROP_AFTER,
    KIND_OF,
    TRANSFER_STALL,
    TRANSFERS_AT_ONCE,
    WARN_AFTER,
    Budgets,
    FairQueue,
    Kind,
    Limits,
    Rate,
    Step,
    TokenBucket,
    transfer_refusal,
)
from mmchat.protocol import ListFiles, OfferUpload, RunCommand, Say


def test_a_burst_goes_at_once_then_the_steady_rate():
    bucket = TokenBucket(Rate(3, 2), now=0.0)
    assert [bucket.take(0.0).step for _ in range(3)] == [Step.OK] * 3
    slowed = bucket.take(0.0)
    assert slowed.step is Step.SLOW and slowed.until == pytest.approx(0.5)  # 1 token of debt at 2 a second
    assert bucket.take(1.0).step is Step.OK  # the debt paid and one more earned (2 tokens at 2/s)


def test_someone_who_keeps_sending_is_slowed_then_told_once_then_dropped():
    bucket = TokenBucket(Rate(5, 10), now=0.0)
    steps = flood(bucket, 0.0, DROP_AFTER + 1)
    kinds = [step for _, step in steps]
    assert kinds[:5] == [Step.OK] * 5 and kinds[5] is Step.SLOW
    assert kinds.count(Step.WARN) == 1 and kinds[-1] is Step.DROP
    warned_at = next(t for t, step in steps if step is Step.WARN)
    dropped_at = steps[-1][0]
    assert WARN_AFTER <= warned_at < WARN_AFTER + 0.5 and DROP_AFTER <= dropped_at < DROP_AFTER + 0.5


def flood(bucket: TokenBucket, start: float, seconds: float) -> list[tuple[float, Step]]:
    """Send as fast as the loop reads, from `start` for `seconds`: every (time, step)."""
    steps, t = [], start
    while t < start + seconds:
        verdict = bucket.take(t)
        steps.append((t, verdict.step))
        if verdict.step is Step.DROP:
            break
        t = max(t, verdict.until)  # the loop honours the pause: the next read is when it ends
    return steps


def test_a_member_who_pauses_starts_a_new_episode():
    bucket = TokenBucket(Rate(4, 1), now=0.0)
    first = flood(bucket, 0.0, WARN_AFTER + 1)
    assert Step.WARN in [step for _, step in first]
    # Quiet long enough to be back at half the burst: over-spending again is a new episode,
    # told again and not dropped, though the first episode began more than DROP_AFTER ago.
    second = [step for _, step in flood(bucket, DROP_AFTER, DROP_AFTER - 1)]
    assert Step.SLOW in second and second.count(Step.WARN) == 1 and Step.DROP not in second


def test_an_honest_paste_is_slowed_but_never_dropped():
    limits = Limits()
    bucket = TokenBucket(limits.chat, now=0.0)
    lines = int(limits.chat.burst) + 100  # a long paste: 100 lines more than the burst
    steps = [step for _, step in flood(bucket, 0.0, DROP_AFTER * 2)][:lines]
    assert Step.SLOW in steps and Step.DROP not in steps


def test_each_member_and_kind_has_its_own_budget():
    budgets = Budgets(Limits(chat=Rate(1, 1), requests=Rate(1, 1)))
    assert budgets.take(1, Kind.CHAT, 0.0).step is Step.OK
    assert budgets.take(1, Kind.CHAT, 0.0).step is Step.SLOW
    assert budgets.take(1, Kind.REQUESTS, 0.0).step is Step.OK
    assert budgets.take(2, Kind.CHAT, 0.0).step is Step.OK
    budgets.forget(1)
    assert budgets.take(1, Kind.CHAT, 0.0).step is Step.OK  # a new member with that number starts afresh


def test_events_are_charged_to_the_right_budget():
    assert KIND_OF[Say] is Kind.CHAT
    assert KIND_OF[RunCommand] is KIND_OF[ListFiles] is Kind.REQUESTS
    assert KIND_OF[OfferUpload] is Kind.TRANSFERS


@pytest.mark.parametrize("text", ["", "30", "30/", "/5", "0/5", "30/0", "a/b", "30/-1"])
def test_a_bad_rate_is_a_sentence(text):
    with pytest.raises(ValueError, match="Expected BURST/RATE"):
        Rate.parse(text)


def test_a_rate_reads_and_prints_as_burst_slash_rate():
    assert Rate.parse("30/0.5") == Rate(30, 0.5)
    assert str(Rate(30, 0.5)) == "30/0.5"


def test_the_fair_queue_takes_members_in_turn_and_caps_what_runs():
    jobs: FairQueue[str] = FairQueue(running=2)
    for i in range(500):
        jobs.add(1, f"flood {i}")
    assert jobs.start() == ["flood 0"]  # one per member at a time
    jobs.add(2, "pwd")
    jobs.add(3, "ls")
    assert jobs.start() == ["pwd"]  # two out now: the cap
    assert jobs.start() == []
    jobs.done(1)
    assert jobs.start() == ["ls"]  # member 3's turn comes before member 1's next
    jobs.done(2)
    assert jobs.start() == ["flood 1"]


def test_the_fair_queue_refuses_more_than_waiting_and_forgets_a_gone_member():
    jobs: FairQueue[str] = FairQueue(running=1, waiting=2)
    assert jobs.add(1, "a") and jobs.add(1, "b") and not jobs.add(1, "c")
    assert jobs.start() == ["a"]
    jobs.forget(1)
    assert jobs.queued(1) == 0
    jobs.add(2, "pwd")
    assert jobs.start() == []  # member 1's job is still out and holds the slot
    jobs.done(1)
    assert jobs.start() == ["pwd"]  # and "b" was thrown away


# --- what one member's file transfers may hold ------------------------------------------------


def test_transfers_are_refused_only_at_the_cap_and_the_sentence_names_it():
    limits = Limits(transfers_at_once=3)
    assert [transfer_refusal(held, limits) for held in range(3)] == [None, None, None]
    assert transfer_refusal(3, limits) == (
        "You have 3 transfers waiting or under way, the most the host allows at once (3): "
        "try again when one has finished."
    )


def test_the_transfer_defaults_are_beyond_an_honest_member():
    limits = Limits()
    assert (limits.transfers_at_once, limits.transfer_stall) == (TRANSFERS_AT_ONCE, TRANSFER_STALL)
    assert limits.transfers_at_once >= 8 and limits.transfer_stall >= 30
    assert transfer_refusal(limits.transfers_at_once - 1, limits) is None
