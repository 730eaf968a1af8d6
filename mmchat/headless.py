"""The headless host: `mmchat --host --headless`, a chat with no window that logs to the terminal.

Both this host and the admin window's are built by `hosting.make_server`,
from the same options.  Its standard input takes the admin's commands
(`host_console.py`: /who, /kick, /ban, /stop …); without one it just runs.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from typing import TextIO

from .address import join_url
from .host_console import HostConsole
from .hosting import make_server
from .settings import lan_addresses
from .tls import IdentityError

POLL_SECONDS = 0.5  # how often the wait for a signal also checks that the host still runs


def run_host(
    args: argparse.Namespace,
    out: TextIO | None = None,
    err: TextIO | None = None,
    stop: threading.Event | None = None,
    stdin: TextIO | None = None,
) -> int:
    """Host until Ctrl-C, SIGTERM, /stop on `stdin` or `stop` is set, printing every log line; the exit code."""
    out, err, stdin = out or sys.stdout, err or sys.stderr, stdin or sys.stdin
    try:
        server = make_server(args)
    except IdentityError as exc:
        print(f"mmchat: {exc}", file=err)
        return 1
    except OSError as exc:
        print(f"mmchat: cannot use the shared folder {args.share}: {exc.strerror or exc}", file=err)
        return 1
    printer = LinePrinter(out)
    server.subscribe(lambda event: printer(event.text))
    stop = stop if stop is not None else threading.Event()
    with stop_on_signals(stop):
        try:
            server.start()
        except OSError as exc:
            print(f"mmchat: {exc.strerror or exc}", file=err)
            return 1
        if server.fingerprint:  # members compare it with what they see, and an invite carries it
            printer(f"Fingerprint: {server.fingerprint}")
            printer(f"Invite: {join_url(lan_addresses(server.address[0])[0], server.address[1], server.fingerprint)}")
        else:
            printer("Without TLS (--no-tls): nothing is encrypted, and only members with --no-tls can join.")
        printer(f"Shared folder: {server.share}")
        if stdin is not None and stdin.isatty():
            printer("Type /help for the host's commands.")
        HostConsole(server, printer, stop).start(stdin)
        while not stop.wait(POLL_SECONDS):
            if server.wait(0):  # the host stopped by itself
                break
        server.stop()
    return 0


class LinePrinter:
    """Whole lines to a stream that several threads log to: one write and a flush each, under a lock."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._lock = threading.Lock()

    def __call__(self, text: str) -> None:
        """Print `text` as one line."""
        # print() writes the text and the newline in two calls: another thread's line could land
        # between them, two lines on one.  One write per line, and the lock keeps the flushes in step.
        with self._lock:
            self._out.write(text + "\n")
            self._out.flush()


@contextlib.contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """While inside, SIGINT and SIGTERM set `stop`; the handlers before are put back after."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set signal handlers (a test, or an embedding program)
        return
    names = [name for name in ("SIGINT", "SIGTERM") if hasattr(signal, name)]
    signals = [getattr(signal, name) for name in names]
    before = {signum: signal.getsignal(signum) for signum in signals}

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    for signum in signals:
        signal.signal(signum, on_signal)
    try:
        yield
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)
