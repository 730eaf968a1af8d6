"""Transfers that resume, end to end: a real host and members on 127.0.0.1, connections cut mid-transfer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mmchat import resume
from mmchat.client import ChatClient, Transfer, TransferResumed
from mmchat.client_transfers import UPLOADS
from mmchat.server import ChatServer
from tests.resume_helpers import CuttingRelay
from tests.transfer_helpers import queued_of, random_file, sha256_of, wait_for

TIMEOUT = 20.0
SIZE = 6 << 20
CUT = 2 << 20
FRAMES = 1024  # what a transfer connection carries besides the file's bytes, at most


@pytest.fixture
def share(tmp_path: Path) -> Path:
    return tmp_path / "share"


def start_host(share: Path) -> ChatServer:
    host = ChatServer(share=share, host="127.0.0.1", port=0)
    host.start()
    return host


@pytest.fixture
def host(share: Path) -> Iterator[ChatServer]:
    server = start_host(share)
    yield server
    server.stop()


@pytest.fixture
def relay(host: ChatServer) -> Iterator[CuttingRelay]:
    between = CuttingRelay(host.address[1])
    yield between
    between.close()


def join(port: int, downloads: Path, name: str = "alice") -> ChatClient:
    client = ChatClient("127.0.0.1", port, name, downloads=downloads)
    client.connect()
    return client


def finished(t: Transfer) -> Transfer:
    assert t.wait(TIMEOUT), "the transfer did not end in time"
    return t


def resumed_events(client: ChatClient) -> list[TransferResumed]:
    return queued_of(client.events, TransferResumed)


def kept_upload(host: ChatServer) -> resume.Partial:
    assert wait_for(lambda: host.desk.busy() == 0)
    [partial] = host.desk.partials.kept()
    return partial


def test_an_upload_cut_short_resumes_and_the_host_receives_only_the_rest(host, relay, tmp_path) -> None:
    source = tmp_path / "notes.bin"
    digest = random_file(source, SIZE)
    member = join(relay.port, tmp_path / "downloads")
    relay.cut_up = CUT
    first = finished(member.send_file(source))
    assert not first.ok and first.error  # a sentence: the connection was lost
    partial = kept_upload(host)
    kept = partial.length()
    assert 0 < kept <= CUT and not (host.share / "notes.bin").exists()
    assert not any(p.name == "notes.bin" for p in host.share.iterdir())  # only a hidden name, in the data folder
    relay.cut_up = None
    second = finished(member.send_file(source))
    assert second.ok, second.error
    assert sha256_of(host.share / "notes.bin") == digest  # byte-identical
    assert relay.up[1] <= SIZE - kept + FRAMES  # the host received only the rest
    assert relay.up[1] >= SIZE - kept
    [event] = resumed_events(member)
    assert event.transfer is second and second.offset == kept
    assert host.desk.partials.kept() == [] and list(host.temp_dir.iterdir()) == []
    assert UPLOADS.recall(source.resolve(), SIZE, source.stat().st_mtime_ns) is None  # nothing left to resume
    assert member.close(wait=TIMEOUT)


def test_a_download_cut_short_resumes_from_the_part_file(host, relay, tmp_path) -> None:
    digest = random_file(host.share / "movie.bin", SIZE)
    downloads = tmp_path / "downloads"
    member = join(relay.port, downloads)
    relay.cut_down = CUT
    first = finished(member.request_file("movie.bin"))
    assert not first.ok and first.error
    assert not (downloads / "movie.bin").exists()  # nothing under the final name
    [part] = resume.scan(downloads)  # the hidden .part and its sidecar stay for a resume
    kept = part.length()
    assert 0 < kept <= CUT and part.sha256 == digest and part.size == SIZE
    relay.cut_down = None
    second = finished(member.request_file("movie.bin"))
    assert second.ok, second.error
    assert sha256_of(downloads / "movie.bin") == digest
    assert SIZE - kept <= relay.down[1] <= SIZE - kept + FRAMES  # only the rest came
    assert second.offset == kept and [e.transfer for e in resumed_events(member)] == [second]
    assert sorted(p.name for p in downloads.iterdir()) == ["movie.bin"]  # no part, no sidecar left
    assert member.close(wait=TIMEOUT)


def test_both_resume_after_the_host_restarted_and_a_new_member_process(share, tmp_path) -> None:
    source = tmp_path / "mine" / "report.bin"
    up_digest = random_file(source, SIZE)
    down_digest = random_file(share / "shared.bin", SIZE)
    downloads = tmp_path / "downloads"
    host = start_host(share)
    relay = CuttingRelay(host.address[1])
    member = join(relay.port, downloads)
    relay.cut_up = relay.cut_down = CUT
    assert not finished(member.send_file(source)).ok
    assert not finished(member.request_file("shared.bin")).ok
    kept_up = kept_upload(host).length()
    assert member.close(wait=TIMEOUT)
    relay.close()
    host.stop()  # the host goes away; its partial upload waits on disk with its sidecar

    host = start_host(share)  # a new host on the same share and data folder
    try:
        assert [p.length() for p in host.desk.partials.kept()] == [kept_up]
        member = join(host.address[1], downloads)  # as if the member's program had restarted too
        up = finished(member.send_file(source))
        down = finished(member.request_file("shared.bin"))
        assert up.ok and down.ok, (up.error, down.error)
        assert up.offset == kept_up and down.offset > 0
        assert sha256_of(share / "report.bin") == up_digest and sha256_of(downloads / "shared.bin") == down_digest
        assert member.close(wait=TIMEOUT)
    finally:
        host.stop()


def test_a_changed_local_file_is_sent_whole_and_nothing_old_is_kept(host, relay, tmp_path) -> None:
    source = tmp_path / "notes.bin"
    random_file(source, SIZE)
    member = join(relay.port, tmp_path / "downloads")
    relay.cut_up = CUT
    assert not finished(member.send_file(source)).ok
    kept_upload(host)
    digest = random_file(source, SIZE)  # same name and size, other bytes (and another modification time)
    relay.cut_up = None
    again = finished(member.send_file(source))
    assert again.ok and again.offset == 0 and sha256_of(host.share / "notes.bin") == digest
    assert relay.up[1] >= SIZE  # all of it: the old start is not this file's
    assert host.desk.partials.kept() == []
    assert member.close(wait=TIMEOUT)


def test_a_lying_resume_is_found_out_by_the_whole_files_sha256(host, relay, tmp_path) -> None:
    first_file = tmp_path / "a" / "doc.bin"
    random_file(first_file, SIZE)
    member = join(relay.port, tmp_path / "downloads")
    relay.cut_up = CUT
    assert not finished(member.send_file(first_file)).ok
    assert kept_upload(host).sha256 == ""  # the first try did not say its SHA-256
    # Another file of that name and size claims to be the one the host kept the start of.
    other = tmp_path / "b" / "doc.bin"
    random_file(other, SIZE)
    info = other.stat()
    UPLOADS.remember(other.resolve(), info.st_size, info.st_mtime_ns, sha256_of(other), info.st_mtime)
    relay.cut_up = None
    lie = finished(member.send_file(other))
    assert not lie.ok and lie.offset > 0
    assert lie.error == "doc.bin arrived damaged (SHA-256 mismatch) and was discarded."
    assert not (host.share / "doc.bin").exists()  # nothing under the final name
    assert wait_for(lambda: host.desk.busy() == 0) and host.desk.partials.kept() == []
    assert list(host.temp_dir.iterdir()) == []
    # Asked again, it goes from the start, and arrives whole.
    again = finished(member.send_file(other))
    assert again.ok and again.offset == 0 and sha256_of(host.share / "doc.bin") == sha256_of(other)
    assert member.close(wait=TIMEOUT)


def test_a_download_of_a_file_changed_on_the_host_starts_over(host, relay, tmp_path) -> None:
    random_file(host.share / "movie.bin", SIZE)
    downloads = tmp_path / "downloads"
    member = join(relay.port, downloads)
    relay.cut_down = CUT
    assert not finished(member.request_file("movie.bin")).ok
    digest = random_file(host.share / "movie.bin", SIZE)  # same size, other bytes
    relay.cut_down = None
    again = finished(member.request_file("movie.bin"))
    assert again.ok, again.error
    assert sha256_of(downloads / "movie.bin") == digest
    assert sorted(p.name for p in downloads.iterdir()) == ["movie.bin"]
    assert member.close(wait=TIMEOUT)


MEMBER_PROGRAM = """
import pathlib, sys, time
from mmchat.client import ChatClient
client = ChatClient("127.0.0.1", int(sys.argv[1]), "alice", downloads=pathlib.Path(sys.argv[2]))
client.connect()
client.send_file(pathlib.Path(sys.argv[3]))
client.request_file("movie.bin")
print("asked", flush=True)
time.sleep(60)  # until killed (bounded all the same)
"""


def test_a_member_killed_mid_transfer_resumes_both_ways_from_a_new_process(host, relay, tmp_path) -> None:
    import subprocess
    import sys

    source = tmp_path / "mine.bin"
    up_digest = random_file(source, SIZE)
    down_digest = random_file(host.share / "movie.bin", SIZE)
    downloads = tmp_path / "downloads"
    relay.stall_after = CUT  # the bytes stop flowing both ways, as on a network gone quiet
    root = Path(__file__).resolve().parent.parent
    member = subprocess.Popen(
        [sys.executable, "-c", MEMBER_PROGRAM, str(relay.port), str(downloads), str(source)],
        cwd=root, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert member.stdout is not None and member.stdout.readline().strip() == "asked"
        # Each side writes what came once the flow pauses (2 s without a byte).
        assert wait_for(lambda: any(p.length() for p in resume.scan(downloads)), TIMEOUT)
        assert wait_for(lambda: any(p.length() for p in host.desk.partials.kept()), TIMEOUT)
    finally:
        member.kill()  # SIGKILL: nothing is cleaned up, nothing said
        member.wait(TIMEOUT)
        if member.stdout is not None:
            member.stdout.close()
    assert wait_for(lambda: host.desk.busy() == 0)
    relay.stall_after = None
    client = join(relay.port, downloads)  # the member's program again, from scratch
    up = finished(client.send_file(source))
    down = finished(client.request_file("movie.bin"))
    assert up.ok and down.ok, (up.error, down.error)
    assert up.offset > 0 and down.offset > 0
    assert sha256_of(host.share / "mine.bin") == up_digest and sha256_of(downloads / "movie.bin") == down_digest
    assert client.close(wait=TIMEOUT)


def test_a_partial_upload_is_never_listed_nor_downloadable(host, relay, tmp_path) -> None:
    source = tmp_path / "secret.bin"
    random_file(source, SIZE)
    member = join(relay.port, tmp_path / "downloads")
    relay.cut_up = CUT
    assert not finished(member.send_file(source)).ok
    partial = kept_upload(host)
    relay.cut_up = None
    files_reply = member.list_files().wait()
    assert files_reply.files == ()
    listing = member.command("ls").wait()
    assert "secret" not in listing.output and ".part" not in listing.output
    for name in (partial.path.name, "secret.bin"):
        t = finished(member.request_file(name))
        assert not t.ok and t.error == f"No such file on the host: {name}"
    assert member.close(wait=TIMEOUT)
