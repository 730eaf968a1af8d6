"""The host's transfer desk (mmchat.host_transfers): tickets without sockets, a transfer over a socketpair."""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import time

import pytest

from mmchat import files, protocol, transfer
from mmchat.budget import Limits
from mmchat.host_transfers import TICKET_TTL, Ticket, TransferDesk
from mmchat.hostlog import LogKind
from mmchat.protocol import (
    Connection,
    ErrorReply,
    OfferUpload,
    RequestDownload,
    Role,
    TransferDone,
    TransferEnd,
    TransferHello,
    TransferReady,
    TransferStart,
)
from mmchat.storage import Storage
from tests.protocol_helpers import decode_one as decoded
from tests.transfer_helpers import wait_for


@pytest.fixture
def desk(tmp_path):
    share = (tmp_path / "share").resolve()
    temp = share / ".mmchat" / "tmp"
    temp.mkdir(parents=True)
    storage = Storage(share / ".mmchat")
    log, shared = [], []
    desk = TransferDesk(share, temp, storage, log.append, lambda *args: shared.append(args))
    desk.log, desk.shared_calls = log, shared  # for the tests to read
    yield desk
    desk.stopping = True
    desk.join(time.monotonic() + 5)
    storage.close()


def hello(token: str, offset: int = 0, version: int = protocol.PROTOCOL_VERSION) -> TransferHello:
    return TransferHello(version=version, token=token, offset=offset)


# --- tickets -------------------------------------------------------------------------------


def test_an_upload_offer_gets_a_ticket_that_works_once(desk):
    ready = decoded(desk.offer_upload("alice", OfferUpload(filename="notes.pdf", size=10, ref=3), mono=100.0))
    assert isinstance(ready, TransferReady) and (ready.direction, ready.filename, ready.ref) == (
        "upload",
        "notes.pdf",
        3,
    )
    ticket = desk.claim(hello(ready.token), mono=101.0)
    assert isinstance(ticket, Ticket) and (ticket.member, ticket.size) == ("alice", 10)
    assert desk.claim(hello(ready.token), mono=101.0) == "This transfer is unknown or has expired."


@pytest.mark.parametrize(
    ("hello_kwargs", "mono", "refusal"),
    [
        ({}, 100.0 + TICKET_TTL + 1, "This transfer is unknown or has expired."),
        ({"version": 1}, 101.0, "This transfer is unknown or has expired."),
        ({"offset": 5}, 101.0, "The upload of a.txt cannot go on from byte 5: the host has 0 bytes of it."),
    ],
)
def test_a_ticket_is_refused_late_from_another_version_or_to_resume(desk, hello_kwargs, mono, refusal):
    ready = decoded(desk.offer_upload("alice", OfferUpload(filename="a.txt", size=1, ref=1), mono=100.0))
    assert desk.claim(hello(ready.token, **hello_kwargs), mono=mono) == refusal


def test_unused_tickets_expire(desk):
    ready = decoded(desk.offer_upload("alice", OfferUpload(filename="a.txt", size=1, ref=1), mono=100.0))
    desk.expire(100.0 + TICKET_TTL + 1)
    assert desk.claim(hello(ready.token), mono=0.0) == "This transfer is unknown or has expired."


@pytest.mark.parametrize("name", ["../escape", ".mmchat", "a/b", "", "CON"])
def test_hostile_upload_names_are_refused_and_logged(desk, name):
    reply = decoded(desk.offer_upload("mallory", OfferUpload(filename=name, size=1, ref=2), mono=0.0))
    assert isinstance(reply, ErrorReply) and reply.ref == 2 and reply.message.endswith(".")
    assert [(e.kind, e.member) for e in desk.log] == [(LogKind.UPLOAD_REFUSED, "mallory")]


def test_an_upload_that_would_not_fit_is_refused_up_front(desk, monkeypatch):
    monkeypatch.setattr(files, "free_space", lambda folder: 1_200_000_000)
    reply = decoded(desk.offer_upload("alice", OfferUpload(filename="huge.iso", size=5_000_000_000, ref=1), mono=0.0))
    assert reply.message == "The host has no room for huge.iso (5.0 GB): 1.2 GB free."
    assert [(e.kind, e.filename) for e in desk.log] == [(LogKind.UPLOAD_REFUSED, "huge.iso")]


def test_a_nearly_full_share_still_takes_a_small_upload(desk, monkeypatch):
    monkeypatch.setattr(files, "free_space", lambda folder: 10 * 1024 * 1024)  # 10 MiB: under the old 64 MiB margin
    reply = decoded(desk.offer_upload("alice", OfferUpload(filename="note.txt", size=1000, ref=1), mono=0.0))
    assert isinstance(reply, TransferReady) and reply.filename == "note.txt"


def test_a_download_of_a_missing_file_says_so(desk):
    reply = decoded(desk.request_download("alice", RequestDownload(filename="nope.txt", ref=4), mono=0.0))
    assert reply == ErrorReply(message="No such file on the host: nope.txt", ref=4)


def test_a_link_out_of_the_share_is_no_shared_file(desk, tmp_path):
    (tmp_path / "secret.txt").write_text("secret")
    os.symlink(tmp_path / "secret.txt", desk.share / "link.txt")
    (desk.share / "real.txt").write_text("ok")
    assert desk.shared_path("link.txt") is None
    assert desk.shared_path("real.txt") == desk.share / "real.txt"


def test_partial_files_left_by_a_crash_are_removed(desk):
    (desk.temp_dir / "x.part").write_bytes(b"half")
    (desk.temp_dir / "keep.db").write_bytes(b"other")
    desk.clean_temp()
    assert sorted(p.name for p in desk.temp_dir.iterdir()) == ["keep.db"]


def test_a_member_at_the_cap_is_refused_until_a_ticket_is_used_or_expires(desk):
    desk.limits = Limits(transfers_at_once=3)
    (desk.share / "doc.bin").write_bytes(b"doc")
    offers = [
        desk.offer_upload("mallory", OfferUpload(filename=f"f{i}.bin", size=1, ref=i), mono=0.0) for i in range(2)
    ]
    offers.append(desk.request_download("mallory", RequestDownload(filename="doc.bin", ref=9), mono=0.0))
    assert all(isinstance(decoded(frame), TransferReady) for frame in offers)
    cap = (
        "You have 3 transfers waiting or under way, the most the host allows at once (3): "
        "try again when one has finished."
    )
    upload = decoded(desk.offer_upload("mallory", OfferUpload(filename="more.bin", size=1, ref=5), mono=1.0))
    download = decoded(desk.request_download("mallory", RequestDownload(filename="doc.bin", ref=6), mono=1.0))
    assert (upload, download) == (ErrorReply(message=cap, ref=5), ErrorReply(message=cap, ref=6))
    assert desk.log[-1].kind is LogKind.UPLOAD_REFUSED and desk.log[-1].reason == cap
    # Someone else is not held by mallory's tickets.
    assert isinstance(
        decoded(desk.offer_upload("alice", OfferUpload(filename="a.bin", size=1, ref=1), mono=1.0)), TransferReady
    )
    # A ticket claimed and refused (here: from another version) is used up: a slot is free again.
    assert (
        desk.claim(hello(decoded(offers[0]).token, version=1), mono=2.0) == "This transfer is unknown or has expired."
    )
    assert isinstance(
        decoded(desk.offer_upload("mallory", OfferUpload(filename="g.bin", size=1, ref=7), mono=2.0)), TransferReady
    )
    assert isinstance(
        decoded(desk.offer_upload("mallory", OfferUpload(filename="h.bin", size=1, ref=8), mono=2.0)), ErrorReply
    )
    desk.expire(2.0 + TICKET_TTL + 1)  # every ticket expired: all slots free
    again = [
        desk.offer_upload("mallory", OfferUpload(filename=f"k{i}.bin", size=1, ref=i), mono=100.0) for i in range(3)
    ]
    assert all(isinstance(decoded(frame), TransferReady) for frame in again)


def test_a_flood_of_offers_gets_at_most_the_cap_of_tickets(desk):
    offers = [
        desk.offer_upload("mallory", OfferUpload(filename=f"f{i}.bin", size=1, ref=i), mono=0.0) for i in range(500)
    ]
    tickets = [frame for frame in offers if isinstance(decoded(frame), TransferReady)]
    assert len(tickets) == desk.limits.transfers_at_once


# --- transfers over a socketpair ------------------------------------------------------------


def start_over_socketpair(desk, ticket_frame: bytes) -> tuple[socket.socket, Connection]:
    """Claim the ticket the way the loop does and start the desk's thread; the member's end comes back."""
    token = decoded(ticket_frame).token
    host_end, member_end = socket.socketpair()
    member_end.settimeout(10)
    member_conn = Connection(Role.MEMBER)
    host_conn = Connection(Role.HOST)
    host_conn.receive_data(member_conn.send(hello(token)))
    host_conn.next_event()
    ticket = desk.claim(hello(token), mono=1.0)
    desk.start(host_end, host_conn, ticket, b"", "10.0.0.9:4000")
    return member_end, member_conn


def test_an_upload_arrives_byte_identical_and_is_announced(desk):
    body = os.urandom(300_000)
    frame = desk.offer_upload("alice", OfferUpload(filename="photo.jpg", size=len(body), ref=1), mono=0.0)
    sock, conn = start_over_socketpair(desk, frame)
    assert isinstance(transfer.read_frame(sock, conn), TransferStart)
    sock.sendall(body + conn.send(TransferEnd(sha256=hashlib.sha256(body).hexdigest())))
    done = transfer.read_frame(sock, conn)
    assert isinstance(done, TransferDone) and done.filename == "photo.jpg"
    assert (desk.share / "photo.jpg").read_bytes() == body
    deadline = time.monotonic() + 10
    while not desk.shared_calls and time.monotonic() < deadline:
        time.sleep(0.01)
    assert desk.shared_calls == [("alice", "photo.jpg", len(body))]
    assert [e.kind for e in desk.log] == [LogKind.UPLOAD_STARTED, LogKind.UPLOAD_DONE]
    assert desk.storage.get_file("photo.jpg").sha256 == hashlib.sha256(body).hexdigest()
    sock.close()


def test_a_download_sends_the_file_and_its_digest_from_the_catalogue_when_unchanged(desk):
    body = os.urandom(100_000)
    (desk.share / "doc.bin").write_bytes(body)
    for _ in range(2):  # the second time the digest comes from the catalogue
        frame = desk.request_download("bob", RequestDownload(filename="doc.bin", ref=1), mono=0.0)
        sock, conn = start_over_socketpair(desk, frame)
        start = transfer.read_frame(sock, conn)
        assert start.sha256 == hashlib.sha256(body).hexdigest() and start.size == len(body)
        got = conn.take_buffered()
        while len(got) < len(body):
            got += sock.recv(1 << 16)
        assert got == body
        sock.close()
    assert desk.storage.get_file("doc.bin").owner == "host"


def test_a_member_who_freezes_mid_upload_is_cut_by_abort_and_leaves_no_file(desk):
    frame = desk.offer_upload("alice", OfferUpload(filename="big.bin", size=10_000_000, ref=1), mono=0.0)
    sock, conn = start_over_socketpair(desk, frame)
    transfer.read_frame(sock, conn)
    sock.sendall(b"only the start")
    deadline = time.monotonic() + 10
    while desk.busy() != 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    desk.stopping = True
    desk.abort()
    desk.join(time.monotonic() + 10)
    assert desk.busy() == 0 and not (desk.share / "big.bin").exists()
    [kept] = desk.partials.kept()  # what arrived waits for the member to resume, under a hidden name only
    assert b"only the start".startswith(kept.path.read_bytes()) and kept.filename == "big.bin"  # what was read
    assert any(e.kind is LogKind.TRANSFER_FAILED and e.filename == "big.bin" for e in desk.log)
    sock.close()


def test_an_upload_cut_short_by_the_host_stopping_says_so(desk):
    frame = desk.offer_upload("alice", OfferUpload(filename="big.bin", size=10_000_000, ref=1), mono=0.0)
    sock, conn = start_over_socketpair(desk, frame)
    transfer.read_frame(sock, conn)
    sock.sendall(b"x" * 65536)
    desk.stopping = True  # the host begins to stop while bytes still flow
    with contextlib.suppress(OSError):
        for _ in range(200):  # bounded: the desk notices between chunks and answers
            sock.sendall(b"x" * 65536)
    with pytest.raises(transfer.TransferError) as refused:  # a fatal ErrorReply from the host, as its sentence
        transfer.read_frame(sock, conn)
    assert str(refused.value) == "The host is shutting down: the transfer was stopped. Try again when the chat is back."
    assert not (desk.share / "big.bin").exists()
    sock.close()


def test_a_running_transfer_holds_its_slot_until_it_ends(desk):
    desk.limits = Limits(transfers_at_once=1)
    frame = desk.offer_upload("alice", OfferUpload(filename="big.bin", size=10_000_000, ref=1), mono=0.0)
    sock, conn = start_over_socketpair(desk, frame)
    transfer.read_frame(sock, conn)
    refused = decoded(desk.offer_upload("alice", OfferUpload(filename="two.bin", size=1, ref=2), mono=1.0))
    assert isinstance(refused, ErrorReply) and "(1)" in refused.message
    sock.close()  # the member goes away: the transfer ends and gives its slot back
    assert wait_for(lambda: desk.busy() == 0)
    assert isinstance(
        decoded(desk.offer_upload("alice", OfferUpload(filename="two.bin", size=1, ref=3), mono=2.0)), TransferReady
    )


@pytest.mark.parametrize(
    ("size", "sent"),
    [
        (10_000_000, 100_000),  # some bytes, then nothing
        (1000, 1000),  # the whole body, but never the TransferEnd that should follow it
    ],
)
def test_an_upload_that_moves_no_byte_is_ended_with_a_sentence_and_a_log_line(desk, size, sent):
    desk.limits = Limits(transfer_stall=0.5)
    frame = desk.offer_upload("alice", OfferUpload(filename="big.bin", size=size, ref=1), mono=0.0)
    sock, conn = start_over_socketpair(desk, frame)
    assert isinstance(transfer.read_frame(sock, conn), TransferStart)
    sock.sendall(b"x" * sent)
    sentence = "The upload of big.bin moved no byte for 0.5 s: the host ended it."
    with pytest.raises(transfer.TransferError) as ended:
        transfer.read_frame(sock, conn)  # the member's time-out (10 s) is far longer than the host's
    assert str(ended.value) == sentence
    assert wait_for(lambda: desk.busy() == 0)
    failed = [e for e in desk.log if e.kind is LogKind.TRANSFER_FAILED]
    assert [(e.member, e.filename, e.reason) for e in failed] == [("alice", "big.bin", sentence)]
    assert not (desk.share / "big.bin").exists()
    [kept] = desk.partials.kept()  # kept for a resume: the same offer again goes on from its length
    assert kept.length() <= sent and sorted(p.suffix for p in desk.temp_dir.iterdir()) == [".part", ".resume"]
    sock.close()


def test_a_download_the_member_stops_reading_is_ended_and_logged(desk):
    desk.limits = Limits(transfer_stall=0.5)
    (desk.share / "big.bin").write_bytes(os.urandom(16 << 20))  # far more than the socket buffers hold
    frame = desk.request_download("bob", RequestDownload(filename="big.bin", ref=1), mono=0.0)
    sock, conn = start_over_socketpair(desk, frame)
    transfer.read_frame(sock, conn)  # and then bob reads nothing more
    assert wait_for(lambda: desk.busy() == 0)  # ended within the stall, plus the time to say so
    failed = [e for e in desk.log if e.kind is LogKind.TRANSFER_FAILED]
    assert [(e.member, e.reason) for e in failed] == [
        ("bob", "The download of big.bin moved no byte for 0.5 s: the host ended it.")
    ]
    sock.close()


# --- resuming -----------------------------------------------------------------------------


def start_at(desk, ticket_frame: bytes, offset: int) -> tuple[socket.socket, Connection]:
    """As start_over_socketpair, with the member asking to start at `offset`."""
    token = decoded(ticket_frame).token
    host_end, member_end = socket.socketpair()
    member_end.settimeout(10)
    member_conn, host_conn = Connection(Role.MEMBER), Connection(Role.HOST)
    host_conn.receive_data(member_conn.send(hello(token, offset)))
    host_conn.next_event()
    ticket = desk.claim(hello(token, offset), mono=1.0)
    assert isinstance(ticket, Ticket), ticket
    desk.start(host_end, host_conn, ticket, b"", "10.0.0.9:4000")
    return member_end, member_conn


def cut_upload(desk, body: bytes, sent: int, name: str = "big.bin") -> int:
    """An upload of `body` that stops after `sent` bytes (the member goes away); what the host kept."""
    frame = desk.offer_upload("alice", OfferUpload(filename=name, size=len(body), ref=1), mono=0.0)
    sock, conn = start_over_socketpair(desk, frame)
    transfer.read_frame(sock, conn)
    sock.sendall(body[:sent])
    time.sleep(0.2)  # let the host read them before the connection goes
    sock.close()
    assert wait_for(lambda: desk.busy() == 0)
    [kept] = desk.partials.kept()
    return kept.length()


def test_the_same_offer_with_its_sha256_goes_on_from_what_the_host_kept(desk):
    body = os.urandom(300_000)
    sha = hashlib.sha256(body).hexdigest()
    kept = cut_upload(desk, body, 100_000)
    assert kept == 100_000
    ready = decoded(desk.offer_upload("alice", OfferUpload("big.bin", len(body), ref=2, sha256=sha), mono=5.0))
    assert isinstance(ready, TransferReady) and ready.offset == kept
    sock, conn = start_at(desk, protocol.encode(ready), kept)
    start = transfer.read_frame(sock, conn)
    assert (start.offset, start.size) == (kept, len(body))
    sock.sendall(body[kept:] + conn.send(TransferEnd(sha256=sha)))
    done = transfer.read_frame(sock, conn)
    assert isinstance(done, TransferDone) and done.sha256 == sha
    assert (desk.share / "big.bin").read_bytes() == body
    assert [e.count for e in desk.log if e.kind is LogKind.UPLOAD_STARTED] == [0, kept]
    assert wait_for(lambda: desk.busy() == 0) and list(desk.temp_dir.iterdir()) == []
    sock.close()


def test_a_member_may_start_over_instead_of_resuming(desk):
    body = os.urandom(200_000)
    sha = hashlib.sha256(body).hexdigest()
    cut_upload(desk, body, 50_000)
    frame = desk.offer_upload("alice", OfferUpload("big.bin", len(body), ref=2, sha256=sha), mono=5.0)
    sock, conn = start_at(desk, frame, 0)
    assert transfer.read_frame(sock, conn).offset == 0
    sock.sendall(body + conn.send(TransferEnd(sha256=sha)))
    assert isinstance(transfer.read_frame(sock, conn), TransferDone)
    assert (desk.share / "big.bin").read_bytes() == body
    sock.close()


def test_a_start_that_does_not_match_is_found_out_and_nothing_is_named(desk):
    body = os.urandom(200_000)
    kept = cut_upload(desk, body, 50_000)
    other = os.urandom(len(body))  # a member claims another file is the one the host kept the start of
    sha = hashlib.sha256(other).hexdigest()
    frame = desk.offer_upload("alice", OfferUpload("big.bin", len(body), ref=2, sha256=sha), mono=5.0)
    sock, conn = start_at(desk, frame, kept)
    transfer.read_frame(sock, conn)
    sock.sendall(other[kept:] + conn.send(TransferEnd(sha256=sha)))
    with pytest.raises(transfer.TransferError) as refused:
        transfer.read_frame(sock, conn)
    assert str(refused.value) == "big.bin arrived damaged (SHA-256 mismatch) and was discarded."
    assert not (desk.share / "big.bin").exists()
    assert wait_for(lambda: desk.busy() == 0) and list(desk.temp_dir.iterdir()) == []
    sock.close()


@pytest.mark.parametrize("offset", [7, 200_001])
def test_an_upload_can_go_on_only_from_what_the_host_has(desk, offset):
    body = os.urandom(200_000)
    kept = cut_upload(desk, body, 50_000)
    sha = hashlib.sha256(body).hexdigest()
    ready = decoded(desk.offer_upload("alice", OfferUpload("big.bin", len(body), ref=2, sha256=sha), mono=5.0))
    assert desk.claim(hello(ready.token, offset), mono=6.0) == (
        f"The upload of big.bin cannot go on from byte {offset}: the host has {kept} bytes of it."
    )
    again = decoded(desk.offer_upload("alice", OfferUpload("big.bin", len(body), ref=3, sha256=sha), mono=7.0))
    assert again.offset == kept  # the refusal let go of the kept start: the next try has it


def test_a_download_starts_where_the_member_asks_and_never_beyond_the_end(desk):
    body = os.urandom(100_000)
    (desk.share / "doc.bin").write_bytes(body)
    beyond = decoded(desk.request_download("bob", RequestDownload(filename="doc.bin", ref=1), mono=0.0))
    assert desk.claim(hello(beyond.token, len(body) + 1), mono=1.0) == (
        "doc.bin cannot be resumed at byte 100001: it has only 100000 bytes."
    )
    frame = desk.request_download("bob", RequestDownload(filename="doc.bin", ref=2), mono=0.0)
    sock, conn = start_at(desk, frame, 60_000)
    start = transfer.read_frame(sock, conn)
    assert (start.offset, start.sha256) == (60_000, hashlib.sha256(body).hexdigest())  # the whole file's digest
    got = conn.take_buffered()
    while len(got) < len(body) - 60_000:
        chunk = sock.recv(1 << 16)
        assert chunk
        got += chunk
    assert got == body[60_000:]
    sock.close()


def test_an_unused_ticket_lets_go_of_its_partial_and_old_partials_are_swept(desk, monkeypatch):
    body = os.urandom(10_000)
    sha = hashlib.sha256(body).hexdigest()
    cut_upload(desk, body, 4_000)
    ready = decoded(desk.offer_upload("alice", OfferUpload("big.bin", len(body), ref=2, sha256=sha), mono=0.0))
    assert ready.offset == 4_000
    busy = decoded(desk.offer_upload("alice", OfferUpload("big.bin", len(body), ref=3, sha256=sha), mono=0.0))
    assert busy.offset == 0  # in use by the first ticket
    desk.expire(TICKET_TTL + 1)
    again = decoded(desk.offer_upload("alice", OfferUpload("big.bin", len(body), ref=4, sha256=sha), mono=100.0))
    assert again.offset == 4_000
    desk.expire(100.0 + TICKET_TTL + 1)
    later = time.time() + desk.limits.partial_keep + 1
    monkeypatch.setattr(time, "time", lambda: later)
    desk.expire(10_000.0)  # a sweep is due
    assert desk.partials.kept() == [] and list(desk.temp_dir.iterdir()) == []
