"""Flood: honest members' latency while one member sends chat lines without pause (127.0.0.1 only).

A headless host runs in its own process; a flooder process sends `say`
frames as fast as the host takes them (at most FLOOD_MESSAGES, for at most
FLOOD_SECONDS) without reading; in this process alice says a line every
20 ms and bob times its arrival.  Run once with the budgets off ("before":
--flood-chat 1e9/1e9, what the host did without budgets) and once with the
defaults ("after").  Prints p50/p99/max of bob's latency and how many flood
lines reached him.

    .venv/bin/python bench/flood.py

On the 2-core build VM (2026-12-01, 300 honest lines, flooder sending 200-character lines):
before p50 0.6 ms, p99 66 ms, max 78 ms, 38,465 flood lines broadcast; after p50 0.6 ms,
p99 1.1 ms, max 24 ms, 623 flood lines (the 500 burst, then 20 a second).
"""

from __future__ import annotations

import multiprocessing
import re
import socket
import subprocess
import sys
import threading
import time
from multiprocessing.synchronize import Event as MpEvent
from pathlib import Path
from tempfile import TemporaryDirectory

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mmchat import protocol  # noqa: E402
from mmchat.protocol import ChatMessage, Connection, Hello, Role, Say, Welcome  # noqa: E402

FLOOD_MESSAGES = 50_000
FLOOD_SECONDS = 10.0
HONEST_LINES = 300  # one every 20 ms: 6 s
TEXT = "x" * 200


def member(port: int, name: str) -> tuple[socket.socket, Connection]:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    conn = Connection(Role.MEMBER)
    sock.sendall(conn.send(Hello(protocol.PROTOCOL_VERSION, name)))
    while True:
        event = conn.next_event()
        if event is protocol.NEED_DATA:
            conn.receive_data(sock.recv(65536))
        elif isinstance(event, Welcome):
            return sock, conn


def flood(port: int, ready: MpEvent) -> None:
    sock, conn = member(port, "flooder")
    batch = b"".join(conn.send(Say(text=f"{i} {TEXT}")) for i in range(1000))
    sock.settimeout(0.5)
    ready.set()
    deadline = time.monotonic() + FLOOD_SECONDS
    sent = 0
    while sent < FLOOD_MESSAGES and time.monotonic() < deadline:
        try:
            sock.sendall(batch)
            sent += 1000
        except TimeoutError:
            continue
        except OSError:
            break  # dropped
    sock.close()


def run(flood_chat: str) -> dict[str, float]:
    with TemporaryDirectory() as tmp:
        host = subprocess.Popen(
            [sys.executable, str(ROOT / "mmchat.py"), "--host", "--headless", "--bind", "127.0.0.1", "--port", "0",
             "--share", str(Path(tmp) / "share"), "--flood-chat", flood_chat],
            stdout=subprocess.PIPE, text=True, cwd=ROOT,
        )  # fmt: skip
        try:
            assert host.stdout is not None
            port = 0
            for line in host.stdout:
                if found := re.search(r"127\.0\.0\.1:(\d+)", line):
                    port = int(found.group(1))
                    break
            threading.Thread(target=host.stdout.read, daemon=True).start()  # keep its pipe empty
            alice, aconn = member(port, "alice")
            bob, bconn = member(port, "bob")
            ready = multiprocessing.Event()
            flooder = multiprocessing.Process(target=flood, args=(port, ready))
            flooder.start()
            ready.wait(10)
            said: dict[str, float] = {}
            latencies: list[float] = []
            spam = [0]

            def listen() -> None:
                bob.settimeout(1.0)
                while len(latencies) < HONEST_LINES:
                    try:
                        data = bob.recv(1 << 20)
                    except TimeoutError:
                        continue
                    if not data:
                        return
                    bconn.receive_data(data)
                    for event in bconn.events():
                        if isinstance(event, ChatMessage) and event.sender == "alice" and event.text in said:
                            latencies.append(time.perf_counter() - said[event.text])
                        elif isinstance(event, ChatMessage) and event.sender == "flooder":
                            spam[0] += 1

            listener = threading.Thread(target=listen)
            listener.start()
            for i in range(HONEST_LINES):
                text = f"honest {i}"
                said[text] = time.perf_counter()
                alice.sendall(aconn.send(Say(text=text)))
                time.sleep(0.02)
            listener.join(30)
            flooder.join(FLOOD_SECONDS + 5)
            alice.close()
            bob.close()
        finally:
            host.terminate()
            host.wait(10)
    latencies.sort()
    ms = [x * 1000 for x in latencies]
    return {
        "lines": len(ms),
        "p50_ms": ms[len(ms) // 2],
        "p99_ms": ms[int(len(ms) * 0.99) - 1],
        "max_ms": ms[-1],
        "flood_lines_seen": spam[0],
    }


if __name__ == "__main__":
    for label, budget in (("before (no budget)", "1e9/1e9"), ("after (default 500/20)", "500/20")):
        result = run(budget)
        print(
            f"{label:24} "
            + "  ".join(f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}" for k, v in result.items())
        )
