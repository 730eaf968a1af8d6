"""What the room asks the loop to do: the actions and jobs that `Room` returns (see room.py)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .hostlog import LogEvent
from .protocol import Event
from .storage import HistoryEntry

ConnectionId = int


class CloseReason(enum.StrEnum):
    """Why a connection ended, as the loop reports it to the room."""

    LEFT = "left"  # said goodbye
    LOST = "lost"  # the connection broke
    DROPPED = "dropped"  # stopped reading: its outbox overflowed
    KICKED = "kicked"
    TIMED_OUT = "timed out"  # answered no ping (liveness.py)
    NO_GREETING = "no greeting"
    REFUSED = "refused"
    PROTOCOL_ERROR = "protocol error"
    SHUTDOWN = "shutdown"
    TRANSFER = "transfer"  # handed over to a transfer thread: not a member, nothing to say


# --- actions -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Send:
    """Queue `frame` for one connection, after the broadcasts it has not been given yet."""

    to: ConnectionId
    frame: bytes


@dataclass(frozen=True, slots=True)
class Reply:
    """Send `event` through the connection's protocol state machine."""

    to: ConnectionId
    event: Event


@dataclass(frozen=True, slots=True)
class Broadcast:
    """Give `frame` to every member."""

    frame: bytes


@dataclass(frozen=True, slots=True)
class Record:
    """Keep `entry` in the history on disk."""

    entry: HistoryEntry


@dataclass(frozen=True, slots=True)
class Joined:
    """The connection is a member called `name` from now on."""

    to: ConnectionId
    name: str


@dataclass(frozen=True, slots=True)
class HangUp:
    """Close the connection once what is queued for it has been sent."""

    to: ConnectionId
    reason: CloseReason


@dataclass(frozen=True, slots=True)
class Close:
    """Close the connection now."""

    to: ConnectionId
    reason: CloseReason


@dataclass(frozen=True, slots=True)
class Pause:
    """Read nothing more from the connection until monotonic time `until` (it is over budget)."""

    to: ConnectionId
    until: float


@dataclass(frozen=True, slots=True)
class Log:
    """Tell the admin window and the terminal."""

    event: LogEvent


@dataclass(frozen=True, slots=True)
class CommandJob:
    """Run a `!cmd` line in the member's folder; the outcome comes back to `command_finished`."""

    to: ConnectionId
    ref: int
    line: str
    cwd: str
    command_id: int


@dataclass(frozen=True, slots=True)
class FileListJob:
    """Send the shared-file list (it reads the disk)."""

    to: ConnectionId
    ref: int


@dataclass(frozen=True, slots=True)
class QRJob:
    """Draw `code` as a QR picture and send it."""

    to: ConnectionId
    ref: int
    code: str
    expires_in: int


Job = CommandJob | FileListJob | QRJob


@dataclass(frozen=True, slots=True)
class Run:
    """Give `job` to a worker thread."""

    job: Job


Action = Send | Reply | Broadcast | Record | Joined | HangUp | Close | Pause | Log | Run
