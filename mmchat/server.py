"""The mmchat host's loop: one thread for every chat connection, plus workers and transfer threads.

How this works
--------------
`ChatServer.start()` binds the listening socket and starts the loop thread.
The loop only moves bytes and time: it accepts, reads, feeds each
connection's sans-I/O `Connection`, hands the resulting events to the `Room`
(the chat's rules, `room.py`) and carries out the actions the room returns.
Writing is `Outboxes`' job (`outbox.py`): a bounded outbox per connection and
one send per member per round.  File transfers are the `TransferDesk`'s
(`host_transfers.py`).  Slow requests (a `!cmd`, the file list, a QR picture)
run on a worker; their results come back to the loop, and so to the room.

Only the loop thread touches the room, the outboxes and the connections, so every member sees
every message in one order without locks.  Other threads (workers' results, finished uploads,
the history writer's status, the admin API) reach the loop through `call_soon()` (`wakeup.py`).
"""

from __future__ import annotations

import itertools
import os
import selectors
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

from . import protocol
from .actions import (
    Action,
    Broadcast,
    Close,
    CloseReason,
    CommandJob,
    HangUp,
    Job,
    Joined,
    Log,
    Pause,
    Record,
    Reply,
    Run,
    Send,
)
from .address import format_address
from .budget import Limits
from .commands import CommandSandbox
from .host_accept import Acceptor, listen
from .host_admin import HostAdmin
from .host_jobs import JobResult, Workers
from .host_tls import HostTls
from .host_transfers import Ticket, TransferDesk
from .hostlog import LogBus, LogEvent, LogKind
from .liveness import KeepAlive, Openers
from .outbox import FLUSH_PASSES, ConnectionInfo, Outboxes, Peer
from .protocol import ErrorReply, OfferUpload, ProtocolError, RequestDownload, Say, TransferHello
from .qr import CodeBook
from .room import Room
from .storage import HISTORY_MAX, Storage
from .wakeup import CallQueue

__all__ = ["ChatServer", "ConnectionInfo", "LogEvent", "LogKind"]

CLOSE_GRACE = 2.0
RECV_SIZE = 256 * 1024
TICK = 1.0  # seconds between time-outs checks
TRANSFER_EVENTS = (OfferUpload, RequestDownload, TransferHello)  # for the transfer desk
SHUTDOWN_POLL = 0.05  # while stopping, how often the loop looks whether everyone is gone


class ChatServer(HostAdmin, HostTls):
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
        keepalive: KeepAlive | None = None,
        openers: Openers | None = None,
        flood: Limits | None = None,
        history_max: int = HISTORY_MAX,
        tls: bool = True,
    ) -> None:
        """`send_threads`: 2 lets a second thread share the sends of rounds with many members
        (the default where there is a second core), 1 keeps every send on the loop thread.
        `flood`: each member's budgets (budget.py); `history_max`: history entries kept on disk."""
        self.share = Path(share).resolve()
        self.share.mkdir(parents=True, exist_ok=True)
        self.data_dir = Path(data_dir) if data_dir else self.share / ".mmchat"
        self.temp_dir = self.data_dir / "tmp"
        self.temp_dir.mkdir(parents=True, exist_ok=True)
        self.fingerprint = self._open_tls(self.data_dir, tls)  # the SHA-256 of its certificate (host_tls.py)
        self._bind = (host, port)
        self.log = LogBus()
        self._publish = self.log.publish
        self.storage = Storage(self.data_dir, history_max=history_max, on_status=lambda status: self.call_soon(
            lambda: self._apply(self.room.history_status(status, time.time()))))  # fmt: skip
        self.sandbox = CommandSandbox(self.share)
        self.codes = CodeBook()
        self.room = Room(
            password=password, host_label=socket.gethostname(), codes=self.codes, keepalive=keepalive,
            openers=openers, limits=flood, last_seq=self.storage.last_seq(), history=self.storage.recent_history(),
            bans=self._open_bans(),  # host_admin.py: ban(), unban(), bans()
        )  # fmt: skip
        self.desk = TransferDesk(self.share, self.temp_dir, self.storage, self._publish, self._on_shared, flood)
        self.desk.clean_temp()
        self._selector = selectors.DefaultSelector()
        if send_threads is None:
            send_threads = 2 if (os.cpu_count() or 1) > 1 else 1
        self.outboxes = Outboxes(self._selector, outbound_limit, send_threads, CLOSE_GRACE)
        self._peers: dict[int, Peer] = {}
        self._ids = itertools.count(1)
        self._calls = CallQueue()
        self.call_soon = self._calls.call_soon
        self._workers = Workers(self.share, self.sandbox, self.storage, self.call_soon,
                                self._job_done, self._job_failed)  # fmt: skip
        self._listener: socket.socket | None = None
        self._acceptor: Acceptor | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._stopped = threading.Event()
        self.address: tuple[str, int] = (host, port)

    # --- public API (any thread) ---------------------------------------------

    def subscribe(self, callback: Callable[[LogEvent], None]) -> None:
        """Call `callback(LogEvent)` for every log event, from the host's threads."""
        self.log.subscribe(callback)

    def unsubscribe(self, callback: Callable[[LogEvent], None]) -> None:
        """Stop calling `callback` (a closed window, say)."""
        self.log.unsubscribe(callback)

    def start(self) -> tuple[str, int]:
        """Bind, listen and start the loop thread; return the real (address, port)."""
        try:
            self._listener = listener = listen(*self._bind)
        except OSError:
            self.storage.close()
            raise
        self.address = listener.getsockname()[:2]
        self._selector.register(listener, selectors.EVENT_READ, "listen")
        self._acceptor = Acceptor(listener, self._selector, self._publish, self.room.openers.press, time.time)
        self._selector.register(self._calls.reader, selectors.EVENT_READ, "wake")
        self._thread = threading.Thread(target=self._run, name="mmchat-host", daemon=True)
        self._thread.start()
        self._publish(LogEvent(time.time(), LogKind.LISTEN, address=format_address(*self.address[:2])))
        return self.address

    def online(self) -> list[str]:
        """Names of the connected members, in join order."""
        return [p.name for p in self.outboxes.members()]

    def kick(self, name: str) -> None:
        """Remove a member from the chat (they are told)."""
        self.call_soon(lambda: self._apply(self.room.kick(name, time.time())))

    def stop(self, timeout: float = 5.0) -> None:
        """Tell members the chat is over, close everything, and wait (`timeout` in all) for the threads."""
        if self._thread is None:
            return
        deadline = time.monotonic() + timeout
        self.call_soon(self._begin_shutdown)
        self._stopped.wait(timeout)
        self._thread.join(max(0.0, deadline - time.monotonic()))
        self.desk.join(deadline)
        self.desk.abort()  # a member frozen mid-transfer does not keep the host's threads
        self._workers.shutdown()
        self.outboxes.shutdown()
        self.storage.close()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the host has stopped; True if it has."""
        return self._stopped.wait(timeout)

    # --- the loop -----------------------------------------------------------------

    def _run(self) -> None:
        next_tick = time.monotonic() + TICK
        try:
            while not self._stopped.is_set():
                timeout = max(0.0, min(next_tick, self.outboxes.next_resume()) - time.monotonic())
                if self._stopping:
                    timeout = min(timeout, SHUTDOWN_POLL)
                for key, mask in self._selector.select(timeout):
                    if key.data == "listen":
                        self._accept()
                    elif key.data == "wake":
                        self._calls.drain()
                    else:
                        peer = key.data
                        if mask & selectors.EVENT_READ and not peer.closed:
                            self._read(peer)
                        if mask & selectors.EVENT_WRITE and not peer.closed:
                            self.outboxes.writable(peer)
                self._calls.run_pending()
                now = time.monotonic()
                for peer in self.outboxes.resume_due(now):  # paused members' time is up: what they sent first
                    self._dispatch(peer)
                self._flush()
                if now >= next_tick:
                    next_tick = now + TICK
                    self._tick(now)
                if self._stopping:
                    self._check_drained()
        finally:
            self._close_everything()

    def _accept(self) -> None:
        assert self._acceptor is not None
        for sock, addr in self._acceptor.accept(time.monotonic(), self._shed):  # host_accept.py: EMFILE
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            peer = Peer(next(self._ids), sock, format_address(addr[0], addr[1]), time.time(), wire=self._new_wire())
            self._peers[peer.id] = peer
            self._selector.register(sock, selectors.EVENT_READ, peer)
            self._apply(self.room.opened(peer.id, peer.address, time.monotonic()))

    def _shed(self) -> bool:
        """Out of descriptors: close the connection without a hello that the room picks; False if none."""
        if peer := self._peers.get(self.room.openers.shed() or 0):
            self._close(peer, CloseReason.NO_GREETING)
        return peer is not None

    def _tick(self, mono: float) -> None:
        """Once a second: time out silent openers and members, slow closers and stale tickets."""
        self._apply(self.room.tick(mono) + self.room.keep_alive(mono, time.time()))
        if self._acceptor is not None:
            self._acceptor.tick(mono)
        for peer in list(self._peers.values()):
            if peer.closing_deadline and mono > peer.closing_deadline:
                self._close(peer, peer.hangup_reason)
        self.desk.expire(mono)

    def _read(self, peer: Peer) -> None:
        try:
            data = peer.sock.recv(RECV_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._close(peer, CloseReason.LOST)
            return
        peer.bytes_in += len(data)
        self.room.keepalive.heard(peer.id, time.monotonic())
        if peer.closing_deadline:
            return  # we are hanging up on them: ignore what they still say
        if peer.wire is not None and not (data := self._unwrap(peer, data)):
            return  # a TLS handshake, part of a record, or a refusal
        peer.conn.receive_data(data)
        self._dispatch(peer)

    def _dispatch(self, peer: Peer) -> None:
        """Hand what `peer` sent to the room, until it is paused (the rest waits in its buffer)."""
        room, apply, who, now, mono = self.room, self._apply, peer.id, time.time(), time.monotonic()
        try:
            for event in peer.conn.events():
                if held := room.spend(who, event, now, mono):  # [] within budget: the usual case
                    apply(held)
                    if peer.closing_deadline:
                        return  # dropped: this event is not served
                if isinstance(event, Say):  # the hot path: most of what arrives is chat
                    apply(room.say(who, event.text, now))
                elif isinstance(event, TRANSFER_EVENTS):
                    self._on_transfer_event(peer, event)
                    if isinstance(event, TransferHello):
                        return  # the socket is a transfer thread's now
                else:
                    apply(room.receive(who, event, now))
                if peer.closed or peer.closing_deadline or peer.paused_until:
                    return
        except ProtocolError as exc:
            self._protocol_error(peer, str(exc))

    def _protocol_error(self, peer: Peer, reason: str) -> None:
        event = LogEvent(time.time(), LogKind.PROTOCOL_ERROR, member=peer.name, address=peer.address, reason=reason)
        self._publish(event)
        self.outboxes.send(peer, protocol.encode(ErrorReply(message=f"Protocol error: {reason}"[:4000], fatal=True)))
        self._hang_up(peer, CloseReason.PROTOCOL_ERROR)

    # --- carrying out the room's actions ------------------------------------------------

    def _apply(self, actions: list[Action]) -> None:
        outboxes, peers = self.outboxes, self._peers
        for action in actions:
            if isinstance(action, Broadcast):
                outboxes.broadcast(action.frame)
            elif isinstance(action, Record):
                self.storage.record(action.entry)
            elif isinstance(action, Log):
                self._publish(action.event)
            elif isinstance(action, Run):
                self._workers.submit(action.job)
            elif (peer := peers.get(action.to)) is None:
                continue  # gone already
            elif isinstance(action, Send):
                outboxes.send(peer, action.frame)
            elif isinstance(action, Reply):
                outboxes.send(peer, peer.conn.send(action.event))
            elif isinstance(action, Joined):
                peer.name = action.name
                outboxes.add_member(peer)
            elif isinstance(action, HangUp):
                self._hang_up(peer, action.reason)
            elif isinstance(action, Close):
                self._close(peer, action.reason)
            elif isinstance(action, Pause):  # over budget: not read until then, nobody else waits
                outboxes.pause(peer, action.until)

    def _flush(self) -> None:
        outboxes = self.outboxes
        for _ in range(FLUSH_PASSES):
            if outboxes.pending():
                outboxes.flush()
            for peer, reason in outboxes.take_failed():
                self._close(peer, reason)
            if not outboxes.pending():
                return

    def _hang_up(self, peer: Peer, reason: CloseReason) -> None:
        """Close after what is queued for them has been sent (or after a grace period)."""
        self.outboxes.hang_up(peer, time.monotonic() + CLOSE_GRACE, reason)

    def _close(self, peer: Peer, reason: CloseReason) -> None:
        if peer.closed:
            return
        self._note_close(peer, reason)
        peer.closed = True
        self.outboxes.forget(peer)
        self._peers.pop(peer.id, None)
        if peer.name:
            self.desk.meter.forget(peer.name)  # the admin window's file bytes
        try:
            self._selector.unregister(peer.sock)
        except (KeyError, ValueError):
            pass
        peer.sock.close()
        self._apply(self.room.closed(peer.id, reason, time.time()))

    # --- work off the loop (results arrive on the loop thread) ---------------------------

    def _job_done(self, job: Job, result: JobResult) -> None:
        if isinstance(result, bytes):  # a frame to send (file list, QR picture)
            self._apply([Send(job.to, result), *self.room.job_done(job)])
        elif isinstance(job, CommandJob):
            self._apply(self.room.command_finished(job, result, time.time()))

    def _job_failed(self, job: Job, reason: str) -> None:
        # A sentence for the member, and their next job (a command after this one) goes on.
        self._apply([*self.room.request_failed(job.to, job.ref, reason, time.time()), *self.room.job_done(job)])

    # --- transfers ------------------------------------------------------------------------

    def _on_transfer_event(self, peer: Peer, event: OfferUpload | RequestDownload | TransferHello) -> None:
        mono = time.monotonic()
        if isinstance(event, OfferUpload):
            self.outboxes.send(peer, self.desk.offer_upload(peer.name, event, mono))
        elif isinstance(event, RequestDownload):
            self.outboxes.send(peer, self.desk.request_download(peer.name, event, mono))
        else:
            ticket = self.desk.claim(event, mono)
            if isinstance(ticket, Ticket):
                self._hand_over(peer, ticket)
            else:
                self.outboxes.send(peer, peer.conn.send(ErrorReply(message=ticket, fatal=True)))
                self._hang_up(peer, CloseReason.REFUSED)

    def _on_shared(self, member: str, filename: str, size: int) -> None:
        self.call_soon(lambda: self._apply(self.room.shared(member, filename, size, time.time())))

    # --- stopping ---------------------------------------------------------------------------

    def _begin_shutdown(self) -> None:
        self._stopping = True
        self.desk.stopping = True  # running transfers end with a sentence
        self._apply(self.room.shutdown(time.time()))
        for peer in list(self._peers.values()):
            self._hang_up(peer, CloseReason.SHUTDOWN)
        if self._listener is not None and self._acceptor is not None:
            self._acceptor.stop()
            self._listener.close()
            self._listener = None
        self._flush()
        self._check_drained()

    def _check_drained(self) -> None:
        mono = time.monotonic()
        if all(p.closing_deadline < mono for p in self._peers.values()):
            self._stopped.set()

    def _close_everything(self) -> None:
        for peer in list(self._peers.values()):
            self._close(peer, CloseReason.SHUTDOWN)
        if self._acceptor is not None:
            self._acceptor.stop()  # before the listener closes: it leaves the selector by its descriptor
        if self._listener is not None:
            self._listener.close()
        self._selector.close()
        self._calls.close()
        self._publish(LogEvent(time.time(), LogKind.STOPPED))
