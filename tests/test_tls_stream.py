"""The host loop's TLS pipe (mmchat.tls_stream) without sockets: bytes split anywhere, bounds, refusals."""

from __future__ import annotations

import ssl

import pytest

from mmchat import protocol
from mmchat.protocol import ErrorReply, Hello
from mmchat.tls import client_context, load_or_create, server_context
from mmchat.tls_stream import ENCRYPTED_HOST, HANDSHAKE_BYTES_MAX, PLAIN_HOST, PlainGate, TlsPipe, WireError


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    return server_context(load_or_create(tmp_path_factory.mktemp("identity")))


def member_end() -> tuple[ssl.SSLObject, ssl.MemoryBIO, ssl.MemoryBIO]:
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    return client_context().wrap_bio(incoming, outgoing), incoming, outgoing


def shake(pipe: TlsPipe, step: int = 0) -> tuple[ssl.SSLObject, ssl.MemoryBIO, ssl.MemoryBIO]:
    """A member's handshake with `pipe`, its bytes fed `step` at a time (0: as they come)."""
    obj, incoming, outgoing = member_end()
    for _ in range(10):
        try:
            obj.do_handshake()
            done = True
        except ssl.SSLWantReadError:
            done = False
        data = outgoing.read()
        for start in range(0, len(data), step or len(data) or 1):
            assert pipe.receive(data[start : start + (step or len(data))]) == b""
        incoming.write(bytes(pipe.tail))
        pipe.tail = b""
        if done and pipe.ready:
            return obj, incoming, outgoing
    raise AssertionError("no handshake")


@pytest.mark.parametrize("step", [0, 1, 7, 100])
def test_the_pipe_reads_a_stream_split_anywhere(context: ssl.SSLContext, step: int) -> None:
    pipe = TlsPipe(context)
    obj, incoming, outgoing = shake(pipe, step)
    frames = b"".join(protocol.encode(protocol.Say(text=f"message {i} " * 30)) for i in range(50))
    obj.write(frames)
    wire = outgoing.read()
    plain = b""
    cut = step or 4096
    for start in range(0, len(wire), cut):
        plain += pipe.receive(wire[start : start + cut])
    assert plain == frames
    assert pipe.tail == b"" and pipe.received < 4096  # nothing waits once read; the handshake was small
    incoming.write(pipe.encrypt(b"the host's answer"))
    assert obj.read(100) == b"the host's answer"


def test_the_pipe_refuses_clear_text_with_a_clear_answer(context: ssl.SSLContext) -> None:
    pipe = TlsPipe(context)
    with pytest.raises(WireError, match="without TLS"):
        pipe.receive(protocol.encode(Hello(protocol.PROTOCOL_VERSION, "plain")))
    assert bytes(pipe.tail) == protocol.encode(ErrorReply(message=ENCRYPTED_HOST, fatal=True))
    assert pipe.receive(b"more") == b""  # nothing more is read


def test_the_pipe_bounds_what_it_takes_before_the_handshake(context: ssl.SSLContext) -> None:
    pipe = TlsPipe(context)
    obj, _, outgoing = member_end()
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    hello = outgoing.read()
    pipe.receive(hello[:5])  # a record header and nothing more, then a flood
    with pytest.raises(WireError):
        for _ in range(HANDSHAKE_BYTES_MAX // 1024 + 2):
            pipe.receive(b"\x00" * 1024)
    assert pipe.received <= HANDSHAKE_BYTES_MAX + 1024


def test_the_pipe_sends_all_or_nothing_and_keeps_the_rest(context: ssl.SSLContext) -> None:
    pipe = TlsPipe(context)
    obj, incoming, _ = shake(pipe)

    class Narrow:
        """A socket that takes 1,000 bytes per send, then none until told."""

        def __init__(self) -> None:
            self.taken = bytearray()
            self.room = 1000

        def send(self, data: bytes) -> int:
            if not self.room:
                raise BlockingIOError
            n = min(self.room, len(data))
            self.taken += bytes(data[:n])
            self.room = 0
            return n

    sock = Narrow()
    big = b"x" * 50_000
    assert pipe.send(sock, big) == len(big)  # type: ignore[arg-type]
    assert pipe.tail and len(sock.taken) == 1000
    assert pipe.send(sock, b"next") == 0  # type: ignore[arg-type]  # the rest of the first batch comes first
    while pipe.tail:
        sock.room = 7000
        pipe.flush(sock)  # type: ignore[arg-type]
    sock.room = 1 << 20
    assert pipe.send(sock, b"next") == 4  # type: ignore[arg-type]
    incoming.write(bytes(sock.taken))
    got = b""
    while True:
        try:
            got += obj.read(1 << 20)
        except ssl.SSLWantReadError:
            break
    assert got == big + b"next"


def test_a_plain_host_answers_a_client_hello_in_clear_text() -> None:
    gate = PlainGate()
    obj, _, outgoing = member_end()
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    with pytest.raises(WireError, match="--no-tls"):
        gate.receive(outgoing.read())
    assert bytes(gate.tail) == protocol.encode(ErrorReply(message=PLAIN_HOST, fatal=True))


def test_a_plain_host_lets_a_plain_member_speak() -> None:
    frame = protocol.encode(Hello(protocol.PROTOCOL_VERSION, "plain"))
    gate = PlainGate()
    assert gate.receive(frame) == frame and gate.ready and not gate.tail


def test_big_batches_go_through_the_bios_a_record_at_a_time(context: ssl.SSLContext) -> None:
    """A MemoryBIO keeps the memory it once needed: a megabyte in either way must not pass in one piece."""
    pipe = TlsPipe(context)
    obj, incoming, outgoing = shake(pipe)
    big = bytes(range(256)) * 4096  # 1 MiB
    incoming.write(pipe.encrypt(big))
    got = b""
    while len(got) < len(big):
        got += obj.read(1 << 20)
    assert got == big
    obj.write(big)
    assert pipe.receive(outgoing.read()) == big
