"""Files: a 1 GiB upload and download through the mmchat host, against a raw sendfile copy in the same run.

The raw limit is two processes on loopback: one `socket.sendfile()`s the file,
the other `recv_into()`s a reused 1 MiB buffer and writes it to a new file
(timed from accept to the file's close).  Every copy and transfer starts
after os.sync(), so none pays for the dirty pages of the one before.  A second raw variant also hashes
with SHA-256 and fsyncs, as the host and client do to keep files safe, to show
what that costs on this disk.  The mmchat transfers use the real client
(`ChatClient.send_file` / `request_file`) in a process of its own, so its peak
RSS can be read, against a host in its own process.  While each transfer runs,
two other members chat at 100 messages/s and their delivery latency is
recorded; the same chat without a transfer is the latency baseline.

The child roles (raw-recv, raw-send, upload, download) are this same script:
python bench/files_bench.py ROLE ...
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import (
    HAS_TLS,
    LOCALHOST,
    PYTHON,
    LoadGenerators,
    median,
    merge_results,
    percentile,
    self_peak_rss_mb,
    start_server,
)

MiB = 1 << 20
GiB = 1 << 30
RECV_BUFFER = 1 * MiB
CHAT_RATE = 100  # messages/s from the chatting members during a transfer
TRANSFER_TIMEOUT = 300.0
SCRIPT = str(Path(__file__).resolve())


# --- child roles ----------------------------------------------------------------------


def role_raw_recv(out_path: str, safe: bool) -> None:
    """Accept one connection and copy what arrives into `out_path`; print timings as JSON."""
    listener = socket.socket()
    listener.bind((LOCALHOST, 0))
    listener.listen(1)
    print(json.dumps({"port": listener.getsockname()[1]}), flush=True)
    listener.settimeout(60)
    sock, _ = listener.accept()
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    buf = bytearray(RECV_BUFFER)
    view = memoryview(buf)
    hasher = hashlib.sha256() if safe else None
    total = 0
    with open(out_path, "wb") as out:
        while True:
            n = sock.recv_into(view)
            if not n:
                break
            if hasher:
                hasher.update(view[:n])
            out.write(view[:n])
            total += n
        if safe:
            out.flush()
            os.fsync(out.fileno())
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    print(json.dumps({"bytes": total, "seconds": seconds, "cpu_s": cpu, "peak_rss_mb": self_peak_rss_mb()}), flush=True)


def role_raw_send(port: int, path: str) -> None:
    cpu0 = time.process_time()
    with socket.create_connection((LOCALHOST, port)) as sock, open(path, "rb") as f:
        sock.sendfile(f)
    cpu = time.process_time() - cpu0
    print(json.dumps({"cpu_s": cpu, "peak_rss_mb": self_peak_rss_mb()}), flush=True)


def client_options(tls: bool) -> dict:
    """ChatClient's keyword arguments for a host with TLS (the default) or one run with --no-tls."""
    return {} if tls or not HAS_TLS else {"use_tls": False}


def role_client(direction: str, port: int, target: str, folder: str, delay: float = 0.0, tls: bool = False) -> None:
    """Upload `target` (a path) or download `target` (a shared name) with the real client."""
    from mmchat.client import ChatClient

    client = ChatClient(LOCALHOST, port, f"{direction[:2]}{os.getpid()}", downloads=folder, **client_options(tls))
    client.connect()
    time.sleep(delay)  # lets a profiler attach first
    t0 = time.perf_counter()
    cpu0 = time.process_time()  # this process, all threads
    if direction == "upload":
        transfer = client.send_file(target)
    else:
        transfer = client.request_file(target, folder=folder)
    finished = transfer.wait(TRANSFER_TIMEOUT)
    done = time.monotonic()
    total = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    client.close()
    print(
        json.dumps(
            {
                "ok": finished and transfer.ok,
                "error": transfer.error if finished else "timed out",
                "seconds": total,
                "cpu_s": cpu,
                "transfer_seconds": done - transfer.started,
                "path": str(transfer.path) if transfer.path else "",
                "remote_name": transfer.remote_name or "",
                "peak_rss_mb": self_peak_rss_mb(),
            }
        ),
        flush=True,
    )


# --- the measurement ------------------------------------------------------------------------


def _child(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen([PYTHON, SCRIPT, *args], stdout=subprocess.PIPE, text=True)


def _last_json(proc: subprocess.Popen, timeout: float) -> dict:
    out, _ = proc.communicate(timeout=timeout)
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"child failed ({proc.returncode}): {out[-500:]}")
    return json.loads(lines[-1])


def make_file(path: Path, size: int) -> None:
    """`size` bytes of incompressible data (a random 16 MiB block, repeated)."""
    block = os.urandom(16 * MiB)
    with open(path, "wb") as f:
        left = size
        while left:
            chunk = block[: min(len(block), left)]
            f.write(chunk)
            left -= len(chunk)
        f.flush()
        os.fsync(f.fileno())


def disk_write(path: Path, size: int) -> dict:
    """The disk's own limit for a durable write: `size` bytes from memory, O_DIRECT 4 MiB writes, then fsync."""
    import mmap

    os.sync()
    chunk = 4 * MiB
    buf = mmap.mmap(-1, chunk)
    buf.write(os.urandom(chunk))
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_DIRECT", 0)
    t0 = time.perf_counter()
    fd = os.open(path, flags, 0o600)
    try:
        done = 0
        while done < size:
            done += os.write(fd, memoryview(buf)[: min(chunk, size - done)])
        os.fsync(fd)
    finally:
        os.close(fd)
    seconds = time.perf_counter() - t0
    path.unlink()
    return {"mb_per_s": size / seconds / 1e6, "seconds": seconds}


def read_through(path: Path) -> None:
    """Read a file once, so that it is in the page cache."""
    with open(path, "rb") as f:
        while f.read(8 * MiB):
            pass


def raw_copy(src: Path, dst: Path, safe: bool) -> dict:
    os.sync()  # every copy starts with no dirty pages from the one before
    recv = _child(["raw-recv", str(dst), "1" if safe else "0"])
    port = json.loads(recv.stdout.readline())["port"]
    send = _child(["raw-send", str(port), str(src)])
    result = _last_json(recv, TRANSFER_TIMEOUT)
    sender = _last_json(send, 60)
    dst.unlink(missing_ok=True)
    size = src.stat().st_size
    if result["bytes"] != size:
        raise RuntimeError(f"raw copy moved {result['bytes']} of {size} bytes")
    return {
        "mb_per_s": size / result["seconds"] / 1e6,
        "seconds": result["seconds"],
        "cpu_s": result["cpu_s"] + sender["cpu_s"],
        "recv_peak_rss_mb": result["peak_rss_mb"],
        "send_peak_rss_mb": sender["peak_rss_mb"],
    }


def chat_window(lg: LoadGenerators, action) -> tuple[dict, object]:
    """Run `action()` while two members chat; return (latency figures, action's result)."""
    lg.settle(quiet=0.2)
    lg.start_run(
        [
            {
                "cmd": "run",
                "mode": "paced",
                "senders": [0, 1],
                "rate": CHAT_RATE,
                "probes": "all",
                "timeout": TRANSFER_TIMEOUT + 60,
                "idle_timeout": 10,
            }
        ]
    )
    value = action()
    merged = merge_results(lg.stop_run(60))
    lat = merged["lat_us"]
    return (
        {
            "p50_ms": percentile(lat, 50) / 1000,
            "p99_ms": percentile(lat, 99) / 1000,
            "max_ms": (max(lat) / 1000) if lat else float("nan"),
            "samples": len(lat),
        },
        value,
    )


def choose_size(work: Path, wanted: int) -> tuple[int, str]:
    """The file size to use: `wanted`, or less if the disk cannot hold four copies plus a margin."""
    free = shutil.disk_usage(work).free
    size = wanted
    while size > 64 * MiB and 4 * size + GiB > free:
        size //= 2
    note = (
        ""
        if size == wanted
        else (f"scaled down from {wanted // MiB} MiB to {size // MiB} MiB: only {free // MiB} MiB free in {work}")
    )
    return size, note


KINDS = ["mmchat", *(["mmchat-tls"] if HAS_TLS else [])]  # the plain host (--no-tls) and, with TLS, the default
PREFIX = {"mmchat": "", "mmchat-tls": "tls_"}  # out's keys: "upload" for the plain host, "tls_upload" with TLS
TRANSFERS = ("upload", "download_cold", "download")


def measure(wanted_size: int, runs: int, log=print) -> dict:
    work = Path(tempfile.mkdtemp(prefix="mmchat-bench-files-", dir="/tmp"))
    servers: dict = {}
    gens: dict = {}
    try:
        size, note = choose_size(work, wanted_size)
        src = work / f"bench-{size // MiB}MiB.bin"
        make_file(src, size)
        downloads = work / "downloads"
        downloads.mkdir()
        out: dict = {"size": size, "note": note, "raw": [], "raw_safe": [], "disk": [], "kinds": KINDS}
        warm: dict = {}
        for kind in KINDS:
            pre = PREFIX[kind]
            for key in TRANSFERS:
                out[pre + key] = []
            server = servers[kind] = start_server(kind)
            out[pre + "host_rss_before_mb"] = server.memory()["VmHWM"] / 1024
            lg = gens[kind] = LoadGenerators(kind, server.port, ["chat0", "chat1", "chat2", "chat3"], 1)
            lg.connect()
            lg.settle()
            out[pre + "chat_idle"], _ = chat_window(lg, lambda: time.sleep(3.0))
            log(f"  {kind}: chat without a transfer: p99 {out[pre + 'chat_idle']['p99_ms']:.2f} ms")
            # The download target: shared once, then read once so it sits in the host's page cache,
            # as the raw copy's source does.  (Uploads are written with O_DIRECT, so a fresh one is
            # not in memory: its first download, measured separately, reads the disk.)
            role = "upload" if kind == "mmchat" else "upload-tls"
            warm[kind] = _last_json(_child([role, str(server.port), str(src), str(downloads)]), TRANSFER_TIMEOUT)
            if not warm[kind]["ok"]:
                raise RuntimeError(f"{kind} upload failed: {warm[kind]['error']}")
            read_through(server.workdir / "share" / warm[kind]["remote_name"])

        # Each round does everything once, so that noise from other work falls on all alike.
        for i in range(runs):
            out["raw"].append(raw_copy(src, work / "raw-copy.bin", safe=False))
            out["raw_safe"].append(raw_copy(src, work / "raw-copy.bin", safe=True))
            out["disk"].append(disk_write(work / "disk.bin", size))
            log(
                f"  raw copy {out['raw'][-1]['mb_per_s']:,.0f} MB/s; with SHA-256 + fsync "
                f"{out['raw_safe'][-1]['mb_per_s']:,.0f} MB/s; the disk alone (O_DIRECT + fsync) "
                f"{out['disk'][-1]['mb_per_s']:,.0f} MB/s"
            )
            for kind in KINDS:
                server, lg, pre = servers[kind], gens[kind], PREFIX[kind]
                fresh = ""  # this round's upload, downloaded once straight after (from disk)
                for key in TRANSFERS:
                    direction = key.split("_")[0] + ("" if kind == "mmchat" else "-tls")
                    target = {"upload": str(src), "download_cold": fresh, "download": warm[kind]["remote_name"]}[key]
                    os.sync()
                    host_cpu0 = server.cpu()
                    chat, result = chat_window(
                        lg,
                        lambda d=direction, t=target, port=server.port: _last_json(
                            _child([d, str(port), t, str(downloads)]), TRANSFER_TIMEOUT
                        ),
                    )
                    if not result["ok"]:
                        raise RuntimeError(f"{kind} {key} failed: {result['error']}")
                    result["host_cpu_s"] = server.cpu() - host_cpu0  # includes the chat's 100 messages/s
                    fresh = fresh or result["remote_name"]
                    if result["path"]:
                        Path(result["path"]).unlink(missing_ok=True)
                    result.update(
                        mb_per_s=size / result["seconds"] / 1e6,
                        transfer_mb_per_s=size / result["transfer_seconds"] / 1e6,
                        chat=chat,
                        run=i,
                    )
                    out[pre + key].append(result)
                    log(
                        f"  {kind} {key} {result['mb_per_s']:,.0f} MB/s (transfer phase "
                        f"{result['transfer_mb_per_s']:,.0f} MB/s), chat p99 {chat['p99_ms']:.1f} ms, "
                        f"client peak RSS {result['peak_rss_mb']:.0f} MB"
                    )
                (server.workdir / "share" / fresh).unlink(missing_ok=True)
        for kind in KINDS:
            out[PREFIX[kind] + "host_peak_rss_mb"] = servers[kind].memory()["VmHWM"] / 1024
        out["summary"] = summarize(out)
        return out
    finally:
        for lg in gens.values():
            lg.close()
        for server in servers.values():
            server.stop()
        shutil.rmtree(work, ignore_errors=True)


def summarize(out: dict) -> dict:
    raw = median([r["mb_per_s"] for r in out["raw"]])
    gib = out["size"] / GiB
    disk = median([r["mb_per_s"] for r in out["disk"]]) if out.get("disk") else None
    summary = {
        "raw_mb_per_s": raw,
        "raw_cpu_s_per_gib": median([r["cpu_s"] for r in out["raw"]]) / gib,
        "disk_mb_per_s": disk,
        "bound_mb_per_s": min(raw, disk) if disk else raw,  # what no transfer here can beat: copy or disk
        "raw_safe_mb_per_s": median([r["mb_per_s"] for r in out["raw_safe"]]),
        "raw_recv_peak_rss_mb": max(r["recv_peak_rss_mb"] for r in out["raw"]),
    }
    for kind in out.get("kinds", ["mmchat"]):
        pre = PREFIX[kind]
        summary[pre + "host_peak_rss_mb"] = out[pre + "host_peak_rss_mb"]
        summary[pre + "chat_idle_p99_ms"] = out[pre + "chat_idle"]["p99_ms"]
        for d in TRANSFERS:
            runs = out[pre + d]
            mb = median([r["mb_per_s"] for r in runs])
            summary[pre + d] = {
                "mb_per_s": mb,
                "transfer_mb_per_s": median([r["transfer_mb_per_s"] for r in runs]),
                "ratio_to_raw": mb / raw,
                "ratio_to_raw_safe": mb / summary["raw_safe_mb_per_s"],
                "ratio_to_bound": mb / summary["bound_mb_per_s"],
                "client_peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
                "cpu_s_per_gib": median([r["cpu_s"] + r["host_cpu_s"] for r in runs]) / gib,
                "chat_p50_ms": median([r["chat"]["p50_ms"] for r in runs]),
                "chat_p99_ms": median([r["chat"]["p99_ms"] for r in runs]),
                "chat_max_ms": max(r["chat"]["max_ms"] for r in runs),
            }
            if pre:  # with TLS: against the plain host's same transfer, measured in the same rounds
                summary[pre + d]["ratio_to_plain"] = mb / summary[d]["mb_per_s"]
    return summary


def main() -> int:
    role = sys.argv[1]
    if role == "raw-recv":
        role_raw_recv(sys.argv[2], sys.argv[3] == "1")
    elif role == "raw-send":
        role_raw_send(int(sys.argv[2]), sys.argv[3])
    elif role in ("upload", "download", "upload-tls", "download-tls"):
        delay = float(sys.argv[5]) if len(sys.argv) > 5 else 0.0
        role_client(role.split("-")[0], int(sys.argv[2]), sys.argv[3], sys.argv[4], delay, tls=role.endswith("-tls"))
    else:
        print(f"unknown role {role!r}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
