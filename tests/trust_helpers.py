"""Shared by the trust tests: two fingerprints, a host on 127.0.0.1, and a ChatClient that calls verify_host.

The tests work before and after the TLS work is merged: `hook` and `show` give the key the host shows (its
certificate's, or before TLS a stand-in that HookedClient presents where TLS will), and a test compares
with that key and with NEW, a key no host here has.
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
    """ChatClient that, while the host has no TLS, calls verify_host where the TLS work does, with `stand_in`.

    Once the host has TLS (`stand_in` is ''), ChatClient calls verify_host itself with the real fingerprint
    and this only records the threads connect() ran on.
    """

    stand_in = ""
    key = ""  # the fingerprint the host shows, for the test to compare with
    threads: ClassVar[list[str]] = []

    def connect(self, timeout: float = 10.0) -> str:
        assert self.verify_host is not None, "the front end must pass verify_host="
        type(self).threads.append(threading.current_thread().name)
        if self.stand_in:
            self.verify_host(self.stand_in)
        return super().connect(timeout)


def hook(
    monkeypatch: pytest.MonkeyPatch, module: object, server: ChatServer, stand_in: str = OLD
) -> type[HookedClient]:
    """Make `module`'s ChatClient a HookedClient joining `server`; its `key` is the one `server` shows."""
    cls = type("Hooked", (HookedClient,), {"threads": []})
    show(cls, server, stand_in)
    monkeypatch.setattr(module, "ChatClient", cls)
    return cls


def show(cls: type[HookedClient], server: ChatServer, stand_in: str) -> str:
    """From now on `cls` joins `server`: its key is the certificate's, or `stand_in` before the TLS work."""
    cls.stand_in = "" if server.fingerprint else stand_in
    cls.key = server.fingerprint or stand_in
    return cls.key


@pytest.fixture
def host(tmp_path: Path) -> Iterator[ChatServer]:
    server = ChatServer(tmp_path / "share", "127.0.0.1", 0)
    server.start()
    yield server
    server.stop()
