"""The host's log as structured events: a kind and its fields, worded only by `describe`.

How this works
--------------
The rules (`room.py`), the loop (`server.py`) and the transfer threads
(`host_transfers.py`) say what happened as a `LogEvent`: a `LogKind` plus the
fields that kind uses (member, address, command line, reason, file, size …).
Front ends read the fields: the admin window pairs a refused command with its
row by `command_id`, never by matching sentences.  `describe(event)` is the
one place that turns an event into the sentence a person reads (the headless
host prints it; the admin window's event log shows it), so rewording a line
never breaks a window.
"""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from .files import human_size


class LogKind(enum.StrEnum):
    """What a log event reports."""

    LISTEN = "listen"  # address
    JOIN = "join"  # member, address (renamed: the name asked for is in `line`)
    JOIN_REFUSED = "join-refused"  # address, reason
    LEAVE = "leave"  # member, address, reason
    COUNT = "count"  # count
    COMMAND = "command"  # member, line, command_id
    COMMAND_REFUSED = "command-refused"  # member, line, command_id, reason
    UPLOAD_REFUSED = "upload-refused"  # member, filename, reason
    UPLOAD_STARTED = "upload-started"  # member, filename, size, count (the bytes kept from a try cut short)
    UPLOAD_DONE = "upload-done"  # member, filename, size
    DOWNLOAD_DONE = "download-done"  # member, filename, size
    TRANSFER_FAILED = "transfer-failed"  # member, address, filename, line (direction), reason
    DROPPED = "dropped"  # member or address, reason
    KICKED = "kicked"  # member, address
    BANNED = "banned"  # member (maybe none), address (the host part): its members were dropped
    UNBANNED = "unbanned"  # address
    GUESSING = "guessing"  # address, count, seconds, reason (what was refused): its tries are slowed now
    BANS_UNREADABLE = "bans-unreadable"  # filename (where the damaged list was put aside), reason
    PROTOCOL_ERROR = "protocol-error"  # member, address, reason
    TLS_FAILED = "tls-failed"  # address, reason: refused before TLS (or its absence) let it speak
    ACCEPT_FAILED = "accept-failed"  # reason
    REQUEST_FAILED = "request-failed"  # member, reason
    QR_ISSUED = "qr-issued"  # member
    CODE_VERIFIED = "code-verified"  # member, line (the owner, empty when invalid)
    ERROR = "error"  # member, reason: a bug of ours, not the member's
    HISTORY_FAILED = "history-failed"  # reason, count (entries lost, when the host stopped first)
    HISTORY_SAVED = "history-saved"  # count (entries lost while the disk refused them)
    STOPPING = "stopping"
    STOPPED = "stopped"


# The kinds a person would call trouble: the admin window and --headless mark them.
PROBLEM_KINDS = frozenset(
    {
        LogKind.JOIN_REFUSED,
        LogKind.COMMAND_REFUSED,
        LogKind.UPLOAD_REFUSED,
        LogKind.TRANSFER_FAILED,
        LogKind.DROPPED,
        LogKind.PROTOCOL_ERROR,
        LogKind.TLS_FAILED,
        LogKind.ACCEPT_FAILED,
        LogKind.REQUEST_FAILED,
        LogKind.ERROR,
        LogKind.HISTORY_FAILED,
        LogKind.GUESSING,
        LogKind.BANS_UNREADABLE,
    }
)
# The kinds that change who is connected (the admin window refreshes its member list).
MEMBERSHIP_KINDS = frozenset({LogKind.JOIN, LogKind.LEAVE, LogKind.KICKED, LogKind.DROPPED, LogKind.BANNED})


@dataclass(frozen=True, slots=True)
class LogEvent:
    """One thing the host did or refused, with the fields its kind uses."""

    ts: float
    kind: LogKind
    member: str = ""
    address: str = ""
    line: str = ""
    reason: str = ""
    filename: str = ""
    size: int = 0
    count: int = 0
    command_id: int = 0
    seconds: float = 0.0

    @property
    def text(self) -> str:
        """The sentence a person reads for this event."""
        return describe(self)


class LogBus:
    """Hands every log event to the subscribed readers, from whichever host thread logs it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._readers: tuple[Callable[[LogEvent], None], ...] = ()

    def subscribe(self, reader: Callable[[LogEvent], None]) -> None:
        """Call `reader(event)` for every event from now on (on the host's threads: keep it quick)."""
        with self._lock:
            self._readers = (*self._readers, reader)

    def unsubscribe(self, reader: Callable[[LogEvent], None]) -> None:
        """Stop calling `reader` (a closed window, say); unknown readers are ignored."""
        with self._lock:
            self._readers = tuple(r for r in self._readers if r != reader)

    def __contains__(self, reader: object) -> bool:
        return reader in self._readers

    def publish(self, event: LogEvent) -> None:
        """Give `event` to every reader; a reader that raises does not stop the others or the host."""
        for reader in self._readers:
            try:
                reader(event)
            except Exception:  # a broken log reader must not take the host down
                pass


def describe(event: LogEvent) -> str:
    """The sentence for `event`, as the headless host prints it."""
    k, who, size = event.kind, event.member or event.address, human_size(event.size)
    if k is LogKind.LISTEN:
        return f"Server listening at {event.address}"
    if k is LogKind.JOIN:
        renamed = f", asked for {event.line!r}" if event.line else ""
        return f"New connection: {event.member} ({event.address}{renamed})"
    if k is LogKind.JOIN_REFUSED:
        return f"Refused {event.address}: {event.reason}"
    if k is LogKind.LEAVE:
        return f"{event.member} left the chat ({event.address})"
    if k is LogKind.COUNT:
        return f"Active connections: {event.count} ({time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(event.ts))})"
    if k is LogKind.COMMAND:
        return f"Command to execute: {event.line} ({event.member})"
    if k is LogKind.COMMAND_REFUSED:
        return f"Refused command from {event.member}: {event.line} ({event.reason})"
    if k is LogKind.UPLOAD_REFUSED:
        return f"Refused upload from {event.member}: {event.reason}"
    if k is LogKind.UPLOAD_STARTED:
        resumed = f", resuming after {human_size(event.count)}" if event.count else ""
        return f"Receiving {event.filename} ({size}) from {event.member}{resumed}"
    if k is LogKind.UPLOAD_DONE:
        return f"File received: {event.filename} ({size}) from {event.member}"
    if k is LogKind.DOWNLOAD_DONE:
        return f"File sent: {event.filename} ({size}) to {event.member}"
    if k is LogKind.TRANSFER_FAILED:
        what = event.line.capitalize() or "Transfer"
        return f"{what} of {event.filename} ({event.member}, {event.address}) failed: {event.reason}"
    if k is LogKind.DROPPED:
        return f"Dropped {who}: {event.reason}"
    if k is LogKind.KICKED:
        return f"Kicked {event.member} ({event.address})"
    if k is LogKind.BANNED:
        return f"Banned {event.address}" + (f" and dropped {event.member}" if event.member else "")
    if k is LogKind.UNBANNED:
        return f"Lifted the ban on {event.address}"
    if k is LogKind.GUESSING:
        where = f"from {event.address} in {event.seconds:.0f} s"
        return f"Too many refused tries: {event.count} {event.reason} {where}; its tries are slowed"
    if k is LogKind.BANS_UNREADABLE:
        return f"The ban list could not be read ({event.reason}); it was kept as {event.filename} and no one is banned"
    if k is LogKind.PROTOCOL_ERROR:
        return f"Protocol error from {who}: {event.reason}; connection closed"
    if k is LogKind.TLS_FAILED:
        return f"Closed {event.address}: {event.reason}"
    if k is LogKind.ACCEPT_FAILED:
        return f"Cannot accept a connection: {event.reason}"
    if k is LogKind.REQUEST_FAILED:
        return f"Request from {event.member} failed: {event.reason}"
    if k is LogKind.QR_ISSUED:
        return f"QR code issued to {event.member}"
    if k is LogKind.CODE_VERIFIED:
        verdict = f"valid, issued to {event.line}" if event.line else "invalid"
        return f"{event.member} verified a code: {verdict}"
    if k is LogKind.ERROR:
        return f"Internal error ({who or 'host'}): {event.reason}"
    if k is LogKind.HISTORY_FAILED:
        lost = f"; {event.count} entries lost" if event.count else ""
        return f"Chat history is not being saved: {event.reason}{lost}"
    if k is LogKind.HISTORY_SAVED:
        return f"Chat history is being saved again ({event.count} entries lost)"
    if k is LogKind.STOPPING:
        return "Server stopping: members are being told"
    return "Server stopped"
