"""The host's slow requests (mmchat.host_jobs) on a real worker thread, without sockets."""

from __future__ import annotations

import io
import queue

import pytest
from PIL import Image

from mmchat.actions import CommandJob, FileListJob, QRJob
from mmchat.commands import CommandOutcome, CommandSandbox
from mmchat.host_jobs import Workers
from mmchat.protocol import FileList, QRImage
from mmchat.storage import FileRecord, Storage
from tests.protocol_helpers import decode_one as decoded


@pytest.fixture
def workers(tmp_path):
    share = tmp_path / "share"
    (share / "docs").mkdir(parents=True)
    (share / "docs" / "a.txt").write_text("hello")
    storage = Storage(tmp_path / "data")
    loop: queue.Queue = queue.Queue()  # stands in for the loop thread's call_soon
    results: list = []
    w = Workers(
        share,
        CommandSandbox(share),
        storage,
        loop.put,
        lambda job, result: results.append(("done", job, result)),
        lambda job, reason: results.append(("failed", job, reason)),
    )
    w.loop, w.results = loop, results

    def next_result():
        loop.get(timeout=10)()  # the callback runs "on the loop", here the test's thread
        return results.pop(0)

    w.next_result = next_result
    yield w
    w.shutdown()
    storage.close()


def test_a_command_runs_in_the_members_folder_and_comes_back_as_an_outcome(workers):
    workers.submit(CommandJob(to=1, ref=2, line="ls", cwd="docs", command_id=3))
    kind, job, outcome = workers.next_result()
    assert kind == "done" and job.command_id == 3
    assert isinstance(outcome, CommandOutcome) and outcome.allowed and "a.txt" in outcome.output


def test_the_file_list_shows_only_files_still_there(workers):
    workers.storage.add_file(FileRecord("gone.txt", 3, "0" * 64, "bob", 1.0, 0))
    (workers.share / "here.txt").write_text("x")
    workers.storage.add_file(FileRecord("here.txt", 1, "0" * 64, "alice", 2.0, 0))
    workers.submit(FileListJob(to=1, ref=7))
    _, _, frame = workers.next_result()
    listing = decoded(frame)
    assert isinstance(listing, FileList) and listing.ref == 7
    assert [f.filename for f in listing.files] == ["here.txt"]


def test_a_qr_job_draws_the_code_it_was_given(workers):
    workers.submit(QRJob(to=1, ref=5, code="MMC-TEST-CODE", expires_in=60))
    _, _, frame = workers.next_result()
    image = decoded(frame)
    assert isinstance(image, QRImage) and image.code == "MMC-TEST-CODE" and image.ref == 5
    assert Image.open(io.BytesIO(image.png)).size[0] > 50


def test_a_job_that_raises_is_reported_failed_with_its_reason(workers, monkeypatch):
    def broken(line, cwd=""):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(workers.sandbox, "run", broken)
    workers.submit(CommandJob(to=1, ref=2, line="ls", cwd="", command_id=1))
    kind, job, reason = workers.next_result()
    assert kind == "failed" and job.ref == 2 and reason == "[Errno 5] Input/output error"


def test_after_shutdown_nothing_more_is_run(workers):
    workers.shutdown()
    workers.submit(FileListJob(to=1, ref=1))
    assert workers.loop.empty()
