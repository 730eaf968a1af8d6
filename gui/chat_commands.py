"""What a line typed in the chat window does: a message, or a ! command as in the terminal.

The line is parsed by `mmchat.typed.parse_typed` (the one parser for typed
lines); this module only acts on the result.  Anything that writes to the
host's socket is handed to the connection's ClientWorker and this returns at
once: a message that then fails comes back as a CallFailed (see ClientEvents),
and the reply to a request arrives like any other event from the host.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from mmchat import protocol
from mmchat.client import ChatClient
from mmchat.typed import Kind, Typed, local_path, parse_typed

if TYPE_CHECKING:
    from .chat_window import ChatWindow

BUSY = "The host is not taking messages right now; nothing was sent. Try again in a moment."

# The requests a typed line can make, by action: each returns the client's Request.
_REQUESTS: dict[str, Callable[[ChatClient, str], object]] = {
    "online": lambda client, arg: client.online(),
    "files": lambda client, arg: client.list_files(),
    "cmd": lambda client, arg: client.command(arg),
    "qr": lambda client, arg: client.request_qr(),
    "verify": lambda client, arg: client.verify(arg),
}


class ChatCommands:
    """Acts on typed lines for one ChatWindow."""

    def __init__(self, window: ChatWindow) -> None:
        self.window = window

    def send_typed(self) -> None:
        """Act on what is in the input box, and empty it unless nothing could be sent."""
        w = self.window
        typed = parse_typed(w.layout.typed())
        if typed.kind is Kind.EXIT:
            w.close()
            return
        if typed.kind is Kind.SAY and len(typed.arg) > protocol.MAX_TEXT_CHARS:
            if w.require_client() is not None:  # never cut it: offer a file instead, and keep it in the box
                w.layout.offer_as_file(len(typed.arg), lambda: self.send_as_file(typed.arg))
            return
        if typed.kind is not Kind.NOTHING and self.run(typed):
            w.layout.clear_input()

    def send_as_file(self, text: str) -> None:
        """Share a too-long message as a .txt file (the offer's button), and empty the box."""
        w = self.window
        t = w.sharing.upload_text(text)
        if t is not None:
            w.layout.clear_banner()
            w.layout.clear_input()
            w.view.system(f"Your message was too long for one message: it is being shared as {t.filename}.")

    def run(self, typed: Typed) -> bool:
        """Act on a typed line; False keeps it in the input box (nothing was sent)."""
        w = self.window
        action, arg = typed.kind, typed.arg
        if action in ("usage", "unknown"):
            w.view.system(arg)
            return True
        if action == "help":
            w.show_help()
            return True
        client = w.require_client()
        if client is None:
            return False
        try:
            if action == "send":
                w.upload(local_path(arg))  # starts a thread: no socket touched here
                return True
            if action == "req":
                w.sharing.start_download(arg)
                return True
        except ValueError as exc:
            w.view.system(str(exc), error=True)
            return True
        if action == "say":
            return self._submit("say", lambda: client.say(arg), text=arg)
        if action in _REQUESTS:
            return self.ask(action, arg)
        return True

    def ask(self, action: str, arg: str = "", quiet: bool = False) -> bool:
        """Send one of the requests in `_REQUESTS`; a quiet one updates the panels but is not echoed."""
        client = self.window.client
        if client is None:
            return False
        request = _REQUESTS[action]
        return self._submit(action, lambda: request(client, arg), report=True, quiet=quiet)

    def _submit(self, what: str, run: Callable[[], object], report: bool = False, quiet: bool = False,
                text: str = "") -> bool:  # fmt: skip
        worker = self.window.worker
        if worker is None or not worker.submit(what, run, report=report, quiet=quiet, text=text):
            if not quiet:
                self.window.view.system(BUSY, error=True)
            return False
        return True
