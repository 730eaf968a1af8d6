"""The headless host's admin lines (mmchat.host_console): fed a stream here, and through a real process's stdin."""

from __future__ import annotations

import functools
import io
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mmchat.client import ChatClient, Disconnected
from mmchat.host_console import HELP, HostConsole
from mmchat.server import ChatServer
from tests import waiting

ROOT = Path(__file__).resolve().parent.parent
WAIT = 20.0


@pytest.fixture
def host(tmp_path: Path):
    server = ChatServer(tmp_path / "share", "127.0.0.1", 0, data_dir=tmp_path / "data")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def console(host: ChatServer):
    said: list[str] = []
    return HostConsole(host, said.append, threading.Event()), said


wait_until = functools.partial(waiting.wait_until, timeout=WAIT)


def joined(server: ChatServer, name: str) -> ChatClient:
    client = ChatClient("127.0.0.1", server.address[1], name)
    client.connect()
    return client


def test_who_kick_ban_bans_unban_as_typed_lines(host: ChatServer, console) -> None:
    console, said = console
    console.run(io.StringIO("/who\n"))
    assert said == ["Nobody is connected."]
    alice, bob = joined(host, "alice"), joined(host, "bob")
    said.clear()
    console.handle("/who")
    assert said[0] == "Connected (2):" and said[1].startswith("  alice  127.0.0.1:") and "bob" in said[2]
    console.run(io.StringIO("/kick bob\n"))
    wait_until(lambda: host.online() == ["alice"])
    said.clear()
    console.run(io.StringIO("/bans\n/ban alice\n"))
    wait_until(lambda: len(host.bans()) == 1)
    assert said == ["Nobody is banned."]
    assert "banned" in _disconnected(alice).reason
    said.clear()
    console.handle("/bans")
    assert said[0] == "Banned (1):" and re.fullmatch(r"  127\.0\.0\.1  alice  since \d{4}-\d\d-\d\d \d\d:\d\d", said[1])
    console.handle("/unban 127.0.0.1")
    wait_until(lambda: host.bans() == [])
    joined(host, "alice").close(wait=WAIT)
    bob.close()


def _disconnected(client: ChatClient) -> Disconnected:
    while True:
        event = client.events.get(timeout=WAIT)
        if isinstance(event, Disconnected):
            return event


@pytest.mark.parametrize(
    ("line", "answer"),
    [
        ("/kick nobody", "No member called nobody is connected (/who lists them)."),
        ("/ban", "Usage: /ban NAME"),
        ("/unban", "Usage: /unban ADDRESS"),
        ("/unban 10.0.0.9", "10.0.0.9 is not banned (/bans lists the bans)."),
        ("/frobnicate now", "Unknown command: /frobnicate. Type /help for the host's commands."),
        ("hello everyone", "The host's commands start with /: type /help for the list."),
        ("/help", HELP),
    ],
)
def test_what_cannot_be_done_is_a_sentence(console, line: str, answer: str) -> None:
    console, said = console
    console.handle(line)
    assert said == [answer]
    assert not console.stop.is_set()


def test_stop_sets_the_stop_event_and_blank_lines_do_nothing(console) -> None:
    console, said = console
    console.run(io.StringIO("\n   \n/stop\n/who\n"))
    assert console.stop.is_set() and said == ["Stopping: the members are being told."]  # nothing read after


def test_an_unreadable_input_only_stops_the_reading(console) -> None:
    console, said = console

    class Broken(io.StringIO):
        def __iter__(self):
            raise OSError("reading from stdin while output is captured")

    console.run(Broken())
    assert said == [] and not console.stop.is_set()
    assert console.start(None) is None  # no standard input at all (a windowed build): nothing to read


def _headless(tmp_path: Path, stdin: int) -> subprocess.Popen[str]:
    command = [sys.executable, str(ROOT / "mmchat.py"), "--host", "--headless", "--bind", "127.0.0.1", "--port", "0",
               "--share", str(tmp_path / "share")]  # fmt: skip
    env = {**os.environ, "MMCHAT_PASSWORD": ""}
    return subprocess.Popen(command, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _read_until(process: subprocess.Popen[str], pattern: str) -> re.Match[str]:
    assert process.stdout is not None
    lines = []
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if found := re.search(pattern, line):
            return found
    raise AssertionError(f"no line matching {pattern!r}: {lines!r}")


@pytest.mark.slow
def test_a_host_without_input_keeps_running(tmp_path: Path) -> None:
    process = _headless(tmp_path, subprocess.DEVNULL)  # stdin at its end from the start, as under systemd
    try:
        port = int(_read_until(process, r"Server listening at 127\.0\.0\.1:(\d+)").group(1))
        _read_until(process, r"Shared folder")
        member = ChatClient("127.0.0.1", port, "alice")
        member.connect()  # the end of the input did not stop the host
        assert process.poll() is None
        member.close(wait=WAIT)
    finally:
        os.kill(process.pid, 15)
        assert process.wait(WAIT) == 0


@pytest.mark.slow
def test_stop_on_standard_input_stops_the_host(tmp_path: Path) -> None:
    process = _headless(tmp_path, subprocess.PIPE)
    assert process.stdin is not None
    try:
        _read_until(process, r"Server listening at 127\.0\.0\.1:\d+")
        process.stdin.write("/who\n/stop\n")
        process.stdin.flush()
        _read_until(process, r"^Nobody is connected\.$")
        _read_until(process, r"^Stopping: the members are being told\.$")
        assert process.wait(WAIT) == 0
    finally:
        if process.poll() is None:
            os.kill(process.pid, 15)
            process.wait(WAIT)
