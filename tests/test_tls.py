"""TLS end to end (mmchat.tls, tls_stream, tls_channel): what the wire shows, refusals, identity, the loop's pipe."""

from __future__ import annotations

import functools
import io
import os
import socket
import ssl
import stat
import threading
import time
from pathlib import Path

import pytest

from mmchat import protocol
from mmchat.client import ChatClient, ConnectError, TransferFinished
from mmchat.hostlog import LogEvent, LogKind
from mmchat.protocol import Connection, ErrorReply, Hello, Role, Welcome
from mmchat.server import ChatServer
from mmchat.tls import CERT_FILE, KEY_FILE, IdentityError, client_context, load_or_create
from mmchat.tls_stream import ENCRYPTED_HOST, PLAIN_HOST
from tests import waiting

TIMEOUT = 10.0
PASSWORD = "correct horse battery staple"
SECRET_TEXT = "the quarterly numbers are terrible"
FILE_BODY = b"confidential file body, " * 40_000  # ~1 MB, one recognisable phrase throughout


wait_until = functools.partial(waiting.wait_until, timeout=TIMEOUT)


@pytest.fixture
def host(tmp_path: Path):
    server = ChatServer(tmp_path / "share", "127.0.0.1", 0, password=PASSWORD)
    server.log_events = []  # type: ignore[attr-defined]
    server.subscribe(server.log_events.append)  # type: ignore[attr-defined]
    server.start()
    yield server
    server.stop()


class RecordingProxy:
    """Relays 127.0.0.1 connections to `port` and keeps every byte that passes, both ways."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.seen = bytearray()
        self.lock = threading.Lock()
        self.threads: list[threading.Thread] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                member, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            for a, b in ((member, upstream), (upstream, member)):
                thread = threading.Thread(target=self._pump, args=(a, b), daemon=True)
                self.threads.append(thread)
                thread.start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                with self.lock:
                    self.seen += data
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.listener.close()
        for thread in self.threads:
            thread.join(TIMEOUT)


def test_the_wire_shows_no_password_no_message_and_no_file(host: ChatServer, tmp_path: Path) -> None:
    proxy = RecordingProxy(host.address[1])
    (tmp_path / "dl").mkdir()
    alice = ChatClient("127.0.0.1", proxy.port, "alice", password=PASSWORD, downloads=tmp_path / "dl")
    bob = ChatClient("127.0.0.1", proxy.port, "bob", password=PASSWORD, downloads=tmp_path / "dl")
    alice.connect()
    bob.connect()
    assert alice.host_fingerprint == bob.host_fingerprint == host.fingerprint
    alice.say(SECRET_TEXT)
    deadline = time.monotonic() + TIMEOUT
    while getattr(bob.events.get(timeout=TIMEOUT), "text", "") != SECRET_TEXT:
        assert time.monotonic() < deadline
    upload = tmp_path / "report.bin"
    upload.write_bytes(FILE_BODY)
    sent = alice.send_file(upload)
    assert sent.wait(TIMEOUT) and sent.ok, sent.error
    got = bob.request_file("report.bin")
    assert got.wait(TIMEOUT) and got.ok, got.error
    assert (tmp_path / "dl" / "report.bin").read_bytes() == FILE_BODY
    alice.close(wait=TIMEOUT)
    bob.close(wait=TIMEOUT)
    proxy.close()
    wire = bytes(proxy.seen)
    assert len(wire) > 2 * len(FILE_BODY)  # it all went through the proxy: chat, upload and download
    for secret in (PASSWORD.encode(), SECRET_TEXT.encode(), b"confidential file body", b"report.bin", b"alice"):
        assert secret not in wire
    assert b'"type"' not in wire  # no frame in clear at all


def test_a_plain_member_of_the_past_gets_a_sentence_not_a_hang(host: ChatServer) -> None:
    old = socket.create_connection(("127.0.0.1", host.address[1]), timeout=TIMEOUT)
    conn = Connection(Role.MEMBER)
    old.sendall(conn.send(Hello(4, "oldtimer")))  # protocol 4 spoke clear text from the first byte
    reply = b""
    while data := old.recv(65536):
        reply += data
    conn.receive_data(reply)
    assert list(conn.events()) == [ErrorReply(message=ENCRYPTED_HOST, fatal=True)]
    wait_until(lambda: any(e.kind is LogKind.TLS_FAILED for e in host.log_events))  # type: ignore[attr-defined]


def test_a_no_tls_member_meets_a_tls_host_and_is_told_why(host: ChatServer) -> None:
    member = ChatClient("127.0.0.1", host.address[1], "alice", password=PASSWORD, use_tls=False)
    with pytest.raises(ConnectError, match="without --no-tls"):
        member.connect()
    assert host.online() == []


def test_a_tls_member_meets_a_no_tls_host_and_is_told_why(tmp_path: Path) -> None:
    plain = ChatServer(tmp_path / "share", "127.0.0.1", 0, tls=False)
    log: list[LogEvent] = []
    plain.subscribe(log.append)
    plain.start()
    try:
        assert plain.fingerprint == ""
        with pytest.raises(ConnectError) as refused:
            ChatClient("127.0.0.1", plain.address[1], "alice").connect()
        assert str(refused.value) == PLAIN_HOST
        wait_until(lambda: any(e.kind is LogKind.TLS_FAILED and "--no-tls" in e.reason for e in log))
        both = ChatClient("127.0.0.1", plain.address[1], "bob", use_tls=False)  # both ends said it: clear text
        assert both.connect() == "bob"
        both.close(wait=TIMEOUT)
    finally:
        plain.stop()
    assert not (tmp_path / "share" / ".mmchat" / KEY_FILE).exists()  # no identity made without TLS


def test_the_member_checks_the_key_before_the_hello_leaves(host: ChatServer) -> None:
    seen: list[str] = []

    def refuse(fingerprint: str) -> None:
        seen.append(fingerprint)
        raise ConnectError("Not this key.")

    with pytest.raises(ConnectError, match="Not this key"):
        ChatClient("127.0.0.1", host.address[1], "alice", password=PASSWORD, verify_host=refuse).connect()
    assert seen == [host.fingerprint]
    time.sleep(0.2)
    assert host.online() == []
    assert not any(e.kind in (LogKind.JOIN, LogKind.JOIN_REFUSED) for e in host.log_events)  # type: ignore[attr-defined]


def test_a_transfer_connection_showing_another_certificate_is_refused(host: ChatServer, tmp_path: Path) -> None:
    other = ChatServer(tmp_path / "other", "127.0.0.1", 0)  # another host, another key, on another port
    other.start()
    try:
        member = ChatClient("127.0.0.1", host.address[1], "alice", password=PASSWORD, downloads=tmp_path)
        member.connect()
        member.port = other.address[1]  # its transfer connections now reach the other host
        (host.share / "a.txt").write_text("hello")
        t = member.request_file("a.txt")
        assert t.wait(TIMEOUT) and not t.ok
        assert "another key than the chat's" in (t.error or "") and other.fingerprint in (t.error or "")
        finished = member.events.get(timeout=TIMEOUT)
        while not isinstance(finished, TransferFinished):
            finished = member.events.get(timeout=TIMEOUT)
        member.close(wait=TIMEOUT)
    finally:
        other.stop()


def test_the_identity_survives_a_restart_and_the_key_is_private(tmp_path: Path) -> None:
    first = ChatServer(tmp_path / "share", "127.0.0.1", 0)
    data = first.data_dir
    first.storage.close()
    second = ChatServer(tmp_path / "share", "127.0.0.1", 0)
    second.storage.close()
    assert first.fingerprint == second.fingerprint and len(first.fingerprint) == 95
    assert stat.S_IMODE(os.stat(data / KEY_FILE).st_mode) == 0o600
    (data / CERT_FILE).write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    with pytest.raises(IdentityError, match=r"cannot be used .*move both away"):
        load_or_create(data)
    (data / CERT_FILE).unlink()
    with pytest.raises(IdentityError, match=f"{CERT_FILE} is missing"):
        load_or_create(data)


def test_the_headless_host_shows_its_fingerprint_and_invite_first(tmp_path: Path) -> None:
    import argparse

    from mmchat.cli import build_parser
    from mmchat.headless import run_host

    args: argparse.Namespace = build_parser().parse_args(
        ["--host", "--headless", "--bind", "127.0.0.1", "--port", "0", "--share", str(tmp_path / "share")]
    )
    out, stop = io.StringIO(), threading.Event()
    thread = threading.Thread(target=run_host, args=(args, out, io.StringIO(), stop, io.StringIO()), daemon=True)
    thread.start()
    wait_until(lambda: "Shared folder" in out.getvalue())
    stop.set()
    thread.join(TIMEOUT)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("Server listening at 127.0.0.1:")
    port = lines[0].rsplit(":", 1)[1]
    fingerprint = load_or_create(tmp_path / "share" / ".mmchat").fingerprint
    assert lines[1] == f"Fingerprint: {fingerprint}"
    assert lines[2] == f"Invite: mmchat://127.0.0.1:{port}/#{fingerprint}"


def test_the_standard_ssl_module_talks_to_the_host(host: ChatServer) -> None:
    """An independent TLS client (ssl.SSLSocket): TLS 1.3 by default, the certificate the host announces."""
    with socket.create_connection(("127.0.0.1", host.address[1]), timeout=TIMEOUT) as raw:
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        with context.wrap_socket(raw) as tls:
            assert tls.version() == "TLSv1.3"
            from mmchat.fingerprints import fingerprint_of

            assert fingerprint_of(tls.getpeercert(binary_form=True) or b"") == host.fingerprint
            conn = Connection(Role.MEMBER)
            tls.sendall(conn.send(Hello(protocol.PROTOCOL_VERSION, "std", PASSWORD)))
            while not (events := list(conn.events())):
                conn.receive_data(tls.recv(65536))
            assert isinstance(events[0], Welcome)


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning")
def test_tls_1_1_is_refused(host: ChatServer) -> None:
    context = client_context()
    context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1_1
    with socket.create_connection(("127.0.0.1", host.address[1]), timeout=TIMEOUT) as raw:
        with pytest.raises(ssl.SSLError):
            context.wrap_socket(raw).close()


def test_no_tls_on_the_command_line_reaches_host_and_terminal(tmp_path: Path, monkeypatch) -> None:
    """--no-tls is one flag for both ends (cli.py): the host runs without a key, a terminal member joins it."""
    from mmchat.cli import build_parser
    from mmchat.hosting import make_server
    from mmchat.terminal import run_join

    monkeypatch.setenv("MMCHAT_CONFIG_DIR", str(tmp_path / "config"))
    host_args = build_parser().parse_args(
        ["--host", "--no-tls", "--bind", "127.0.0.1", "--port", "0", "--share", str(tmp_path / "share")]
    )
    plain = make_server(host_args)
    plain.start()
    try:
        assert plain.fingerprint == ""
        where = f"127.0.0.1:{plain.address[1]}"
        for flags, code, said in (([], 1, PLAIN_HOST), (["--no-tls"], 0, "Connected to")):
            args = build_parser().parse_args(["--join", where, "--name", "ann", "--cli", *flags])
            out, err = io.StringIO(), io.StringIO()
            assert run_join(args, io.StringIO("!exit\n"), out, err) == code
            assert said in out.getvalue() + err.getvalue()
    finally:
        plain.stop()
