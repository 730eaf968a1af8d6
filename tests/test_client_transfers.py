"""The member's file transfers (mmchat.client_transfers) against a real host and scripted fake hosts."""

from __future__ import annotations

import hashlib
import itertools
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_host import FakeHost, Peer

from mmchat import protocol
from mmchat.client import ChatClient, Disconnected, Transfer, TransferFinished
from mmchat.client_socket import ConnectError
from mmchat.client_transfers import DOWNLOAD, STALE_PART_SECONDS, UPLOAD, remove_stale_parts, run_transfer
from mmchat.protocol import ErrorReply, OfferUpload, RequestDownload, TransferReady
from mmchat.server import ChatServer
from mmchat.transfer import TransferError
from tests.transfer_helpers import queued_of, random_file

TIMEOUT = 15.0


@pytest.fixture
def share(tmp_path: Path) -> Path:
    return tmp_path / "share"


@pytest.fixture
def server(share: Path) -> Iterator[ChatServer]:
    host = ChatServer(share=share, host="127.0.0.1", port=0)
    host.start()
    yield host
    host.stop()


@pytest.fixture
def member(server: ChatServer, tmp_path: Path) -> Iterator[ChatClient]:
    client = ChatClient("127.0.0.1", server.address[1], "alice", downloads=tmp_path / "downloads")
    client.connect()
    yield client
    assert client.close(wait=TIMEOUT)


def finished_events(client: ChatClient) -> list[object]:
    """Everything on the queue now that is not chat traffic."""
    return queued_of(client.events, TransferFinished, ErrorReply, TransferReady, Disconnected)


def test_upload_then_download_are_byte_identical_with_progress(member, share, tmp_path) -> None:
    source = tmp_path / "holiday.bin"
    size = 3 * 1024 * 1024 + 17
    digest = random_file(source, size)
    up_progress: list[tuple[int, int]] = []
    upload = member.send_file(source, progress=lambda done, total: up_progress.append((done, total)))
    assert upload.direction == UPLOAD == "upload"
    assert upload.wait(TIMEOUT) and upload.ok, upload.error
    assert (upload.remote_name, upload.size, upload.bytes_done) == ("holiday.bin", size, size)
    assert up_progress[-1] == (size, size)
    assert hashlib.sha256((share / "holiday.bin").read_bytes()).hexdigest() == digest

    down_progress: list[tuple[int, int]] = []
    download = member.request_file("holiday.bin", progress=lambda done, total: down_progress.append((done, total)))
    assert download.direction == DOWNLOAD == "download"
    assert download.wait(TIMEOUT) and download.ok, download.error
    assert download.path == member.downloads / "holiday.bin"
    assert hashlib.sha256(download.path.read_bytes()).hexdigest() == digest
    assert down_progress[-1] == (size, size) and download.bytes_done == size
    assert all(a[0] <= b[0] for a, b in itertools.pairwise(down_progress))
    assert download.rate() > 0
    ends = [e.transfer for e in finished_events(member) if isinstance(e, TransferFinished)]
    assert ends == [upload, download]
    assert member.transfers == []


def test_download_to_a_chosen_path(member, share, tmp_path) -> None:
    share.joinpath("notes.txt").write_text("hello")
    target = tmp_path / "elsewhere" / "mine.txt"
    t = member.request_file("notes.txt", save_as=target)
    assert t.wait(TIMEOUT) and t.ok, t.error
    assert t.path == target and target.read_text() == "hello"


def test_a_refused_ticket_is_the_transfers_error_not_a_chat_event(member) -> None:
    t = member.request_file("nothing-here.pdf")
    assert t.wait(TIMEOUT) and not t.ok
    assert t.error == "No such file on the host: nothing-here.pdf"
    time.sleep(0.2)  # anything that would wrongly follow has arrived by now
    assert [type(e) for e in finished_events(member)] == [TransferFinished]


def test_a_missing_local_file_fails_before_asking(member, tmp_path) -> None:
    t = member.send_file(tmp_path / "not-there.txt")
    assert t.wait(TIMEOUT) and not t.ok
    assert t.error == f"No such file or directory: {tmp_path / 'not-there.txt'}"


def test_cancel_a_download_leaves_nothing(member, share) -> None:
    random_file(share / "big.bin", 48 * 1024 * 1024)
    started = threading.Event()

    def cancel_at_first_progress(done: int, total: int) -> None:
        if done < total:
            t.cancel()
        started.set()

    t = member.request_file("big.bin", progress=cancel_at_first_progress)
    assert t.wait(TIMEOUT) and not t.ok and t.cancelled
    assert started.is_set()
    assert t.error == "The transfer was cancelled."
    assert list(member.downloads.iterdir()) == []  # no partial file, no temporary file


def aged(path: Path, seconds: float) -> Path:
    path.write_bytes(b"partial")
    then = time.time() - seconds
    os.utime(path, (then, then))
    return path


def test_a_download_removes_the_stale_part_files_a_killed_member_left(member, share) -> None:
    member.downloads.mkdir(parents=True)
    day = STALE_PART_SECONDS
    stale = aged(member.downloads / ".holiday.bin.0123456789ab.part", 2 * day)  # a member killed mid-download
    fresh = aged(member.downloads / ".other.bin.abcdef012345.part", 60)  # may be another download under way
    theirs = [  # stale, but not named as our temporary files are: not ours to remove
        aged(member.downloads / "notes.part", 2 * day),
        aged(member.downloads / ".notes.txt", 2 * day),
        aged(member.downloads / ".x.0123.part", 2 * day),
        aged(member.downloads / ".x.0123456789AB.part", 2 * day),
    ]
    share.joinpath("notes.txt").write_text("hello")
    t = member.request_file("notes.txt")
    assert t.wait(TIMEOUT) and t.ok, t.error
    assert not stale.exists()
    assert fresh.exists() and all(p.exists() for p in theirs)
    assert (member.downloads / "notes.txt").read_text() == "hello"


def test_remove_stale_parts_leaves_folders_links_and_a_missing_folder_alone(tmp_path) -> None:
    assert remove_stale_parts(tmp_path / "missing") == []
    old = aged(tmp_path / ".a.bin.0123456789ab.part", 10)
    (tmp_path / ".d.bin.0123456789ab.part").mkdir()
    (tmp_path / ".l.bin.0123456789ab.part").symlink_to(old)
    assert remove_stale_parts(tmp_path, older_than=5, now=time.time() + 3600) == [old]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".d.bin.0123456789ab.part", ".l.bin.0123456789ab.part"]


HOST_PROGRAM = """
import pathlib, sys, time
from mmchat.server import ChatServer
host = ChatServer(share=pathlib.Path(sys.argv[1]), host="127.0.0.1", port=0)
host.start()
print(host.address[1], flush=True)
time.sleep(60)  # until killed (bounded all the same)
"""


def test_when_the_host_dies_mid_upload_the_upload_fails_with_a_sentence(share, tmp_path) -> None:
    root = Path(__file__).resolve().parent.parent
    host = subprocess.Popen(
        [sys.executable, "-c", HOST_PROGRAM, str(share)], cwd=root, stdout=subprocess.PIPE, text=True
    )
    try:
        assert host.stdout is not None
        port = int(host.stdout.readline())
        client = ChatClient("127.0.0.1", port, "alice", downloads=tmp_path / "downloads")
        source = tmp_path / "holiday.bin"
        random_file(source, 64 * 1024 * 1024)
        killed: list[int] = []

        def kill_the_host_once_under_way(done: int, total: int) -> None:
            if done and not killed:
                host.kill()  # the host's process dies: no goodbye on any connection
                killed.append(done)

        client.connect()
        t = client.send_file(source, progress=kill_the_host_once_under_way)
        assert t.wait(TIMEOUT) and not t.ok and not t.cancelled
        assert killed and killed[0] < t.size, "the upload ended before it was under way"
        # On main: "The connection failed: Connection reset by peer" (or "... Broken pipe").
        assert t.error == "The host went away during the upload of holiday.bin."
        assert client.close(wait=TIMEOUT)
    finally:
        host.kill()
        host.wait(TIMEOUT)
        if host.stdout is not None:
            host.stdout.close()


def test_close_cancels_a_transfer_and_returns_at_once(member, share) -> None:
    random_file(share / "big.bin", 48 * 1024 * 1024)
    moving = threading.Event()
    t = member.request_file("big.bin", progress=lambda done, total: moving.set())
    assert moving.wait(TIMEOUT)
    started = time.monotonic()
    member.close()
    assert time.monotonic() - started < 1.0
    assert t.wait(TIMEOUT) and not t.ok
    assert t.error == "The transfer was cancelled."


def ticket_then_vanish(peer: Peer, host_box: list[FakeHost]) -> None:
    """A fake host that hands out a ticket and stops listening before the transfer connects."""
    peer.welcome()
    ask = peer.read()
    assert isinstance(ask, RequestDownload)
    host_box[0].stop_listening()
    peer.send(TransferReady(token="t" * 32, direction="download", filename=ask.filename, ref=ask.ref))
    peer.read()  # until the member leaves


def test_a_transfer_connection_that_fails_is_a_sentence(tmp_path) -> None:
    box: list[FakeHost] = []
    host = FakeHost(lambda peer: ticket_then_vanish(peer, box))
    box.append(host)
    try:
        client = ChatClient("127.0.0.1", host.port, "alice", downloads=tmp_path)
        client.connect()
        t = client.request_file("notes.txt")
        assert t.wait(TIMEOUT) and not t.ok
        assert t.error == f"Nobody is hosting a chat at 127.0.0.1:{host.port} (connection refused)."
        assert client.close(wait=TIMEOUT)
    finally:
        host.close()


def test_close_ends_a_transfer_still_waiting_for_its_ticket(tmp_path) -> None:
    asked = threading.Event()

    def never_answer(peer: Peer) -> None:
        peer.welcome()
        assert isinstance(peer.read(), OfferUpload)
        asked.set()
        peer.read()  # the goodbye

    host = FakeHost(never_answer)
    try:
        client = ChatClient("127.0.0.1", host.port, "alice", downloads=tmp_path)
        client.connect()
        source = tmp_path / "a.txt"
        source.write_text("a")
        t = client.send_file(source)
        assert asked.wait(TIMEOUT)
        client.close()
        assert t.wait(2.0) and not t.ok
        assert t.error == "The transfer was cancelled."
        assert client.join(TIMEOUT)
    finally:
        host.close()


@pytest.mark.parametrize(
    ("failure", "error"),
    [
        (TransferError("The host sent a different file."), "The host sent a different file."),
        (ConnectError("No answer from h:1."), "No answer from h:1."),
        (ConnectionError("The connection to the host was lost."), "The connection to the host was lost."),
        (TimeoutError("The host did not answer in time."), "The host did not answer in time."),
        (ValueError("Refused file name: .."), "Refused file name: .."),
        (PermissionError(13, "Permission denied", "/x/y"), "Permission denied: /x/y"),
    ],
)
def test_every_failure_becomes_a_sentence_and_finished_runs_once(failure: Exception, error: str) -> None:
    t = Transfer(DOWNLOAD, "y")
    calls: list[Transfer] = []

    def work() -> None:
        raise failure

    run_transfer(t, work, calls.append).join(TIMEOUT)
    assert (t.ok, t.error, t.done, calls) == (False, error, True, [t])


def test_a_cancelled_transfer_says_so_whatever_broke() -> None:
    t = Transfer(UPLOAD, "x")
    t.cancel()

    def work() -> None:
        raise TransferError("The connection failed: Broken pipe")

    run_transfer(t, work, lambda t: None).join(TIMEOUT)
    assert t.error == "The transfer was cancelled."


def test_success_sets_ok() -> None:
    t = Transfer(UPLOAD, "x")
    run_transfer(t, lambda: None, lambda t: None).join(TIMEOUT)
    assert t.ok and t.error == "" and t.wait(0)


def test_a_host_that_lies_about_where_a_transfer_starts_gets_no_say(tmp_path) -> None:
    """An offset beyond the file is ignored (the upload goes from 0); a start at another byte is refused."""
    from mmchat.client_transfers import UPLOADS
    from mmchat.protocol import TransferHello, TransferStart

    body = b"0123456789"
    source = tmp_path / "a.txt"
    source.write_bytes(body)
    info = source.stat()
    UPLOADS.remember(source.resolve(), len(body), info.st_mtime_ns, hashlib.sha256(body).hexdigest(), time.time())
    asked: list[int] = []

    def lying(peer: Peer) -> None:
        first = peer.read()
        if isinstance(first, TransferHello):  # a transfer connection: start somewhere else than asked
            asked.append(first.offset)
            peer.send(TransferStart(filename="a.txt", size=len(body), offset=first.offset + 3))
            peer.read()
            return
        peer.send(protocol.Welcome(version=protocol.PROTOCOL_VERSION, member="alice"))
        ask = peer.read()
        assert isinstance(ask, OfferUpload) and ask.sha256 == hashlib.sha256(body).hexdigest()
        peer.send(TransferReady(token="t" * 32, direction="upload", filename="a.txt", size=10, ref=ask.ref, offset=99))
        peer.read()

    host = FakeHost(lying)
    try:
        client = ChatClient("127.0.0.1", host.port, "alice", downloads=tmp_path)
        client.connect()
        t = client.send_file(source)
        assert t.wait(TIMEOUT) and not t.ok
        assert asked == [0]  # the offer of 99 bytes kept of a 10-byte file was not believed
        assert t.error == "The host started a.txt at another byte than the one asked for."
        assert client.close(wait=TIMEOUT)
    finally:
        host.close()
