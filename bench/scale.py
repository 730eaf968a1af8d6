"""Scale: 1,000 and 5,000 idle members held by one server; its RSS, and how long one message takes to reach all.

The members are split over two load-generator processes (each raises its
open-file limit, as does the server's).  After they have all joined and the
join notices have drained, the server's RSS is read; then one member sends one
message, `reps` times, and every member's delivery latency is recorded: p50,
p99 and max over the members (max = the time for the message to reach all).
"""

from __future__ import annotations

import time

from common import LoadGenerators, median, member_names, merge_results, percentile, start_server
from fanout import PROTO, recipients


def measure(kind: str, n: int, reps: int, procs: int = 2, log=print) -> dict:
    server = start_server(kind)
    lg = None
    try:
        t = time.monotonic()
        lg = LoadGenerators(PROTO[kind], server.port, member_names(n), procs)
        lg.connect(timeout=660)
        connect_s = time.monotonic() - t
        lg.settle(quiet=1.0, timeout=300)
        held = server.memory()
        out = {"server": kind, "n": n, "connect_s": connect_s, "held_rss_mb": held["VmRSS"] / 1024, "reps": []}
        members = [lg.owner.count(p) for p in range(len(lg.procs))]
        for _ in range(reps):
            lg.settle(quiet=0.3)
            commands = []
            for p in range(len(lg.procs)):
                sends = p == 0
                expect = members[p] - (1 if kind == "ngircd" and sends else 0)
                commands.append(
                    {
                        "cmd": "run",
                        "mode": "burst",
                        "senders": [0] if sends else [],
                        "per_sender": 1,
                        "probes": "all",
                        "expect": expect,
                        "timeout": 60,
                        "idle_timeout": 10,
                    }
                )
            merged = merge_results(lg.run(commands, 90))
            lat = merged["lat_us"]
            out["reps"].append(
                {
                    "delivered": merged["received"],
                    "expected": recipients(kind, n),
                    "p50_ms": percentile(lat, 50) / 1000,
                    "p99_ms": percentile(lat, 99) / 1000,
                    "max_ms": (max(lat) / 1000) if lat else float("nan"),
                }
            )
        out["peak_rss_mb"] = server.memory()["VmHWM"] / 1024
        out["summary"] = {k: median([r[k] for r in out["reps"]]) for k in ("p50_ms", "p99_ms", "max_ms")}
        out["summary"]["complete"] = all(r["delivered"] >= r["expected"] for r in out["reps"])
        out["summary"]["held_rss_mb"] = out["held_rss_mb"]
        out["summary"]["peak_rss_mb"] = out["peak_rss_mb"]
        out["summary"]["connect_s"] = connect_s
        s = out["summary"]
        log(
            f"  {kind} {n} idle: RSS {s['held_rss_mb']:.0f} MB (peak {s['peak_rss_mb']:.0f} MB), joined in "
            f"{connect_s:.1f} s; one message to all: p50 {s['p50_ms']:.1f} ms, p99 {s['p99_ms']:.1f} ms, "
            f"max {s['max_ms']:.1f} ms"
        )
        return out
    finally:
        if lg is not None:
            lg.close()
        server.stop()
