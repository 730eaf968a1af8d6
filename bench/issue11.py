"""Issue 11's figures, before and after: floods, silent connections and stalled uploads (127.0.0.1 only).

How this works
--------------
Each measurement starts a headless host from a checkout (`--tree`, default
this one) in a process of its own, with only the flags every version has, so
the same script measures the commit the issue was filed against and a branch
that fixes it.  The members here speak the wire protocol directly (this
tree's `mmchat.protocol`, with the host's own PROTOCOL_VERSION read from the
checkout).  Every measurement is bounded in time (a minute or so at most):

* chat: alice says a line every 20 ms while a flooder sends 200-character
  lines without pause; bob times alice's lines (p50, p99, max).  Flooders
  read what the host sends them (else the host drops them as too slow).
* history: a flooder sends 4,000-character lines for FLOOD_SECONDS; the host's
  data folder grows by how much.
* cmd: a flooder queues 2,000 `!cmd cat` of a 200 kB file; alice's `pwd`
  waits how long (five, one every 0.3 s, from when the first 200 are out).
* join: the host may have 1,024 descriptors (ulimit -n); 3,000 connections
  that never say hello are opened from 127.0.0.1, then a newcomer from
  127.0.0.2 joins, five times: how long each join takes.
* tickets: a member asks for 500 upload tickets at once: how many come, how fast.
* stalled: a member offers 40 uploads of 1 GiB, sends the first 20 MiB of each
  and stops; the host's RSS (/proc/PID/status) before, and 3 s into the stall.

    python bench/issue11.py [--tree DIR] [--only NAME ...] [-- EXTRA HOST FLAGS]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import re
import resource
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from tempfile import TemporaryDirectory

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mmchat import protocol  # noqa: E402
from mmchat.protocol import (  # noqa: E402
    ChatMessage,
    CommandResult,
    Connection,
    ErrorReply,
    Hello,
    OfferUpload,
    Role,
    RunCommand,
    Say,
    TransferHello,
    TransferReady,
    Welcome,
)

FLOOD_SECONDS = 7.0
HONEST_LINES = 250  # one every 20 ms: 5 s
HOST_FD_LIMIT = 1024
SILENT = 3000
STALLED = 40
STALL_BYTES = 20 << 20


class Host:
    """A headless host from checkout `tree` in its own process; `pid`, `port`, `data` (its history folder)."""

    def __init__(self, tree: Path, tmp: Path, extra: list[str], fd_limit: int | None = None) -> None:
        self.data = tmp / "share" / ".mmchat"
        (tmp / "share").mkdir()
        (tmp / "share" / "big.txt").write_text(("x" * 199 + "\n") * 1000)  # 200 kB for `cat`
        text = (tree / "mmchat" / "protocol" / "fields.py").read_text() if (tree / "mmchat" / "protocol").is_dir() \
            else (tree / "mmchat" / "protocol.py").read_text()  # fmt: skip
        self.version = int(re.findall(r"PROTOCOL_VERSION = (\d+)", text)[0])

        def limit() -> None:
            if fd_limit:
                resource.setrlimit(resource.RLIMIT_NOFILE, (fd_limit, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))

        argv = [sys.executable, str(tree / "mmchat.py"), "--host", "--headless", "--bind", "127.0.0.1", "--port", "0",
                "--share", str(tmp / "share"), *extra]  # fmt: skip
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, cwd=tree, preexec_fn=limit)
        assert self.proc.stdout is not None
        self.port = 0
        for line in self.proc.stdout:
            if found := re.search(r"127\.0\.0\.1:(\d+)", line):
                self.port = int(found.group(1))
                break
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()  # keep its pipe empty
        self.pid = self.proc.pid

    def rss_mb(self) -> float:
        status = Path(f"/proc/{self.pid}/status").read_text()
        return int(re.findall(r"VmRSS:\s+(\d+)", status)[0]) / 1024

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


@contextmanager
def host(tree: Path, extra: list[str], fd_limit: int | None = None) -> Iterator[Host]:
    with TemporaryDirectory() as tmp:
        running = Host(tree, Path(tmp), extra, fd_limit)
        try:
            yield running
        finally:
            running.stop()


def member(
    port: int, name: str, version: int, source: str = "", timeout: float = 10
) -> tuple[socket.socket, Connection]:
    sock = socket.create_connection(
        ("127.0.0.1", port), timeout=timeout, source_address=(source, 0) if source else None
    )
    conn = Connection(Role.MEMBER)
    sock.sendall(conn.send(Hello(version, name)))
    while True:
        event = conn.next_event()
        if event is protocol.NEED_DATA:
            data = sock.recv(65536)
            if not data:
                raise ConnectionError(f"{name} was refused")
            conn.receive_data(data)
        elif isinstance(event, Welcome):
            return sock, conn


def events(sock: socket.socket, conn: Connection, until: float) -> Iterator[object]:
    """What the host sends, until monotonic `until` or the connection ends."""
    while time.monotonic() < until:
        sock.settimeout(max(0.01, min(1.0, until - time.monotonic())))
        try:
            data = sock.recv(1 << 20)
        except TimeoutError:
            continue
        except OSError:
            return
        if not data:
            return
        conn.receive_data(data)
        yield from conn.events()


def flood(port: int, version: int, make: Callable[[Connection, int], bytes], seconds: float, ready) -> None:
    """Send what `make` makes without pause (and never read) for `seconds`; an empty frame: all is sent."""
    sock, conn = member(port, "flooder", version)
    sock.settimeout(0.5)
    threading.Thread(target=drain, args=(sock, seconds + 5), daemon=True).start()  # a flooder who keeps reading
    deadline = time.monotonic() + seconds
    sent = 0
    while time.monotonic() < deadline:
        batch = b"".join(make(conn, i) for i in range(sent, sent + 200))
        if not batch:
            time.sleep(0.05)  # all sent: stay connected, not reading, until the time is up
            continue
        sent += 200
        view = memoryview(batch)
        while view and time.monotonic() < deadline:
            try:
                view = view[sock.send(view) :]  # never a frame sent twice, whatever a time-out cut
                if not view:
                    ready.set()  # the first batch is out: the measuring starts
            except TimeoutError:
                continue
            except OSError:
                sock.close()
                return  # dropped
    sock.close()


def drain(sock: socket.socket, seconds: float) -> None:
    """Read and throw away what the host sends, for `seconds` or until the connection ends."""
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        try:
            if not sock.recv(1 << 20):
                return
        except TimeoutError:
            continue
        except OSError:
            return


def start_flood(h: Host, make: Callable[[Connection, int], bytes], seconds: float) -> multiprocessing.Process:
    ready = multiprocessing.Event()
    proc = multiprocessing.Process(target=flood, args=(h.port, h.version, make, seconds, ready))
    proc.start()
    ready.wait(10)
    return proc


def say_line(conn: Connection, i: int) -> bytes:
    return conn.send(Say(text=f"{i} " + "x" * 200))


def long_line(conn: Connection, i: int) -> bytes:
    return conn.send(Say(text=f"{i} " + "y" * 3990))


def cat_big(conn: Connection, i: int) -> bytes:
    return conn.send(RunCommand(line="cat big.txt", ref=i + 1)) if i < 2000 else b""


# --- the measurements ------------------------------------------------------------------------


def chat(h: Host) -> dict[str, object]:
    alice, aconn = member(h.port, "alice", h.version)
    bob, bconn = member(h.port, "bob", h.version)
    flooder = start_flood(h, say_line, FLOOD_SECONDS)
    said: dict[str, float] = {}
    latencies: list[float] = []

    def listen() -> None:
        for event in events(bob, bconn, time.monotonic() + 30):
            if isinstance(event, ChatMessage) and event.sender == "alice" and event.text in said:
                latencies.append(time.perf_counter() - said[event.text])
                if len(latencies) == HONEST_LINES:
                    return

    listener = threading.Thread(target=listen)
    listener.start()
    threading.Thread(target=drain, args=(alice, 30), daemon=True).start()  # else dropped as too slow
    for i in range(HONEST_LINES):
        said[text := f"honest {i}"] = time.perf_counter()
        alice.sendall(aconn.send(Say(text=text)))
        time.sleep(0.02)
    listener.join(35)
    flooder.join(FLOOD_SECONDS + 5)
    ms = sorted(x * 1000 for x in latencies)
    return {
        "honest lines": len(ms),
        "p50 ms": ms[len(ms) // 2],
        "p99 ms": ms[int(len(ms) * 0.99) - 1],
        "max ms": ms[-1],
    }


def history(h: Host) -> dict[str, object]:
    def size() -> int:
        return sum(p.stat().st_size for p in h.data.rglob("*") if p.is_file())

    before = size()
    start_flood(h, long_line, FLOOD_SECONDS).join(FLOOD_SECONDS + 5)
    time.sleep(2)  # the history writer catches up
    return {"flood seconds": FLOOD_SECONDS, "history growth MB": round((size() - before) / 1e6, 1)}


def cmd(h: Host) -> dict[str, object]:
    alice, aconn = member(h.port, "alice", h.version)
    flooder = start_flood(h, cat_big, 5.0)
    waits: list[float] = []
    for ref in range(1, 6):
        asked = time.monotonic()
        alice.sendall(aconn.send(RunCommand(line="pwd", ref=ref)))
        wait = None
        for event in events(alice, aconn, asked + 40):
            if isinstance(event, (CommandResult, ErrorReply)) and event.ref == ref:
                wait = time.monotonic() - asked
                break
        waits.append(wait if wait is not None else float("inf"))
        time.sleep(max(0.0, 0.3 - (time.monotonic() - asked)))
    flooder.join(10)
    return {"pwd waits s": [round(w, 3) for w in waits], "max s": round(max(waits), 3)}


def join(h: Host) -> dict[str, object]:
    silent: list[socket.socket] = []
    for _ in range(SILENT):
        try:
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", h.port))
            silent.append(s)
        except OSError:
            break
    time.sleep(1.0)
    times: list[float] = []
    for i in range(5):
        started = time.monotonic()
        try:
            sock, _ = member(h.port, f"newcomer{i}", h.version, source="127.0.0.2", timeout=20)
            times.append(time.monotonic() - started)
            sock.close()
        except OSError:
            times.append(float("inf"))
    for s in silent:
        s.close()
    return {"silent connections": len(silent), "join s": [round(t, 3) for t in times], "max s": round(max(times), 3)}


def tickets(h: Host) -> dict[str, object]:
    sock, conn = member(h.port, "mallory", h.version)
    started = time.monotonic()
    sock.sendall(b"".join(conn.send(OfferUpload(filename=f"f{i}.bin", size=1000, ref=i + 1)) for i in range(500)))
    got: list[float] = []
    refused = 0
    for event in events(sock, conn, started + 5):
        if isinstance(event, TransferReady):
            got.append(time.monotonic() - started)
        elif isinstance(event, ErrorReply):
            refused += 1
    sock.close()
    return {"tickets in 5 s": len(got), "refused": refused, "last ticket after s": round(max(got, default=0), 3)}


def stalled(h: Host) -> dict[str, object]:
    sock, conn = member(h.port, "mallory", h.version)
    time.sleep(0.5)
    idle = h.rss_mb()
    sock.sendall(
        b"".join(conn.send(OfferUpload(filename=f"s{i}.bin", size=1 << 30, ref=i + 1)) for i in range(STALLED))
    )
    tokens = [e.token for e in events(sock, conn, time.monotonic() + 3) if isinstance(e, TransferReady)]
    chunk = b"z" * (1 << 20)
    uploads: list[socket.socket] = []
    for token in tokens:
        up = socket.create_connection(("127.0.0.1", h.port), timeout=10)
        up.sendall(Connection(Role.MEMBER).send(TransferHello(version=h.version, token=token)))
        up.recv(65536)  # TransferStart
        for _ in range(STALL_BYTES // len(chunk)):
            up.sendall(chunk)
        uploads.append(up)
    time.sleep(3.0)  # past the host's pause
    stalled_rss = h.rss_mb()
    for up in uploads:
        up.close()
    sock.close()
    return {
        "uploads running": len(uploads),
        "RSS idle MB": round(idle, 1),
        "RSS stalled MB": round(stalled_rss, 1),
        "per stalled upload MB": round((stalled_rss - idle) / max(1, len(uploads)), 2),
    }


MEASUREMENTS: dict[str, Callable[[Host], dict[str, object]]] = {
    "chat": chat, "history": history, "cmd": cmd, "join": join, "tickets": tickets, "stalled": stalled,
}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=ROOT, help="the checkout whose host is measured")
    parser.add_argument("--only", nargs="*", choices=sorted(MEASUREMENTS), help="just these measurements")
    parser.add_argument("extra", nargs="*", help="more host flags, after --")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, SILENT + 1000)), hard))
    for name in args.only or MEASUREMENTS:
        limit = HOST_FD_LIMIT if name == "join" else None
        with host(args.tree.resolve(), args.extra, limit) as h:
            result = MEASUREMENTS[name](h)
        print(json.dumps({"tree": str(args.tree), "measure": name, **result}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
