"""FileMeter: file bytes per member from the transfers' progress callbacks, without sockets."""

from __future__ import annotations

import threading

from mmchat.file_meter import FileMeter


def test_uploads_count_as_received_and_downloads_as_sent() -> None:
    meter = FileMeter()
    up = meter.progress("alice", upload=True)
    up(100, 300)
    up(300, 300)
    down = meter.progress("alice", upload=False)
    down(50, 50)
    assert meter.totals("alice") == (300, 50)
    assert meter.totals("bob") == (0, 0)


def test_a_resumed_transfer_counts_only_what_moved_this_time() -> None:
    meter = FileMeter()
    resumed = meter.progress("bob", upload=True, start=1_000)
    resumed(1_500, 2_000)  # progress counts the kept start too
    resumed(2_000, 2_000)
    assert meter.totals("bob") == (1_000, 0)


def test_a_repeated_report_adds_nothing() -> None:
    meter = FileMeter()
    report = meter.progress("carol", upload=False)
    report(10, 20)
    report(10, 20)
    report(5, 20)  # never backwards
    assert meter.totals("carol") == (0, 10)


def test_forgetting_a_member_starts_the_next_one_at_zero() -> None:
    meter = FileMeter()
    meter.progress("dave", upload=True)(7, 7)
    meter.forget("dave")
    assert meter.totals("dave") == (0, 0)


def test_transfer_threads_may_report_at_once() -> None:
    meter = FileMeter()

    def move() -> None:
        report = meter.progress("erin", upload=True)
        for done in range(1, 1_001):
            report(done, 1_000)

    threads = [threading.Thread(target=move) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert meter.totals("erin") == (8_000, 0)
