"""Start-up of the one-file executable: wall time from launching `dist/mmchat --host --headless`
to its "Server listening" line, the median of several runs, as a Markdown table line.

The one-file executable unpacks itself into a fresh temporary folder on every start, so this
is what a person waits for each time.  `--source` adds the same measurement for
`python mmchat.py` (the interpreter running this script) for comparison.  Build first with
`make dist`; run as
`.venv/bin/python bench/startup_binary.py [--runs N] [--source] [--header]`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from common import ROOT, host_args
from startup import time_to_line

BINARY = ROOT / "dist" / "mmchat"


def time_to_listening(cmd: list[str], share: Path) -> float:
    """Seconds from starting `cmd` as a host to its "Server listening" line; the host is then stopped."""
    return time_to_line([*cmd, *host_args(share)], "Server listening")


def measure(cmd: list[str], runs: int) -> list[float]:
    """`runs` timed starts after one untimed one (which fills the page cache, as a second start would)."""
    work = Path(tempfile.mkdtemp(prefix="mmchat-bench-startup-binary-"))
    try:
        time_to_listening(cmd, work / "share")
        return [time_to_listening(cmd, work / "share") for _ in range(runs)]
    finally:
        shutil.rmtree(work, ignore_errors=True)


def table_line(label: str, times: list[float]) -> str:
    return f"| {label} | {statistics.median(times):.3f} | {min(times):.3f} | {max(times):.3f} | {len(times)} |"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="timed starts (default %(default)s)")
    parser.add_argument("--source", action="store_true", help="also time `python mmchat.py` for comparison")
    parser.add_argument("--header", action="store_true", help="print the table's header lines first")
    args = parser.parse_args()
    if not os.access(BINARY, os.X_OK):
        print(f"There is no executable at {BINARY}: build it first with `make dist`.", file=sys.stderr)
        return 2
    if args.header:
        print('| start-up to "Server listening" | median s | min s | max s | runs |')
        print("|---|---|---|---|---|")
    print(
        table_line(
            f"one-file executable (dist/mmchat, {BINARY.stat().st_size / 1e6:.1f} MB)",
            measure([str(BINARY)], args.runs),
        )
    )
    if args.source:
        print(
            table_line("from source (python mmchat.py)", measure([sys.executable, str(ROOT / "mmchat.py")], args.runs))
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
