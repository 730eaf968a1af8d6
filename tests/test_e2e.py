"""End to end: a real headless host and real terminal members, as separate processes.

Each process gets a reader thread per output stream that collects lines, so a
test writes a command to a member's standard input and then waits (with a
deadline) for the line it expects.  Every process started here is killed by the
`spawn` fixture's finalizer if a test leaves it running.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mmchat import __version__
from mmchat.files import human_size

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
ENTRY = ROOT / "mmchat.py"
WAIT = 20.0  # generous: CI machines can be slow, and a pass never waits this long


def _env() -> dict[str, str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONIOENCODING="utf-8")
    env.pop("MMCHAT_PASSWORD", None)
    return env


class Process:
    """One mmchat process whose output lines are collected as they arrive."""

    def __init__(
        self,
        args: list[str],
        stdin=subprocess.PIPE,
        *,
        command: list[str] | None = None,
        cwd: Path = ROOT,
        env: dict[str, str] | None = None,
    ) -> None:
        self.args = args
        self.proc = subprocess.Popen(
            [*(command or [sys.executable, str(ENTRY)]), *args],
            cwd=cwd,
            env=env or _env(),
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        self.lines: list[str] = []
        self.err_lines: list[str] = []
        self._changed = threading.Condition()
        self._readers = [
            threading.Thread(target=self._collect, args=(self.proc.stdout, self.lines), daemon=True),
            threading.Thread(target=self._collect, args=(self.proc.stderr, self.err_lines), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _collect(self, stream, into: list[str]) -> None:
        for line in stream:
            with self._changed:
                into.append(line.rstrip("\r\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def mark(self) -> int:
        """The index of the next output line, to wait only for what comes after it."""
        with self._changed:
            return len(self.lines)

    def wait_for(self, pattern: str, start: int = 0, timeout: float = WAIT) -> tuple[int, re.Match]:
        """Wait for an output line at index >= start that matches `pattern` (re.search); return (index, match)."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for index in range(start, len(self.lines)):
                    found = regex.search(self.lines[index])
                    if found:
                        return index, found
                start = max(start, len(self.lines))
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self.proc.poll() is not None and not any(r.is_alive() for r in self._readers)):
                    raise AssertionError(
                        f"no line matching {pattern!r} from mmchat {' '.join(self.args)}\n{self.dump()}"
                    )
                self._changed.wait(min(remaining, 0.5))

    def send(self, line: str) -> None:
        """Type one line on the process's standard input."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def close_stdin(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()

    def wait_exit(self, timeout: float = WAIT) -> int:
        """Wait for the process to end and for its output to be read; return its exit code."""
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"mmchat {' '.join(self.args)} did not exit\n{self.dump()}") from None
        for reader in self._readers:
            reader.join(timeout)
        return code

    def dump(self) -> str:
        with self._changed:
            return "--- stdout:\n" + "\n".join(self.lines) + "\n--- stderr:\n" + "\n".join(self.err_lines)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass


@pytest.fixture
def spawn():
    """Start mmchat processes; any still running at the end of the test is killed."""
    started: list[Process] = []

    def start(*args: str, stdin=subprocess.PIPE) -> Process:
        process = Process(list(args), stdin=stdin)
        started.append(process)
        return process

    yield start
    for process in started:
        process.kill()


@pytest.fixture
def host(spawn, tmp_path):
    """A headless host on a free port of 127.0.0.1 with its share in tmp_path/share; returns (process, port)."""
    process = spawn("--host", "--headless", "--port", "0", "--bind", "127.0.0.1", "--share", str(tmp_path / "share"))
    index, found = process.wait_for(r"^Server listening at 127\.0\.0\.1:(\d+)$")
    assert index == 0, "the listening line must come first\n" + process.dump()
    return process, int(found.group(1))


def _join(spawn, port: int, name: str, downloads: Path, **kwargs) -> Process:
    return spawn("--join", f"127.0.0.1:{port}", "--cli", "--name", name, "--downloads", str(downloads), **kwargs)


def leave_and_stop(host: Process, leaver: Process, stayer: Process) -> None:
    """`leaver` types !exit, `stayer` sees it go and ends its input, the host gets SIGTERM: all exit 0."""
    leaver.send("!exit")
    assert leaver.wait_exit() == 0, leaver.dump()
    stayer.wait_for(rf"^{re.escape(leaver.args[leaver.args.index('--name') + 1])} left the chat$")
    stayer.close_stdin()
    assert stayer.wait_exit() == 0, stayer.dump()
    host.proc.send_signal(signal.SIGTERM)
    assert host.wait_exit() == 0, host.dump()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def share_and_fetch(alice: Process, bob: Process, original: Path, size: str, downloads: Path) -> Path:
    """alice !sends `original`, bob sees it shared (`size`: its human size, regex-escaped) and !reqs it into
    `downloads`, byte-identical; returns the copy's path."""
    name = re.escape(original.name)
    alice.send(f"!send {original}")
    alice.wait_for(rf"^File sent successfully: {name}$")
    bob.wait_for(rf"^alice shared {name} \({size}\)$")
    bob.send(f"!req {original.name}")
    _, found = bob.wait_for(r"^File received successfully: (.+)$")
    copy = Path(found.group(1))
    assert copy == downloads / original.name
    assert _sha256(copy) == _sha256(original)
    return copy


def test_two_members_chat_share_and_leave(host, spawn, tmp_path):
    server, port = host
    original = tmp_path / "sample.bin"
    original.write_bytes(os.urandom(3_000_017))
    size = re.escape(human_size(3_000_017))

    bob = _join(spawn, port, "bob", tmp_path / "dl_bob")
    bob.wait_for(rf"^Connected to 127\.0\.0\.1:{port} as bob\.")
    alice = _join(spawn, port, "alice", tmp_path / "dl_alice")
    alice.wait_for(rf"^Connected to 127\.0\.0\.1:{port} as alice\.")
    bob.wait_for(r"^alice has joined the chat$")

    alice.send("hello 😎")
    bob.wait_for(r"^\[alice\] hello 😎$")
    alice.wait_for(r"^\[alice\] hello 😎$")

    start = bob.mark()
    bob.send("!online")
    last, _ = bob.wait_for(r"^  alice$", start)  # listings are indented: column 0 is for senders
    assert bob.lines[last - 1] == "  bob", "!online must list members in join order\n" + bob.dump()

    share_and_fetch(alice, bob, original, size, tmp_path / "dl_bob")

    start = alice.mark()
    alice.send("!cmd ls")
    alice.wait_for(r"^  sample\.bin\b", start)
    alice.send("!cmd rm x")
    alice.wait_for(r"^  No privileges to run the command: rm x$", start)

    start = alice.mark()
    alice.send("!qr")
    code_line, found = alice.wait_for(r"^One-time code: (MMC-[A-Z0-9]+) \(valid 60 s, once\)$", start)
    code = found.group(1)
    assert any("█" in line for line in alice.lines[start:code_line]), "no QR picture\n" + alice.dump()
    start = bob.mark()
    bob.send(f"!verify {code}")
    first, _ = bob.wait_for(r"^verified \(issued to alice\)$", start)
    bob.send(f"!verify {code}")
    bob.wait_for(r"^invalid or expired$", first + 1)

    leave_and_stop(server, alice, bob)
    log = "\n".join(server.lines)
    assert "New connection: alice (127.0.0.1:" in log
    assert "Command to execute: ls (alice)" in log
    assert re.search(rf"^File received: sample\.bin \({size}\) from alice$", log, re.MULTILINE)
    assert re.search(rf"^File sent: sample\.bin \({size}\) to bob$", log, re.MULTILINE)
    assert "alice left the chat (127.0.0.1:" in log
    assert "Traceback" not in server.dump()


def test_piped_script_runs_in_order(host, spawn, tmp_path):
    _, port = host
    original = tmp_path / "a"
    original.write_bytes(os.urandom(256 * 1024))
    script = tmp_path / "script.txt"
    script.write_text(f"!send {original}\n!req a\n", encoding="utf-8")

    with open(script, encoding="utf-8") as stdin:
        member = _join(spawn, port, "carol", tmp_path / "dl", stdin=stdin)
        assert member.wait_exit() == 0, member.dump()

    sent, _ = member.wait_for(r"^File sent successfully: a$")
    received, found = member.wait_for(r"^File received successfully: (.+)$")
    assert sent < received
    assert _sha256(Path(found.group(1))) == _sha256(original)
    assert "Traceback" not in member.dump()


def test_version(spawn):
    process = spawn("--version", stdin=subprocess.DEVNULL)
    assert process.wait_exit() == 0
    assert process.lines == [f"mmchat {__version__}"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", __version__)


def test_join_where_nobody_listens_says_so(spawn, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # The port is free again now, and nothing listens on it.
    member = _join(spawn, port, "dave", tmp_path / "dl", stdin=subprocess.DEVNULL)
    assert member.wait_exit() == 1, member.dump()
    err = "\n".join(member.err_lines)
    assert "Traceback" not in err
    assert re.fullmatch(rf"mmchat: .*127\.0\.0\.1:{port}.*", err), member.dump()
