"""The mmchat wire protocol: bytes in, typed events out, and back (sans-I/O).

How this works
--------------
A frame is an 8-byte prefix followed by a header and an optional body::

    header length (u32, big endian) | body length (u32, big endian) | header | body

The header is a UTF-8 JSON object whose "type" names one of the event classes
below; the body carries raw bytes (a QR code's PNG) and is empty otherwise.
File contents never travel in frames: a transfer runs on its own TCP
connection, which switches to raw bytes after its opening frames (see
docs/PROTOCOL.md).

This module does no I/O and starts no threads.  `FrameDecoder` buffers bytes
until a whole frame is there (one recv() is never one message) and refuses any
length over its `Limits` before buffering it.  `Connection` adds the
conversation rules: which side may send which event in which state, all in the
single `TRANSITIONS` table.  Two error kinds, as in h11: `ProtocolError` means
the peer misbehaved (tell it and hang up), `LocalProtocolError` means we tried
to send something invalid (a bug on our side).
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import json
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

PROTOCOL_VERSION = 2  # 2: an upload's SHA-256 follows its bytes (`end`) instead of coming first
DEFAULT_PORT = 12002

PREFIX = struct.Struct(">II")

MAX_NAME_CHARS = 32
MAX_TEXT_CHARS = 4000
MAX_FILENAME_BYTES = 255
MAX_COMMAND_CHARS = 1024
MAX_OUTPUT_CHARS = 256 * 1024
MAX_LIST_ITEMS = 10_000
MAX_FILE_LIST_ITEMS = 1_000  # so the largest possible file list still fits MEMBER_INBOUND
_DEFAULT_STR_CHARS = 4096


class ProtocolError(Exception):
    """The peer sent something that breaks the protocol."""


class LocalProtocolError(Exception):
    """We tried to send something the protocol does not allow (a bug here)."""


class _NeedData:
    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA: Any = _NeedData()


@dataclass(frozen=True)
class Limits:
    """Hard caps on the lengths read from the wire, per direction."""

    max_header: int
    max_body: int


# What the host accepts from members, and what members accept from the host.
HOST_INBOUND = Limits(max_header=64 * 1024, max_body=0)
MEMBER_INBOUND = Limits(max_header=4 * 1024 * 1024, max_body=1024 * 1024)


# --- events ------------------------------------------------------------------

_EVENT_TYPES: dict[str, type[Event]] = {}


@dataclass(frozen=True)
class Event:
    """Base class of every frame's typed form."""

    TYPE: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.TYPE:
            _EVENT_TYPES[cls.TYPE] = cls

    @property
    def body(self) -> bytes:
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
    """The member would like to share a file of `size` bytes; its SHA-256 follows the bytes (`TransferEnd`)."""

    TYPE: ClassVar[str] = "upload"
    filename: str
    size: int
    ref: int = 0


@dataclass(frozen=True)
class RequestDownload(Event):
    TYPE: ClassVar[str] = "download"
    filename: str
    ref: int = 0


@dataclass(frozen=True)
class Goodbye(Event):
    TYPE: ClassVar[str] = "bye"


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


@dataclass(frozen=True)
class ChatMessage(Event):
    TYPE: ClassVar[str] = "message"
    seq: int
    ts: float
    sender: str
    text: str
    history: bool = False


NOTICE_KINDS = ("join", "leave", "share", "kicked", "dropped", "shutdown")


@dataclass(frozen=True)
class Notice(Event):
    """Something that happened in the room: a join, a leave, a shared file..."""

    TYPE: ClassVar[str] = "notice"
    seq: int
    ts: float
    kind: str
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
    """The host agrees to a transfer; open a transfer connection with `token`."""

    TYPE: ClassVar[str] = "ready"
    token: str
    direction: str  # "upload" or "download"
    filename: str
    size: int = 0
    ref: int = 0


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
    TYPE: ClassVar[str] = "transfer"
    version: int
    token: str
    offset: int = 0


@dataclass(frozen=True)
class TransferStart(Event):
    """Raw bytes follow: the member's upload, or the host's download.

    `sha256` is the download's digest; an upload's is not known yet ("").
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


# --- names -------------------------------------------------------------------


def check_member_name(name: str) -> str:
    """Return `name` if it is an acceptable member name, else raise ValueError with a sentence."""
    if not name or not name.strip():
        raise ValueError("Please choose a name.")
    if name != name.strip():
        raise ValueError("A name may not start or end with a space.")
    if len(name) > MAX_NAME_CHARS:
        raise ValueError(f"A name may have at most {MAX_NAME_CHARS} characters.")
    # U+200D joins emoji such as 👩‍💻; every other invisible or control character is refused.
    if not name.replace("\u200d", "").isprintable():
        raise ValueError("A name may not contain control or invisible characters.")
    if any(ch in name for ch in "[]/\\"):
        raise ValueError("A name may not contain brackets or slashes.")
    if name.startswith("!"):
        raise ValueError("A name may not start with '!'.")
    return name


# --- field validation ----------------------------------------------------------

_STR_CAPS = {
    "member": MAX_NAME_CHARS,
    "sender": MAX_NAME_CHARS,
    "owner": MAX_NAME_CHARS,
    "text": MAX_TEXT_CHARS,
    "line": MAX_COMMAND_CHARS,
    "output": MAX_OUTPUT_CHARS,
    "code": 128,
    "token": 128,
    "password": 256,
    "kind": 16,
    "direction": 16,
}
_SHA256_RE = re.compile(r"[0-9a-f]{64}\Z")
_MAX_SIZE = 1 << 62


def _check_str(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ProtocolError(f"field {name!r} must be text")
    try:
        encoded = value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates from JSON escapes such as \ud800
        raise ProtocolError(f"field {name!r} is not valid Unicode text") from None
    if name == "filename":
        if len(encoded) > MAX_FILENAME_BYTES:
            raise ProtocolError(f"file name longer than {MAX_FILENAME_BYTES} bytes")
    elif name == "sha256":
        if not _SHA256_RE.match(value):
            raise ProtocolError("field 'sha256' must be 64 lowercase hex digits")
    elif len(value) > _STR_CAPS.get(name, _DEFAULT_STR_CHARS):
        raise ProtocolError(f"field {name!r} is longer than {_STR_CAPS.get(name, _DEFAULT_STR_CHARS)} characters")
    return value


def _check_int(name: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ProtocolError(f"field {name!r} must be a whole number")
    if not 0 <= value <= _MAX_SIZE:
        raise ProtocolError(f"field {name!r} is out of range")
    return value


def _check_float(name: str, value: Any) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise ProtocolError(f"field {name!r} must be a number")
    value = float(value)
    if value != value or value in (float("inf"), float("-inf")):
        raise ProtocolError(f"field {name!r} must be finite")
    return value


def _check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ProtocolError(f"field {name!r} must be true or false")
    return value


def _check_list(name: str, value: Any, cap: int = MAX_LIST_ITEMS) -> list[Any]:
    if not isinstance(value, list):
        raise ProtocolError(f"field {name!r} must be a list")
    if len(value) > cap:
        raise ProtocolError(f"field {name!r} has more than {cap} items")
    return value


def _decode_field(name: str, annotation: str, value: Any) -> Any:
    if annotation == "str":
        return _check_str(name, value)
    if annotation == "int":
        return _check_int(name, value)
    if annotation == "float":
        return _check_float(name, value)
    if annotation == "bool":
        return _check_bool(name, value)
    if annotation == "bytes":
        return value
    if annotation == "tuple[str, ...]":
        return tuple(_check_str("member", item) for item in _check_list(name, value))
    if annotation == "tuple[SharedFile, ...]":
        return tuple(_decode_shared_file(item) for item in _check_list(name, value, MAX_FILE_LIST_ITEMS))
    raise AssertionError(f"no decoder for {annotation}")


def _decode_shared_file(item: Any) -> SharedFile:
    if not isinstance(item, dict) or set(item) != {"filename", "size", "owner", "ts"}:
        raise ProtocolError("malformed entry in file list")
    return SharedFile(
        filename=_check_str("filename", item["filename"]),
        size=_check_int("size", item["size"]),
        owner=_check_str("owner", item["owner"]),
        ts=_check_float("ts", item["ts"]),
    )


@functools.cache
def _layout(cls: type[Event]) -> tuple[tuple[tuple[str, str, Any], ...], frozenset[str], bool]:
    """(header fields as (name, type, default), their names, takes a body) — worked out once per class."""
    fields = tuple((f.name, str(f.type), f.default) for f in dataclasses.fields(cls) if f.name != "png")
    takes_body = any(f.name == "png" for f in dataclasses.fields(cls))
    return fields, frozenset(name for name, _, _ in fields) | {"type"}, takes_body


def event_from_header(header: dict[str, Any], body: bytes = b"") -> Event:
    """Build the typed event for a decoded JSON header, validating every field."""
    kind = header.get("type")
    if kind == "say" and len(header) == 2 and "text" in header and not body:  # the host's hot path
        return Say(_check_str("text", header["text"]))
    cls = _EVENT_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ProtocolError(f"unknown message type {kind!r}")
    fields, names, takes_body = _layout(cls)
    if not names.issuperset(header):
        extra = set(header) - names
        raise ProtocolError(f"message {kind!r} has unknown field(s): {', '.join(sorted(extra))}")
    kwargs: dict[str, Any] = {}
    for name, annotation, default in fields:
        if name in header:
            value = header[name]
            # A text field's default "" is always valid (an upload's start has no sha256 yet).
            kwargs[name] = value if value == "" == default else _decode_field(name, annotation, value)
        elif default is dataclasses.MISSING:
            raise ProtocolError(f"message {kind!r} lacks field {name!r}")
    if takes_body:
        kwargs["png"] = body  # the PNG is the frame body, never a header field
    elif body:
        raise ProtocolError(f"message {kind!r} takes no body")
    return cls(**kwargs)


def _header_of(event: Event) -> dict[str, Any]:
    header: dict[str, Any] = {"type": event.TYPE}
    for name, _, default in _layout(type(event))[0]:
        value = getattr(event, name)
        if value == default:
            continue  # defaults stay off the wire: smaller frames
        if isinstance(value, tuple):
            value = [dataclasses.asdict(v) if dataclasses.is_dataclass(v) else v for v in value]
        header[name] = value
    return header


def encode(event: Event) -> bytes:
    """Serialize one event into one complete frame."""
    try:
        # Validate on the way out too, so a bug here never reaches the wire.
        event_from_header(json.loads(json.dumps(_header_of(event))), event.body)
    except (ProtocolError, TypeError, ValueError) as exc:
        raise LocalProtocolError(f"refusing to send invalid {event.TYPE!r}: {exc}") from None
    header = json.dumps(_header_of(event), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    body = event.body
    return PREFIX.pack(len(header), len(body)) + header + body


def encode_trusted(event: Event) -> bytes:
    """Serialize an event built by the host from already-validated values (hot path)."""
    if type(event) is ChatMessage and not event.history:
        return encode_chat_message(event.seq, event.ts, event.sender, event.text)
    header = json.dumps(_header_of(event), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    body = event.body
    return PREFIX.pack(len(header), len(body)) + header + body


def encode_chat_message(seq: int, ts: float, sender: str, text: str) -> bytes:
    """The frame of a live ChatMessage, the event every member gets most of (host's hot path): byte for
    byte what `encode_trusted` makes of it, built without the dataclass, the field loop and json.dumps."""
    data = (_CHAT_HEADER % (seq, float.__repr__(ts), _json_str(sender), _json_str(text))).encode("utf-8")
    return PREFIX.pack(len(data), 0) + data


_JSON_SPACE = " \t\n\r"
_scan_json = json.JSONDecoder().scan_once
_CHAT_HEADER = '{"type":"message","seq":%d,"ts":%s,"sender":%s,"text":%s}'
_json_str = json.encoder.encode_basestring  # the C string escaper json.dumps(ensure_ascii=False) uses


# --- framing -------------------------------------------------------------------


class FrameDecoder:
    """Buffers bytes and yields complete frames as events, enforcing `Limits`."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._buf = bytearray()
        self._pos = 0

    def receive_data(self, data: bytes) -> None:
        """Add bytes read from the peer."""
        if self._pos and self._pos >= len(self._buf) // 2:
            del self._buf[: self._pos]
            self._pos = 0
        self._buf += data

    @property
    def buffered(self) -> int:
        """How many received bytes are not yet consumed."""
        return len(self._buf) - self._pos

    def next_event(self) -> Event:
        """Return the next complete event, or NEED_DATA; raise ProtocolError on bad input."""
        buf, pos = self._buf, self._pos
        if len(buf) - pos < PREFIX.size:
            return NEED_DATA
        header_len, body_len = PREFIX.unpack_from(buf, pos)
        if header_len == 0 or header_len > self.limits.max_header:
            raise ProtocolError(f"frame header of {header_len} bytes (limit {self.limits.max_header})")
        if body_len > self.limits.max_body:
            raise ProtocolError(f"frame body of {body_len} bytes (limit {self.limits.max_body})")
        end = pos + PREFIX.size + header_len + body_len
        if len(buf) < end:
            return NEED_DATA
        start = pos + PREFIX.size
        body = bytes(buf[start + header_len : end]) if body_len else b""
        self._pos = end
        try:
            text = buf[start : start + header_len].decode("utf-8").strip(_JSON_SPACE)
            header, parsed = _scan_json(text, 0)  # what json.loads does, minus two layers of Python
            if parsed != len(text):
                raise ValueError("extra data after the JSON value")
        except (UnicodeDecodeError, ValueError, StopIteration):
            raise ProtocolError("frame header is not valid UTF-8 JSON") from None
        except RecursionError:  # "[[[[..." nests deeper than the parser can go
            raise ProtocolError("frame header is nested too deeply") from None
        if not isinstance(header, dict):
            raise ProtocolError("frame header is not a JSON object")
        return event_from_header(header, body)

    def take_buffered(self) -> bytes:
        """Hand over the bytes received past the last frame (raw transfer data)."""
        rest = bytes(self._buf[self._pos :])
        self._buf.clear()
        self._pos = 0
        return rest


# --- conversation rules --------------------------------------------------------


class Role(enum.Enum):
    MEMBER = "member"
    HOST = "host"

    __hash__ = object.__hash__  # members are singletons; Enum's own hash runs Python code on every frame


class State(enum.Enum):
    OPENING = "opening"  # nothing said yet
    GREETED = "greeted"  # member sent Hello, waiting for Welcome / Refused
    CHATTING = "chatting"
    TRANSFER_ASKED = "transfer asked"  # member sent TransferHello
    TRANSFER = "transfer"  # TransferStart sent: raw bytes flow now
    VERIFYING = "verifying"  # the member sent an upload's last byte and its TransferEnd
    CLOSED = "closed"

    __hash__ = object.__hash__  # see Role


_MEMBER_REQUESTS = (Say, ListOnline, ListFiles, RunCommand, RequestQR, VerifyCode, OfferUpload, RequestDownload)
_HOST_REPLIES = (ChatMessage, Notice, OnlineList, FileList, CommandResult, QRImage, VerifyResult, TransferReady)

# (state, who sends, event type) -> next state.  Anything missing is an error.
TRANSITIONS: dict[tuple[State, Role, type[Event]], State] = {
    (State.OPENING, Role.MEMBER, Hello): State.GREETED,
    (State.OPENING, Role.MEMBER, TransferHello): State.TRANSFER_ASKED,
    (State.GREETED, Role.HOST, Welcome): State.CHATTING,
    (State.GREETED, Role.HOST, Refused): State.CLOSED,
    (State.GREETED, Role.HOST, ErrorReply): State.CLOSED,
    (State.TRANSFER_ASKED, Role.HOST, TransferStart): State.TRANSFER,
    (State.TRANSFER_ASKED, Role.HOST, ErrorReply): State.CLOSED,
    (State.TRANSFER, Role.MEMBER, TransferEnd): State.VERIFYING,
    (State.TRANSFER, Role.HOST, ErrorReply): State.CLOSED,
    (State.VERIFYING, Role.HOST, TransferDone): State.CLOSED,
    (State.VERIFYING, Role.HOST, ErrorReply): State.CLOSED,
    (State.CHATTING, Role.MEMBER, Goodbye): State.CLOSED,
    (State.CHATTING, Role.HOST, ErrorReply): State.CHATTING,  # fatal ones close below
    **{(State.CHATTING, Role.MEMBER, cls): State.CHATTING for cls in _MEMBER_REQUESTS},
    **{(State.CHATTING, Role.HOST, cls): State.CHATTING for cls in _HOST_REPLIES},
}


class Connection:
    """One side of one mmchat connection: encodes, decodes and checks the rules."""

    def __init__(self, our_role: Role, limits: Limits | None = None) -> None:
        self.our_role = our_role
        self.their_role = Role.HOST if our_role is Role.MEMBER else Role.MEMBER
        if limits is None:
            limits = HOST_INBOUND if our_role is Role.HOST else MEMBER_INBOUND
        self.state = State.OPENING
        self._decoder = FrameDecoder(limits)
        self._raw_body = True  # host side, in TRANSFER: the member's bytes are the file, not frames

    def _advance(self, role: Role, event: Event) -> None:
        key = (self.state, role, type(event))
        if key not in TRANSITIONS:
            raise (LocalProtocolError if role is self.our_role else ProtocolError)(
                f"{role.value} may not send {event.TYPE!r} while {self.state.value}"
            )
        self.state = TRANSITIONS[key]
        if isinstance(event, ErrorReply) and event.fatal:
            self.state = State.CLOSED

    def send(self, event: Event) -> bytes:
        """Check that we may send `event` now and return its frame."""
        self._advance(self.our_role, event)
        return encode(event)

    def receive_data(self, data: bytes) -> None:
        """Feed bytes read from the peer."""
        self._decoder.receive_data(data)

    def next_event(self) -> Event:
        """The peer's next event, or NEED_DATA.  Raises ProtocolError."""
        if self.state is State.CLOSED or (
            self.state is State.TRANSFER and self.their_role is Role.MEMBER and self._raw_body
        ):
            return NEED_DATA  # raw bytes, or nothing that matters, from here on
        event = self._decoder.next_event()
        if event is not NEED_DATA:
            self._advance(self.their_role, event)
        return event

    def events(self) -> Iterator[Event]:
        """Every complete event buffered so far."""
        while True:
            event = self.next_event()
            if event is NEED_DATA:
                return
            yield event

    def end_of_body(self, rest: bytes = b"") -> None:
        """Host side: an upload's raw bytes are all in; frames again from here (`rest` came after them)."""
        if self.state is not State.TRANSFER or self.their_role is not Role.MEMBER:
            raise LocalProtocolError(f"end_of_body() while {self.state.value}")
        self._raw_body = False
        self._decoder.receive_data(rest)

    def take_buffered(self) -> bytes:
        """Raw bytes that arrived after the last frame (start of a transfer body)."""
        return self._decoder.take_buffered()
