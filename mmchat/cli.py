"""Command line: argument parsing, the headless host, and the terminal chat mode.

How the terminal mode works
---------------------------
One thread reads standard input line by line and one (the client's reader)
receives from the host; both put what they get on the same queue, and the
main thread handles it in order.  When standard input is not a terminal (a
script, a pipe), each `!` command waits for its answer before the next line
is read, so `!send a.txt` followed by `!req a.txt` works from a file.  On a
terminal, transfers run in the background with a progress bar and the chat
goes on.
"""

from __future__ import annotations

import argparse
import collections
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from . import __version__, describe, protocol
from .client import (
    ChatClient,
    ConnectError,
    Disconnected,
    Request,
    Transfer,
    TransferFinished,
)
from .protocol import (
    ChatMessage,
    CommandResult,
    ErrorReply,
    FileList,
    Notice,
    OnlineList,
    QRImage,
    VerifyResult,
)
from .qr import png_to_text

QR_SECONDS = 5.0


def build_parser() -> argparse.ArgumentParser:
    """The mmchat command line."""
    parser = argparse.ArgumentParser(
        prog="mmchat",
        description="mmchat: a multimedia group chat for your local network.",
        epilog="With no arguments, mmchat opens a small window that asks whether to host or join.",
    )
    parser.add_argument("--version", action="version", version=f"mmchat {__version__}")
    parser.add_argument(
        "--selftest", action="store_true", help="open and close each window once, then report (needs a display)"
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--host", action="store_true", help="host a chat that others join")
    mode.add_argument("--join", metavar="HOST:PORT", help="join the chat hosted at HOST:PORT")
    host = parser.add_argument_group("hosting")
    host.add_argument("--bind", default="0.0.0.0", metavar="ADDR", help="address to listen on (default 0.0.0.0)")
    host.add_argument("--port", type=int, default=protocol.DEFAULT_PORT, help="port to listen on (default %(default)s)")
    host.add_argument(
        "--share",
        default="mmchat-share",
        metavar="DIR",
        help="shared folder for files and !cmd (default ./mmchat-share)",
    )
    host.add_argument("--data", metavar="DIR", help="where to keep history (default SHARE/.mmchat)")
    host.add_argument("--headless", action="store_true", help="no window: log to the terminal")
    join = parser.add_argument_group("joining")
    join.add_argument("--name", help="your name in the chat (asked if missing)")
    join.add_argument("--cli", action="store_true", help="chat in the terminal instead of a window")
    join.add_argument("--downloads", default=".", metavar="DIR", help="where downloads go (default: here)")
    parser.add_argument(
        "--password",
        default=os.environ.get("MMCHAT_PASSWORD", ""),
        help="chat password (host: require it; member: send it); or set MMCHAT_PASSWORD",
    )
    return parser


def parse_address(text: str) -> tuple[str, int]:
    """'192.168.1.5:12002' -> ('192.168.1.5', 12002); '[::1]:5' too; raise ValueError with a sentence."""
    text = text.strip()
    if text.startswith("mmchat://"):
        text = text[len("mmchat://") :].rstrip("/")
    host, sep, port_text = text.rpartition(":")
    if not sep:
        host, port_text = text, str(protocol.DEFAULT_PORT)
    host = host.strip("[]")
    if not host:
        raise ValueError(f"No host in {text!r}: use HOST:PORT, e.g. 192.168.1.5:{protocol.DEFAULT_PORT}.")
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(f"The port must be a number, not {port_text!r}.") from None
    if not 0 < port < 65536:
        raise ValueError(f"The port must be between 1 and 65535, not {port}.")
    return host, port


def _utf8_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(encoding="utf-8", errors="replace", line_buffering=True)  # type: ignore[attr-defined]
        except (AttributeError, ValueError):
            pass
    try:
        sys.stdin.reconfigure(encoding="utf-8", errors="replace")  # type: ignore[attr-defined]
    except (AttributeError, ValueError):
        pass


FrontEnd = Callable[[argparse.Namespace], int]


def main(argv: list[str] | None = None, windows: Callable[[], dict[str, FrontEnd]] | None = None) -> int:
    """Run mmchat.

    `windows()` returns the window front ends ('host', 'join', 'launcher') when a
    display is there, or {}; it is called only when a window would be used, so
    --headless and --cli never pay for probing the display.
    """
    if sys.stdout is None or sys.stdin is None:  # a windowed build (Windows) has no console
        terminal_only = argv if argv is not None else sys.argv[1:]
        if any(flag in terminal_only for flag in ("--cli", "--headless", "--help", "-h", "--version")):
            return 2  # nowhere to print: mmchat-console.exe is the build for terminal use
    _utf8_streams()
    args = build_parser().parse_args(argv)

    def window(kind: str) -> FrontEnd | None:
        return (windows() if windows else {}).get(kind)

    if args.selftest:
        front_end = window("selftest")
        if front_end:
            return front_end(args)
        print("mmchat: --selftest needs a display (Tk could not open a window).", file=sys.stderr)
        return 2
    if args.host:
        if not args.headless:
            front_end = window("host")
            if front_end:
                return front_end(args)
            print("No display for the admin window: running headless.", flush=True)
        return run_host(args)
    if args.join:
        if not args.cli:
            front_end = window("join")
            if front_end:
                return front_end(args)
            print("No display for the chat window: using terminal mode.", file=sys.stderr, flush=True)
        return run_join(args)
    front_end = window("launcher")
    if front_end:
        return front_end(args)
    build_parser().print_usage(sys.stderr)
    print("mmchat: no display for the launcher window; use --host or --join HOST:PORT --cli.", file=sys.stderr)
    return 2


# --- host ---------------------------------------------------------------------------


def make_server(args: argparse.Namespace):
    """Build (not start) the ChatServer the arguments describe."""
    from .server import ChatServer

    return ChatServer(
        Path(args.share),
        args.bind,
        args.port,
        data_dir=Path(args.data) if args.data else None,
        password=args.password,
    )


def run_host(args: argparse.Namespace) -> int:
    """The headless host: log to stdout until Ctrl-C or SIGTERM."""
    try:
        server = make_server(args)
    except OSError as exc:
        print(f"mmchat: cannot use the shared folder {args.share}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    server.subscribe(lambda event: print(event.text, flush=True))
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    if hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, on_signal)
    try:
        server.start()
    except OSError as exc:
        print(f"mmchat: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"Shared folder: {server.share}", flush=True)
    while not stop.wait(0.5):
        if server.wait(0):
            break
    server.stop()
    return 0


# --- join: the terminal chat ---------------------------------------------------------


_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x00, 0x09), *range(0x0B, 0x20), 0x7F)}
_CONTROL.update({c: f"\\x{c:02x}" for c in range(0x80, 0xA0)})


def terminal_safe(text: str) -> str:
    """Show control characters (escape sequences from other members) as text, keeping newlines and tabs."""
    return text.translate(_CONTROL)


@dataclass(frozen=True)
class _Line:
    text: str


@dataclass(frozen=True)
class _EndOfInput:
    pass


class TerminalChat:
    """The terminal front end: reads commands, prints what happens."""

    def __init__(self, client: ChatClient, stdin: TextIO, out: TextIO, err: TextIO, interactive: bool) -> None:
        self.client = client
        self.stdin = stdin
        self.out = out
        self.err = err
        self.interactive = interactive
        self.queue = client.events
        self.backlog: collections.deque[str] = collections.deque()
        self.blocker: Request | Transfer | None = None
        self.end_of_input = False
        self.leaving = False
        self.exit_code = 0
        self._out_lock = threading.Lock()
        self._progress_shown = False
        self._progress_last = 0.0
        self._qr_lines = 0  # lines printed since a QR code went up (0: no QR on screen)
        self._qr_deadline = 0.0
        self._qr_after: list[str] = []

    # output ---------------------------------------------------------------------

    def say(self, line: str) -> None:
        """Print one line for the person (clearing a progress bar first)."""
        line = terminal_safe(line)
        with self._out_lock:
            if self._progress_shown:
                self.err.write("\r\x1b[K")
                self.err.flush()
                self._progress_shown = False
            self.out.write(line + "\n")
            self.out.flush()
            if self._qr_deadline:
                self._qr_lines += line.count("\n") + 1
                self._qr_after.append(line)

    def progress(self, t: Transfer, done: int, total: int) -> None:
        """Redraw the progress bar (terminals only, at most 10 times a second)."""
        if not self.interactive:
            return
        now = time.monotonic()
        if done < total and now - self._progress_last < 0.1:
            return
        self._progress_last = now
        with self._out_lock:
            self.err.write("\r\x1b[K" + describe.progress_bar(t.filename, done, total, t.rate()))
            self.err.flush()
            self._progress_shown = True

    def show_qr(self, event: QRImage) -> None:
        try:
            picture = png_to_text(event.png)
        except ValueError:
            picture = "(the QR image could not be shown)"
        note = f"One-time code: {event.code} (valid {event.expires_in} s, once)"
        if self.interactive:
            note += f"; this picture disappears in {QR_SECONDS:.0f} s"
        self.say(picture + "\n" + note)
        if self.interactive:
            with self._out_lock:
                self._qr_lines = picture.count("\n") + 2
                self._qr_after = []
                self._qr_deadline = time.monotonic() + QR_SECONDS

    def _erase_qr(self) -> None:
        with self._out_lock:
            lines, after = self._qr_lines, self._qr_after
            self._qr_deadline, self._qr_lines, self._qr_after = 0.0, 0, []
            # Move up over the picture and what came after it, clear, and reprint what came after.
            self.out.write(f"\x1b[{lines}F\x1b[J")
            self.out.write("(QR code removed)\n")
            for line in after:
                self.out.write(line + "\n")
            self.out.flush()

    # input ----------------------------------------------------------------------

    def _read_stdin(self) -> None:
        try:
            for line in self.stdin:
                self.queue.put(_Line(line.rstrip("\r\n")))
        except (OSError, ValueError):
            pass
        self.queue.put(_EndOfInput())

    def run(self) -> int:
        """Chat until !exit, end of input, or the host going away; return the exit code."""
        threading.Thread(target=self._read_stdin, name="mmchat-stdin", daemon=True).start()
        while True:
            try:
                item = self.queue.get(timeout=0.2)
            except queue.Empty:
                item = None
            if isinstance(item, _Line):
                self.backlog.append(item.text)
                if self.interactive and self._qr_deadline:
                    self._qr_lines += 1  # the terminal echoed what was typed
            elif isinstance(item, _EndOfInput):
                self.end_of_input = True
            elif item is not None:
                if self.handle_event(item):
                    return self.exit_code
            if self._qr_deadline and time.monotonic() >= self._qr_deadline:
                self._erase_qr()
            self._unblock()
            while self.backlog and self.blocker is None and not self.leaving:
                self.handle_line(self.backlog.popleft())
            if (self.leaving or self.end_of_input) and not self.backlog and self.blocker is None:
                if not any(not t.done for t in self.client.transfers):
                    if self._qr_deadline:
                        continue  # let the code be seen for its five seconds
                    self.client.close()
                    return self.exit_code

    def _unblock(self) -> None:
        if isinstance(self.blocker, Request) and self.blocker._done.is_set():
            if self.blocker.reply is None:
                self.blocker = None
        elif isinstance(self.blocker, Transfer) and self.blocker.done:
            pass  # cleared when its TransferFinished is printed, so output stays in order

    def handle_event(self, event: object) -> bool:
        """Print one event; True when the session is over."""
        me = self.client.name
        if isinstance(event, ChatMessage):
            prefix = f"(history {describe.clock(event.ts)}) " if event.history else ""
            self.say(prefix + describe.message_line(event))
        elif isinstance(event, Notice):
            prefix = f"(history {describe.clock(event.ts)}) " if event.history else ""
            self.say(prefix + describe.notice_line(event, me))
            if not event.history and (event.kind == "shutdown" or (event.kind == "kicked" and event.member == me)):
                self.exit_code = 1
        elif isinstance(event, OnlineList):
            for line in describe.online_lines(event):
                self.say(line)
        elif isinstance(event, FileList):
            for line in describe.file_lines(event):
                self.say(line)
        elif isinstance(event, CommandResult):
            for line in describe.command_lines(event):
                self.say(line)
        elif isinstance(event, QRImage):
            self.show_qr(event)
        elif isinstance(event, VerifyResult):
            self.say(describe.verify_line(event))
        elif isinstance(event, ErrorReply):
            self.say(describe.error_line(event))
        elif isinstance(event, TransferFinished):
            self._transfer_finished(event.transfer)
        elif isinstance(event, Disconnected):
            if not event.by_us:
                self.say(f"Disconnected: {event.reason}")
                return True if self.exit_code else self._lost()
            return True
        if isinstance(self.blocker, Request) and getattr(event, "ref", None) == self.blocker.ref:
            self.blocker = None
        return False

    def _lost(self) -> bool:
        self.exit_code = 1
        return True

    def _transfer_finished(self, t: Transfer) -> None:
        if t.ok and t.direction == "upload":
            self.say(f"File sent successfully: {t.remote_name}")
        elif t.ok:
            self.say(f"File received successfully: {t.path}")
        else:
            verb = "Upload" if t.direction == "upload" else "Download"
            self.say(f"{verb} of {t.filename} failed: {t.error}")
        if self.blocker is t:
            self.blocker = None

    def handle_line(self, line: str) -> None:
        """Act on one line typed by the person."""
        if not line.strip():
            return
        if not line.startswith("!"):
            try:
                self.client.say(line)
            except ValueError as exc:
                self.say(str(exc))
            except ConnectionError as exc:
                self.say(str(exc))
            return
        word, _, rest = line.partition(" ")
        rest = rest.strip()
        try:
            self._command(word.lower(), rest, line)
        except ConnectionError as exc:
            self.say(str(exc))
        except ValueError as exc:
            self.say(str(exc))

    def _wait_for(self, request: Request) -> None:
        self.blocker = request

    def _command(self, word: str, rest: str, line: str) -> None:
        client = self.client
        if word in ("!exit", "!q", "!quit"):
            self.leaving = True
        elif word == "!help":
            self.say(describe.HELP)
        elif word == "!online":
            self._wait_for(client.online())
        elif word == "!files":
            self._wait_for(client.list_files())
        elif word == "!cmd":
            if not rest:
                self.say("Usage: !cmd COMMAND (try !cmd help)")
            else:
                self._wait_for(client.command(rest))
        elif word == "!qr" or (word == "!get" and rest.lower() == "qrcode"):
            self._wait_for(client.request_qr())
        elif word == "!get":
            self.say("Usage: !get QRcode")
        elif word == "!verify":
            if not rest:
                self.say("Usage: !verify CODE")
            else:
                self._wait_for(client.verify(rest))
        elif word == "!send":
            self._send(rest)
        elif word == "!req":
            self._request(rest)
        else:
            self.say(f"Unknown command: {word} (type !help for the list)")

    def _send(self, rest: str) -> None:
        if not rest:
            return self.say("Usage: !send PATH")
        path = Path(os.path.expanduser(rest.strip('"')))
        if not path.is_file():
            return self.say(f"No such file here: {rest}")
        t = self.client.send_file(path, progress=lambda done, total: self.progress(t, done, total))
        if not self.interactive:
            self.blocker = t

    def _request(self, rest: str) -> None:
        if not rest:
            return self.say("Usage: !req NAME")
        name = rest.strip('"')
        t = self.client.request_file(name, progress=lambda done, total: self.progress(t, done, total))
        if not self.interactive:
            self.blocker = t


def _ask_name(stdin: TextIO, interactive: bool) -> str:
    while True:
        if interactive:
            print("Your name: ", end="", file=sys.stderr, flush=True)
        line = stdin.readline()
        if not line:
            raise ValueError("No name given.")
        name = line.strip()
        try:
            return protocol.check_member_name(name)
        except ValueError as exc:
            if not interactive:
                raise
            print(exc, file=sys.stderr)


def run_join(args: argparse.Namespace) -> int:
    """Join a chat in the terminal."""
    try:
        host, port = parse_address(args.join)
    except ValueError as exc:
        print(f"mmchat: {exc}", file=sys.stderr)
        return 2
    interactive = sys.stdin.isatty()
    try:
        name = args.name if args.name is not None else _ask_name(sys.stdin, interactive)
        protocol.check_member_name(name)
    except ValueError as exc:
        print(f"mmchat: {exc}", file=sys.stderr)
        return 2
    client = ChatClient(host, port, name, downloads=Path(args.downloads), password=args.password)
    try:
        final = client.connect()
    except ConnectError as exc:
        print(f"mmchat: {exc}", file=sys.stderr)
        return 1
    chat = TerminalChat(client, sys.stdin, sys.stdout, sys.stderr, interactive and sys.stdout.isatty())
    if client.renamed:
        chat.say(f"The name {name} is taken: you are {final} in this chat.")
    chat.say(f"Connected to {host}:{port} as {final}. Type !help for commands, !exit to leave.")
    try:
        return chat.run()
    except KeyboardInterrupt:
        client.close()
        return 0
