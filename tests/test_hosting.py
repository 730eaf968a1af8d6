"""The host built from the command line's options (mmchat.hosting), started on 127.0.0.1 port 0."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pytest

from mmchat import protocol
from mmchat.client import ChatClient, ConnectError
from mmchat.hosting import make_server
from mmchat.hostlog import LogKind
from mmchat.protocol import Connection, ErrorReply, OfferUpload, Role, TransferHello, TransferReady
from tests.test_server import raw_member
from tests.tls_helpers import open_raw


def host_args(tmp_path: Path, **changes: object) -> argparse.Namespace:
    args = argparse.Namespace(share=str(tmp_path / "share"), bind="127.0.0.1", port=0, data=None, password="")
    for key, value in changes.items():
        setattr(args, key, value)
    return args


def test_make_server_builds_what_the_options_say(tmp_path: Path) -> None:
    server = make_server(host_args(tmp_path, data=str(tmp_path / "data")))
    assert server.share == tmp_path / "share"
    assert server.address == ("127.0.0.1", 0)  # built, not started
    server.start()
    server.stop()
    assert any((tmp_path / "data").iterdir()), "the history is kept in --data"
    assert not (tmp_path / "share" / ".mmchat").exists()


def test_a_host_with_a_password_refuses_a_member_without_it(tmp_path: Path) -> None:
    server = make_server(host_args(tmp_path, password="pw"))
    host, port = server.start()
    try:
        with pytest.raises(ConnectError):
            ChatClient(host, port, "alice", downloads=tmp_path / "dl").connect()
        member = ChatClient(host, port, "alice", downloads=tmp_path / "dl", password="pw")
        assert member.connect() == "alice"
        member.close()
    finally:
        server.stop()


def test_the_flood_and_history_options_reach_the_host(tmp_path: Path) -> None:
    from mmchat.budget import Rate
    from mmchat.cli import build_parser

    args = build_parser().parse_args(
        ["--host", "--share", str(tmp_path / "share"), "--flood-chat", "5/1", "--flood-transfers", "2/0.5",
         "--history-max", "77"]
    )  # fmt: skip
    server = make_server(args)
    try:
        limits = server.room.budgets.limits
        assert (limits.chat, limits.transfers) == (Rate(5, 1), Rate(2, 0.5))
        assert limits.requests == Rate.parse("100/5")  # the default
        assert server.storage.history_max == 77
    finally:
        server.storage.close()


def test_the_transfer_keepalive_and_opener_options_reach_the_host(tmp_path: Path) -> None:
    from mmchat.cli import build_parser

    args = build_parser().parse_args(
        ["--host", "--share", str(tmp_path / "share"), "--transfers-at-once", "3", "--transfer-stall", "7.5",
         "--ping-after", "5", "--keepalive-timeout", "12", "--openers-per-address", "2"]
    )  # fmt: skip
    server = make_server(args)
    try:
        assert (server.desk.limits.transfers_at_once, server.desk.limits.transfer_stall) == (3, 7.5)
        assert (server.room.keepalive.ping_after, server.room.keepalive.timeout) == (5.0, 12.0)
        assert server.room.openers.per_address == 2
    finally:
        server.storage.close()


def test_without_the_options_the_host_has_the_defaults(tmp_path: Path) -> None:
    from mmchat import budget, liveness

    server = make_server(host_args(tmp_path))  # a front end's own Namespace, without the host's limits
    try:
        assert server.desk.limits.transfers_at_once == budget.TRANSFERS_AT_ONCE
        assert server.desk.limits.transfer_stall == budget.TRANSFER_STALL
        assert (server.room.keepalive.ping_after, server.room.keepalive.timeout) == (
            liveness.PING_AFTER,
            liveness.KEEPALIVE_TIMEOUT,
        )
        assert server.room.openers.per_address == liveness.OPENERS_PER_ADDRESS
    finally:
        server.storage.close()


def test_a_live_host_caps_tickets_and_ends_a_stalled_upload_with_a_sentence(tmp_path: Path) -> None:
    server = make_server(host_args(tmp_path, transfers_at_once=2, transfer_stall=0.5))
    log: list = []
    server.subscribe(log.append)
    server.start()
    try:
        sock, conn = raw_member(server, "mallory")
        sock.sendall(b"".join(conn.send(OfferUpload(filename=f"f{i}.bin", size=10_000, ref=i + 1)) for i in range(3)))
        answers: list = []
        while len(answers) < 3:
            conn.receive_data(sock.recv(65536))
            answers += [e for e in conn.events() if isinstance(e, (TransferReady, ErrorReply))]
        assert [type(a) for a in answers] == [TransferReady, TransferReady, ErrorReply]
        assert "the most the host allows at once (2)" in answers[2].message
        upload = open_raw(server.address[1], timeout=10)
        upload_conn = Connection(Role.MEMBER)
        upload.sendall(upload_conn.send(TransferHello(version=protocol.PROTOCOL_VERSION, token=answers[0].token)))
        said = b""
        while chunk := upload.recv(65536):  # the start frame, then (no byte sent) the host's sentence and close
            said += chunk
        assert b"The upload of f0.bin moved no byte for 0.5 s: the host ended it." in said
        deadline = time.monotonic() + 10
        while not any(e.kind is LogKind.TRANSFER_FAILED for e in log) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [e.reason for e in log if e.kind is LogKind.TRANSFER_FAILED] == [
            "The upload of f0.bin moved no byte for 0.5 s: the host ended it."
        ]
        upload.close()
        sock.close()
    finally:
        server.stop()
