"""The terminal chat: `mmchat --join HOST:PORT --cli`.

How this works
--------------
One thread reads standard input line by line and one (the client's reader)
receives from the host; both put what they get on the same queue, and the
main thread handles it in order.  When standard input is not a terminal (a
script, a pipe), each `!` command waits for its answer before the next line
is read, so `!send a.txt` followed by `!req a.txt` works from a file.  On a
terminal, transfers run in the background with a progress bar and the chat
goes on.  What a line asks for is read by mmchat.typed (as the chat window
reads its input box) and every sentence comes from mmchat.describe.  Whether
to trust the host's key is mmchat.known_hosts' rule; `trust_asker` is only the
terminal's way of asking (a [y/N] question, or none for a script).
"""

from __future__ import annotations

import argparse
import collections
import queue
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from . import describe, protocol
from .address import parse_address
from .client import (
    CLOSE_TIMEOUT,
    ChatClient,
    ConnectError,
    Disconnected,
    Request,
    Transfer,
    TransferFinished,
    TransferResumed,
)
from .client_outbox import STALL_TIMEOUT
from .known_hosts import Decision, KnownHosts, Verdict, connect_verified, first_use_text, make_verifier
from .protocol import (
    ChatMessage,
    CommandResult,
    ErrorReply,
    FileList,
    Notice,
    OnlineList,
    QRImage,
    RefusalKind,
    VerifyResult,
)
from .qr import png_to_text
from .typed import Kind, Typed, local_path, parse_typed

QR_SECONDS = 5.0


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
                    self.client.close(wait=CLOSE_TIMEOUT)
                    return self.exit_code

    def _unblock(self) -> None:
        if isinstance(self.blocker, Request) and self.blocker.done:
            if self.blocker.reply is None:
                self.blocker = None
        elif isinstance(self.blocker, Transfer) and self.blocker.done:
            pass  # cleared when its TransferFinished is printed, so output stays in order

    def handle_event(self, event: object) -> bool:
        """Print one event; True when the session is over."""
        me = self.client.name
        if isinstance(event, ChatMessage):
            prefix = f"(history {describe.clock(event.ts)}) " if event.history else ""
            for line in describe.message_lines(event, prefix):  # its other lines indented under the sender
                self.say(line)
        elif isinstance(event, Notice):
            prefix = f"(history {describe.clock(event.ts)}) " if event.history else ""
            self.say(prefix + describe.notice_line(event, me))
            if describe.chat_over(event, me):
                self.exit_code = 1  # the connection closing next ends the session
        elif isinstance(event, OnlineList):
            for line in describe.online_lines(event):
                self.say(describe.INDENT + line)  # column 0 is for senders and sentences
        elif isinstance(event, FileList):
            for line in describe.file_lines(event):
                self.say(describe.INDENT + line)  # column 0 is for senders and sentences
        elif isinstance(event, CommandResult):
            for line in describe.command_lines(event):
                self.say(describe.INDENT + line)  # column 0 is for senders and sentences
        elif isinstance(event, QRImage):
            self.show_qr(event)
        elif isinstance(event, VerifyResult):
            self.say(describe.verify_line(event))
        elif isinstance(event, ErrorReply):
            self.say(describe.error_line(event))
        elif isinstance(event, TransferFinished):
            self._transfer_finished(event.transfer)
        elif isinstance(event, TransferResumed):
            t = event.transfer
            self.say(describe.resume_line(t.direction, t.filename, t.offset, t.size))
        elif isinstance(event, Disconnected):
            reason = describe.chat_over(event, me)
            if reason:
                self.say(reason)
                self.exit_code = 1
            return True
        if isinstance(self.blocker, Request) and getattr(event, "ref", None) == self.blocker.ref:
            self.blocker = None
        return False

    def _transfer_finished(self, t: Transfer) -> None:
        self.say(describe.transfer_line(t))
        if self.blocker is t:
            self.blocker = None

    def handle_line(self, line: str) -> None:
        """Act on one line typed by the person."""
        try:
            self.act(parse_typed(line))
        except (ConnectionError, ValueError) as exc:
            self.say(str(exc))

    def act(self, typed: Typed) -> None:
        """Do what a typed line asks (errors from the client are raised as sentences)."""
        client, kind, arg = self.client, typed.kind, typed.arg
        if kind is Kind.NOTHING:
            pass
        elif kind is Kind.SAY:
            client.say(arg, wait=STALL_TIMEOUT)  # a pipe goes at the host's pace, no line lost
        elif kind is Kind.EXIT:
            self.leaving = True
        elif kind is Kind.HELP:
            self.say(describe.HELP)
        elif kind in (Kind.USAGE, Kind.UNKNOWN):
            self.say(arg)
        elif kind is Kind.ONLINE:
            self.blocker = client.online()
        elif kind is Kind.FILES:
            self.blocker = client.list_files()
        elif kind is Kind.CMD:
            self.blocker = client.command(arg)
        elif kind is Kind.QR:
            self.blocker = client.request_qr()
        elif kind is Kind.VERIFY:
            self.blocker = client.verify(arg)
        elif kind is Kind.SEND:
            self._send(arg)
        elif kind is Kind.REQ:
            self._request(arg)

    def _send(self, arg: str) -> None:
        path = local_path(arg)
        if not path.is_file():
            self.say(f"No such file here: {arg}")
            return
        t = self.client.send_file(path, progress=lambda done, total: self.progress(t, done, total))
        if not self.interactive:
            self.blocker = t

    def _request(self, name: str) -> None:
        t = self.client.request_file(name, progress=lambda done, total: self.progress(t, done, total))
        if not self.interactive:
            self.blocker = t


def ask_name(stdin: TextIO, err: TextIO, interactive: bool) -> str:
    """Ask for a name until an acceptable one is typed (only once when not on a terminal)."""
    while True:
        if interactive:
            print("Your name: ", end="", file=err, flush=True)
        line = stdin.readline()
        if not line:
            raise ValueError("No name given.")
        name = line.strip()
        try:
            return protocol.check_member_name(name)
        except ValueError as exc:
            if not interactive:
                raise
            print(exc, file=err)


def trust_asker(stdin: TextIO, err: TextIO, interactive: bool, path: Path) -> Callable[[Decision], bool]:
    """How the terminal answers for a host it does not know: it asks a person, and trusts a script's host."""

    def ask(decision: Decision) -> bool:
        if decision.verdict is not Verdict.FIRST_USE:
            return False  # a changed key is accepted only with --accept-new-key, as the refusal says
        if not interactive:
            print(
                f"mmchat: standard input is not a terminal, so the host at {decision.address} is trusted on first "
                f"use; its fingerprint {decision.presented} is remembered in {path}.",
                file=err,
                flush=True,
            )
            return True
        print(first_use_text(decision), file=err)
        print("Trust this host? [y/N] ", end="", file=err, flush=True)
        try:
            answer = stdin.readline()
        except KeyboardInterrupt:  # Ctrl-C at the question is a no, not a traceback
            print(file=err)
            return False
        return answer.strip().lower() in ("y", "yes")

    return ask


def run_join(
    args: argparse.Namespace, stdin: TextIO | None = None, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Join a chat in the terminal; the exit code is 0 after !exit or the end of input, 1 if the chat ended."""
    stdin, out, err = stdin or sys.stdin, out or sys.stdout, err or sys.stderr
    try:
        address = parse_address(args.join)
    except ValueError as exc:
        print(f"mmchat: {exc}", file=err)
        return 2
    interactive = stdin.isatty()
    try:
        name = args.name if args.name is not None else ask_name(stdin, err, interactive)
        protocol.check_member_name(name)
    except ValueError as exc:
        print(f"mmchat: {exc}", file=err)
        return 2
    store = KnownHosts()
    verifier = make_verifier(
        address,
        store,
        trust_asker(stdin, err, interactive, store.path),
        getattr(args, "accept_new_key", False),
        tell=lambda line: print(f"mmchat: {line}", file=err, flush=True),
    )
    downloads = Path(args.downloads)
    try:
        client = connect_verified(
            lambda: ChatClient(
                address.host,
                address.port,
                name,
                downloads=downloads,
                password=args.password,
                verify_host=verifier,
                use_tls=not getattr(args, "no_tls", False),
            ),
            verifier,
        )
        final = client.name
    except ConnectError as exc:
        print(f"mmchat: {exc}", file=err)
        if exc.refusal in (RefusalKind.PASSWORD_NEEDED, RefusalKind.WRONG_PASSWORD):
            print("mmchat: Give the password with --password-file PATH or the MMCHAT_PASSWORD variable.", file=err)
        return 1
    chat = TerminalChat(client, stdin, out, err, interactive and out.isatty())
    if client.renamed:
        chat.say(f"The name {name} is taken: you are {final} in this chat.")
    chat.say(f"Connected to {address} as {final}. Type !help for commands, !exit to leave.")
    try:
        return chat.run()
    except KeyboardInterrupt:
        client.close(wait=CLOSE_TIMEOUT)
        return 0
