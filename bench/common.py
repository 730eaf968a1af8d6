"""What every benchmark section shares: servers in their own processes, /proc readings, statistics.

How this works
--------------
Each server under test (the mmchat host, the naive baseline, ngIRCd) runs in a
process of its own, started by `start_server()`, so that its CPU time and peak
resident memory can be read from /proc/PID/stat and /proc/PID/status without
counting the load generator.  Load generators (bench/loadgen.py) are driven by
`LoadGenerators`, which splits the members over a few processes and talks to
them in JSON lines.  All traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import json
import math
import os
import queue
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
PYTHON = sys.executable
LOCALHOST = "127.0.0.1"
CLK_TCK = os.sysconf("SC_CLK_TCK")
SERVER_START_TIMEOUT = 20.0
# Whether this mmchat has TLS (mmchat/tls.py): then "mmchat" runs with --no-tls and "mmchat-tls" is the default.
HAS_TLS = (ROOT / "mmchat" / "tls.py").exists()
# The members here are load generators, not people: a sender's burst of 2,000 lines would meet the chat
# budget (500 at once, then 20 a second) and a hundred of them connecting at once from 127.0.0.1 the cap on
# connections that have not said hello yet (8 per address).  Both limits are lifted for the benchmark.
LOAD_LIMITS = ["--flood-chat", "1e9/1e9", "--openers-per-address", "100000"]


def raise_fd_limit() -> int:
    """Raise this process's open-file limit to its hard limit; return the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return soft


# --- /proc readings ---------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by process `pid` (all its threads)."""
    with open(f"/proc/{pid}/stat") as f:
        text = f.read()
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of process `pid`, in kB."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, value = line.split(":", 1)
                out[key] = int(value.split()[0])
    return out


def self_peak_rss_mb() -> float:
    """Peak RSS of the calling process in MB (for child processes reporting on themselves)."""
    return memory_kb(os.getpid())["VmHWM"] / 1024


# --- statistics ---------------------------------------------------------------------


def percentile(values, p: float) -> float:
    """The p-th percentile (0..100) by nearest rank on sorted data; nan when empty."""
    if not values:
        return float("nan")
    data = sorted(values)
    k = max(0, min(len(data) - 1, math.ceil(p / 100 * len(data)) - 1))
    return float(data[k])


def median(values) -> float:
    values = [v for v in values if v is not None and v == v]
    return statistics.median(values) if values else float("nan")


def ratio(value: float, base: float) -> float:
    if not base or base != base or value != value:
        return float("nan")
    return value / base


# --- servers under test -------------------------------------------------------------


@dataclass
class Server:
    """One server under test, running in its own process."""

    kind: str  # "mmchat" (plain), "mmchat-tls", "naive" or "ngircd"
    proc: subprocess.Popen
    port: int
    workdir: Path
    log: Path
    extra: dict = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def memory(self) -> dict[str, int]:
        return memory_kb(self.pid)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        stop_process(self.proc, timeout=timeout)
        shutil.rmtree(self.workdir, ignore_errors=True)


def host_args(share: Path) -> list[str]:
    """The options that start an mmchat host for a benchmark: headless, loopback only, any free port."""
    return ["--host", "--headless", "--bind", LOCALHOST, "--port", "0", "--share", str(share), *LOAD_LIMITS]


def stop_process(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
    """Ask a process to stop with `sig`; kill it if it has not within `timeout` seconds."""
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def _wait_for_line(proc: subprocess.Popen, log: Path, pattern: re.Pattern, timeout: float) -> re.Match:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace") if log.exists() else ""
        match = pattern.search(text)
        if match:
            return match
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with status {proc.returncode}: {text[-2000:]}")
        time.sleep(0.01)
    proc.kill()
    raise RuntimeError(f"server did not report its port within {timeout} s")


def start_server(kind: str) -> Server:
    """Start a fresh server of `kind` on 127.0.0.1 with an ephemeral port, in its own temp dir."""
    if kind == "ngircd":
        from irc import start_ngircd

        return start_ngircd()
    workdir = Path(tempfile.mkdtemp(prefix=f"mmchat-bench-{kind}-"))
    log = workdir / "server.log"
    if kind in ("mmchat", "mmchat-tls"):
        cmd = [
            PYTHON,
            str(BENCH_DIR / "host_proc.py"),
            *host_args(workdir / "share"),
            "--data",
            str(workdir / "data"),
        ]
        if kind == "mmchat" and HAS_TLS:
            cmd.append("--no-tls")  # "mmchat" is the plain host, the baseline TLS is measured against
        pattern = re.compile(r"Server listening at 127\.0\.0\.1:(\d+)")
    elif kind == "naive":
        cmd = [PYTHON, str(BENCH_DIR / "naive_server.py"), "--port", "0"]
        pattern = re.compile(r"listening at 127\.0\.0\.1:(\d+)")
    else:
        raise ValueError(kind)
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=ROOT, preexec_fn=raise_fd_limit
        )
    match = _wait_for_line(proc, log, pattern, SERVER_START_TIMEOUT)
    return Server(kind, proc, int(match.group(1)), workdir, log)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind((LOCALHOST, 0))
        return s.getsockname()[1]


# --- load generators ------------------------------------------------------------------


class LoadGeneratorError(RuntimeError):
    pass


class _LoadProcess:
    def __init__(self, config: dict) -> None:
        self.proc = subprocess.Popen(
            [PYTHON, str(BENCH_DIR / "loadgen.py"), json.dumps(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
            preexec_fn=raise_fd_limit,
        )
        self.lines: queue.Queue = queue.Queue()
        self.errors: list[str] = []
        threading.Thread(target=self._pump, args=(self.proc.stdout, self.lines), daemon=True).start()
        threading.Thread(target=self._pump_err, daemon=True).start()

    @staticmethod
    def _pump(stream, q: queue.Queue) -> None:
        for line in stream:
            q.put(line)
        q.put(None)

    def _pump_err(self) -> None:
        for line in self.proc.stderr:
            self.errors.append(line)
            del self.errors[:-50]

    def send(self, message: dict) -> None:
        self.proc.stdin.write(json.dumps(message) + "\n")
        self.proc.stdin.flush()

    def receive(self, timeout: float) -> dict:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise LoadGeneratorError(f"load generator silent for {timeout:.0f} s") from None
        if line is None:
            self.proc.wait(5)
            raise LoadGeneratorError(f"load generator died: {''.join(self.errors)[-1500:]}")
        reply = json.loads(line)
        if reply.get("event") == "error":
            raise LoadGeneratorError(reply.get("message", "load generator failed"))
        return reply


class LoadGenerators:
    """Members spread over `procs` load-generator processes (member i goes to process i % procs)."""

    def __init__(self, proto: str, port: int, names: list[str], procs: int) -> None:
        self.proto = proto
        self.names = names
        self.procs: list[_LoadProcess] = []
        self.owner = [i % procs for i in range(len(names))]
        self.local = {}  # global member index -> index inside its process
        counts = [0] * procs
        for i, p in enumerate(self.owner):
            self.local[i] = counts[p]
            counts[p] += 1
        for p in range(procs):
            members = [n for i, n in enumerate(names) if self.owner[i] == p]
            self.procs.append(_LoadProcess({"proto": proto, "host": LOCALHOST, "port": port, "names": members}))

    def pids(self) -> list[int]:
        return [p.proc.pid for p in self.procs]

    def _all(self, messages: list[dict], timeout: float) -> list[dict]:
        for p, message in zip(self.procs, messages, strict=True):
            p.send(message)
        return [p.receive(timeout) for p in self.procs]

    def connect(self, timeout: float = 300.0) -> list[dict]:
        """Wait until every member is connected and greeted."""
        return [p.receive(timeout) for p in self.procs]

    def settle(self, quiet: float = 0.4, timeout: float = 120.0) -> None:
        """Drain what is in flight (join notices...) until `quiet` seconds pass without data."""
        self._all([{"cmd": "settle", "quiet": quiet, "timeout": timeout}] * len(self.procs), timeout + 30)

    def run(self, per_process: list[dict], timeout: float) -> list[dict]:
        """Send each process its own run command and collect their results."""
        return self._all(per_process, timeout + 30)

    def start_run(self, per_process: list[dict]) -> None:
        for p, message in zip(self.procs, per_process, strict=True):
            p.send(message)

    def stop_run(self, timeout: float) -> list[dict]:
        for p in self.procs:
            p.send({"cmd": "stop"})
        return [p.receive(timeout) for p in self.procs]

    def split(self, members: list[int]) -> list[list[int]]:
        """Global member indices -> per-process local indices."""
        out: list[list[int]] = [[] for _ in self.procs]
        for i in members:
            out[self.owner[i]].append(self.local[i])
        return out

    def close(self) -> None:
        for p in self.procs:
            try:
                p.send({"cmd": "quit"})
            except (BrokenPipeError, OSError, ValueError):
                pass
        for p in self.procs:
            try:
                p.proc.wait(15)
            except subprocess.TimeoutExpired:
                p.proc.kill()
                p.proc.wait(5)


def member_names(n: int) -> list[str]:
    """Short names (IRC allows 9 characters by default): m0000, m0001, ..."""
    width = max(4, len(str(n - 1)))
    return [f"m{i:0{width}d}" for i in range(n)]


def merge_results(results: list[dict]) -> dict:
    """Combine the per-process run results into one."""
    lat: list[int] = []
    for r in results:
        lat.extend(r["lat_us"])
    first = [r["first_send_ns"] for r in results if r["first_send_ns"]]
    last = [r["last_recv_ns"] for r in results if r["last_recv_ns"]]
    start = min(first) if first else 0
    end = max(last) if last else 0
    received = sum(r["received"] for r in results)
    expect = sum(r["expect"] for r in results)
    return {
        "received": received,
        "expect": expect,
        "complete": received >= expect,
        "sent": sum(r["sent"] for r in results),
        "seconds": (end - start) / 1e9 if end > start else float("nan"),
        "lat_us": lat,
        "loadgen_cpu_s": [r["cpu_s"] for r in results],
        "loadgen_wall_s": [r["wall_s"] for r in results],
        "closed": sum(r["closed"] for r in results),
    }


def dump_json(path: Path, data) -> None:
    path.write_text(json.dumps(data, indent=1, default=str))
