"""The ngIRCd peer: a throw-away configuration in a temp dir, and the daemon started on 127.0.0.1.

ngIRCd is driven by the same load generator as mmchat (bench/loadgen.py,
protocol "irc"): each member registers with NICK/USER, joins #bench, and sends
`PRIVMSG #bench :<text>`.  IRC does not echo a message to its sender, so one
message makes N-1 deliveries where mmchat makes N; the benchmark counts what
actually arrives and sets its expectations and paced rates accordingly.

Flood protection: `MaxPenaltyTime = 0` disables ngIRCd's penalty time
altogether (ngIRCd 26 and later; see sample-ngircd.conf).  The per-address
connection limit (default 5) is lifted with `MaxConnectionsIP = 0`, and DNS,
ident and PAM are off so that nothing waits on lookups.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from common import LOCALHOST, SERVER_START_TIMEOUT, Server, free_port, raise_fd_limit

CONFIG = """\
[Global]
	Name = bench.irc
	Info = mmchat benchmark peer
	Listen = {host}
	Ports = {port}
	PidFile = {dir}/ngircd.pid
	MotdPhrase = "bench"
	HelpFile = {dir}/help.txt
[Limits]
	MaxConnections = 0
	MaxConnectionsIP = 0
	MaxJoins = 0
	MaxPenaltyTime = 0
	PingTimeout = 600
	PongTimeout = 600
	MaxListSize = 0
	IdleTimeout = 0
[Options]
	DNS = no
	Ident = no
	PAM = no
	RequireAuthPing = no
	MorePrivacy = no
	SyslogFacility = local7
"""


def ngircd_path() -> str | None:
    """Where the ngircd binary is, or None when it is not installed."""
    return shutil.which("ngircd") or ("/usr/sbin/ngircd" if Path("/usr/sbin/ngircd").exists() else None)


INSTALL_TIMEOUT = 900  # seconds for apt-get update and install together, on a slow mirror


def ensure_ngircd() -> str:
    """Install ngIRCd with apt-get when it is missing and that is possible; say what happened.

    Returns "" when ngIRCd was already there, otherwise one sentence for the benchmark's first
    line: installed now, or why not (its columns are then empty).  apt-get runs as root, or
    through `sudo -n` (never a password prompt in the middle of a benchmark).  Installing the
    Debian package also starts ngIRCd as a system service listening on the network; the
    benchmark starts its own on 127.0.0.1, so that service is stopped and disabled again.
    """
    if ngircd_path():
        return ""
    empty = "the benchmark runs without its columns"
    if not shutil.which("apt-get"):
        return f"ngIRCd is not installed and there is no apt-get to install it with: {empty}."
    if os.geteuid() == 0:
        sudo: list[str] = []
    elif shutil.which("sudo"):
        sudo = ["sudo", "-n"]
    else:
        return f"ngIRCd is not installed, and installing it needs root: {empty} (sudo apt-get install ngircd first)."
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for step in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "ngircd"]):
        try:
            done = subprocess.run(
                [*sudo, *step],
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=INSTALL_TIMEOUT,
            )
        except subprocess.TimeoutExpired:
            return f"ngIRCd is not installed, and `{' '.join(step)}` took more than {INSTALL_TIMEOUT} s: {empty}."
        if done.returncode != 0:
            why = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
            return f"ngIRCd is not installed, and `{' '.join([*sudo, *step])}` failed ({why}): {empty}."
    if not ngircd_path():
        return f"ngIRCd is not installed, and apt-get installed no ngircd program: {empty}."
    _stop_service(sudo)
    return f"ngIRCd was not installed: installed it now with {' '.join([*sudo, 'apt-get'])} ({ngircd_version()})."


def _stop_service(sudo: list[str]) -> None:
    """Stop and disable the system service that installing the package started (best effort)."""
    if Path("/run/systemd/system").is_dir():
        commands = [["systemctl", "disable", "--now", "ngircd"]]
    else:
        commands = [["service", "ngircd", "stop"], ["update-rc.d", "ngircd", "disable"]]
    for command in commands:
        if shutil.which(command[0]) or Path("/usr/sbin", command[0]).exists():
            subprocess.run([*sudo, *command], stdin=subprocess.DEVNULL, capture_output=True, timeout=60)


def ngircd_version() -> str:
    path = ngircd_path()
    if not path:
        return ""
    out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10).stdout
    return out.splitlines()[0] if out else ""


def start_ngircd() -> Server:
    """Start ngIRCd in the foreground with a temporary configuration; wait until it accepts."""
    path = ngircd_path()
    if not path:
        raise RuntimeError("ngircd is not installed (apt-get install ngircd)")
    workdir = Path(tempfile.mkdtemp(prefix="mmchat-bench-ngircd-"))
    workdir.chmod(0o755)
    (workdir / "help.txt").write_text("bench\n")
    port = free_port()
    conf = workdir / "ngircd.conf"
    conf.write_text(CONFIG.format(host=LOCALHOST, port=port, dir=workdir))
    log = workdir / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [path, "--nodaemon", "--config", str(conf)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=raise_fd_limit,
        )
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"ngircd exited with status {proc.returncode}: {log.read_text(errors='replace')[-2000:]}"
            )
        try:
            with socket.create_connection((LOCALHOST, port), timeout=1):
                pass  # ngIRCd drops an unregistered client quietly
            return Server("ngircd", proc, port, workdir, log)
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("ngircd did not start listening in time")
