"""Starting the windows: which front end runs for --host, --join and a double-click."""

from __future__ import annotations

import argparse
import os
import sys
import tkinter as tk
from collections.abc import Callable

from mmchat.address import format_address, join_url, parse_address
from mmchat.display import report_no_windows
from mmchat.settings import remember_host_port

from . import theme


def tk_start_error() -> Exception | None:
    """Why Tk cannot open a window and draw text here, or None when it can (opens and closes one)."""
    try:
        root = tk.Tk()
    except tk.TclError as exc:
        return exc
    try:
        # Without a font configuration Tk still starts; the first font it measures fails.
        root.tk.call("font", "actual", "TkDefaultFont")
    except tk.TclError as exc:
        return exc
    finally:
        root.destroy()
    return None


def display_available() -> bool:
    """Whether Tk can open a window here (an X display on Linux; always on Windows and macOS)."""
    if sys.platform.startswith(("win", "darwin")):
        return True
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return False
    problem = tk_start_error()  # opens a window and measures a font, as the windows will
    if problem:
        report_no_windows(problem)  # the real cause (a library, the fonts), not just "no display"
        return False
    return True


def new_root(title: str) -> tk.Tk:
    """A themed Tk root window with mmchat's icon."""
    root = tk.Tk(className="mmchat")
    root.title(title)
    theme.apply_theme(root)
    theme.set_icon(root)
    return root


def run_join(args: argparse.Namespace) -> int:
    """The chat window for --join."""
    from mmchat.settings import default_downloads

    from .chat_window import ChatWindow

    try:
        address = parse_address(args.join)
    except ValueError as exc:  # mmchat.cli checks first; this is for callers that do not
        print(f"mmchat: {exc}", file=sys.stderr)
        return 2
    # A double-click starts in the program's own folder: never save next to the executable.
    downloads = args.downloads if args.downloads != "." else str(default_downloads())
    root = new_root("mmchat")
    ChatWindow(
        root, address.host, address.port, name=args.name or "", downloads=downloads, password=args.password,
        fingerprint=address.fingerprint, accept_new_key=getattr(args, "accept_new_key", False),
        tls=not getattr(args, "no_tls", False),
    )  # fmt: skip
    root.mainloop()
    return 0


def run_host(args: argparse.Namespace, on_listening: Callable[[int], None] | None = None) -> int:
    """The admin window for --host (the server runs on its own threads); `on_listening(port)` once it listens."""
    from mmchat.hosting import make_server

    from .admin_window import AdminWindow

    try:
        server = make_server(args)
        server.start()
    except OSError as exc:
        print(f"mmchat: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"Server listening at {format_address(*server.address[:2])}", flush=True)
    if on_listening is not None:
        on_listening(server.address[1])
    root = new_root("mmchat host")
    AdminWindow(root, server)
    root.mainloop()
    server.stop()
    return 0


def run_launcher(args: argparse.Namespace) -> int:
    """The small window a double-click opens: host or join."""
    from .launcher import Launcher

    root = new_root("mmchat")
    launcher = Launcher(root)
    root.mainloop()
    choice = launcher.choice
    if choice is None:
        return 0
    args.password = choice.password or args.password  # typed in the launcher, or MMCHAT_PASSWORD
    if choice.mode == "host":
        args.host, args.port, args.share = True, choice.port, str(choice.share)
        # Port 0 means "any free port": the launcher then remembers the one the host got, members use it.
        return run_host(args, on_listening=remember_host_port if choice.port == 0 else None)
    # Brackets around an IPv6 address: '[fe80::1]:5', where 'fe80::1:5' would read as one address;
    # a pasted invite goes on as a link, keeping the fingerprint the chat window checks the host's key against.
    args.join, args.name = format_address(choice.address, choice.port), choice.name
    if choice.fingerprint:
        args.join = join_url(choice.address, choice.port, choice.fingerprint)
    return run_join(args)


def selftest(args: argparse.Namespace) -> int:
    """Open and close every window once against a private host on 127.0.0.1; print what happened."""
    import tempfile
    from pathlib import Path

    from mmchat.audio import self_check as audio_self_check
    from mmchat.qr import render_png
    from mmchat.server import ChatServer
    from mmchat.tls import self_check as tls_self_check

    from . import drop
    from .admin_window import AdminWindow
    from .chat_window import ChatWindow
    from .launcher import Launcher
    from .qr_window import QRWindow

    def settle(root: tk.Misc, condition=lambda: True, seconds: float = 10.0) -> bool:
        import time

        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            root.update()
            if condition():
                return True
            time.sleep(0.02)
        return False

    failures = []
    with tempfile.TemporaryDirectory(prefix="mmchat-selftest-") as tmp:
        os.environ.setdefault("MMCHAT_CONFIG_DIR", str(Path(tmp) / "config"))
        server = ChatServer(Path(tmp) / "share", "127.0.0.1", 0)
        host, port = server.start()
        root = new_root("mmchat self-test")
        try:
            try:  # the sound library travels inside: it decodes, and plays on its silent back end
                print(f"selftest: audio OK ({audio_self_check(Path(tmp))})", flush=True)
            except Exception as exc:
                failures.append(f"audio: {exc!r}")
            try:  # a certificate made with cryptography, and a handshake with it through _ssl
                print(f"selftest: TLS OK ({tls_self_check(Path(tmp) / 'tls')})", flush=True)
            except Exception as exc:
                failures.append(f"TLS: {exc!r}")
            steps = [
                ("admin window", lambda top: AdminWindow(top, server), None),
                ("launcher", lambda top: Launcher(top), None),
                (
                    "chat window",
                    lambda top: ChatWindow(
                        top, host, port, name="selftest", downloads=Path(tmp) / "dl", fingerprint=server.fingerprint
                    ),
                    lambda: "selftest" in server.online(),
                ),
                ("QR window", lambda top: QRWindow(top, render_png("mmchat self-test"), "SELFTEST", 60), None),
            ]
            for label, make, ready in steps:
                top = tk.Toplevel(root)
                try:
                    window = make(top)
                    ok = settle(root, ready) if ready else settle(root, seconds=0.2) or True
                    if not ok:
                        failures.append(f"{label}: did not get ready")
                    if label == "chat window" and drop.carried() and not getattr(window, "accepts_drops", False):
                        failures.append("chat window: files cannot be dropped (tkdnd did not load)")
                    close = getattr(window, "close", None)
                    if callable(close) and label == "chat window":
                        close()
                    if top.winfo_exists():
                        top.destroy()
                    settle(root, seconds=0.1)
                    print(f"selftest: {label} OK", flush=True)
                except Exception as exc:  # report every window, not just the first failure
                    failures.append(f"{label}: {exc!r}")
        finally:
            root.destroy()
            server.stop()
    for failure in failures:
        print(f"selftest: FAILED {failure}", file=sys.stderr, flush=True)
    print("selftest OK" if not failures else "selftest FAILED", flush=True)
    return 0 if not failures else 1


def front_ends() -> dict[str, Callable[[argparse.Namespace], int]]:
    """The window front ends for mmchat.cli.main, or none when there is no display."""
    if not display_available():
        return {}
    return {"host": run_host, "join": run_join, "launcher": run_launcher, "selftest": selftest}
