"""Matching the host's answers to the member's requests (mmchat.client_requests), with no network."""

from __future__ import annotations

import threading

import pytest

from mmchat.client_requests import PendingRequests, Request
from mmchat.protocol import OnlineList


def test_refs_are_fresh_and_answers_find_their_request() -> None:
    pending = PendingRequests()
    first, second = pending.new(), pending.new(internal=True)
    assert (first.ref, second.ref) == (1, 2) and second.internal and not first.internal
    reply = OnlineList(members=("alice",), ref=2)
    assert pending.answer(2, reply) is second
    assert second.done and second.wait(0) == reply
    assert not first.done
    assert pending.answer(2, reply) is None  # answered once; a second answer finds nobody


def test_a_forgotten_request_gets_no_answer() -> None:
    pending = PendingRequests()
    request = pending.new()
    pending.forget(request)
    assert pending.answer(request.ref, OnlineList(members=(), ref=request.ref)) is None
    assert not request.done


def test_fail_all_wakes_every_waiter_with_a_sentence() -> None:
    pending = PendingRequests()
    requests = [pending.new() for _ in range(3)]
    errors: list[str] = []

    def wait(request: Request) -> None:
        try:
            request.wait(10)
        except ConnectionError as exc:
            errors.append(str(exc))

    waiters = [threading.Thread(target=wait, args=(r,)) for r in requests]
    for thread in waiters:
        thread.start()
    pending.fail_all()
    for thread in waiters:
        thread.join(10)
    assert errors == ["The connection to the host was lost."] * 3


def test_wait_times_out_with_a_sentence() -> None:
    with pytest.raises(TimeoutError) as caught:
        Request(1).wait(0.01)
    assert str(caught.value) == "The host did not answer in time."
