"""The host loop's TLS glue (mmchat.host_tls) on a real host: garbage, silence, and the host carrying on."""

from __future__ import annotations

import functools
import time
from pathlib import Path

from mmchat.client import ChatClient
from mmchat.hostlog import LogEvent, LogKind
from mmchat.liveness import Openers
from mmchat.server import ChatServer
from tests import waiting
from tests.tls_helpers import open_tcp

TIMEOUT = 10.0


wait_until = functools.partial(waiting.wait_until, timeout=TIMEOUT)


def test_garbage_and_a_silent_handshake_are_closed_with_one_line_each(tmp_path: Path) -> None:
    server = ChatServer(tmp_path / "share", "127.0.0.1", 0, openers=Openers(hello_timeout=1.0))
    log: list[LogEvent] = []
    server.subscribe(log.append)
    server.start()
    try:
        garbage = open_tcp(server.address[1])
        garbage.sendall(b"\x16\x03\x01\x00\x05hello, this is not a ClientHello at all")
        garbage.settimeout(TIMEOUT)
        assert garbage.recv(65536) == b""  # hung up on, without a word
        silent = open_tcp(server.address[1])
        silent.sendall(b"\x16\x03\x01")  # the start of a record, and then nothing
        silent.settimeout(TIMEOUT)
        started = time.monotonic()
        assert silent.recv(65536) == b""  # closed by the hello deadline
        assert time.monotonic() - started < 5
        wait_until(lambda: len([e for e in log if e.kind is LogKind.TLS_FAILED]) == 2)
        reasons = [e.reason for e in log if e.kind is LogKind.TLS_FAILED]
        assert "handshake failed" in reasons[0] and "did not finish the TLS handshake" in reasons[1]
        garbage.close()
        silent.close()
        member = ChatClient("127.0.0.1", server.address[1], "alice")
        assert member.connect() == "alice"  # the host carried on
        member.close(wait=TIMEOUT)
    finally:
        server.stop()
