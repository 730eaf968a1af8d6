"""The deliberately naive baseline: one thread per client, newline framing, sendall to everyone under one lock.

This is the kind of server the original design describes, kept as a reference
point for the benchmark, not as an example.  A client sends "NAME <name>" and
is answered "WELCOME <name>"; every later line is relayed as "[name] line" to
every client, the sender included (as the mmchat host echoes a message to its
sender), by one `sendall` per client while holding the broadcast lock.  So one
slow client stalls everybody, and every connection costs a thread.  Like most
naive servers it leaves Nagle's algorithm on (the kernel then coalesces its
small writes, which is what makes it reach ~0.37 M deliveries/s here at all);
--nodelay sets TCP_NODELAY instead, which cuts its burst rate to about a third.

Run: python bench/naive_server.py --port 0   (prints "Naive server listening at 127.0.0.1:PORT")
"""

from __future__ import annotations

import argparse
import resource
import signal
import socket
import sys
import threading

clients: list[socket.socket] = []
lock = threading.Lock()


def broadcast(line: bytes) -> None:
    with lock:
        for sock in list(clients):
            try:
                sock.sendall(line)
            except OSError:
                clients.remove(sock)


def serve(sock: socket.socket) -> None:
    reader = sock.makefile("rb")
    try:
        first = reader.readline()
        if not first.startswith(b"NAME "):
            return
        name = first[5:].strip()
        sock.sendall(b"WELCOME " + name + b"\n")
        with lock:
            clients.append(sock)
        for line in reader:
            broadcast(b"[" + name + b"] " + line)
    except OSError:
        pass
    finally:
        with lock:
            if sock in clients:
                clients.remove(sock)
        sock.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--nodelay", action="store_true", help="set TCP_NODELAY on every client socket")
    args = parser.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", args.port))
    listener.listen(512)
    print(f"Naive server listening at 127.0.0.1:{listener.getsockname()[1]}", flush=True)
    while True:
        sock, _ = listener.accept()
        if args.nodelay:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=serve, args=(sock,), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
