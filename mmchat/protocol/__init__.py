"""The mmchat wire protocol: bytes in, typed events out, and back (sans-I/O).

How this works
--------------
A frame is an 8-byte prefix (header length, body length) followed by a
UTF-8 JSON header whose "type" names one of the event classes, and an
optional body of raw bytes (a QR code's PNG).  File contents never travel in
frames: a transfer runs on its own TCP connection, which switches to raw
bytes after its opening frames (see docs/PROTOCOL.md).

The package does no I/O and starts no threads.  Its modules, each with one job
and each importing only the ones above it:

* `errors`: the two error kinds, as in h11.  `ProtocolError` means the peer
  misbehaved (tell it and hang up), `LocalProtocolError` means we tried to
  send something invalid (a bug on our side).
* `events`: one frozen dataclass per frame type, and the enums they carry
  (`NoticeKind`, `Direction`, `RefusalKind`).
* `fields`: the caps on every value from the wire, one check per field type,
  and the conversion between a JSON header and its event.
* `framing`: `encode` (one way to build a frame, plus the chat message's
  direct path) and `FrameDecoder`, which buffers bytes until a whole frame is
  there (one recv() is never one message) and refuses any length over its
  `Limits` before buffering it.
* `state`: `Role`, `State` and the single `TRANSITIONS` table: which side may
  send which event in which state.
* `connection`: `Connection`, one side of one connection, which runs every
  event it sends or receives through the table.

Everything a caller needs is imported here: `from mmchat.protocol import Say`.
"""

from .connection import Connection
from .errors import LocalProtocolError, ProtocolError
from .events import (
    ChatMessage,
    CommandResult,
    Direction,
    ErrorReply,
    Event,
    FileList,
    Goodbye,
    Hello,
    ListFiles,
    ListOnline,
    Notice,
    NoticeKind,
    OfferUpload,
    OnlineList,
    Ping,
    Pong,
    QRImage,
    RefusalKind,
    Refused,
    RequestDownload,
    RequestQR,
    RunCommand,
    Say,
    SharedFile,
    TransferDone,
    TransferEnd,
    TransferHello,
    TransferReady,
    TransferStart,
    VerifyCode,
    VerifyResult,
    Welcome,
)
from .fields import (
    DEFAULT_PORT,
    MAX_COMMAND_CHARS,
    MAX_FILE_LIST_ITEMS,
    MAX_FILENAME_BYTES,
    MAX_LIST_ITEMS,
    MAX_NAME_CHARS,
    MAX_OUTPUT_CHARS,
    MAX_PASSWORD_CHARS,
    MAX_TEXT_CHARS,
    PROTOCOL_VERSION,
    check_member_name,
    event_from_header,
)
from .framing import (
    HOST_INBOUND,
    MEMBER_INBOUND,
    NEED_DATA,
    PREFIX,
    FrameDecoder,
    Limits,
    NeedData,
    encode,
    encode_chat_message,
    encode_trusted,
)
from .state import TRANSITIONS, Role, State

__all__ = [
    "DEFAULT_PORT",
    "HOST_INBOUND",
    "MAX_COMMAND_CHARS",
    "MAX_FILENAME_BYTES",
    "MAX_FILE_LIST_ITEMS",
    "MAX_LIST_ITEMS",
    "MAX_NAME_CHARS",
    "MAX_OUTPUT_CHARS",
    "MAX_PASSWORD_CHARS",
    "MAX_TEXT_CHARS",
    "MEMBER_INBOUND",
    "NEED_DATA",
    "PREFIX",
    "PROTOCOL_VERSION",
    "TRANSITIONS",
    "ChatMessage",
    "CommandResult",
    "Connection",
    "Direction",
    "ErrorReply",
    "Event",
    "FileList",
    "FrameDecoder",
    "Goodbye",
    "Hello",
    "Limits",
    "ListFiles",
    "ListOnline",
    "LocalProtocolError",
    "NeedData",
    "Notice",
    "NoticeKind",
    "OfferUpload",
    "OnlineList",
    "Ping",
    "Pong",
    "ProtocolError",
    "QRImage",
    "RefusalKind",
    "Refused",
    "RequestDownload",
    "RequestQR",
    "Role",
    "RunCommand",
    "Say",
    "SharedFile",
    "State",
    "TransferDone",
    "TransferEnd",
    "TransferHello",
    "TransferReady",
    "TransferStart",
    "VerifyCode",
    "VerifyResult",
    "Welcome",
    "check_member_name",
    "encode",
    "encode_chat_message",
    "encode_trusted",
    "event_from_header",
]
