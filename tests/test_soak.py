"""Soak: thousands of random, truncated and oversized frames at a live host while three honest members chat.

The host runs in a process of its own (`python mmchat.py --host --headless`), so
the memory read from /proc/PID/status is the host's alone; it is stopped by
its PID.  Hostile connections come from a few threads at once, each opened by
`open_raw` (the one place this test opens a raw connection) and fed frames
from `hostile_frames`, seeded so a failure can be replayed.  Afterwards every
honest line reached every honest member, in one order that keeps each
sender's order, and the host's resident memory is back near where it began.
"""

from __future__ import annotations

import json
import os
import queue
import random
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mmchat import protocol
from mmchat.client import ChatClient
from mmchat.protocol import ChatMessage, Hello, Say
from mmchat.protocol.framing import PREFIX
from tests import tls_helpers
from tests.protocol_helpers import raw_frame as frame

ROOT = Path(__file__).resolve().parent.parent
SEED = int(os.environ.get("MMCHAT_SOAK_SEED", "11"))
HOSTILE_THREADS = 6
HOSTILE_SECONDS = 8.0
HONEST = ("alice", "bob", "carol")
HONEST_LINES = 120  # each, one every 50 ms: 6 s
RSS_SLACK_MB = 20.0  # generous: the host starts near 30 MB and measured 2-3 MB more after 20,000 frames
TIMEOUT = 20.0

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/PID/status")


def open_raw(port: int) -> socket.socket:
    """A raw connection to the host, over TLS: the one place this test opens one."""
    return tls_helpers.open_raw(port, timeout=2.0)


def random_value(rng: random.Random, depth: int = 0) -> object:
    kind = rng.randrange(8 if depth < 3 else 5)
    if kind == 0:
        return rng.randint(-(2**70), 2**70)
    if kind == 1:
        return "".join(
            chr(rng.choice((rng.randrange(32, 127), rng.randrange(0x80, 0x2FFF)))) for _ in range(rng.randrange(40))
        )
    if kind == 2:
        return rng.random() * 10.0 ** rng.randrange(-5, 300)
    if kind == 3:
        return rng.choice((None, True, False))
    if kind == 4:
        return "x" * rng.choice((0, 1, 33, 4001, 60_000))  # around and beyond the caps on strings
    if kind == 5:
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(5))]
    return {rng.choice(("type", "text", "ref", "name", "member", "version", "token")): random_value(rng, depth + 1)
            for _ in range(rng.randrange(5))}  # fmt: skip


TYPES = ("hello", "say", "online", "files", "cmd", "qr", "verify", "upload", "download", "transfer", "pong",
         "bye", "welcome", "message", "nonsense", "")  # fmt: skip
FIELDS = ("text", "ref", "version", "member", "line", "token", "size", "filename", "offset", "code")


def hostile_frames(rng: random.Random) -> Iterator[bytes]:
    """Endless frames of every bad kind: random bytes, bad JSON, wrong fields, oversized and truncated."""
    while True:
        kind = rng.randrange(9)
        if kind == 0:  # noise
            yield rng.randbytes(rng.randrange(1, 3000))
        elif kind == 1:  # a header that is not UTF-8 JSON
            yield frame(rng.randbytes(rng.randrange(1, 500)))
        elif kind == 2:  # JSON of a known (or unknown) type with random fields
            header = {"type": rng.choice(TYPES)}
            header.update({rng.choice(FIELDS): random_value(rng) for _ in range(rng.randrange(4))})
            yield frame(json.dumps(header).encode())
        elif kind == 3:  # a header over the host's cap, announced (and partly sent)
            yield PREFIX.pack(rng.choice((64 * 1024 + 1, 2**31, 2**32 - 1)), 0) + rng.randbytes(rng.randrange(2000))
        elif kind == 4:  # a body, which nothing a member sends may have
            yield frame(b'{"type":"say","text":"hi"}', rng.randbytes(rng.randrange(1, 2000)))
        elif kind == 5:  # an empty header
            yield PREFIX.pack(0, 0)
        elif kind == 6:  # nested too deeply for the parser
            depth = rng.choice((100, 5000, 30_000))
            yield frame(b"[" * depth + b"]" * depth)
        elif kind == 7:  # a valid frame cut short (the connection ends after it)
            whole = frame(json.dumps({"type": "say", "text": "cut " * rng.randrange(1, 100)}).encode())
            yield whole[: rng.randrange(1, len(whole))]
        else:  # a line over the chat cap, in a well-formed frame
            yield frame(json.dumps({"type": "say", "text": "z" * rng.choice((4001, 20_000, 60_000))}).encode())


def hostile_worker(port: int, seed: int, until: float, sent: list[int], connections: list[int]) -> None:
    """Open connection after connection until `until`: some say hello first, then all send bad frames."""
    rng = random.Random(seed)
    frames = hostile_frames(rng)
    number = 0
    while time.monotonic() < until:
        number += 1
        try:
            sock = open_raw(port)
        except OSError:
            time.sleep(0.05)  # refused (too many waiting from this address): try again
            continue
        connections.append(1)
        try:
            if rng.random() < 0.4:  # a member first, so the frames meet the room's rules too
                hello = protocol.encode(Hello(protocol.PROTOCOL_VERSION, f"h{seed}-{number}"))
                sock.sendall(hello + b"".join(protocol.encode(Say(text=f"noise {i}")) for i in range(rng.randrange(5))))
            batch = [next(frames) for _ in range(rng.randrange(1, 12))]
            for piece in batch:
                sock.sendall(piece)
                sent.append(1)
            if rng.random() < 0.5:  # read what the host says (a refusal, a welcome) before going
                sock.settimeout(0.2)
                try:
                    sock.recv(65536)
                except OSError:
                    pass
        except OSError:
            pass  # the host hung up on us, as it should
        finally:
            sock.close()


class HostProcess:
    """`python mmchat.py --host --headless` on 127.0.0.1 port 0, in a process of its own."""

    def __init__(self, share: Path) -> None:
        argv = [sys.executable, str(ROOT / "mmchat.py"), "--host", "--headless", "--bind", "127.0.0.1", "--port", "0",
                "--share", str(share)]  # fmt: skip
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.port = 0
        deadline = time.monotonic() + TIMEOUT
        while not self.port and time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                continue
            if found := re.search(r"127\.0\.0\.1:(\d+)", line):
                self.port = int(found.group(1))
        assert self.port, "the host did not say where it listens"

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    def rss_mb(self) -> float:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(re.findall(r"VmRSS:\s+(\d+) kB", status)[0]) / 1024

    def stop(self) -> int:
        os.kill(self.proc.pid, 15)  # SIGTERM, by PID: the host says goodbye and stops
        try:
            return self.proc.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, 9)
            self.proc.wait(TIMEOUT)
            raise


def honest_lines(client: ChatClient, expected: int, until: float) -> list[tuple[str, str]]:
    """The honest members' lines `client` received, in order, once all `expected` are in (or time is up)."""
    got: list[tuple[str, str]] = []
    while len(got) < expected and time.monotonic() < until:
        try:
            event = client.events.get(timeout=0.5)
        except queue.Empty:
            continue
        if isinstance(event, ChatMessage) and event.sender in HONEST and not event.history:
            got.append((event.sender, event.text))
    return got


def test_hostile_frames_leave_the_chat_whole_and_the_memory_where_it_was(tmp_path: Path) -> None:
    host = HostProcess(tmp_path / "share")
    members: list[ChatClient] = []
    try:
        for name in HONEST:
            member = ChatClient("127.0.0.1", host.port, name, downloads=tmp_path / name)
            assert member.connect(timeout=TIMEOUT) == name
            members.append(member)
        time.sleep(1.0)  # the host settles after start-up and three joins
        rss_before = host.rss_mb()
        until = time.monotonic() + HOSTILE_SECONDS
        sent: list[int] = []
        connections: list[int] = []
        workers = [
            threading.Thread(target=hostile_worker, args=(host.port, SEED * 100 + n, until, sent, connections))
            for n in range(HOSTILE_THREADS)
        ]
        for worker in workers:
            worker.start()
        for i in range(HONEST_LINES):
            for member in members:
                member.say(f"{member.name} {i}")
            time.sleep(0.05)
        for worker in workers:
            worker.join(HOSTILE_SECONDS + TIMEOUT)
        assert not any(worker.is_alive() for worker in workers)
        received = [honest_lines(m, len(HONEST) * HONEST_LINES, time.monotonic() + TIMEOUT) for m in members]
        time.sleep(2.0)  # the host lets go of what the hostile connections left
        rss_after = host.rss_mb()
        late = ChatClient("127.0.0.1", host.port, "dave", downloads=tmp_path / "dave")
        assert late.connect(timeout=TIMEOUT) == "dave", "the host still takes newcomers"
        late.close(wait=TIMEOUT)
    finally:
        for member in members:
            member.close(wait=TIMEOUT)
        code = host.stop()
    seed = f"(MMCHAT_SOAK_SEED={SEED})"
    print(
        f"soak: {len(sent)} hostile frames on {len(connections)} connections, "
        f"host RSS {rss_before:.1f} -> {rss_after:.1f} MB"
    )
    assert len(sent) >= 2000 and len(connections) >= 300, f"only {len(sent)} frames on {len(connections)} connections"
    for name, lines in zip(HONEST, received, strict=True):
        assert len(lines) == len(HONEST) * HONEST_LINES, f"{name} missed lines {seed}"
        for sender in HONEST:
            assert [text for who, text in lines if who == sender] == [f"{sender} {i}" for i in range(HONEST_LINES)]
    assert received[0] == received[1] == received[2], f"the members saw different orders {seed}"
    assert rss_after <= rss_before + RSS_SLACK_MB, f"host RSS {rss_before:.1f} MB -> {rss_after:.1f} MB {seed}"
    assert code == 0
