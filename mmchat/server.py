"""The mmchat host: one event-loop thread for every chat connection, one thread per file transfer.

How this works
--------------
`ChatServer.start()` binds the listening socket and starts the loop thread.  The
loop owns every chat connection: it reads, feeds the sans-I/O `Connection`,
and acts on the events.  Only the loop thread touches members and sequence
numbers, so every member sees every message in one order without locks.

Outbound frames go into each member's own outbox (a deque of ready-made
bytes; a broadcast frame is encoded once and shared).  After each round of
reads the loop flushes every outbox that got something, with one `send` per
member carrying all its pending frames.  A member whose outbox grows past
`outbound_limit` is not reading: it is dropped, and nobody else waits for it.

Other threads talk to the loop through `call_soon()` (a deque plus a wake-up
socket), which is how transfer threads announce finished uploads, how the
command/QR workers reply, and how the admin API (`kick`, `stop`) acts.  A
transfer connection starts on the loop like any other; once its token checks
out it is handed to a thread of its own that streams the file with blocking
I/O, so a multi-GB transfer never stalls the chat.
"""

from __future__ import annotations

import collections
import hmac
import itertools
import os
import secrets
import selectors
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from . import files, protocol, transfer
from .commands import CommandSandbox
from .protocol import (
    ChatMessage,
    CommandResult,
    Connection,
    ErrorReply,
    FileList,
    Goodbye,
    Hello,
    ListFiles,
    ListOnline,
    Notice,
    OfferUpload,
    OnlineList,
    ProtocolError,
    QRImage,
    Refused,
    RequestDownload,
    RequestQR,
    Role,
    RunCommand,
    Say,
    SharedFile,
    State,
    TransferDone,
    TransferEnd,
    TransferHello,
    TransferReady,
    TransferStart,
    VerifyCode,
    VerifyResult,
    Welcome,
)
from .qr import CodeBook, render_png
from .storage import FileRecord, HistoryEntry, Storage

HISTORY_REPLAY = 50
HELLO_TIMEOUT = 15.0
TICKET_TTL = 60.0
CLOSE_GRACE = 2.0
RECV_SIZE = 256 * 1024
PARALLEL_SEND_MIN = 64  # members in a round before a second thread shares its sends (N=100 burst: +8 %)


@dataclass(frozen=True)
class LogEvent:
    """One line of the host's log: what the admin window and --headless show."""

    ts: float
    kind: str  # listen, join, leave, command, refused, upload, download, transfer-failed, drop, kick, error, stop
    text: str
    member: str = ""


@dataclass(frozen=True)
class ConnectionInfo:
    """A snapshot of one member's connection, for the admin window."""

    name: str
    address: str
    since: float
    bytes_in: int
    bytes_out: int


@dataclass
class _Ticket:
    token: str
    direction: str
    member: str
    filename: str
    size: int
    expires: float


@dataclass(eq=False)
class _Peer:
    sock: socket.socket
    address: str
    since: float
    conn: Connection = field(default_factory=lambda: Connection(Role.HOST))
    name: str = ""
    outbox: collections.deque = field(default_factory=collections.deque)
    outbox_bytes: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    cwd: str = ""
    closing_deadline: float = 0.0  # >0: close once the outbox is empty, or at this time
    closed: bool = False
    want_write: bool = False  # the socket is full: wait for the selector to say it is writable
    round_pos: int = 0  # how many of this round's broadcast frames are already in the outbox

    @property
    def member(self) -> bool:
        return bool(self.name) and not self.closed


class _FanOut:
    """One round's broadcast frames, written to a share of the members (see ChatServer._flush_round).

    `run(peers)` touches only those peers and their sockets, so two threads may
    each run it for half of the members while the loop thread waits.  Each
    member with nothing pending gets one non-blocking send of everything it
    has not been given yet; what needs the loop thread afterwards (queueing for
    members who are behind, the rest of a partial send, a broken connection)
    comes back in the three lists.
    """

    def __init__(self, frames: list[bytes]) -> None:
        self.count = len(frames)
        self.joined = frames[0] if len(frames) == 1 else b"".join(frames)
        self.offsets = [0, *itertools.accumulate(len(f) for f in frames)]

    def run(self, peers: list[_Peer]) -> tuple[list, list, list]:
        queue: list[tuple[_Peer, bytes | memoryview]] = []  # members with bytes already pending
        partial: list[tuple[_Peer, memoryview]] = []  # the rest of what the socket did not take
        broken: list[_Peer] = []
        count, joined, offsets = self.count, self.joined, self.offsets
        for peer in peers:
            pos, peer.round_pos = peer.round_pos, 0
            if peer.closed or peer.closing_deadline or pos >= count:
                continue
            data = joined if pos == 0 else memoryview(joined)[offsets[pos] :]  # caught up part-way: the rest
            if peer.outbox or peer.want_write:
                queue.append((peer, data))
                continue
            try:
                sent = peer.sock.send(data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                broken.append(peer)
                continue
            peer.bytes_out += sent
            if sent < len(data):
                partial.append((peer, memoryview(data)[sent:]))
        return queue, partial, broken


def format_address(address: tuple) -> str:
    """'1.2.3.4:5678' or '[::1]:5678'."""
    host, port = address[0], address[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class ChatServer:
    """The host: accepts members, relays chat in one order, stores history and shared files."""

    def __init__(
        self,
        share: Path,
        host: str = "0.0.0.0",
        port: int = protocol.DEFAULT_PORT,
        *,
        data_dir: Path | None = None,
        password: str = "",
        outbound_limit: int = 8 * 1024 * 1024,
        send_threads: int | None = None,
    ) -> None:
        """`send_threads`: 2 lets a second thread share the sends of rounds with many members
        (the default where there is a second core), 1 keeps every send on the loop thread."""
        self.share = Path(share).resolve()
        self.share.mkdir(parents=True, exist_ok=True)
        self.data_dir = Path(data_dir) if data_dir else self.share / ".mmchat"
        self.temp_dir = self.data_dir / "tmp"
        self.temp_dir.mkdir(parents=True, exist_ok=True)
        self._clean_temp()
        self._bind = (host, port)
        self._password = password
        self.outbound_limit = outbound_limit
        self.storage = Storage(self.data_dir)
        self.sandbox = CommandSandbox(self.share)
        self.codes = CodeBook()
        self._seq = self.storage.last_seq()
        self._recent: collections.deque = collections.deque(
            self.storage.recent_history(HISTORY_REPLAY), maxlen=HISTORY_REPLAY
        )
        self._selector = selectors.DefaultSelector()
        self._peers: dict[socket.socket, _Peer] = {}
        self._members: dict[str, _Peer] = {}  # join order (dicts keep insertion order)
        self._tickets: dict[str, _Ticket] = {}
        self._dirty: set[_Peer] = set()
        self._round: list[bytes] = []  # broadcast frames waiting for this round's flush
        self._calls: collections.deque = collections.deque()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        # One worker, so each member's commands run in the order sent (cd, then ls).
        self._workers = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mmchat-worker")
        if send_threads is None:
            send_threads = 2 if (os.cpu_count() or 1) > 1 else 1
        self._sender = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mmchat-send") if send_threads > 1 else None
        self._transfers: set[threading.Thread] = set()
        self._subscribers: list[Callable[[LogEvent], None]] = []
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._stopped = threading.Event()
        self.address: tuple[str, int] = (host, port)

    # --- public API (any thread) ---------------------------------------------

    def subscribe(self, callback: Callable[[LogEvent], None]) -> None:
        """Call `callback(LogEvent)` for every log event, from the host's threads."""
        self._subscribers.append(callback)

    def unsubscribe(self, callback: Callable[[LogEvent], None]) -> None:
        """Stop calling `callback` (a closed window, say)."""
        try:
            self._subscribers.remove(callback)
        except ValueError:
            pass

    def start(self) -> tuple[str, int]:
        """Bind, listen and start the loop thread; return the real (address, port)."""
        family = socket.AF_INET6 if ":" in self._bind[0] else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        if os.name != "nt":
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind(self._bind)
        except OSError as exc:
            listener.close()
            self.storage.close()
            raise OSError(exc.errno, f"Cannot listen on {self._bind[0]}:{self._bind[1]}: {exc.strerror}") from None
        listener.listen(512)
        listener.setblocking(False)
        self._listener = listener
        self.address = listener.getsockname()[:2]
        self._selector.register(listener, selectors.EVENT_READ, "listen")
        self._selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        self._thread = threading.Thread(target=self._run, name="mmchat-host", daemon=True)
        self._thread.start()
        self._log("listen", f"Server listening at {format_address(self.address)}")
        return self.address

    def call_soon(self, fn: Callable[[], None]) -> None:
        """Run `fn` on the loop thread (thread-safe)."""
        self._calls.append(fn)
        try:
            self._wake_w.send(b"\0")
        except (BlockingIOError, OSError):
            pass  # a wake-up is already pending, or we are shutting down

    def connections(self) -> list[ConnectionInfo]:
        """A snapshot of the connected members, in join order."""
        return [
            ConnectionInfo(p.name, p.address, p.since, p.bytes_in, p.bytes_out) for p in list(self._members.values())
        ]

    def online(self) -> list[str]:
        """Names of the connected members, in join order."""
        return list(self._members)

    def kick(self, name: str) -> None:
        """Remove a member from the chat (they are told)."""
        self.call_soon(lambda: self._kick(name))

    def stop(self, timeout: float = 5.0) -> None:
        """Tell members the chat is over, close everything, and wait for the loop to end."""
        if self._thread is None:
            return
        self.call_soon(self._begin_shutdown)
        self._stopped.wait(timeout)
        self._thread.join(timeout)
        for t in list(self._transfers):
            t.join(timeout)
        self._workers.shutdown(wait=True)
        if self._sender is not None:
            self._sender.shutdown(wait=True)
        self.storage.close()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the host has stopped; True if it has."""
        return self._stopped.wait(timeout)

    # --- logging ------------------------------------------------------------------

    def _log(self, kind: str, text: str, member: str = "") -> None:
        event = LogEvent(time.time(), kind, text, member)
        for callback in list(self._subscribers):
            try:
                callback(event)
            except Exception:  # a broken log reader must not take the host down
                pass

    def _log_count(self) -> None:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        self._log("count", f"Active connections: {len(self._members)} ({stamp})")

    # --- the loop -----------------------------------------------------------------

    def _run(self) -> None:
        next_tick = time.monotonic() + 1.0
        try:
            while not self._stopped.is_set():
                timeout = max(0.0, next_tick - time.monotonic())
                for key, mask in self._selector.select(timeout):
                    if key.data == "listen":
                        self._accept()
                    elif key.data == "wake":
                        self._drain_wakeups()
                    else:
                        peer = key.data
                        if mask & selectors.EVENT_READ and not peer.closed:
                            self._read(peer)
                        if mask & selectors.EVENT_WRITE and not peer.closed:
                            self._dirty.add(peer)
                self._run_calls()
                self._flush_dirty()
                if time.monotonic() >= next_tick:
                    next_tick = time.monotonic() + 1.0
                    self._tick()
        finally:
            self._close_everything()

    def _accept(self) -> None:
        assert self._listener is not None
        for _ in range(64):  # bounded: keep serving members during a connection storm
            try:
                sock, addr = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. out of file descriptors: log and go on
                self._log("error", f"Cannot accept a connection: {exc.strerror or exc}")
                return
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            peer = _Peer(sock=sock, address=format_address(addr), since=time.time())
            self._peers[sock] = peer
            self._selector.register(sock, selectors.EVENT_READ, peer)

    def _drain_wakeups(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except (BlockingIOError, OSError):
            pass

    def _run_calls(self) -> None:
        for _ in range(len(self._calls)):
            fn = self._calls.popleft()
            fn()

    def _tick(self) -> None:
        """Once a second: time out silent openers, slow closers and stale tickets."""
        now = time.monotonic()
        wall = time.time()
        for peer in list(self._peers.values()):
            if peer.conn.state is State.OPENING and wall - peer.since > HELLO_TIMEOUT:
                self._close(peer, "no greeting")
            elif peer.closing_deadline and now > peer.closing_deadline:
                self._close(peer, "close timed out")
        for token, ticket in list(self._tickets.items()):
            if ticket.expires < now:
                del self._tickets[token]

    def _read(self, peer: _Peer) -> None:
        try:
            data = peer.sock.recv(RECV_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._close(peer, "connection lost")
            return
        peer.bytes_in += len(data)
        if peer.closing_deadline:
            return  # we are hanging up on them: ignore what they still say
        peer.conn.receive_data(data)
        try:
            for event in peer.conn.events():
                self._dispatch(peer, event)
                if peer.closed or isinstance(event, TransferHello):
                    return
        except ProtocolError as exc:
            self._protocol_error(peer, str(exc))

    def _protocol_error(self, peer: _Peer, reason: str) -> None:
        who = peer.name or peer.address
        self._log("error", f"Protocol error from {who}: {reason}; connection closed", peer.name)
        self._send(peer, protocol.encode(ErrorReply(message=f"Protocol error: {reason}"[:4000], fatal=True)))
        self._hang_up(peer)

    # --- writing --------------------------------------------------------------

    def _enqueue(self, peer: _Peer, data: bytes | memoryview) -> None:
        if peer.outbox_bytes + len(data) > self.outbound_limit:
            self._drop_slow(peer)
            return
        peer.outbox.append(data)
        peer.outbox_bytes += len(data)
        if not peer.want_write:  # a full socket is retried when the selector says so, not every round
            self._dirty.add(peer)

    def _send(self, peer: _Peer, frame: bytes) -> None:
        """Queue a frame for one peer, after the broadcasts it has not been given yet."""
        if peer.closed:
            return
        if peer.round_pos < len(self._round) and self._members.get(peer.name) is peer:
            self._catch_up(peer)
        self._enqueue(peer, frame)

    def _broadcast(self, frame: bytes) -> None:
        """Queue a frame for every member: encoded once, joined once per round, one send per member."""
        self._round.append(frame)

    def _catch_up(self, peer: _Peer) -> None:
        """Give a member this round's broadcasts now, so a private frame that follows stays in order."""
        pending = self._round[peer.round_pos :]
        peer.round_pos = len(self._round)
        if pending and not peer.closing_deadline:
            self._enqueue(peer, b"".join(pending))

    def _flush_round(self) -> None:
        """Write this round's broadcasts to every member: one send each, shared by two threads in big rounds.

        The loop waits for both halves before it goes on, so nothing reaches
        anyone out of order; the kernel's part of a send runs without the GIL.
        """
        fan_out = _FanOut(self._round)
        self._round = []
        members = list(self._members.values())
        if len(members) >= PARALLEL_SEND_MIN and self._sender is not None:
            half = len(members) // 2
            other = self._sender.submit(fan_out.run, members[half:])
            results = [fan_out.run(members[:half]), other.result()]
        else:
            results = [fan_out.run(members)]
        for queue, partial, broken in results:
            for peer, data in (*queue, *partial):
                self._enqueue(peer, data)
            for peer in broken:
                self._close(peer, "connection lost")

    def _write(self, peer: _Peer, data: bytes | memoryview) -> int | None:
        """One non-blocking send; the bytes sent, or None if the connection is gone (and now closed)."""
        try:
            sent = peer.sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            self._close(peer, "connection lost")
            return None
        peer.bytes_out += sent
        return sent

    def _flush_dirty(self) -> None:
        for _ in range(8):  # a drop can broadcast a notice: flush that too, boundedly
            if self._round:
                self._flush_round()
            dirty, self._dirty = self._dirty, set()
            for peer in dirty:
                if not peer.closed:
                    self._flush(peer)
            if not self._round and not self._dirty:
                return

    def _flush(self, peer: _Peer) -> None:
        if peer.outbox:
            data = peer.outbox[0] if len(peer.outbox) == 1 else b"".join(peer.outbox)
            sent = self._write(peer, data)
            if sent is None:
                return
            peer.outbox.clear()
            if sent < len(data):
                peer.outbox.append(memoryview(data)[sent:])
            peer.outbox_bytes = len(data) - sent
        if peer.outbox and not peer.want_write:
            peer.want_write = True
            self._selector.modify(peer.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, peer)
        elif not peer.outbox:
            if peer.want_write:
                peer.want_write = False
                self._selector.modify(peer.sock, selectors.EVENT_READ, peer)
            if peer.closing_deadline:
                self._close(peer, "")

    def _hang_up(self, peer: _Peer) -> None:
        """Close after what is queued for them has been sent (or after a grace period)."""
        if self._members.get(peer.name) is peer:
            self._catch_up(peer)  # e.g. the "kicked" or "shutdown" notice just broadcast
        if not peer.closing_deadline:
            peer.closing_deadline = time.monotonic() + CLOSE_GRACE
            self._dirty.add(peer)

    def _drop_slow(self, peer: _Peer) -> None:
        self._log("drop", f"Dropped {peer.name or peer.address}: not reading (outbound queue full)", peer.name)
        peer.outbox.clear()
        peer.outbox_bytes = 0
        self._close(peer, "dropped")

    def _close(self, peer: _Peer, reason: str) -> None:
        if peer.closed:
            return
        peer.closed = True
        self._dirty.discard(peer)
        self._peers.pop(peer.sock, None)
        try:
            self._selector.unregister(peer.sock)
        except (KeyError, ValueError):
            pass
        peer.sock.close()
        if peer.name and self._members.get(peer.name) is peer:
            del self._members[peer.name]
            if reason != "kicked" and not self._stopping:
                kind = "dropped" if reason == "dropped" else "leave"
                self._announce(kind, member=peer.name)
            self._log("leave", f"{peer.name} left the chat ({peer.address})", peer.name)
            self._log_count()

    # --- chat ---------------------------------------------------------------------

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _announce(self, kind: str, member: str = "", filename: str = "", size: int = 0) -> None:
        notice = Notice(seq=self._next_seq(), ts=time.time(), kind=kind, member=member, filename=filename, size=size)
        self._broadcast(protocol.encode_trusted(notice))
        self._record(HistoryEntry(notice.seq, notice.ts, kind, member, "", filename, size))

    def _record(self, entry: HistoryEntry) -> None:
        """Keep `entry` for members who join later (it is encoded only then) and in the history database."""
        self._recent.append(entry)
        self.storage.record(entry)

    @staticmethod
    def _history_event(entry: HistoryEntry) -> ChatMessage | Notice:
        event: ChatMessage | Notice
        if entry.kind == "message":
            event = ChatMessage(seq=entry.seq, ts=entry.ts, sender=entry.member, text=entry.text, history=True)
        else:
            event = Notice(
                seq=entry.seq,
                ts=entry.ts,
                kind=entry.kind,
                member=entry.member,
                filename=entry.filename,
                size=entry.size,
                history=True,
            )
        return event

    def _dispatch(self, peer: _Peer, event: protocol.Event) -> None:
        handler = self._HANDLERS.get(type(event))
        if handler is None:
            raise ProtocolError(f"unexpected {event.TYPE!r}")
        handler(self, peer, event)

    def _on_hello(self, peer: _Peer, event: Hello) -> None:
        def refuse(reason: str) -> None:
            self._log("refused", f"Refused {peer.address}: {reason}")
            self._send(peer, peer.conn.send(Refused(reason=reason)))
            self._hang_up(peer)

        if event.version != protocol.PROTOCOL_VERSION:
            return refuse(
                f"This host speaks mmchat protocol {protocol.PROTOCOL_VERSION} and you speak "
                f"{event.version}: please use the same mmchat version as the host."
            )
        if self._password and not hmac.compare_digest(
            event.password.encode("utf-8", "surrogatepass"), self._password.encode("utf-8")
        ):
            return refuse("Wrong password for this chat.")
        try:
            wanted = protocol.check_member_name(event.member)
        except ValueError as exc:
            return refuse(str(exc))
        name = wanted
        n = 2
        while name in self._members:
            suffix = f"-{n}"
            name = wanted[: protocol.MAX_NAME_CHARS - len(suffix)] + suffix
            n += 1
        peer.name = name
        self._send(
            peer,
            peer.conn.send(
                Welcome(
                    version=protocol.PROTOCOL_VERSION,
                    member=name,
                    renamed=name != wanted,
                    host=socket.gethostname()[:64],
                )
            ),
        )
        for entry in self._recent:
            self._send(peer, protocol.encode_trusted(self._history_event(entry)))
        self._members[name] = peer
        peer.round_pos = len(self._round)  # earlier broadcasts of this round are in its history already
        self._log("join", f"New connection: {name} ({peer.address})", name)
        self._log_count()
        self._announce("join", member=name)

    def _on_say(self, peer: _Peer, event: Say) -> None:
        text = event.text
        if not text.strip():
            return
        entry = HistoryEntry(self._next_seq(), time.time(), "message", peer.name, text)
        self._broadcast(protocol.encode_chat_message(entry.seq, entry.ts, entry.member, text))
        self._record(entry)

    def _on_online(self, peer: _Peer, event: ListOnline) -> None:
        self._send(peer, protocol.encode_trusted(OnlineList(members=tuple(self._members), ref=event.ref)))

    def _on_files(self, peer: _Peer, event: ListFiles) -> None:
        def work() -> bytes:
            shared = tuple(
                SharedFile(r.filename, r.size, r.owner, r.ts)
                for r in self.storage.list_files()
                if (self.share / r.filename).is_file()
            )
            return protocol.encode_trusted(FileList(files=shared[-protocol.MAX_FILE_LIST_ITEMS :], ref=event.ref))

        self._off_loop(peer, event.ref, work)

    def _on_command(self, peer: _Peer, event: RunCommand) -> None:
        name = peer.name
        self._log("command", f"Command to execute: {event.line} ({name})", name)

        def work() -> bytes:
            outcome = self.sandbox.run(event.line, peer.cwd)
            peer.cwd = outcome.cwd
            if not outcome.allowed:
                self._log("refused", f"Refused command from {name}: {event.line} ({outcome.output})", name)
            output = outcome.output[: protocol.MAX_OUTPUT_CHARS]
            return protocol.encode_trusted(
                CommandResult(line=event.line, output=output, allowed=outcome.allowed, ref=event.ref)
            )

        self._off_loop(peer, event.ref, work)

    def _on_qr(self, peer: _Peer, event: RequestQR) -> None:
        name = peer.name

        def work() -> bytes:
            code = self.codes.issue(name)
            self._log("qr", f"QR code issued to {name}", name)
            return protocol.encode_trusted(
                QRImage(code=code, expires_in=int(self.codes.ttl), png=render_png(code), ref=event.ref)
            )

        self._off_loop(peer, event.ref, work)

    def _on_verify(self, peer: _Peer, event: VerifyCode) -> None:
        owner = self.codes.verify(event.code.strip())
        self._log(
            "qr", f"{peer.name} verified a code: {'valid, issued to ' + owner if owner else 'invalid'}", peer.name
        )
        reply = VerifyResult(code=event.code, valid=owner is not None, owner=owner or "", ref=event.ref)
        self._send(peer, protocol.encode_trusted(reply))

    def _off_loop(self, peer: _Peer, ref: int, work: Callable[[], bytes]) -> None:
        """Run slow work (disk, QR rendering) on a worker, then send its frame from the loop."""

        def run() -> None:
            try:
                frame = work()
            except Exception as exc:  # the member gets a sentence, the host keeps going
                self._log("error", f"Request from {peer.name} failed: {exc}", peer.name)
                frame = protocol.encode_trusted(ErrorReply(message=f"The host could not do that: {exc}", ref=ref))
            self.call_soon(lambda: self._send(peer, frame))

        try:
            self._workers.submit(run)
        except RuntimeError:
            pass  # shutting down

    # --- transfers: ticket on the chat connection, bytes on their own ---------------

    def _new_ticket(self, direction: str, member: str, filename: str, size: int) -> _Ticket:
        ticket = _Ticket(secrets.token_urlsafe(24), direction, member, filename, size, time.monotonic() + TICKET_TTL)
        self._tickets[ticket.token] = ticket
        return ticket

    def _on_upload(self, peer: _Peer, event: OfferUpload) -> None:
        try:
            filename = files.check_filename(event.filename)
        except files.BadFileName as exc:
            self._log("refused", f"Refused upload from {peer.name}: {exc}", peer.name)
            return self._send(peer, protocol.encode_trusted(ErrorReply(message=str(exc), ref=event.ref)))
        if not files.has_room_for(self.temp_dir, event.size):
            message = f"The host has no room for {filename} ({files.human_size(event.size)})."
            self._log("refused", f"Refused upload from {peer.name}: {message}", peer.name)
            return self._send(peer, protocol.encode_trusted(ErrorReply(message=message, ref=event.ref)))
        ticket = self._new_ticket("upload", peer.name, filename, event.size)
        ready = TransferReady(token=ticket.token, direction="upload", filename=filename, size=event.size, ref=event.ref)
        self._send(peer, protocol.encode_trusted(ready))

    def _shared_path(self, filename: str) -> Path | None:
        """The shared file called `filename`, if it exists inside the share (no links out)."""
        try:
            files.check_filename(filename)
        except files.BadFileName:
            return None
        path = self.share / filename
        real = Path(os.path.realpath(path))
        if real.parent != self.share or not real.is_file():
            return None
        return real

    def _on_download(self, peer: _Peer, event: RequestDownload) -> None:
        path = self._shared_path(event.filename)
        if path is None:
            message = f"No such file on the host: {event.filename}"
            return self._send(peer, protocol.encode_trusted(ErrorReply(message=message, ref=event.ref)))
        ticket = self._new_ticket("download", peer.name, path.name, path.stat().st_size)
        ready = TransferReady(
            token=ticket.token, direction="download", filename=path.name, size=ticket.size, ref=event.ref
        )
        self._send(peer, protocol.encode_trusted(ready))

    def _on_transfer_hello(self, peer: _Peer, event: TransferHello) -> None:
        ticket = self._tickets.pop(event.token, None)
        if ticket is None or ticket.expires < time.monotonic() or event.version != protocol.PROTOCOL_VERSION:
            self._send(peer, peer.conn.send(ErrorReply(message="This transfer is unknown or has expired.", fatal=True)))
            return self._hang_up(peer)
        if event.offset:
            self._send(peer, peer.conn.send(ErrorReply(message="Resuming transfers is not supported yet.", fatal=True)))
            return self._hang_up(peer)
        # From here on the socket belongs to a transfer thread, with blocking I/O.
        self._peers.pop(peer.sock, None)
        self._selector.unregister(peer.sock)
        self._dirty.discard(peer)
        peer.closed = True
        sock = peer.sock
        sock.setblocking(True)
        sock.settimeout(transfer.IDLE_TIMEOUT)
        leftover = peer.conn.take_buffered()
        target = self._upload if ticket.direction == "upload" else self._download
        thread = threading.Thread(
            target=self._run_transfer,
            args=(target, sock, peer.conn, ticket, leftover, peer.address),
            name=f"mmchat-{ticket.direction}",
            daemon=True,
        )
        self._transfers.add(thread)
        thread.start()

    def _run_transfer(
        self, target: Callable, sock: socket.socket, conn: Connection, ticket: _Ticket, leftover: bytes, address: str
    ) -> None:
        try:
            target(sock, conn, ticket, leftover)
        except transfer.TransferError as exc:
            self._log(
                "transfer-failed",
                f"{ticket.direction.capitalize()} of {ticket.filename} ({ticket.member}, {address}) failed: {exc}",
                ticket.member,
            )
            try:
                sock.sendall(protocol.encode(ErrorReply(message=str(exc), fatal=True)))
            except OSError:
                pass
        except Exception as exc:  # never let a transfer thread die silently
            self._log("error", f"{ticket.direction.capitalize()} of {ticket.filename} failed: {exc!r}", ticket.member)
        finally:
            sock.close()
            self._transfers.discard(threading.current_thread())

    def _upload(self, sock: socket.socket, conn: Connection, ticket: _Ticket, leftover: bytes) -> None:
        sock.sendall(conn.send(TransferStart(filename=ticket.filename, size=ticket.size)))
        self._log(
            "upload",
            f"Receiving {ticket.filename} ({files.human_size(ticket.size)}) from {ticket.member}",
            ticket.member,
        )
        claimed = ""

        def member_digest() -> str:  # the member's SHA-256 follows the bytes
            nonlocal claimed
            conn.end_of_body(leftover[ticket.size :])
            end = transfer.read_frame(sock, conn)
            if not isinstance(end, TransferEnd):
                raise transfer.TransferError(f"Expected the upload's SHA-256, got {end.TYPE!r}.")
            claimed = end.sha256
            return claimed

        final = transfer.receive_to_folder(
            sock,
            leftover,
            self.share,
            ticket.filename,
            ticket.size,
            member_digest,
            temp_folder=self.temp_dir,
            cancelled=lambda: self._stopping,
        )
        record = FileRecord(final.name, ticket.size, claimed, ticket.member, time.time(), final.stat().st_mtime_ns)
        self.storage.add_file(record)
        sock.sendall(conn.send(TransferDone(filename=final.name, size=ticket.size, sha256=claimed)))
        self._log(
            "upload",
            f"File received: {final.name} ({files.human_size(ticket.size)}) from {ticket.member}",
            ticket.member,
        )
        self.call_soon(lambda: self._announce("share", member=ticket.member, filename=final.name, size=ticket.size))

    def _download(self, sock: socket.socket, conn: Connection, ticket: _Ticket, leftover: bytes) -> None:
        path = self._shared_path(ticket.filename)
        if path is None:
            raise transfer.TransferError(f"No such file on the host: {ticket.filename}")
        with open(path, "rb") as fileobj:
            stat = os.fstat(fileobj.fileno())
            record = self.storage.get_file(path.name)
            if record and record.size == stat.st_size and record.mtime_ns == stat.st_mtime_ns:
                digest = record.sha256
            else:  # a file the host put there itself, or changed since: hash it now
                digest = files.sha256_file(path)
                self.storage.add_file(
                    FileRecord(
                        path.name,
                        stat.st_size,
                        digest,
                        record.owner if record else "host",
                        record.ts if record else time.time(),
                        stat.st_mtime_ns,
                    )
                )
            sock.sendall(conn.send(TransferStart(filename=path.name, size=stat.st_size, sha256=digest)))
            transfer.send_file_body(sock, fileobj, stat.st_size, cancelled=lambda: self._stopping)
        self._log(
            "download", f"File sent: {path.name} ({files.human_size(stat.st_size)}) to {ticket.member}", ticket.member
        )

    # --- leaving --------------------------------------------------------------------

    def _on_goodbye(self, peer: _Peer, event: Goodbye) -> None:
        self._close(peer, "left")

    def _kick(self, name: str) -> None:
        peer = self._members.get(name)
        if peer is None:
            return
        self._log("kick", f"Kicked {name} ({peer.address})", name)
        self._announce("kicked", member=name)
        self._hang_up(peer)
        del self._members[name]
        self._log_count()

    def _begin_shutdown(self) -> None:
        self._stopping = True
        self._log("stop", "Server stopping: members are being told")
        self._announce("shutdown")  # stored too, so its seq is never reused after a restart
        for peer in list(self._peers.values()):
            self._hang_up(peer)
        if self._listener is not None:
            self._selector.unregister(self._listener)
            self._listener.close()
            self._listener = None
        self._flush_dirty()
        if not self._peers:
            self._stopped.set()
        else:
            self.call_soon(self._check_drained)

    def _check_drained(self) -> None:
        if not self._peers or all(p.closing_deadline < time.monotonic() for p in self._peers.values()):
            self._stopped.set()
        else:
            threading.Timer(0.05, lambda: self.call_soon(self._check_drained)).start()

    def _close_everything(self) -> None:
        for peer in list(self._peers.values()):
            self._close(peer, "shutdown")
        if self._listener is not None:
            self._listener.close()
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()
        self._log("stop", "Server stopped")

    def _clean_temp(self) -> None:
        """Remove partial files a crashed host left behind: they never became real files."""
        for leftover in self.temp_dir.glob("*.part"):
            try:
                leftover.unlink()
            except OSError:
                pass

    _HANDLERS: ClassVar[dict[type, Callable]] = {
        Hello: _on_hello,
        Say: _on_say,
        ListOnline: _on_online,
        ListFiles: _on_files,
        RunCommand: _on_command,
        RequestQR: _on_qr,
        VerifyCode: _on_verify,
        OfferUpload: _on_upload,
        RequestDownload: _on_download,
        TransferHello: _on_transfer_hello,
        Goodbye: _on_goodbye,
    }
