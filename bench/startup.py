"""Start-up: wall time from launching `python mmchat.py --host --headless` to its "Server listening" line.

Baselines in the same run: the bare interpreter printing a line, and the naive
server (bench/naive_server.py) reaching its own listening line.
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from common import BENCH_DIR, PYTHON, ROOT, host_args, median, stop_process

TIMEOUT = 20.0


def time_to_line(cmd: list[str], needle: str, cwd: Path = ROOT) -> float:
    """Seconds from Popen to the first stdout line containing `needle`; the process is then stopped."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=cwd)
    try:
        pending = b""
        deadline = t0 + TIMEOUT
        fd = proc.stdout.fileno()
        while time.perf_counter() < deadline:
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.perf_counter()))
            if not ready:
                break
            data = os.read(fd, 65536)
            if not data:
                break
            pending += data
            if needle.encode() in pending:
                return time.perf_counter() - t0
        raise RuntimeError(f"{cmd[1]} never printed {needle!r}: {pending[-500:]!r}")
    finally:
        stop_process(proc)


def measure(runs: int) -> dict:
    work = Path(tempfile.mkdtemp(prefix="mmchat-bench-startup-"))
    try:
        mmchat_cmd = [PYTHON, str(ROOT / "mmchat.py"), *host_args(work / "share")]
        # One untimed launch first, so every timed one finds the .pyc files as a user's second start would.
        time_to_line(mmchat_cmd, "Server listening")
        results = {"mmchat": [], "naive": [], "python": []}
        for _ in range(runs):
            results["mmchat"].append(time_to_line(mmchat_cmd, "Server listening"))
            results["naive"].append(
                time_to_line([PYTHON, str(BENCH_DIR / "naive_server.py"), "--port", "0"], "listening")
            )
            results["python"].append(time_to_line([PYTHON, "-c", "print('Server listening')"], "Server listening"))
        # Import time of the host's modules, to show where start-up goes.
        imports = subprocess.run(
            [PYTHON, "-X", "importtime", "-c", "import mmchat.cli, mmchat.server"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
        ).stderr
        top = []
        for line in imports.splitlines():
            parts = line.split("|")
            if len(parts) == 3 and parts[1].strip().isdigit():
                top.append((int(parts[1].strip()), parts[2].rstrip()))
        top.sort(reverse=True)
        return {
            "runs": results,
            "median_s": {k: median(v) for k, v in results.items()},
            "slowest_imports": [(us / 1e6, name.strip()) for us, name in top[:8]],
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
