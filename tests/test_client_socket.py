"""Opening the member's connections (mmchat.client_socket): one deadline, errors as sentences."""

from __future__ import annotations

import socket
import time

import pytest

from mmchat import client_socket
from mmchat.client_socket import ConnectError, open_connection, remaining


def test_connects_with_nodelay() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        sock = open_connection("127.0.0.1", port, time.monotonic() + 5)
        with sock:
            assert sock.getpeername() == ("127.0.0.1", port)
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


def test_refused() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    with pytest.raises(ConnectError) as caught:
        open_connection("127.0.0.1", port, time.monotonic() + 5)
    assert str(caught.value) == f"Nobody is hosting a chat at 127.0.0.1:{port} (connection refused)."


def test_unknown_host(monkeypatch) -> None:
    def unknown(*args: object, **kwargs: object) -> list[object]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(client_socket.socket, "getaddrinfo", unknown)
    with pytest.raises(ConnectError) as caught:
        open_connection("nowhere.invalid", 12002, time.monotonic() + 5)
    assert str(caught.value) == "Unknown host: nowhere.invalid"


def test_a_deadline_already_passed_tries_nothing() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        with pytest.raises(ConnectError) as caught:
            open_connection("127.0.0.1", port, time.monotonic() - 1)
    assert str(caught.value) == f"No answer from 127.0.0.1:{port}: is the address right and the host running?"


class SilentSocket:
    """A socket whose connect() waits out its whole time-out, like an address that drops packets."""

    def __init__(self, *args: object) -> None:
        self.timeout = 0.0

    def settimeout(self, timeout: float) -> None:
        self.timeout = timeout

    def connect(self, address: object) -> None:
        time.sleep(self.timeout)
        raise TimeoutError("timed out")

    def close(self) -> None:
        pass


def test_every_address_shares_one_deadline(monkeypatch) -> None:
    five = [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("192.0.2.1", 1))] * 5
    monkeypatch.setattr(client_socket.socket, "getaddrinfo", lambda *args, **kwargs: five)
    monkeypatch.setattr(client_socket.socket, "socket", SilentSocket)
    started = time.monotonic()
    with pytest.raises(ConnectError) as caught:
        open_connection("silent.example", 1, started + 0.5)
    monkeypatch.undo()
    assert time.monotonic() - started < 2.0  # a time-out per address would take 2.5 s
    assert str(caught.value) == "No answer from silent.example:1: is the address right and the host running?"


def test_remaining_never_goes_below_zero() -> None:
    assert remaining(time.monotonic() - 10) == 0.0
    assert 4 < remaining(time.monotonic() + 5) <= 5
