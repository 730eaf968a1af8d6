"""The mmchat benchmark: fan-out, files, scale and start-up against peers in the same run; writes RESULTS.md.

Run from the project root:

    python bench/run.py --quick     # a smaller version, about 2 minutes, for trying things
    python bench/run.py --full      # the real thing (medians of 3 runs, 5 for files), well within 30 minutes

Results go to bench/RESULTS.md (and the raw figures to bench/results.json).
See bench/README.md for what is measured and how.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import shlex
import subprocess
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fanout
import files_bench
import profile_host
import scale
import startup
from common import BENCH_DIR, HAS_TLS, PYTHON, ROOT, dump_json, raise_fd_limit, ratio
from irc import ensure_ngircd, ngircd_path, ngircd_version

SECTIONS = ("startup", "fanout", "files", "scale", "profile")

PLANS = {
    "quick": {
        "fanout_n": [10, 100, 500],
        "runs": 1,
        "burst_deliveries": 300_000,
        "paced_seconds": 1.5,
        "file_size": 256 << 20,
        "file_runs": 1,
        "scale_n": [1000],
        "scale_reps": 3,
        "ngircd_scale_max": 1000,
        "startup_runs": 3,
        "profile_seconds": 4.0,
    },
    "full": {
        "fanout_n": [10, 100, 500],
        "runs": 3,
        "burst_deliveries": 1_000_000,
        "paced_seconds": 5.0,
        "file_size": 1 << 30,
        "file_runs": 5,  # transfers vary the most from run to run here (page-cache memory, a shared disk)
        "scale_n": [1000, 5000],
        "scale_reps": 5,
        # ngIRCd needs minutes of CPU to seat 5,000 members in one channel here (see the notes).
        "ngircd_scale_max": 1000,
        "startup_runs": 7,
        "profile_seconds": 8.0,
    },
}


def log(text: str) -> None:
    print(text, flush=True)


def machine() -> dict:
    cpu = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kb = 0
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    version = subprocess.run([PYTHON, "--version"], capture_output=True, text=True).stdout.strip()
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "mmchat"], capture_output=True, text=True, cwd=ROOT, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        commit, dirty = "", ""
    server_py = ROOT / "mmchat" / "server.py"
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": version,
        "ngircd": ngircd_version() or "not installed",
        "commit": commit + (" (mmchat/ has uncommitted changes)" if dirty else ""),
        "server_py_sha256": hashlib.sha256(server_py.read_bytes()).hexdigest()[:12] if server_py.exists() else "",
    }


def loadavg() -> str:
    try:
        return " ".join(open("/proc/loadavg").read().split()[:3])
    except OSError:
        return "?"


# --- report ------------------------------------------------------------------------------


def fmt(value: float, digits: int = 1) -> str:
    if value is None or value != value:
        return "–"
    return f"{value:,.{digits}f}"


def fmt_ratio(value: float) -> str:
    return "–" if value is None or value != value else f"{value:.2f}×"


def verdict(ok: bool | None) -> str:
    return "not measured" if ok is None else ("**PASS**" if ok else "**FAIL**")


def targets(results: dict) -> list[tuple[str, str, bool | None]]:
    """(target, measured, passed) for every target of the issue."""
    rows: list[tuple[str, str, bool | None]] = []
    fan = results.get("fanout", {}).get("100", {})
    mm = fan.get("mmchat", {}).get("summary")
    naive = fan.get("naive", {}).get("summary")
    irc = fan.get("ngircd", {}).get("summary")
    if mm and irc:
        r = ratio(mm["burst"]["deliveries_per_s"], irc["burst"]["deliveries_per_s"])
        rows.append(
            (
                "Fan-out burst N=100: deliveries/s ≥ ngIRCd (same run)",
                f"{fmt(mm['burst']['deliveries_per_s'], 0)}/s vs {fmt(irc['burst']['deliveries_per_s'], 0)}/s "
                f"({fmt_ratio(r)})",
                r >= 1.0,
            )
        )
    else:
        rows.append(("Fan-out burst N=100: deliveries/s ≥ ngIRCd (same run)", "ngIRCd not measured", None))
    if mm and naive:
        r = ratio(mm["burst"]["deliveries_per_s"], naive["burst"]["deliveries_per_s"])
        rows.append(
            (
                "Fan-out burst N=100: ≥ 3× the naive server",
                f"{fmt(mm['burst']['deliveries_per_s'], 0)}/s vs {fmt(naive['burst']['deliveries_per_s'], 0)}/s "
                f"({fmt_ratio(r)})",
                r >= 3.0,
            )
        )
    if mm:
        rows.append(
            (
                "Paced 20,000 deliveries/s, N=100: p99 ≤ 2 ms",
                f"{fmt(mm['paced']['p99_ms'], 2)} ms",
                mm["paced"]["p99_ms"] <= 2.0,
            )
        )
    files = results.get("files", {}).get("summary")
    if files:
        for d in ("upload", "download"):
            f = files[d]
            rows.append(
                (
                    f"Files: {d} ≥ 80 % of the raw sendfile copy",
                    f"{fmt(f['mb_per_s'], 0)} MB/s = {f['ratio_to_raw'] * 100:.0f} % of "
                    f"{fmt(files['raw_mb_per_s'], 0)} MB/s",
                    f["ratio_to_raw"] >= 0.8,
                )
            )
        rows.append(
            (
                "Files: host peak RSS ≤ 64 MB during the transfers",
                f"{fmt(files['host_peak_rss_mb'])} MB",
                files["host_peak_rss_mb"] <= 64,
            )
        )
        client = max(files["upload"]["client_peak_rss_mb"], files["download"]["client_peak_rss_mb"])
        rows.append(("Files: client peak RSS ≤ 64 MB", f"{fmt(client)} MB", client <= 64))
        chat = max(files["upload"]["chat_p99_ms"], files["download"]["chat_p99_ms"])
        rows.append(("Files: other members' chat p99 ≤ 50 ms during a transfer", f"{fmt(chat, 2)} ms", chat <= 50))
        if results["files"].get("note"):
            rows[-1] = (rows[-1][0], rows[-1][1] + f" ({results['files']['note']})", rows[-1][2])
    sc = results.get("scale", {}).get("5000", {}).get("mmchat", {}).get("summary")
    if sc:
        rows.append(
            (
                "5,000 idle members: host RSS ≤ 64 MB",
                f"{fmt(sc['held_rss_mb'])} MB held (peak {fmt(sc['peak_rss_mb'])} MB)",
                sc["held_rss_mb"] <= 64,
            )
        )
        rows.append(
            (
                "5,000 idle members: one message reaches all, p99 ≤ 75 ms",
                f"{fmt(sc['p99_ms'])} ms",
                sc["p99_ms"] <= 75 and sc["complete"],
            )
        )
    else:
        rows.append(("5,000 idle members: host RSS ≤ 64 MB, p99 ≤ 75 ms", "not run (use --full)", None))
    rows += tls_targets(results)
    st = results.get("startup", {}).get("median_s")
    if st:
        rows.append(("Start-up to listening ≤ 0.5 s from source", f"{fmt(st['mmchat'], 3)} s", st["mmchat"] <= 0.5))
    return rows


def tls_targets(results: dict) -> list[tuple[str, str, bool | None]]:
    """Issue 10's targets with TLS on ("mmchat-tls"), against ngIRCd and the plain host in the same run."""
    if not HAS_TLS:
        return []
    rows: list[tuple[str, str, bool | None]] = []
    fan = results.get("fanout", {}).get("100", {})
    tls = fan.get("mmchat-tls", {}).get("summary")
    plain = fan.get("mmchat", {}).get("summary")
    irc = fan.get("ngircd", {}).get("summary")
    name = "TLS: fan-out burst N=100: deliveries/s ≥ ngIRCd (same run)"
    if tls and irc:
        r = ratio(tls["burst"]["deliveries_per_s"], irc["burst"]["deliveries_per_s"])
        against_plain = ratio(tls["burst"]["deliveries_per_s"], plain["burst"]["deliveries_per_s"]) if plain else None
        rows.append(
            (
                name,
                f"{fmt(tls['burst']['deliveries_per_s'], 0)}/s vs {fmt(irc['burst']['deliveries_per_s'], 0)}/s "
                f"({fmt_ratio(r)}; {fmt_ratio(against_plain)} of mmchat without TLS)",
                r >= 1.0,
            )
        )
    else:
        rows.append((name, "not measured", None))
    if tls:
        p99 = tls["paced"]["p99_ms"]
        rows.append(("TLS: paced 20,000 deliveries/s, N=100: p99 ≤ 3 ms", f"{fmt(p99, 2)} ms", p99 <= 3.0))
    files = results.get("files", {}).get("summary")
    if files and "tls_upload" in files:
        bound = files["bound_mb_per_s"]
        for d in ("upload", "download"):
            f = files["tls_" + d]
            rows.append(
                (
                    f"TLS: files: {d} ≥ 85 % of mmchat without TLS (same run)",
                    f"{fmt(f['mb_per_s'], 0)} MB/s = {f['ratio_to_plain'] * 100:.0f} % of "
                    f"{fmt(files[d]['mb_per_s'], 0)} MB/s; {f['ratio_to_bound'] * 100:.0f} % of the lower of the raw "
                    f"copy and the disk's durable write ({fmt(bound, 0)} MB/s)",
                    f["ratio_to_plain"] >= 0.85,
                )
            )
    sc = results.get("scale", {}).get("5000", {})
    tls_sc, plain_sc = sc.get("mmchat-tls", {}).get("summary"), sc.get("mmchat", {}).get("summary")
    if tls_sc and plain_sc:
        r = ratio(tls_sc["held_rss_mb"], plain_sc["held_rss_mb"])
        rows.append(
            (
                "TLS: 5,000 idle members: host RSS < 2× without TLS",
                f"{fmt(tls_sc['held_rss_mb'])} MB vs {fmt(plain_sc['held_rss_mb'])} MB ({fmt_ratio(r)})",
                r < 2.0,
            )
        )
        rows.append(
            (
                "TLS: 5,000 idle members: one message reaches all, p99 ≤ 100 ms",
                f"{fmt(tls_sc['p99_ms'])} ms",
                tls_sc["p99_ms"] <= 100 and tls_sc["complete"],
            )
        )
    else:
        rows.append(("TLS: 5,000 idle members: RSS < 2× plain, p99 ≤ 100 ms", "not run (use --full)", None))
    return rows


def report(results: dict, meta: dict) -> str:
    m = meta["machine"]
    out = [
        "# mmchat benchmark results",
        "",
        f"- **Date**: {meta['started']} (took {meta['duration_s'] / 60:.1f} min)",
        f"- **Command**: `{meta['command']}` (plan: {meta['plan']})",
        f"- **Machine**: {m['nproc']} CPUs ({m['cpu']}), {m['memory_gib']} GiB RAM, Linux {m['kernel']}",
        f"- **Software**: {m['python']}; {m['ngircd']}",
        f"- **mmchat**: commit {m['commit']}, mmchat/server.py sha256 {m['server_py_sha256']}…",
        f"- **Load average** (1/5/15 min) at start: {meta['load_start']}; at end: {meta['load_end']}",
        "",
        "Other sessions run tests on this machine at the same time, so absolute numbers are noisy (a busy",
        "neighbour takes one of the two cores now and then); compare the ratios, which are measured against",
        "baselines in the same run. Every loop is bounded in count and time; all traffic is on 127.0.0.1.",
        "",
        "## Targets",
        "",
        "| target | measured | verdict |",
        "|---|---|---|",
    ]
    for name, measured, ok in targets(results):
        out.append(f"| {name} | {measured} | {verdict(ok)} |")
    out.append("")

    if "startup" in results:
        st = results["startup"]
        med = st["median_s"]
        out += [
            "## Start-up",
            "",
            f"Time from launching the process to its listening line, median of {len(st['runs']['mmchat'])} runs "
            "(after one untimed launch, so the .pyc files exist).",
            "",
            "| what | median | × bare interpreter | × naive server |",
            "|---|---:|---:|---:|",
            f'| `python mmchat.py --host --headless --port 0` → "Server listening" | {fmt(med["mmchat"] * 1000, 0)} ms '
            f"| {fmt_ratio(ratio(med['mmchat'], med['python']))} | {fmt_ratio(ratio(med['mmchat'], med['naive']))} |",
            f"| `python bench/naive_server.py` → listening | {fmt(med['naive'] * 1000, 0)} ms "
            f"| {fmt_ratio(ratio(med['naive'], med['python']))} | 1.00× |",
            f'| `python -c "print(...)"` (bare interpreter) | {fmt(med["python"] * 1000, 0)} ms | 1.00× | '
            f"{fmt_ratio(ratio(med['python'], med['naive']))} |",
            "",
            "Slowest imports (cumulative, `python -X importtime`): "
            + ", ".join(f"{name} {sec * 1000:.0f} ms" for sec, name in st["slowest_imports"][:6]),
            "",
        ]

    if "fanout" in results:
        out += [
            "## Fan-out",
            "",
            "N members on the real protocol; S = min(10, N) senders. **Burst**: each sender sends its M messages "
            "as fast as the server takes them (M×S messages in all, capped at 20,000 to stay well inside the "
            "host's 8 MiB per-member outbound bound). **Paced**: a steady 20,000 deliveries/s in total. "
            "Deliveries/s = messages received, summed over all members, from the first send to the last "
            "arrival. Latency = kernel receive timestamp − send timestamp carried in the text (paced: every "
            "delivery to every member; burst: every delivery to 16 members spread over the join order — in a "
            "burst it is mostly queueing). Host CPU = user+system seconds of the server process (all threads) "
            "per 1,000 deliveries. Peak RSS = VmHWM. Loadgen CPU = busiest load-generator process, % of one "
            "core over its run. Medians of the runs; ratios against the naive server and ngIRCd measured in "
            "the same run.",
            "",
        ]
        for n_key, by_kind in results["fanout"].items():
            naive = by_kind.get("naive", {}).get("summary")
            irc = by_kind.get("ngircd", {}).get("summary")
            for mode in ("burst", "paced"):
                out += [
                    f"### N = {n_key}, {mode}"
                    + (
                        f" ({by_kind.get('mmchat', {}).get('burst_messages', '?'):,} messages per run for mmchat)"
                        if mode == "burst" and "burst_messages" in by_kind.get("mmchat", {})
                        else ""
                    ),
                    "",
                    "| server | deliveries/s | × naive | × ngIRCd | p50 ms | p99 ms | host CPU ms / 1k deliveries "
                    "| × naive | peak RSS MB | loadgen CPU | complete |",
                    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
                ]
                for kind, o in by_kind.items():
                    if "error" in o:
                        out.append(f"| {kind} | not run: {o['error'][:120]} |||||||||| ")
                        continue
                    s = o["summary"][mode]
                    nb = naive[mode] if naive else None
                    ib = irc[mode] if irc else None
                    out.append(
                        f"| {kind} | {fmt(s['deliveries_per_s'], 0)} "
                        f"| {fmt_ratio(ratio(s['deliveries_per_s'], nb['deliveries_per_s'])) if nb else '–'} "
                        f"| {fmt_ratio(ratio(s['deliveries_per_s'], ib['deliveries_per_s'])) if ib else '–'} "
                        f"| {fmt(s['p50_ms'], 2)} | {fmt(s['p99_ms'], 2)} | {fmt(s['host_cpu_per_1k'] * 1000, 2)} "
                        f"| {fmt_ratio(ratio(s['host_cpu_per_1k'], nb['host_cpu_per_1k'])) if nb else '–'} "
                        f"| {fmt(s['peak_rss_mb'])} | {fmt(s['loadgen_cpu_pct'], 0)} % "
                        f"| {'yes' if s['complete'] else '**no**'} |"
                    )
                out.append("")

    if "files" in results and "summary" in results["files"]:
        f = results["files"]
        s = f["summary"]
        size = f"{f['size'] / (1 << 30):g} GiB" if f["size"] >= 1 << 30 else f"{f['size'] >> 20} MiB"
        out += [
            "## Files",
            "",
            f"One {size} file (incompressible), medians of {len(f['upload'])} runs. Raw = `sendfile()` → "
            "`recv_into()` → file, two processes on loopback. mmchat = the real `ChatClient` in its own process "
            "against the host in its own; the MB/s figure is end to end (from `send_file()`/`request_file()` to "
            "the transfer's end, so it includes both sides' SHA-256 and the receiver's fsync); the transfer-phase "
            "figure starts when the bytes start to flow. The download's file is in the host's page cache, as the "
            "raw copy's source is; uploads are written with O_DIRECT, so the first download of a fresh upload "
            'reads the disk: that is the "download, fresh upload" row (not a target). Chat latency: two '
            f"other members chatting at {files_bench.CHAT_RATE} messages/s during the transfer, and the same "
            "without one (baseline).",
            "",
            "CPU = core-seconds per GiB moved, both processes together (sender + receiver; for mmchat, host + "
            "client, the host's including the chat traffic): on this 2-core machine both ends share the two cores, "
            "so a transfer cannot take less than half its CPU in wall time.",
            "",
            "| what | MB/s | × raw | × raw+SHA+fsync | transfer phase MB/s | CPU s/GiB | peak RSS MB | chat p50 ms "
            "| chat p99 ms | × idle chat p99 |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
            f"| raw sendfile → recv_into → file | {fmt(s['raw_mb_per_s'], 0)} | 1.00× | "
            f"{fmt_ratio(ratio(s['raw_mb_per_s'], s['raw_safe_mb_per_s']))} | | {fmt(s.get('raw_cpu_s_per_gib'), 2)} "
            f"| receiver {fmt(s['raw_recv_peak_rss_mb'])} | | | |",
            f"| raw + SHA-256 + fsync (reference) | {fmt(s['raw_safe_mb_per_s'], 0)} | "
            f"{fmt_ratio(ratio(s['raw_safe_mb_per_s'], s['raw_mb_per_s']))} | 1.00× | | | | | | |",
            f"| the disk alone: 1 file written O_DIRECT from memory + fsync (reference) | "
            f"{fmt(s.get('disk_mb_per_s'), 0)} | {fmt_ratio(ratio(s.get('disk_mb_per_s'), s['raw_mb_per_s']))} "
            f"| {fmt_ratio(ratio(s.get('disk_mb_per_s'), s['raw_safe_mb_per_s']))} | | | | | | |",
        ]
        for d in ("upload", "download", "download_cold", "tls_upload", "tls_download", "tls_download_cold"):
            x = s.get(d)
            if x is None:
                continue
            plain = d.removeprefix("tls_")
            label = "download, fresh upload (from disk)" if plain == "download_cold" else plain
            label = f"TLS {label} ({x['ratio_to_plain'] * 100:.0f} % of without TLS)" if d != plain else label
            out.append(
                f"| mmchat {label} | {fmt(x['mb_per_s'], 0)} | {fmt_ratio(x['ratio_to_raw'])} "
                f"| {fmt_ratio(x['ratio_to_raw_safe'])} | {fmt(x['transfer_mb_per_s'], 0)} "
                f"| {fmt(x.get('cpu_s_per_gib'), 2)} | client {fmt(x['client_peak_rss_mb'])} "
                f"| {fmt(x['chat_p50_ms'], 2)} | {fmt(x['chat_p99_ms'], 2)} "
                f"| {fmt_ratio(ratio(x['chat_p99_ms'], s['chat_idle_p99_ms']))} |"
            )
        out += [
            f"| chat, no transfer (baseline) | | | | | | | | {fmt(s['chat_idle_p99_ms'], 2)} | 1.00× |",
            "",
            f"Host peak RSS over all transfers: {fmt(s['host_peak_rss_mb'])} MB "
            f"(at start: {fmt(f['host_rss_before_mb'])} MB)"
            + (
                f"; with TLS {fmt(s['tls_host_peak_rss_mb'])} MB (at start {fmt(f['tls_host_rss_before_mb'])} MB), "
                f"chat p99 without a transfer {fmt(s['tls_chat_idle_p99_ms'], 2)} ms"
                if "tls_host_peak_rss_mb" in s
                else ""
            )
            + "."
            + (f" Note: {f['note']}." if f.get("note") else ""),
            "",
        ]
        if "tls_upload" in s:
            out += [
                "With TLS (the default: `mmchat-tls` rows) against the same host run with `--no-tls` in the same "
                "rounds. A transfer here cannot beat the lower of the raw copy and the disk's own durable write "
                f"({fmt(s['bound_mb_per_s'], 0)} MB/s): "
                + "; ".join(
                    f"{d.replace('_', ' ')} {s[d]['ratio_to_bound'] * 100:.0f} % of it"
                    for d in ("upload", "download", "tls_upload", "tls_download")
                )
                + ".",
                "",
            ]

    if "scale" in results:
        out += [
            "## Scale",
            "",
            "Idle members held by one server (two load-generator processes; every process raises its open-file "
            "limit). RSS is read once all have joined and the join traffic has drained; then one member sends one "
            "message, repeatedly, and each member's delivery latency is recorded (kernel receive timestamp): "
            "p50/p99/max over the members, median over the repetitions. Max = the time for one message to reach "
            "all.",
            "",
            "| members | server | RSS held MB | × naive | peak RSS MB | p50 ms | p99 ms | max ms | × naive p99 | "
            "joining took s | complete |",
            "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for n_key, by_kind in results["scale"].items():
            naive = by_kind.get("naive", {}).get("summary")
            for kind, o in by_kind.items():
                if "summary" not in o:
                    out.append(f"| {n_key} | {kind} | not run: {o.get('error', '?')[:150]} |||||||||")
                    continue
                s = o["summary"]
                out.append(
                    f"| {n_key} | {kind} | {fmt(s['held_rss_mb'])} "
                    f"| {fmt_ratio(ratio(s['held_rss_mb'], naive['held_rss_mb'])) if naive else '–'} "
                    f"| {fmt(s['peak_rss_mb'])} | {fmt(s['p50_ms'])} | {fmt(s['p99_ms'])} | {fmt(s['max_ms'])} "
                    f"| {fmt_ratio(ratio(s['p99_ms'], naive['p99_ms'])) if naive else '–'} "
                    f"| {fmt(s['connect_s'])} | {'yes' if s['complete'] else '**no**'} |"
                )
        out.append("")

    if "profile" in results:
        out += ["## Where the host spends its time", ""]
        for key, prof in results["profile"].items():
            out += [f"### {key}", "", profile_host.format_profile(prof)]

    out += ["## Notes", ""]
    for note in meta["notes"]:
        out.append(f"- {note}")
    out.append("")
    return "\n".join(out)


# --- main ------------------------------------------------------------------------------------


def tls_notes(results: dict) -> list[str]:
    """What the TLS rows need said beside them."""
    notes: list[str] = []
    fs = results.get("files", {}).get("summary")
    if fs and "tls_upload" in fs:
        up, tls_up = fs["upload"]["cpu_s_per_gib"], fs["tls_upload"]["cpu_s_per_gib"]
        down, tls_down = fs["download"]["cpu_s_per_gib"], fs["tls_download"]["cpu_s_per_gib"]
        notes.append(
            f"With TLS a file costs more CPU: upload {tls_up:.2f} core-seconds per GiB (host and member together) "
            f"against {up:.2f} without, download {tls_down:.2f} against {down:.2f}. Each end now encrypts or "
            "decrypts every byte (AES-256-GCM, the cipher OpenSSL picks for TLS 1.3 and Python 3.11 cannot "
            "reorder; about 2 GB/s each way on one core of this machine, measured in process) and the sender "
            "loses sendfile's zero copy. Both ends share this machine's two cores, so that CPU is taken straight "
            "out of the transfer; on a LAN each end has its own, and a gigabit link carries 117 MB/s."
        )
    if HAS_TLS and "fanout" in results:
        notes.append(
            "With TLS the load generator decrypts every delivery of its members (100 at N=100) on the same two "
            "cores the host uses, which the plain host's and ngIRCd's load generators do not; its CPU is in the "
            "loadgen column."
        )
    if HAS_TLS and "scale" in results:
        notes.append(
            "A TLS connection's memory is mostly OpenSSL's own: 16.5 kB per established server-side connection "
            "(OpenSSL 3.0, 2,000 SSLObjects after their handshake, RSS after malloc_trim), plus about 1.25 times "
            "the largest piece of plaintext written to it, kept while it lives (the host writes at most 16 kB at a "
            "time). The plain host's whole cost per idle member is about 4 kB, so twice the plain figure is less "
            "than OpenSSL alone needs for 5,000 members. A host's first start also loads the cryptography "
            "package to make its certificate (about 12 MB); a restarted host does not."
        )
    return notes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="a smaller version (about 2 minutes)")
    mode.add_argument("--full", action="store_true", help="the full benchmark (the default)")
    parser.add_argument("--only", default="", help=f"comma-separated sections: {','.join(SECTIONS)}")
    parser.add_argument("--skip", default="", help="comma-separated sections to leave out")
    parser.add_argument("--loadgen-procs", type=int, default=1, help="load-generator processes for fan-out")
    parser.add_argument("--output", default=str(BENCH_DIR / "RESULTS.md"))
    args = parser.parse_args()

    plan_name = "quick" if args.quick else "full"
    plan = PLANS[plan_name]
    sections = [s for s in (args.only.split(",") if args.only else SECTIONS) if s]
    sections = [s for s in sections if s not in args.skip.split(",")]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s): {', '.join(sorted(unknown))}")
    # The peer first, so that its state is the first line, not only a note at the end of the results.
    peer = ensure_ngircd() if {"fanout", "scale"} & set(sections) else ""
    if peer:
        log(peer)
    raise_fd_limit()
    started = time.time()
    meta = {
        "started": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "command": "python " + " ".join(shlex.quote(a) for a in [os.path.relpath(sys.argv[0], ROOT), *sys.argv[1:]]),
        "plan": plan_name,
        "machine": machine(),
        "load_start": loadavg(),
        "notes": [],
    }
    notes = meta["notes"]
    kinds = ["mmchat", *(["mmchat-tls"] if HAS_TLS else []), "naive"] + (["ngircd"] if ngircd_path() else [])
    if peer and not ngircd_path():
        notes.append(peer)
    results: dict = {}
    log(f"mmchat benchmark ({plan_name}): {', '.join(sections)}; load average {meta['load_start']}")

    def attempt(name: str, fn) -> None:
        try:
            fn()
        except Exception as exc:
            traceback.print_exc()
            notes.append(f"The {name} section failed: {type(exc).__name__}: {exc}")

    if "startup" in sections:
        log("Start-up")
        attempt("start-up", lambda: results.__setitem__("startup", startup.measure(plan["startup_runs"])))

    if "fanout" in sections:
        results["fanout"] = {}
        for n in plan["fanout_n"]:
            log(f"Fan-out, N = {n}")
            attempt(
                f"fan-out N={n}",
                lambda n=n: results["fanout"].__setitem__(
                    str(n),
                    fanout.measure(
                        kinds,
                        n,
                        runs=plan["runs"],
                        burst_deliveries=plan["burst_deliveries"],
                        paced_seconds=plan["paced_seconds"],
                        procs=args.loadgen_procs,
                        log=log,
                    ),
                ),
            )

    if "files" in sections:
        log("Files")
        attempt(
            "files",
            lambda: results.__setitem__("files", files_bench.measure(plan["file_size"], plan["file_runs"], log=log)),
        )

    if "scale" in sections:
        results["scale"] = {}
        for n in plan["scale_n"]:
            log(f"Scale, {n} idle members")
            results["scale"][str(n)] = {}
            for kind in kinds:
                if kind == "ngircd" and n > plan["ngircd_scale_max"]:
                    results["scale"][str(n)][kind] = {"error": "skipped, see the notes"}
                    continue
                try:
                    results["scale"][str(n)][kind] = scale.measure(kind, n, plan["scale_reps"], log=log)
                except Exception as exc:
                    traceback.print_exc()
                    results["scale"][str(n)][kind] = {"error": f"{type(exc).__name__}: {exc}"}
        if "ngircd" in kinds and max(plan["scale_n"]) > plan["ngircd_scale_max"]:
            notes.append(
                f"ngIRCd is measured at scale only up to {plan['ngircd_scale_max']:,} members: seating members in "
                "one channel costs it O(N²) JOIN messages plus a scan over every connection per loop, and here it "
                "used 84 s of CPU to seat 3,000 and had not seated 5,000 after 240 s, which does not fit the "
                "30-minute budget."
            )

    if "profile" in sections:
        results["profile"] = {}
        for mode, n in (("burst", 100), ("paced", 100), ("burst", 10), ("upload", 0), ("download", 0)):
            key = f"{mode}, N = {n}" if n else f"{mode} of a {profile_host.TRANSFER_SIZE >> 20} MiB file"
            log(f"Profiling: {key}")
            attempt(
                f"profile ({key})",
                lambda mode=mode, n=n, key=key: results["profile"].__setitem__(
                    key, profile_host.profile(mode, n, plan["profile_seconds"])
                ),
            )

    busy = [
        f"{kind} N={n_key} {mode} ({o['summary'][mode]['loadgen_cpu_pct']:.0f} %)"
        for n_key, by_kind in results.get("fanout", {}).items()
        for kind, o in by_kind.items()
        if "summary" in o
        for mode in ("burst", "paced")
        if o["summary"][mode]["loadgen_cpu_pct"] >= 85
    ]
    if busy:
        notes.append(
            "The load generator was at 85 % of a core or more for: " + ", ".join(busy) + ". Those figures may be "
            "the generator's limit rather than the server's, so ratios against them may flatter mmchat."
        )
    fs = results.get("files", {}).get("summary")
    if fs and fs.get("raw_cpu_s_per_gib") and fs["upload"].get("cpu_s_per_gib"):
        up, raw_cpu = fs["upload"]["cpu_s_per_gib"], fs["raw_cpu_s_per_gib"]
        best = (1 << 30) / (up / 2) / 1e6  # both cores busy the whole time
        notes.append(
            f"An upload passes the file through SHA-256 twice, once in the member (while it sends) and once in the "
            f"host (while it receives); measured here: {up:.2f} core-seconds per GiB for host and client together, "
            f"against {raw_cpu:.2f} for the raw copy. With both ends sharing this machine's two cores, the upload "
            f"cannot beat {best:,.0f} MB/s ({best / fs['raw_mb_per_s'] * 100:.0f} % of the raw copy) however it is "
            "scheduled; on a LAN the member and the host each have their own CPU."
        )
    if fs and fs.get("disk_mb_per_s"):
        disk = fs["disk_mb_per_s"]
        notes.append(
            "A received file is made durable before it gets its name (fsync: nothing half-written ever appears "
            "under a real name, even after a power cut); the raw copy leaves its bytes in memory for the kernel to "
            f"write later. So a transfer cannot finish faster than the disk can take the file: {disk:,.0f} MB/s "
            f"here ({disk / fs['raw_mb_per_s'] * 100:.0f} % of the raw copy), the 'disk alone' row."
        )
    notes += tls_notes(results)
    notes += [
        f"Load generation: {args.loadgen_procs} load-generator process(es) for fan-out and 2 for scale, each "
        "driving many member sockets from one epoll loop; the machine has only 2 cores, so the server and the "
        "load generator(s) share them. A load-generator CPU near 100 % means that figure may be limited by the "
        "generator rather than the server.",
        "IRC does not echo a message to its sender, so one PRIVMSG makes N−1 deliveries where mmchat and the "
        "naive server make N; expectations and the paced message rate use N−1 for ngIRCd, and deliveries/s "
        "counts what actually arrived. ngIRCd runs with `MaxPenaltyTime = 0` (penalties off), "
        "`MaxConnectionsIP = 0`, no DNS/ident/PAM.",
        "The naive server (bench/naive_server.py) leaves Nagle's algorithm on, as the reference figure in the "
        "issue (≈0.37 M/s) implies; with TCP_NODELAY it makes about a third of that in a burst.",
        "Latencies use the kernel's receive timestamp (SO_TIMESTAMPNS) on the receiving socket and the sender's "
        "time.time_ns() in the message text; both are CLOCK_REALTIME on one machine.",
        "The raw file copy does not hash or fsync; the mmchat host and client do both, so the 'raw + SHA-256 + "
        "fsync' row (hash and write in turn, one thread) shows what that work costs done plainly on this disk.",
        f"The quick plan runs each measurement once ({PLANS['quick']['runs']} run), with smaller bursts, a 256 MiB "
        "file and 1,000 idle members only; its figures are for trying things, not medians of 3.",
    ]
    meta["duration_s"] = time.time() - started
    meta["load_end"] = loadavg()
    output = Path(args.output)
    output.write_text(report(results, meta))
    dump_json(output.with_name("results.json"), {"meta": meta, "results": _strip(results)})
    log(f"Wrote {output} ({meta['duration_s'] / 60:.1f} min)")
    return 0


def _strip(results: dict) -> dict:
    """The results without bulky per-sample lists, for results.json."""
    return json.loads(json.dumps(results, default=str))


if __name__ == "__main__":
    sys.exit(main())
