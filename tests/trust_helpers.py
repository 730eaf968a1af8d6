"""Shared by the trust tests: two fingerprints, a host on 127.0.0.1, and a ChatClient that calls verify_host.

Until the TLS work makes ChatClient call `verify_host` after its handshake, `HookedClient` calls it where
that work will (after connecting, before the hello), the host "showing" the fingerprint a test chooses.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from mmchat.client import ChatClient
from mmchat.fingerprints import fingerprint_of
from mmchat.server import ChatServer

OLD = fingerprint_of(b"the host's certificate")
NEW = fingerprint_of(b"somebody else's certificate")


class HookedClient(ChatClient):
    """ChatClient calling verify_host where the TLS work will; records the threads it was called on."""

    presented = OLD
    threads: ClassVar[list[str]] = []

    def connect(self, timeout: float = 10.0) -> str:
        assert self.verify_host is not None, "the front end must pass verify_host="
        type(self).threads.append(threading.current_thread().name)
        self.verify_host(self.presented)
        return super().connect(timeout)


def hooked_client() -> type[HookedClient]:
    """A HookedClient class of a test's own (what it presents and records is the test's)."""
    return type("Hooked", (HookedClient,), {"presented": OLD, "threads": []})


@pytest.fixture
def host(tmp_path: Path) -> Iterator[ChatServer]:
    server = ChatServer(tmp_path / "share", "127.0.0.1", 0)
    server.start()
    yield server
    server.stop()
