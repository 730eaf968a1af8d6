"""A load-generator process: many chat members on raw sockets, one epoll loop, commands on stdin.

How this works
--------------
`python bench/loadgen.py '<json config>'` connects the configured members to a
server speaking one of three protocols (mmchat frames, the naive baseline's
lines, IRC), greets them, prints {"event": "connected"} and then obeys JSON
commands read from stdin, one a line, answering on stdout:

  {"cmd": "settle", "quiet": s}   drain incoming data until `quiet` seconds pass without any
  {"cmd": "run", ...}             send (burst or paced) and count deliveries; answers with a result
  {"cmd": "stop"}                 (during an open-ended paced run) stop sending, drain, answer
  {"cmd": "quit"}                 close everything and exit

Counting is cheap on purpose, so that the generator is not the bottleneck:
every chat text starts with the marker "@@" followed by the sender's
time.time_ns() in 19 digits, whatever the framing.  A delivery is one
occurrence of the marker in a member's byte stream (bytes.count, in C); the
last 20 bytes of each read are carried over so a marker split between two
reads is counted once.  Members chosen as probes also pull out every
timestamp (one regex pass) and record arrival - timestamp, where arrival is
the kernel's receive timestamp of the data (SO_TIMESTAMPNS, on the same
CLOCK_REALTIME as time.time_ns()): time this process spends on other sockets
before it reads this one is not counted as delivery latency.

With proto "mmchat-tls" every member speaks TLS, as mmchat members do by
default: the handshake is done (blocking) at connect time, then each member's
bytes go through its own ssl.SSLObject over two MemoryBIOs, so the epoll loop,
the counting and the kernel timestamps (of the encrypted bytes' arrival) stay
as they are.  The host's certificate is not checked: this is a load, not a member.
"""

from __future__ import annotations

import json
import os
import re
import select
import socket
import ssl
import struct
import sys
import time
from array import array
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from mmchat.protocol import PROTOCOL_VERSION

MARKER = b"@@"
TS_RE = re.compile(rb"@@(\d{19})")
CARRY = 20  # marker (2) + 19 digits - 1: the longest tail that can hold an incomplete marker
PAD = b"x" * 24  # chat text = "@@" + 19 digits + " " + 24 x = 46 characters
RECV_SIZE = 256 * 1024
PREFIX = struct.Struct(">II")
CONNECT_BATCH = {"mmchat": 100, "naive": 100, "irc": 8}  # ngIRCd listens with a short backlog
TLS_READ = 1 << 20  # plaintext taken from an SSLObject per read() call
TLS_SLACK = 64 * 1024  # plaintext of records begun in earlier reads (a record is at most 16 kB)
SETUP_TIMEOUT = 540.0  # 5,000 TLS members: every join notice is encrypted for, and decrypted by, each member so far
BURST_BATCH = 32  # frames queued per sender per turn in a burst
SEND_HIGH_WATER = 64 * 1024
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux; the cmsg type is the same number
TIMESPEC = struct.Struct("@qq")
ANCILLARY_SIZE = socket.CMSG_SPACE(TIMESPEC.size)
EPOLLIN, EPOLLOUT, EPOLLHUP, EPOLLERR = select.EPOLLIN, select.EPOLLOUT, select.EPOLLHUP, select.EPOLLERR


def mmchat_say(ts: int) -> bytes:
    header = b'{"type":"say","text":"@@%d %s"}' % (ts, PAD)
    return PREFIX.pack(len(header), 0) + header


def naive_say(ts: int) -> bytes:
    return b"@@%d %s\n" % (ts, PAD)


def irc_say(ts: int) -> bytes:
    return b"PRIVMSG #bench :@@%d %s\r\n" % (ts, PAD)


SAY = {"mmchat": mmchat_say, "naive": naive_say, "irc": irc_say}
MMCHAT_PING = b'{"type":"ping"}'
MMCHAT_PONG = PREFIX.pack(len(b'{"type":"pong"}'), 0) + b'{"type":"pong"}'


class Member:
    __slots__ = (
        "blocked",
        "buf",
        "carry",
        "closed",
        "index",
        "name",
        "out",
        "probe",
        "ready",
        "remaining",
        "sealed",
        "sock",
        "stage",
        "tls",
    )

    def __init__(self, index: int, name: str, sock: socket.socket) -> None:
        self.index = index
        self.name = name
        self.sock = sock
        self.ready = False  # greeted: counting mode
        self.stage = 0  # IRC: 0 registering, 1 joining
        self.buf = bytearray()  # setup-phase bytes
        self.carry = b""
        self.out = bytearray()
        self.blocked = False
        self.remaining = 0
        self.probe = False
        self.closed = False
        self.tls: Tls | None = None
        self.sealed = 0  # TLS: how many bytes at the front of `out` are records already (the rest: plaintext)


class Tls:
    """One member's TLS: an SSLObject between the socket's bytes and the member's plaintext."""

    __slots__ = ("incoming", "obj", "outgoing")

    def __init__(self, sock: socket.socket, context: ssl.SSLContext) -> None:
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = context.wrap_bio(self.incoming, self.outgoing, server_side=False)
        while True:  # the handshake, blocking: the socket is still in blocking mode here
            try:
                self.obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                if pending := self.outgoing.read():
                    sock.sendall(pending)
                data = sock.recv(65536)
                if not data:
                    raise ConnectionError("the host closed the connection during the TLS handshake") from None
                self.incoming.write(data)
        if pending := self.outgoing.read():
            sock.sendall(pending)

    def decrypt(self, data: bytes) -> bytes:
        """The plaintext that `data` (bytes from the socket) completes; b'' if none yet."""
        self.incoming.write(data)
        parts = []
        while True:
            try:
                chunk = self.obj.read(TLS_READ)
            except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
                break
            if not chunk:
                break
            parts.append(chunk)
        return b"".join(parts)

    def encrypt(self, plaintext: bytes | bytearray) -> bytes:
        """What to send for `plaintext`."""
        if plaintext:
            self.obj.write(plaintext)
        return self.outgoing.read()


def tls_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the benchmark measures the load, it does not pin the host
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


class LoadGenerator:
    def __init__(self, config: dict) -> None:
        self.tls_context = tls_context() if config["proto"] == "mmchat-tls" else None
        self.proto = "mmchat" if self.tls_context else config["proto"]
        self.address = (config["host"], config["port"])
        self.names = config["names"]
        self.say = SAY[self.proto]
        self.irc = self.proto == "irc"
        self.ep = select.epoll()
        self.by_fd: dict[int, Member] = {}
        self.members: list[Member] = []
        self.buf = bytearray(RECV_SIZE + CARRY + TLS_SLACK)  # TLS: one read's plaintext may exceed its bytes
        view = memoryview(self.buf)
        self.views = [view[k : k + RECV_SIZE] for k in range(CARRY + 1)]
        self.commands = Commands()
        self.reset_counts()

    def reset_counts(self) -> None:
        self.received = 0
        self.last_recv_ns = 0
        self.lat_us = array("q")
        self.bytes_in = 0
        self.reads = 0

    # --- setup ------------------------------------------------------------------------

    def hello(self, m: Member) -> bytes:
        if self.proto == "mmchat":
            header = json.dumps({"type": "hello", "version": PROTOCOL_VERSION, "member": m.name}).encode()
            return PREFIX.pack(len(header), 0) + header
        if self.proto == "naive":
            return b"NAME %s\n" % m.name.encode()
        return b"NICK %s\r\nUSER %s 0 * :bench\r\n" % (m.name.encode(), m.name.encode())

    def setup_data(self, m: Member, data: bytes) -> None:
        """Bytes for a member that is not yet greeted: look for the greeting."""
        m.buf += data
        if self.proto == "mmchat":
            if b'"type":"welcome"' in m.buf:
                m.ready = True
            elif b'"type":"refused"' in m.buf or b'"type":"error"' in m.buf:
                raise RuntimeError(f"{m.name} was refused: {bytes(m.buf[:300])!r}")
        elif self.proto == "naive":
            if b"WELCOME" in m.buf:
                m.ready = True
        else:
            self.irc_pings(m, bytes(m.buf))
            if m.stage == 0 and re.search(rb"^:\S+ 001 ", m.buf, re.M):
                m.stage = 1
                m.sock.sendall(b"JOIN #bench\r\n")
            elif m.stage == 0 and re.search(rb"^:\S+ 4\d\d ", m.buf, re.M):
                raise RuntimeError(f"{m.name} was refused: {bytes(m.buf[-300:])!r}")
            if m.stage == 1 and re.search(rb"^:\S+ 366 ", m.buf, re.M):
                m.ready = True
            # keep only the unfinished last line
            cut = m.buf.rfind(b"\n")
            if cut >= 0:
                del m.buf[: cut + 1]
        if m.ready:
            m.buf = bytearray()
            m.carry = b""

    def irc_pings(self, m: Member, data: bytes) -> None:
        for token in re.findall(rb"(?:^|\n)PING (:?[^\r\n]*)\r?\n", data):
            m.sock.sendall(b"PONG " + token + b"\r\n")

    def connect_all(self) -> None:
        deadline = time.monotonic() + SETUP_TIMEOUT
        step = CONNECT_BATCH[self.proto]
        for start in range(0, len(self.names), step):
            batch = []
            for i in range(start, min(start + step, len(self.names))):
                sock = socket.create_connection(self.address, timeout=30)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
                m = Member(i, self.names[i], sock)
                if self.tls_context is not None:
                    m.tls = Tls(sock, self.tls_context)
                    sock.sendall(m.tls.encrypt(self.hello(m)))
                else:
                    sock.sendall(self.hello(m))
                sock.setblocking(False)
                self.by_fd[sock.fileno()] = m
                self.ep.register(sock.fileno(), EPOLLIN)
                self.members.append(m)
                batch.append(m)
            while not all(m.ready for m in batch):
                if refused := [m.name for m in batch if m.closed and not m.ready]:
                    raise RuntimeError(f"the server closed {', '.join(refused[:5])} before greeting them")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"members not greeted within {SETUP_TIMEOUT:.0f} s")
                self.poll(0.05)

    # --- the loop ---------------------------------------------------------------------

    def poll(self, timeout: float) -> int:
        """One epoll round: read everything ready, write what was blocked; return bytes read."""
        events = self.ep.poll(timeout)
        now = time.time_ns()
        got = 0
        buf, views, by_fd = self.buf, self.views, self.by_fd
        count_marker = buf.count
        for fd, mask in events:
            m = by_fd.get(fd)
            if m is None:
                continue  # stdin: the caller reads it
            if mask & EPOLLOUT:
                m.blocked = False
                self.ep.modify(fd, EPOLLIN)
                self.flush(m)
            if not mask & (EPOLLIN | EPOLLHUP | EPOLLERR):
                continue
            carry = m.carry
            k = len(carry)
            if k:
                buf[:k] = carry
            stamp = now
            try:
                if m.probe:
                    n, ancillary, _, _ = m.sock.recvmsg_into([views[k]], ANCILLARY_SIZE)
                    for level, kind, data in ancillary:
                        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= TIMESPEC.size:
                            sec, nsec = TIMESPEC.unpack_from(data)
                            stamp = sec * 1_000_000_000 + nsec
                else:
                    n = m.sock.recv_into(views[k])
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                n = 0
            if n == 0:
                self.close_member(m)
                continue
            got += n
            if m.tls is not None:  # the bytes read were TLS records: count in their plaintext
                try:
                    plain = m.tls.decrypt(views[k][:n])
                except ssl.SSLError:
                    self.close_member(m)
                    continue
                n = len(plain)
                buf[k : k + n] = plain  # fits: TLS_SLACK covers records begun in earlier reads
            total = k + n
            if not m.ready:
                self.setup_data(m, bytes(buf[k:total]))
                continue
            if total > 19:
                count = count_marker(MARKER, 0, total - 19)
                if count:
                    self.received += count
                    self.last_recv_ns = now
                    if m.probe:
                        self.lat_us.extend([(stamp - int(t)) // 1000 for t in TS_RE.findall(buf, 0, total)])
                m.carry = buf[total - CARRY : total]
            else:
                m.carry = buf[:total]
            if self.irc and buf.find(b"PING ", 0, total) >= 0:
                self.irc_pings(m, bytes(buf[:total]))
            elif not self.irc and buf.find(MMCHAT_PING, 0, total) >= 0:
                m.out += MMCHAT_PONG  # a member answers the host's keep-alive, or is timed out after 45 s
                self.flush(m)
        self.bytes_in += got
        self.reads += len(events)
        return got

    def close_member(self, m: Member) -> None:
        if not m.closed:
            m.closed = True
            fd = m.sock.fileno()
            self.by_fd.pop(fd, None)
            try:
                self.ep.unregister(fd)
            except (OSError, ValueError):
                pass
            m.sock.close()

    def flush(self, m: Member) -> None:
        if m.tls is not None and len(m.out) > m.sealed and not m.closed:
            records = m.tls.encrypt(bytes(m.out[m.sealed :]))  # the plaintext queued since -> its records
            del m.out[m.sealed :]
            m.out += records
            m.sealed = len(m.out)
        if not m.out or m.closed:
            return
        try:
            sent = m.sock.send(m.out)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            self.close_member(m)
            return
        del m.out[:sent]
        m.sealed = max(0, m.sealed - sent)
        if m.out and not m.blocked:
            m.blocked = True
            self.ep.modify(m.sock.fileno(), EPOLLIN | EPOLLOUT)

    # --- commands ----------------------------------------------------------------------

    def settle(self, quiet: float, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        last = time.monotonic()
        drained = 0
        while time.monotonic() < deadline:
            got = self.poll(0.05)
            drained += got
            if got:
                last = time.monotonic()
            elif time.monotonic() - last >= quiet:
                break
        return {"event": "ready", "drained": drained, "open": sum(not m.closed for m in self.members)}

    def run(self, cmd: dict) -> dict:
        """Send and count; see the module docstring."""
        self.reset_counts()
        mode = cmd["mode"]
        senders = [self.members[i] for i in cmd.get("senders", [])]
        probes = cmd.get("probes", "all")
        for m in self.members:
            m.probe = probes == "all" or False
        if probes != "all":
            for i in probes:
                self.members[i].probe = True
        expect = cmd.get("expect")  # None: open-ended (until "stop")
        timeout = cmd.get("timeout", 120.0)
        idle_limit = cmd.get("idle_timeout", 10.0)
        say = self.say
        cpu0 = os.times()
        wall0 = time.monotonic()
        deadline = wall0 + timeout
        first_send = 0
        sent = 0
        stopped = False
        stdin_registered = False
        if expect is None:
            self.ep.register(0, EPOLLIN)
            stdin_registered = True
        if mode == "burst":
            for m in senders:
                m.remaining = cmd["per_sender"]
            total = cmd["per_sender"] * len(senders)
            rate = 0.0
        else:
            rate = cmd["rate"]  # messages per second from this process
            total = round(rate * cmd["duration"]) if cmd.get("duration") else 10**12
        t0 = time.monotonic()
        last_progress = t0
        last_received = 0
        rr = 0
        try:
            while time.monotonic() < deadline:
                now = time.monotonic()
                timeout_s = 0.05
                if sent < total and not stopped and senders:
                    if mode == "burst":
                        busy = False
                        for m in senders:
                            if m.remaining and not m.blocked and not m.closed:
                                if len(m.out) < SEND_HIGH_WATER:
                                    k = min(BURST_BATCH, m.remaining)
                                    ts = time.time_ns()
                                    first_send = first_send or ts
                                    m.out += say(ts) * k
                                    m.remaining -= k
                                    sent += k
                                self.flush(m)
                                busy = True
                        if not busy and all(m.closed or not m.remaining for m in senders):
                            total = sent  # senders gone: stop waiting for the rest
                        timeout_s = 0 if busy else 0.05
                    else:
                        due = min(total, int((now - t0) * rate) + 1)
                        for _ in range(min(due - sent, 1000)):
                            m = senders[rr % len(senders)]
                            rr += 1
                            ts = time.time_ns()
                            first_send = first_send or ts
                            m.out += say(ts)
                            sent += 1
                            self.flush(m)
                        if sent < total:
                            timeout_s = max(0.0, min(0.05, t0 + sent / rate - time.monotonic()))
                    last_progress = time.monotonic()
                else:
                    # Done sending: finished when everything arrived, or when nothing arrives any more.
                    quiet = time.monotonic() - last_progress
                    if expect is not None and self.received >= expect:
                        break
                    if expect is None and quiet > cmd.get("drain_quiet", 0.3):
                        break
                    if quiet > idle_limit or all(m.closed for m in self.members):
                        break
                for m in senders:
                    if m.out and not m.blocked:
                        self.flush(m)
                self.poll(timeout_s)
                if self.received != last_received:
                    last_progress = time.monotonic()
                    last_received = self.received
                if stdin_registered and not stopped and self.commands.poll() == "stop":
                    stopped = True
        finally:
            if stdin_registered:
                self.ep.unregister(0)
        cpu1 = os.times()
        return {
            "event": "result",
            "received": self.received,
            "expect": expect if expect is not None else self.received,
            "sent": sent,
            "first_send_ns": first_send,
            "last_recv_ns": self.last_recv_ns,
            "lat_us": self.lat_us.tolist(),
            "cpu_s": (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system),
            "wall_s": time.monotonic() - wall0,
            "closed": sum(m.closed for m in self.members),
            "bytes_in": self.bytes_in,
            "reads": self.reads,
        }


class Commands:
    """JSON command lines from stdin, read raw so a blocking read and a polled one can share it."""

    def __init__(self) -> None:
        self.pending = bytearray()

    def _take(self) -> dict | None:
        cut = self.pending.find(b"\n")
        if cut < 0:
            return None
        line = bytes(self.pending[:cut]).strip()
        del self.pending[: cut + 1]
        return json.loads(line) if line else {"cmd": "noop"}

    def next(self) -> dict:
        """Block until the next command; EOF means quit."""
        while True:
            cmd = self._take()
            if cmd is not None:
                return cmd
            data = os.read(0, 65536)
            if not data:
                return {"cmd": "quit"}
            self.pending += data

    def poll(self) -> str:
        """The name of a command that is waiting, without blocking ("" if none)."""
        os.set_blocking(0, False)
        try:
            self.pending += os.read(0, 65536)
        except BlockingIOError:
            pass
        finally:
            os.set_blocking(0, True)
        cmd = self._take()
        return cmd["cmd"] if cmd else ""


def reply(message: dict) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def main() -> int:
    try:
        import resource

        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ImportError, ValueError, OSError):
        pass
    config = json.loads(sys.argv[1])
    gen = LoadGenerator(config)
    try:
        t = time.monotonic()
        gen.connect_all()
        reply({"event": "connected", "members": len(gen.members), "seconds": time.monotonic() - t})
        while True:
            cmd = gen.commands.next()
            if cmd["cmd"] == "settle":
                reply(gen.settle(cmd.get("quiet", 0.4), cmd.get("timeout", 60.0)))
            elif cmd["cmd"] == "run":
                reply(gen.run(cmd))
            elif cmd["cmd"] == "quit":
                break
    except Exception as exc:  # report to the driver instead of dying silently
        reply({"event": "error", "message": f"{type(exc).__name__}: {exc}"})
        return 1
    finally:
        for m in gen.members:
            gen.close_member(m)
    return 0


if __name__ == "__main__":
    sys.exit(main())
