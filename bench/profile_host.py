"""Where mmchat spends its time under load: py-spy samples, summed per function.

Run: python bench/profile_host.py [--mode burst|paced|upload|download] [--n 100] [--seconds 8]

burst / paced: the host runs in its own process as in the benchmark, N members
connect from one load-generator process, and py-spy (pip install py-spy)
samples the host while the load runs; the host's event-loop thread is
summarized.  upload: the host's transfer thread while a member uploads a
512 MiB file.  download: the client's transfer thread while it downloads one.
"self" is time with the function at the top of the stack (including the C
functions it calls, such as socket.send), "total" is time with it anywhere on
the stack; both are shares of the thread's busy samples, where samples waiting
in select() or on a lock/queue count as idle.  py-spy normally leaves out
samples of a thread blocked in the kernel; the transfer profiles keep them
(--idle), so there the shares are of wall-clock time, disk waits included.  Without py-spy nothing is
measured and the result says so.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import LoadGenerators, member_names, start_server, stop_process
from fanout import PACED_DELIVERIES_PER_S, probes_for, senders_for

FRAME_RE = re.compile(r"^(?P<func>[^ ]+) \((?P<file>[^:)]+)(?::(?P<line>\d+))?\)$")
_PLUMBING = ("threading.py", "_run (server.py)", "_bootstrap", "run (client.py)")
# Leaf frames that mean "waiting", not working.
IDLE_LEAVES = ("select (selectors.py)", "wait (threading.py)", "get (queue.py)", "_wait_for_tstate_lock (threading.py)")
THREADS = {"burst": "mmchat-host", "paced": "mmchat-host", "upload": "mmchat-upload", "download": "mmchat-download"}
TRANSFER_SIZE = 512 << 20


def find_py_spy() -> str | None:
    return shutil.which("py-spy") or next(
        (p for p in ("/tmp/bench-tools/bin/py-spy", str(Path.home() / ".local/bin/py-spy")) if Path(p).exists()), None
    )


def summarize(raw: str, thread_hint: str = "mmchat-host", top: int = 25) -> dict:
    """Self and inclusive shares per function (and self per line) from py-spy's raw output.

    Shares are of the busy samples taken on the thread whose name contains
    `thread_hint`; `threads` gives every thread's share of all busy samples.
    """
    self_counts: collections.Counter = collections.Counter()
    line_counts: collections.Counter = collections.Counter()
    total_counts: collections.Counter = collections.Counter()
    thread_counts: collections.Counter = collections.Counter()
    samples = idle = busy_all = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        thread = frames[0].split(":", 1)[-1].strip() if frames[0].startswith("thread") else "?"
        names, lines = [], []
        for frame in frames[1:]:
            m = FRAME_RE.match(frame.strip())
            if m:
                names.append(f"{m['func']} ({Path(m['file']).name})")
                lines.append(f"{m['func']} ({Path(m['file']).name}:{m['line']})")
        if not names:
            continue
        waiting = any(names[-1].endswith(leaf) for leaf in IDLE_LEAVES)
        if not waiting:
            busy_all += count
            thread_counts[thread] += count
        if thread_hint not in thread:
            continue
        if waiting:
            idle += count
            continue
        samples += count
        self_counts[names[-1]] += count
        line_counts[lines[-1]] += count
        for name in set(names):
            if not any(p in name for p in _PLUMBING):
                total_counts[name] += count

    def share(c: collections.Counter, n: int = top) -> list[tuple[str, float]]:
        return [(name, 100 * k / samples) for name, k in c.most_common(n)] if samples else []

    return {
        "thread": thread_hint,
        "samples": samples,
        "idle_samples": idle,
        "threads": [(name, 100 * k / busy_all) for name, k in thread_counts.most_common(6)] if busy_all else [],
        "self": share(self_counts),
        "total": share(total_counts),
        "lines": share(line_counts, 10),
    }


def _record(py_spy: str, pid: int, out_file: Path, rate: int, idle: bool = False) -> subprocess.Popen:
    return subprocess.Popen(
        [py_spy, "record", "--pid", str(pid), "--format", "raw", "--threads", "--rate", str(rate),
         "--output", str(out_file), *(["--idle"] if idle else [])],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip


def _finish(spy: subprocess.Popen, out_file: Path, thread: str) -> dict:
    stop_process(spy, signal.SIGINT, timeout=30)
    raw = out_file.read_text() if out_file.exists() else ""
    if not raw:
        return {"error": f"py-spy recorded nothing: {spy.stderr.read().decode(errors='replace')[-300:]}"}
    return summarize(raw, thread)


def _profile_chat(py_spy: str, mode: str, n: int, seconds: float, rate: int, out_file: Path) -> dict:
    server = start_server("mmchat")
    lg = None
    try:
        lg = LoadGenerators("mmchat", server.port, member_names(n), 1)
        lg.connect()
        lg.settle()
        s = senders_for(n)
        spy = _record(py_spy, server.pid, out_file, rate)
        time.sleep(1.0)  # let py-spy attach
        if mode == "burst":
            # Rounds of up to 20,000 messages (the fan-out cap) until about `seconds` have passed.
            per_sender = max(1, min(20_000 // s, 1_000_000 // (n * s)))
            cmd = {"cmd": "run", "mode": "burst", "senders": list(range(s)), "per_sender": per_sender,
                   "probes": probes_for(n), "timeout": 120, "expect": per_sender * s * n}  # fmt: skip
            deadline = time.monotonic() + seconds
            for _ in range(50):
                lg.settle(quiet=0.2)
                lg.run([dict(cmd)], 150)
                if time.monotonic() > deadline:
                    break
        else:
            msg_rate = PACED_DELIVERIES_PER_S / n
            expect = round(msg_rate * seconds) * n
            lg.run([{"cmd": "run", "mode": "paced", "senders": list(range(s)), "rate": msg_rate,
                     "duration": seconds, "probes": "all", "timeout": seconds + 60, "expect": expect}],
                   seconds + 60)  # fmt: skip
        return _finish(spy, out_file, THREADS[mode])
    finally:
        if lg is not None:
            lg.close()
        server.stop()


def _profile_transfer(py_spy: str, mode: str, rate: int, out_file: Path) -> dict:
    import files_bench

    work = Path(tempfile.mkdtemp(prefix="mmchat-bench-prof-files-", dir="/tmp"))
    server = start_server("mmchat")
    try:
        src = work / "profile.bin"
        files_bench.make_file(src, TRANSFER_SIZE)
        downloads = work / "downloads"
        downloads.mkdir()
        os.sync()
        if mode == "upload":
            spy = _record(py_spy, server.pid, out_file, rate, idle=True)
            time.sleep(1.0)
            files_bench._last_json(files_bench._child(["upload", str(server.port), str(src), str(downloads)]), 300)
        else:
            files_bench._last_json(files_bench._child(["upload", str(server.port), str(src), str(downloads)]), 300)
            os.sync()
            # py-spy attaches to the client process; the client waits a moment before it asks for the file.
            client = files_bench._child(["download", str(server.port), src.name, str(downloads), "1.0"])
            spy = _record(py_spy, client.pid, out_file, rate, idle=True)
            files_bench._last_json(client, 300)
        return _finish(spy, out_file, THREADS[mode])
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


def profile(mode: str = "burst", n: int = 100, seconds: float = 8.0, rate: int = 250) -> dict:
    """Sample the host (or, for download, the client) under one kind of load; see the module docstring."""
    py_spy = find_py_spy()
    if not py_spy:
        return {"error": "py-spy is not installed (pip install py-spy)"}
    out_dir = Path(tempfile.mkdtemp(prefix="mmchat-bench-prof-"))
    try:
        if mode in ("upload", "download"):
            result = _profile_transfer(py_spy, mode, rate, out_dir / "raw.txt")
        else:
            result = _profile_chat(py_spy, mode, n, seconds, rate, out_dir / "raw.txt")
        result.update(mode=mode, n=n)
        return result
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)


def format_profile(result: dict, top: int = 15) -> str:
    if "error" in result:
        return f"Profile not taken: {result['error']}\n"
    threads = ", ".join(f"{name} {share:.0f} %" for name, share in result["threads"])
    busy = result["samples"] / max(1, result["samples"] + result["idle_samples"]) * 100
    what = (
        f"{result['mode']} at N={result['n']}"
        if result["mode"] in ("burst", "paced")
        else f"a {TRANSFER_SIZE >> 20} MiB {result['mode']}"
    )
    if result["mode"] in ("burst", "paced"):
        intro = (
            f"py-spy, {what}: thread `{result['thread']}` was busy in {busy:.0f} % of its "
            f"{result['samples'] + result['idle_samples']} samples (the rest waiting in select or on a lock); "
            f"busy samples by thread: {threads}. Shares below are of `{result['thread']}`'s busy samples "
            "(on-CPU time; self time includes the C functions called, e.g. `socket.send`)."
        )
    else:
        intro = (
            f"py-spy --idle, {what}: {result['samples']} samples of thread `{result['thread']}`, blocked time "
            "included, so the shares below are of the transfer's wall-clock time."
        )
    lines = [
        intro,
        "",
        "| self % | function | | total % | function (with callees) |",
        "|---:|---|---|---:|---|",
    ]
    for (sname, sp), (tname, tp) in zip(result["self"][:top], result["total"][:top], strict=False):
        lines.append(f"| {sp:.1f} | `{sname}` | | {tp:.1f} | `{tname}` |")
    lines += [
        "",
        "Hottest lines (self): " + "; ".join(f"`{name}` {share:.1f} %" for name, share in result["lines"][:8]),
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=tuple(THREADS), default="burst")
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    print(format_profile(profile(args.mode, args.n, args.seconds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
