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
