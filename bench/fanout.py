"""Fan-out: N members, S senders, burst and paced, for mmchat and its peers in the same run.

For each N, every server gets a fresh process and its own load-generator
process(es); all members connect and settle, then come `runs` rounds of paced
runs (a steady 20,000 deliveries/s) and `runs` rounds of burst runs (each of
the S senders sends its M messages as fast as the server takes them), each
round visiting every server in turn.  The peak RSS of the paced runs is read
before the bursts start, since VmHWM only ever grows.
"""

from __future__ import annotations

import time

from common import LoadGenerators, median, member_names, merge_results, percentile, start_server

PROTO = {"mmchat": "mmchat", "mmchat-tls": "mmchat-tls", "naive": "naive", "ngircd": "irc"}
PACED_DELIVERIES_PER_S = 20_000
MAX_BURST_MESSAGES = 20_000  # ~2.6 MB per member in total: well under the host's 8 MiB outbound limit


def senders_for(n: int) -> int:
    return min(10, n)


def recipients(kind: str, n: int) -> int:
    """Deliveries one message makes: IRC does not echo to its sender."""
    return n - 1 if kind == "ngircd" else n


def probes_for(n: int, count: int = 16) -> list[int]:
    """Members (spread over the join order) whose every delivery latency is recorded in a burst."""
    if n <= count:
        return list(range(n))
    return sorted({round(i * (n - 1) / (count - 1)) for i in range(count)})


def _expectations(lg: LoadGenerators, kind: str, sent_by_proc: list[int]) -> list[int]:
    total = sum(sent_by_proc)
    members = [lg.owner.count(p) for p in range(len(lg.procs))]
    if kind == "ngircd":
        return [total * members[p] - sent_by_proc[p] for p in range(len(lg.procs))]
    return [total * members[p] for p in range(len(lg.procs))]


def _one_run(server, lg: LoadGenerators, kind: str, commands: list[dict], expect: list[int], timeout: float) -> dict:
    for c, e in zip(commands, expect, strict=True):
        c["expect"] = e
    lg.settle(quiet=0.3)
    cpu0 = server.cpu()
    results = lg.run(commands, timeout)
    cpu1 = server.cpu()
    merged = merge_results(results)
    lat = merged.pop("lat_us")
    seconds = merged["seconds"]
    delivered = merged["received"]
    loadgen_pct = [
        100 * c / w if w else 0 for c, w in zip(merged["loadgen_cpu_s"], merged["loadgen_wall_s"], strict=True)
    ]
    return {
        "delivered": delivered,
        "expected": merged["expect"],
        "complete": merged["complete"] and merged["closed"] == 0,
        "closed": merged["closed"],
        "seconds": seconds,
        "deliveries_per_s": delivered / seconds if seconds == seconds and seconds > 0 else float("nan"),
        "p50_ms": percentile(lat, 50) / 1000,
        "p99_ms": percentile(lat, 99) / 1000,
        "max_ms": (max(lat) / 1000) if lat else float("nan"),
        "latency_samples": len(lat),
        "host_cpu_s": cpu1 - cpu0,
        "host_cpu_per_1k": (cpu1 - cpu0) / delivered * 1000 if delivered else float("nan"),
        "loadgen_cpu_s": merged["loadgen_cpu_s"],
        "loadgen_cpu_pct": loadgen_pct,
    }


def measure(
    kinds: list[str], n: int, *, runs: int, burst_deliveries: int, paced_seconds: float, procs: int, log=print
) -> dict:
    """Paced and burst figures for each server at one N, runs interleaved across servers (medians over `runs`).

    All servers are started and their members connected first; then each round
    runs every server once, so that noise from other work on the machine falls
    on all of them alike.
    """
    servers: dict = {}
    gens: dict = {}
    outs: dict = {}
    try:
        for kind in kinds:
            try:
                servers[kind] = start_server(kind)
                t = time.monotonic()
                gens[kind] = LoadGenerators(PROTO[kind], servers[kind].port, member_names(n), procs)
                gens[kind].connect()
                gens[kind].settle(quiet=0.5)
                outs[kind] = {"server": kind, "n": n, "paced": [], "burst": [], "connect_s": time.monotonic() - t}
            except Exception as exc:  # one peer failing must not sink the others
                log(f"  {kind} N={n}: could not start: {exc}")
                outs[kind] = {"server": kind, "n": n, "error": str(exc)}
        live = [k for k in kinds if "error" not in outs[k]]
        s = senders_for(n)

        # Paced: a steady total of 20,000 deliveries/s, shared by the senders.
        for _ in range(runs):
            for kind in live:
                server, lg = servers[kind], gens[kind]
                split = lg.split(list(range(s)))
                msg_rate = PACED_DELIVERIES_PER_S / recipients(kind, n)
                commands, sent = [], []
                for p in range(len(lg.procs)):
                    rate = msg_rate * len(split[p]) / s
                    commands.append(
                        {
                            "cmd": "run",
                            "mode": "paced",
                            "senders": split[p],
                            "rate": rate,
                            "duration": paced_seconds,
                            "probes": "all",
                            "timeout": paced_seconds + 60,
                            "idle_timeout": 10,
                        }
                    )
                    sent.append(round(rate * paced_seconds) if split[p] else 0)
                run = _one_run(server, lg, kind, commands, _expectations(lg, kind, sent), paced_seconds + 60)
                outs[kind]["paced"].append(run)
                log(
                    f"  {kind} N={n} paced: {run['deliveries_per_s']:,.0f}/s p50 {run['p50_ms']:.2f} ms "
                    f"p99 {run['p99_ms']:.2f} ms"
                )
        for kind in live:
            outs[kind]["paced_peak_rss_mb"] = servers[kind].memory()["VmHWM"] / 1024

        # Burst: S senders, M messages each, as fast as they go.
        for _ in range(runs):
            for kind in live:
                server, lg = servers[kind], gens[kind]
                split = lg.split(list(range(s)))
                messages = min(MAX_BURST_MESSAGES, max(s, burst_deliveries // recipients(kind, n)))
                m = max(1, messages // s)
                probes = lg.split(probes_for(n))
                commands = [
                    {
                        "cmd": "run",
                        "mode": "burst",
                        "senders": split[p],
                        "per_sender": m,
                        "probes": probes[p],
                        "timeout": 120,
                        "idle_timeout": 10,
                    }
                    for p in range(len(lg.procs))
                ]
                sent = [m * len(split[p]) for p in range(len(lg.procs))]
                run = _one_run(server, lg, kind, commands, _expectations(lg, kind, sent), 120)
                outs[kind]["burst"].append(run)
                outs[kind]["burst_messages"] = m * s
                outs[kind]["senders"] = s
                log(
                    f"  {kind} N={n} burst: {run['deliveries_per_s']:,.0f}/s ({run['delivered']:,} in "
                    f"{run['seconds']:.2f} s), host CPU {run['host_cpu_per_1k'] * 1000:.2f} ms per 1k, "
                    f"loadgen {max(run['loadgen_cpu_pct']):.0f}% of a core"
                )
        for kind in live:
            outs[kind]["burst_peak_rss_mb"] = servers[kind].memory()["VmHWM"] / 1024
            outs[kind]["summary"] = summarize(outs[kind])
    finally:
        for lg in gens.values():
            lg.close()
        for server in servers.values():
            server.stop()
    return outs


def summarize(out: dict) -> dict:
    """Medians over the runs."""
    summary = {}
    for mode in ("paced", "burst"):
        runs = out[mode]
        summary[mode] = {
            key: median([r[key] for r in runs])
            for key in ("deliveries_per_s", "p50_ms", "p99_ms", "max_ms", "host_cpu_per_1k")
        }
        summary[mode]["loadgen_cpu_pct"] = median([max(r["loadgen_cpu_pct"]) for r in runs])
        summary[mode]["complete"] = all(r["complete"] for r in runs)
        summary[mode]["peak_rss_mb"] = out.get(f"{mode}_peak_rss_mb", float("nan"))
    return summary
