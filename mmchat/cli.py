"""The command line: its options, and which front end runs for them.

The front ends are the windows (gui/, handed in by mmchat.py as `windows`),
the headless host (mmchat.headless) and the terminal chat (mmchat.terminal);
the latter two are imported only when they run.  An address given with
--join is checked here, before any front end starts, so a typo is one
sentence on stderr whichever front end would have run.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from collections.abc import Callable

from . import __version__, protocol
from .address import parse_address
from .budget import Limits, Rate
from .liveness import KEEPALIVE_TIMEOUT, OPENERS_PER_ADDRESS, PING_AFTER
from .storage import HISTORY_MAX


def build_parser() -> argparse.ArgumentParser:
    """The mmchat command line."""
    parser = argparse.ArgumentParser(
        prog="mmchat",
        description="mmchat: a multimedia group chat for your local network.",
        epilog=(
            "With no arguments, mmchat opens a small window that asks whether to host or join. "
            "Joining by a bare HOST:PORT, mmchat asks the first time whether to trust the host's key "
            "(when standard input is not a terminal, as in a script, it trusts it and prints a line saying so); "
            "an mmchat://HOST:PORT/#FINGERPRINT invite is checked against its fingerprint instead. "
            "Known hosts are kept in the config folder; a host whose key changed is refused."
        ),
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
    limits = Limits()
    for kind, what in (("chat", "chat lines"), ("requests", "requests (online, files, !cmd, QR, verify)"),
                       ("transfers", "upload offers and download requests")):  # fmt: skip
        host.add_argument(
            f"--flood-{kind}",
            type=_rate,
            default=getattr(limits, kind),
            metavar="BURST/RATE",
            help=f"each member's budget of {what}: BURST at once, then RATE a second (default {getattr(limits, kind)})",
        )
    for flag, parse, default, metavar, what in (
        ("--transfers-at-once", _positive, limits.transfers_at_once, "N",
         "file transfers one member may have waiting or under way at once"),
        ("--transfer-stall", _seconds, limits.transfer_stall, "SECONDS",
         "a transfer that moves no byte this long is ended"),
        ("--keep-partial", _seconds, limits.partial_keep, "SECONDS",
         "an upload cut short is kept this long for the member to resume it"),
        ("--ping-after", _seconds, PING_AFTER, "SECONDS", "a member silent this long is asked if it is still there"),
        ("--keepalive-timeout", _seconds, KEEPALIVE_TIMEOUT, "SECONDS",
         "a member silent this long in all is shown as timed out; more than --ping-after"),
        ("--openers-per-address", _positive, OPENERS_PER_ADDRESS, "N",
         "connections from one address that have not said hello yet"),
    ):  # fmt: skip
        host.add_argument(flag, type=parse, default=default, metavar=metavar, help=f"{what} (default {default:g})")
    host.add_argument(
        "--history-max",
        type=_positive,
        default=HISTORY_MAX,
        metavar="N",
        help="history entries kept on disk; the oldest go first (default %(default)s)",
    )
    join = parser.add_argument_group("joining")
    join.add_argument("--name", help="your name in the chat (asked if missing)")
    join.add_argument("--cli", action="store_true", help="chat in the terminal instead of a window")
    join.add_argument("--downloads", default=".", metavar="DIR", help="where downloads go (default: here)")
    join.add_argument(
        "--accept-new-key",
        action="store_true",
        help="trust the host's new key when it differs from the one remembered (only once its owner confirms it)",
    )
    parser.add_argument(
        "--no-tls",
        action="store_true",
        help="host or join without encryption (TLS), for measuring what it costs: both ends must say it, "
        "and the chat, its password and its files then travel in clear text",
    )
    secret = parser.add_mutually_exclusive_group()
    secret.add_argument(
        "--password",
        default=os.environ.get("MMCHAT_PASSWORD", ""),
        help="chat password (host: require it; member: send it). Anyone on this computer can read it in the "
        "process list: prefer --password-file or the MMCHAT_PASSWORD environment variable",
    )
    secret.add_argument(
        "--password-file",
        metavar="PATH",
        help="read the chat password from the first line of PATH (the process list shows only the path)",
    )
    return parser


def read_password_file(path: str) -> str:
    """The first line of `path`, without its line ending; ValueError with a sentence if it cannot be used."""
    try:
        with open(path, encoding="utf-8") as source:
            line = source.readline(protocol.MAX_PASSWORD_CHARS + 3)
    except OSError as exc:
        raise ValueError(f"Cannot read the password file {path}: {exc.strerror or exc}.") from None
    except UnicodeDecodeError:
        raise ValueError(f"The password file {path} is not UTF-8 text.") from None
    password = line.removesuffix("\n").removesuffix("\r")
    if not password:
        raise ValueError(f"The password file {path} is empty: put the password on its first line.")
    if len(password) > protocol.MAX_PASSWORD_CHARS or "\n" in password:
        raise ValueError(f"The password in {path} is too long: at most {protocol.MAX_PASSWORD_CHARS} characters.")
    return password


def _rate(text: str) -> Rate:
    """A --flood-* value, BURST/RATE."""
    try:
        return Rate.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive(text: str) -> int:
    """A whole number above 0."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"Expected a whole number above 0, not {text!r}.")
    return int(text)


def _seconds(text: str) -> float:
    """A number of seconds above 0."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds < float("inf"):
        raise argparse.ArgumentTypeError(f"Expected a number of seconds above 0, such as 30, not {text!r}.")
    return seconds


def _utf8_streams() -> None:
    """UTF-8 on every standard stream, whatever the locale says, so any name or emoji can be shown."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):  # not so under pytest's capture, or when replaced
            try:
                stream.reconfigure(encoding="utf-8", errors="replace", line_buffering=True)
            except ValueError:
                pass
    if isinstance(sys.stdin, io.TextIOWrapper):
        try:
            sys.stdin.reconfigure(encoding="utf-8", errors="replace")
        except ValueError:
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
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.keepalive_timeout <= args.ping_after:
        parser.error("--keepalive-timeout must be longer than --ping-after: the ping needs time to be answered.")
    if args.password_file:
        try:
            args.password = read_password_file(args.password_file)
        except ValueError as exc:
            print(f"mmchat: {exc}", file=sys.stderr)
            return 2

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
        from .headless import run_host

        return run_host(args)
    if args.join:
        try:
            parse_address(args.join)
        except ValueError as exc:
            print(f"mmchat: {exc}", file=sys.stderr)
            return 2
        if not args.cli:
            front_end = window("join")
            if front_end:
                return front_end(args)
            print("No display for the chat window: using terminal mode.", file=sys.stderr, flush=True)
        from .terminal import run_join

        return run_join(args)
    front_end = window("launcher")
    if front_end:
        return front_end(args)
    build_parser().print_usage(sys.stderr)
    print("mmchat: no display for the launcher window; use --host or --join HOST:PORT --cli.", file=sys.stderr)
    return 2
