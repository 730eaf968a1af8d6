"""TLS for threads (mmchat.tls_channel): a live session carried over from the loop's pipe, files, refusals."""

from __future__ import annotations

import hashlib
import re
import socket
import ssl
import threading
import time
from pathlib import Path

import pytest

from mmchat.protocol import ErrorReply, encode
from mmchat.tls import client_context, load_or_create, server_context
from mmchat.tls_channel import NOT_TLS, TlsChannel, client_handshake
from mmchat.tls_stream import TlsPipe

TIMEOUT = 10.0


@pytest.fixture(scope="module")
def identity(tmp_path_factory: pytest.TempPathFactory):
    return load_or_create(tmp_path_factory.mktemp("identity"))


def pair(identity) -> tuple[TlsChannel, TlsChannel]:
    """(host end, member end): the host's handshake made by a TlsPipe, as on the loop, then taken over."""
    host_sock, member_sock = socket.socketpair()
    host_sock.settimeout(TIMEOUT)
    member: list[TlsChannel] = []
    thread = threading.Thread(
        target=lambda: member.append(client_handshake(member_sock, client_context(), time.monotonic() + TIMEOUT))
    )
    thread.start()
    pipe = TlsPipe(server_context(identity))
    while not pipe.ready:
        assert pipe.receive(host_sock.recv(65536)) == b""
        if pipe.tail:
            host_sock.sendall(bytes(pipe.tail))
            pipe.tail = b""
    thread.join(TIMEOUT)
    return TlsChannel(host_sock, *pipe.take()), member[0]


def test_a_session_made_by_the_loop_goes_on_in_a_thread(identity) -> None:
    host, member = pair(identity)
    with host, member:
        assert member.fingerprint() == identity.fingerprint and member.version() == "TLSv1.3"
        data = bytes(range(256)) * 12_000  # 3 MB: many records, many reads
        sender = threading.Thread(target=member.sendall, args=(data,))
        sender.start()
        got = bytearray()
        buf = bytearray(1 << 20)
        while len(got) < len(data):
            n = host.recv_into(buf, min(len(buf), len(data) - len(got)))
            assert n
            got += buf[:n]
        sender.join(TIMEOUT)
        assert bytes(got) == data
        host.sendall(b"and back")
        assert member.recv(100) == b"and back"
        member.shutdown(socket.SHUT_WR)
        assert host.recv(10) == b""  # the end of the stream reads as b''


def test_sendfile_sends_the_range_asked_for_in_big_pieces(identity, tmp_path: Path) -> None:
    host, member = pair(identity)
    path = tmp_path / "f.bin"
    path.write_bytes(bytes(range(251)) * 20_000)  # ~5 MB
    with host, member, open(path, "rb") as file:
        got = bytearray()

        def read() -> None:
            while chunk := member.recv(1 << 20):
                got.extend(chunk)

        reader = threading.Thread(target=read)
        reader.start()
        assert host.sendfile(file, offset=1000, count=3_000_000) == 3_000_000
        assert file.tell() == 3_001_000
        host.shutdown(socket.SHUT_RDWR)
        reader.join(TIMEOUT)
    assert hashlib.sha256(got).digest() == hashlib.sha256(path.read_bytes()[1000:3_001_000]).digest()


def test_a_clear_text_answer_is_shown_as_its_sentence() -> None:
    host, member = socket.socketpair()
    with host:
        host.settimeout(TIMEOUT)

        def answer() -> None:
            host.recv(65536)  # the ClientHello
            host.sendall(encode(ErrorReply(message="This host runs without encryption.", fatal=True)))

        thread = threading.Thread(target=answer)
        thread.start()
        with pytest.raises(ConnectionError, match=r"^This host runs without encryption\.$"):
            client_handshake(member, client_context(), time.monotonic() + TIMEOUT)
        thread.join(TIMEOUT)
    assert member.fileno() == -1  # closed


@pytest.mark.parametrize(
    ("answer", "sentence"),
    [
        (b"HTTP/1.1 400 Bad Request\r\n\r\n", NOT_TLS),
        (b"", "closed the connection during the TLS handshake"),
        (None, "did not finish the TLS handshake in time"),
        (b"\x15\x03\x03\x00\x02\x02\x28", "TLS handshake with the host failed"),  # an alert: handshake failure
    ],
)
def test_a_host_that_does_not_speak_tls_is_a_sentence(answer: bytes | None, sentence: str) -> None:
    host, member = socket.socketpair()
    host.settimeout(TIMEOUT)

    def act() -> None:
        host.recv(65536)  # the ClientHello
        if answer:
            host.sendall(answer)
        elif answer == b"":
            host.shutdown(socket.SHUT_WR)

    thread = threading.Thread(target=act)
    thread.start()
    with host:
        with pytest.raises(ConnectionError, match=re.escape(sentence)):
            client_handshake(member, client_context(), time.monotonic() + (0.5 if answer is None else TIMEOUT))
        thread.join(TIMEOUT)


def test_the_standard_ssl_module_and_the_channel_agree(identity) -> None:
    """The member's channel against a plain ssl.SSLSocket host: an independent implementation of the other end."""
    host_sock, member_sock = socket.socketpair()
    served: list[bytes] = []

    def serve() -> None:
        with server_context(identity).wrap_socket(host_sock, server_side=True) as tls:
            served.append(tls.recv(100))
            tls.sendall(b"welcome")

    thread = threading.Thread(target=serve)
    thread.start()
    with client_handshake(member_sock, client_context(), time.monotonic() + TIMEOUT) as member:
        member.sendall(b"hello")
        assert member.recv(100) == b"welcome"
    thread.join(TIMEOUT)
    assert served == [b"hello"]
    assert isinstance(ssl.OPENSSL_VERSION, str)
