"""The events of the mmchat protocol: one frozen dataclass per frame type, and the kinds they name.

Each class's `TYPE` is the frame's "type" on the wire; defining a subclass
with a `TYPE` registers it, so decoding finds the class by that name.  The
fields, their types and their defaults are the frame's header fields (see
`fields.py` for how each one is checked); only `QRImage.png` travels as the
frame body instead.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, ClassVar

EVENT_TYPES: dict[str, type[Event]] = {}  # wire "type" -> class, filled in by Event.__init_subclass__


class NoticeKind(enum.StrEnum):
    """What a `Notice` says happened in the room (equal to its wire string: NoticeKind.JOIN == "join")."""

    JOIN = "join"
    LEAVE = "leave"  # said goodbye, or closed the connection
    DROPPED = "dropped"  # the host dropped a member who stopped reading or answering
    KICKED = "kicked"  # the host's operator removed a member
    TIMED_OUT = "timed out"  # the host heard nothing from a member, not even an answer to its pings
    SHARE = "share"  # a member's upload is in the catalogue now
    SHUTDOWN = "shutdown"  # the host is stopping


class RefusalKind(enum.StrEnum):
    """Why the host refused a `hello`, so a member's front end can act on it (ask for a password, say so)."""

    OTHER = ""  # the reason says it all (a bad name, another version): left off, so any version reads it
    PASSWORD_NEEDED = "password"  # the chat has a password and none was sent
    WRONG_PASSWORD = "wrong password"
    BANNED = "banned"


class Direction(enum.StrEnum):
    """Which way a transfer's bytes flow, seen from the member."""

    UPLOAD = "upload"
    DOWNLOAD = "download"


@dataclass(frozen=True)
class Event:
    """Base class of every frame's typed form."""

    TYPE: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.TYPE:
            EVENT_TYPES[cls.TYPE] = cls

    @property
    def body(self) -> bytes:
        """The frame body: empty but for a QR image's PNG."""
        return b""


# Member -> host, on a chat connection.


@dataclass(frozen=True)
class Hello(Event):
    TYPE: ClassVar[str] = "hello"
    version: int
    member: str
    password: str = ""


@dataclass(frozen=True)
class Say(Event):
    TYPE: ClassVar[str] = "say"
    text: str


@dataclass(frozen=True)
class ListOnline(Event):
    TYPE: ClassVar[str] = "online"
    ref: int = 0


@dataclass(frozen=True)
class ListFiles(Event):
    TYPE: ClassVar[str] = "files"
    ref: int = 0


@dataclass(frozen=True)
class RunCommand(Event):
    TYPE: ClassVar[str] = "cmd"
    line: str
    ref: int = 0


@dataclass(frozen=True)
class RequestQR(Event):
    TYPE: ClassVar[str] = "qr"
    ref: int = 0


@dataclass(frozen=True)
class VerifyCode(Event):
    TYPE: ClassVar[str] = "verify"
    code: str
    ref: int = 0


@dataclass(frozen=True)
class OfferUpload(Event):
    """The member would like to share a file of `size` bytes; its SHA-256 follows the bytes (`TransferEnd`).

    `sha256` is the whole file's, when the member knows it already (it is
    resuming an upload that was cut short): the host then answers with the
    `offset` of the bytes it kept.
    """

    TYPE: ClassVar[str] = "upload"
    filename: str
    size: int
    ref: int = 0
    sha256: str = ""


@dataclass(frozen=True)
class RequestDownload(Event):
    TYPE: ClassVar[str] = "download"
    filename: str
    ref: int = 0


@dataclass(frozen=True)
class Goodbye(Event):
    TYPE: ClassVar[str] = "bye"


# Either way, on a chat connection: keep-alive.


@dataclass(frozen=True)
class Ping(Event):
    """Are you there?  Sent by a side that has heard nothing for a while; the other answers Pong."""

    TYPE: ClassVar[str] = "ping"


@dataclass(frozen=True)
class Pong(Event):
    """The answer to a Ping (any byte counts as a sign of life; this is the cheapest one)."""

    TYPE: ClassVar[str] = "pong"


# Host -> member, on a chat connection.


@dataclass(frozen=True)
class Welcome(Event):
    TYPE: ClassVar[str] = "welcome"
    version: int
    member: str
    renamed: bool = False
    host: str = ""


@dataclass(frozen=True)
class Refused(Event):
    TYPE: ClassVar[str] = "refused"
    reason: str
    kind: RefusalKind = RefusalKind.OTHER


@dataclass(frozen=True)
class ChatMessage(Event):
    TYPE: ClassVar[str] = "message"
    seq: int
    ts: float
    sender: str
    text: str
    history: bool = False


@dataclass(frozen=True)
class Notice(Event):
    """Something that happened in the room: a join, a leave, a shared file..."""

    TYPE: ClassVar[str] = "notice"
    seq: int
    ts: float
    kind: NoticeKind
    member: str = ""
    filename: str = ""
    size: int = 0
    history: bool = False


@dataclass(frozen=True)
class OnlineList(Event):
    TYPE: ClassVar[str] = "online_list"
    members: tuple[str, ...]
    ref: int = 0


@dataclass(frozen=True)
class SharedFile:
    """One entry of the host's shared-file catalogue."""

    filename: str
    size: int
    owner: str
    ts: float


@dataclass(frozen=True)
class FileList(Event):
    TYPE: ClassVar[str] = "file_list"
    files: tuple[SharedFile, ...]
    ref: int = 0


@dataclass(frozen=True)
class CommandResult(Event):
    TYPE: ClassVar[str] = "cmd_result"
    line: str
    output: str
    allowed: bool
    ref: int = 0


@dataclass(frozen=True)
class QRImage(Event):
    """A one-time code and its QR rendering; the PNG travels as the frame body."""

    TYPE: ClassVar[str] = "qr_image"
    code: str
    expires_in: int
    png: bytes = field(default=b"", repr=False)
    ref: int = 0

    @property
    def body(self) -> bytes:
        """The PNG."""
        return self.png


@dataclass(frozen=True)
class VerifyResult(Event):
    TYPE: ClassVar[str] = "verify_result"
    code: str
    valid: bool
    owner: str = ""
    ref: int = 0


@dataclass(frozen=True)
class TransferReady(Event):
    """The host agrees to a transfer; open a transfer connection with `token`.

    `offset`: for an upload, how many bytes of this very file the host kept
    from an earlier try (the member may send from there).
    """

    TYPE: ClassVar[str] = "ready"
    token: str
    direction: Direction
    filename: str
    size: int = 0
    ref: int = 0
    offset: int = 0


@dataclass(frozen=True)
class ErrorReply(Event):
    """A request failed (`ref` names it), or with `fatal` the connection ends."""

    TYPE: ClassVar[str] = "error"
    message: str
    ref: int = 0
    fatal: bool = False


# Transfer connection.


@dataclass(frozen=True)
class TransferHello(Event):
    """Opens a transfer connection; `offset`: the first byte the member wants moved (0 = the whole file)."""

    TYPE: ClassVar[str] = "transfer"
    version: int
    token: str
    offset: int = 0


@dataclass(frozen=True)
class TransferStart(Event):
    """Raw bytes follow: the member's upload, or the host's download.

    `sha256` is the download's digest (of the whole file); an upload's is not
    known yet ("").  `offset` repeats the transfer's first byte: the raw bytes
    that follow are bytes offset..size.
    """

    TYPE: ClassVar[str] = "start"
    filename: str
    size: int
    sha256: str = ""
    offset: int = 0


@dataclass(frozen=True)
class TransferEnd(Event):
    """After an upload's raw bytes: the SHA-256 the member computed while sending them."""

    TYPE: ClassVar[str] = "end"
    sha256: str


@dataclass(frozen=True)
class TransferDone(Event):
    TYPE: ClassVar[str] = "done"
    filename: str
    size: int
    sha256: str
