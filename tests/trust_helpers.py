"""Shared by the trust tests: two fingerprints, a host on 127.0.0.1, and a ChatClient that records its threads.

`hook` makes a front end's ChatClient a HookedClient, whose `key` is the one the host shows (its TLS
certificate's fingerprint); ChatClient itself calls verify_host with it, after the TLS handshake and
before the hello.  OLD and NEW are keys no host here has (for the dialog's and the rule's own tests).
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
    """ChatClient that checks a front end passed verify_host and records the threads connect() ran on."""

    key = ""  # the fingerprint the host shows, for the test to compare with
    threads: ClassVar[list[str]] = []

    def connect(self, timeout: float = 10.0) -> str:
        assert self.verify_host is not None, "the front end must pass verify_host="
        type(self).threads.append(threading.current_thread().name)
        return super().connect(timeout)


def hook(monkeypatch: pytest.MonkeyPatch, module: object, server: ChatServer) -> type[HookedClient]:
    """Make `module`'s ChatClient a HookedClient joining `server`; its `key` is the one `server` shows."""
    cls = type("Hooked", (HookedClient,), {"threads": []})
    show(cls, server)
    monkeypatch.setattr(module, "ChatClient", cls)
    return cls


def show(cls: type[HookedClient], server: ChatServer) -> str:
    """From now on `cls` joins `server`: its key is that host's certificate's fingerprint."""
    assert server.fingerprint, "the trust tests need a host with TLS"
    cls.key = server.fingerprint
    return cls.key


@pytest.fixture
def host(tmp_path: Path) -> Iterator[ChatServer]:
    server = ChatServer(tmp_path / "share", "127.0.0.1", 0)
    server.start()
    yield server
    server.stop()
