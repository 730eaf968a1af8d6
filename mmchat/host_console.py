"""The headless host's admin commands, one per line on its standard input: /who, /kick, /ban, /bans …

How this works
--------------
`HostConsole.run(stream)` reads lines until the end of the stream and acts on
each with `handle`, on a daemon thread of its own (`start`), so a host run
from a terminal can be administered like the admin window's buttons.  The
acts go to the ChatServer's public API (`kick`, `ban`, `unban`, `bans`,
`connections`), which hands them to the loop; their outcome shows in the host
log the headless host prints anyway ("Kicked …", "Banned …").  Only what the
log does not say is answered here, as a sentence: who is online, the bans, a
name nobody has, a line that is no command.  The end of the input (no
terminal, as under CI or systemd, or Ctrl-D) only ends the reading: the host
runs on until a signal or /stop.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TextIO

from .liveness import host_of
from .server import ChatServer

HELP = """Host commands:
  /who            who is connected, and from where
  /kick NAME      remove a member (they may come back)
  /ban NAME       remove a member and keep their address out (kept across restarts)
  /unban ADDRESS  lift a ban (as /bans lists it)
  /bans           the banned addresses
  /stop           tell the members and stop the host
  /help           this list"""


class HostConsole:
    """Admin lines for a running ChatServer; `say` prints a line, `stop` is set by /stop."""

    def __init__(self, server: ChatServer, say: Callable[[str], None], stop: threading.Event) -> None:
        self.server = server
        self.say = say
        self.stop = stop
        self._commands: dict[str, Callable[[str], None]] = {
            "/who": self._who,
            "/kick": self._kick,
            "/ban": self._ban,
            "/unban": self._unban,
            "/bans": self._bans,
            "/stop": self._stop,
            "/help": lambda rest: self.say(HELP),
        }

    def start(self, stream: TextIO | None) -> threading.Thread | None:
        """Read `stream` on a daemon thread (None: there is no standard input, nothing to read)."""
        if stream is None:
            return None
        reader = threading.Thread(target=self.run, args=(stream,), name="mmchat-console", daemon=True)
        reader.start()
        return reader

    def run(self, stream: TextIO) -> None:
        """Act on each line of `stream` until it ends (or the host stops)."""
        try:
            for line in stream:
                if self.stop.is_set():
                    return
                self.handle(line)
        except (OSError, ValueError):  # a closed or unreadable input: stop reading, never the host
            return

    def handle(self, line: str) -> None:
        """Act on one line."""
        line = line.strip()
        if not line:
            return
        word, _, rest = line.partition(" ")
        command = self._commands.get(word.lower())
        if command is None:
            if word.startswith("/"):
                self.say(f"Unknown command: {word[:40]}. Type /help for the host's commands.")
            else:
                self.say("The host's commands start with /: type /help for the list.")
            return
        command(rest.strip())

    # --- the commands ------------------------------------------------------------------

    def _who(self, rest: str) -> None:
        members = self.server.connections()
        if not members:
            self.say("Nobody is connected.")
            return
        self.say(f"Connected ({len(members)}):")
        for info in members:
            self.say(f"  {info.name}  {info.address}")

    def _named_member(self, command: str, name: str) -> str:
        if not name:
            self.say(f"Usage: {command} NAME")
            return ""
        if name not in self.server.online():
            self.say(f"No member called {name} is connected (/who lists them).")
            return ""
        return name

    def _kick(self, rest: str) -> None:
        if name := self._named_member("/kick", rest):
            self.server.kick(name)

    def _ban(self, rest: str) -> None:
        if name := self._named_member("/ban", rest):
            self.server.ban(name)

    def _unban(self, rest: str) -> None:
        if not rest:
            self.say("Usage: /unban ADDRESS")
            return
        if host_of(rest) not in {ban.address for ban in self.server.bans()}:
            self.say(f"{rest} is not banned (/bans lists the bans).")
            return
        self.server.unban(rest)

    def _bans(self, rest: str) -> None:
        bans = self.server.bans()
        if not bans:
            self.say("Nobody is banned.")
            return
        self.say(f"Banned ({len(bans)}):")
        for ban in bans:
            since = time.strftime("%Y-%m-%d %H:%M", time.localtime(ban.since))
            self.say(f"  {ban.address}  {ban.name or '-'}  since {since}")

    def _stop(self, rest: str) -> None:
        self.say("Stopping: the members are being told.")
        self.stop.set()
