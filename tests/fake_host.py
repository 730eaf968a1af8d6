"""A scripted stand-in for the host, for the member-side tests: 127.0.0.1, port 0, the real protocol core.

Each accepted connection runs `script(peer)` on a thread of its own, and is
closed when the script returns; the script
reads and writes through `Peer`, which pairs the socket with a sans-I/O
`Connection(Role.HOST)`, so what the fake host sends is what a real one would.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable

from mmchat import protocol
from mmchat.protocol import NEED_DATA, Connection, Event, Hello, Role, Welcome
from tests.tls_helpers import fake_identity, serve_tls

TIMEOUT = 10.0


class Peer:
    """One accepted connection, as the fake host sees it."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.conn = Connection(Role.HOST)
        sock.settimeout(TIMEOUT)

    def read(self) -> Event:
        """The member's next event; raise EOFError if the connection ends first."""
        while True:
            event = self.conn.next_event()
            if event is not NEED_DATA:
                return event
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("the member closed the connection")
            self.conn.receive_data(data)

    def send(self, event: Event) -> None:
        """Send one event (checked against the protocol's state table)."""
        self.sock.sendall(self.conn.send(event))

    def welcome(self, name: str = "") -> Hello:
        """Read the Hello and let the member in; return the Hello."""
        hello = self.read()
        assert isinstance(hello, Hello)
        self.send(Welcome(version=protocol.PROTOCOL_VERSION, member=name or hello.member))
        return hello


Script = Callable[[Peer], None]


class FakeHost:
    """Listens on 127.0.0.1 and runs `script` for every connection (over TLS, unless `tls` is False)."""

    def __init__(self, script: Script, tls: bool = True) -> None:
        self.script = script
        self.tls = tls
        self.fingerprint = fake_identity().fingerprint if tls else ""
        self.listener = socket.socket()
        # Small buffers, inherited by every accepted socket: a host that stops reading is found out sooner.
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen()
        self.listener.settimeout(0.1)  # close() does not wake a blocked accept(): poll a flag instead
        self._listening = True
        self.port: int = self.listener.getsockname()[1]
        self.peers: list[Peer] = []
        self.errors: list[BaseException] = []
        self.done = threading.Event()  # set when a script returns
        self._threads: list[threading.Thread] = []
        self._accepter = threading.Thread(target=self._accept, daemon=True)
        self._accepter.start()

    def _accept(self) -> None:
        while self._listening:
            try:
                sock, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # listener closed
            sock.settimeout(None)
            peer = Peer(sock)
            self.peers.append(peer)
            thread = threading.Thread(target=self._run, args=(peer,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _run(self, peer: Peer) -> None:
        try:
            if self.tls:
                peer.sock = serve_tls(peer.sock)
            self.script(peer)
        except (EOFError, OSError, ValueError):  # ValueError: a TLS socket closed meanwhile
            pass  # the member went away: normal in these tests
        except BaseException as exc:  # a failed assert in a script must reach the test
            self.errors.append(exc)
        finally:
            peer.sock.close()  # a host hangs up when it is done with a member
            self.done.set()

    def stop_listening(self) -> None:
        """Refuse new connections from now on."""
        self._listening = False
        self._accepter.join(TIMEOUT)
        self.listener.close()

    def close(self) -> None:
        """Close everything and wait for the scripts."""
        self.stop_listening()
        for peer in self.peers:
            try:
                peer.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            peer.sock.close()
        self._accepter.join(TIMEOUT)
        for thread in self._threads:
            thread.join(TIMEOUT)
        if self.errors:
            raise self.errors[0]
