"""mmchat.headless: the host with no window, on 127.0.0.1 port 0, its log lines, and how it stops."""

from __future__ import annotations

import io
import os
import re
import signal
import socket
import threading
import time
from pathlib import Path

import pytest

from mmchat.address import parse_address
from mmchat.client import ChatClient
from mmchat.headless import LinePrinter, run_host, stop_on_signals
from tests.test_hosting import host_args

WAIT = 20.0  # generous: a pass never waits this long


class Log(io.StringIO):
    """Standard output that a test can wait on (the host logs from its own thread)."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self.calls: list[str] = []  # what each write call was given

    def write(self, text: str) -> int:
        with self._lock:
            self.calls.append(text)
            return super().write(text)

    def lines(self) -> list[str]:
        with self._lock:
            return self.getvalue().splitlines()

    def wait_for(self, pattern: str) -> re.Match[str]:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            for line in self.lines():
                found = re.fullmatch(pattern, line)
                if found:
                    return found
            time.sleep(0.02)
        raise AssertionError(f"no line matching {pattern!r} in {self.lines()!r}")


def test_the_host_logs_each_event_and_stops_when_told(tmp_path: Path) -> None:
    out, err, stop = Log(), Log(), threading.Event()
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(run_host(host_args(tmp_path), out, err, stop)))
    thread.start()
    try:
        address = parse_address(out.wait_for(r"Server listening at (127\.0\.0\.1:\d+)").group(1))
        out.wait_for(f"Shared folder: {re.escape(str(tmp_path / 'share'))}")
        member = ChatClient(address.host, address.port, "alice", downloads=tmp_path / "dl")
        member.connect()
        # Each event is a line of its own (the wording is the host's business, not this test's).
        joined = out.wait_for(r".*\balice\b.*").group(0)
        member.close()
        out.wait_for(rf"(?!{re.escape(joined)}$).*\balice\b.*")
    finally:
        stop.set()
        thread.join(WAIT)
    assert not thread.is_alive()
    assert result == [0]
    assert err.getvalue() == ""
    # One write per line: a thread's line never lands between another's text and its newline.
    assert out.calls and all(call.endswith("\n") and call.count("\n") == 1 for call in out.calls)
    with pytest.raises(OSError):  # nobody listens there any more
        socket.create_connection((address.host, address.port), timeout=2).close()


def test_sigterm_stops_the_host_and_the_old_handler_comes_back(tmp_path: Path) -> None:
    caught: list[int] = []
    before = signal.signal(signal.SIGTERM, lambda signum, frame: caught.append(signum))  # never the default: it kills
    out, stop = Log(), threading.Event()

    def send_sigterm() -> None:
        try:
            out.wait_for(r"Shared folder: .*")
        finally:
            os.kill(os.getpid(), signal.SIGTERM)
            if not stop.wait(WAIT):
                stop.set()  # bound the test if the signal was not heard

    killer = threading.Thread(target=send_sigterm)
    killer.start()
    try:
        code = run_host(host_args(tmp_path), out, Log(), stop)  # on the main thread, where signals arrive
        killer.join(WAIT)
        assert code == 0
        assert stop.is_set()
        assert caught == [], "run_host did not handle SIGTERM itself"
        os.kill(os.getpid(), signal.SIGTERM)
        assert caught == [signal.SIGTERM], "the handler from before run_host was not put back"
    finally:
        signal.signal(signal.SIGTERM, before)


def test_signals_are_left_alone_off_the_main_thread() -> None:
    before = signal.getsignal(signal.SIGINT)
    seen: list[object] = []

    def inside() -> None:
        with stop_on_signals(threading.Event()):
            seen.append(signal.getsignal(signal.SIGINT))

    thread = threading.Thread(target=inside)
    thread.start()
    thread.join(WAIT)
    assert seen == [before]


def test_a_shared_folder_that_is_a_file_is_one_sentence(tmp_path: Path) -> None:
    (tmp_path / "share").write_text("not a folder")
    out, err = Log(), Log()
    assert run_host(host_args(tmp_path), out, err, threading.Event()) == 1
    assert len(err.lines()) == 1 and err.lines()[0].startswith(f"mmchat: cannot use the shared folder {tmp_path}")


def test_a_port_in_use_is_one_sentence(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        out, err = Log(), Log()
        code = run_host(host_args(tmp_path, port=taken.getsockname()[1]), out, err, threading.Event())
    assert code == 1
    assert len(err.lines()) == 1 and err.lines()[0].startswith("mmchat: ")


class Overlaps(io.StringIO):
    """A stream with no lock of its own that notes each write call and whether two ever overlapped."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []
        self.inside = 0
        self.overlapped = False

    def write(self, text: str) -> int:
        self.inside += 1
        self.overlapped = self.overlapped or self.inside > 1
        time.sleep(0)  # let another thread in, if nothing keeps it out
        self.calls.append(text)
        self.inside -= 1
        return len(text)


def test_lines_logged_from_many_threads_at_once_never_run_together() -> None:
    out = Overlaps()
    printer = LinePrinter(out)
    start = threading.Barrier(8)

    def publish(n: int) -> None:
        start.wait(WAIT)
        for i in range(200):
            printer(f"thread {n} line {i}")

    threads = [threading.Thread(target=publish, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert not out.overlapped
    assert sorted(out.calls) == sorted(f"thread {n} line {i}\n" for n in range(8) for i in range(200))
