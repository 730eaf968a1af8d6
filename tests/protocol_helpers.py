"""What the protocol tests share: sample events of every type, and frames built by hand."""

from __future__ import annotations

import hashlib
import json

import pytest
from hypothesis import strategies as st

from mmchat.protocol import (
    NEED_DATA,
    PREFIX,
    ChatMessage,
    CommandResult,
    Direction,
    ErrorReply,
    Event,
    FileList,
    FrameDecoder,
    Goodbye,
    Hello,
    Limits,
    ListFiles,
    ListOnline,
    Notice,
    NoticeKind,
    OfferUpload,
    OnlineList,
    Ping,
    Pong,
    ProtocolError,
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

BIG = Limits(max_header=64 * 1024 * 1024, max_body=64 * 1024 * 1024)


SHA = hashlib.sha256(b"hello").hexdigest()


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00" + bytes(range(256)) + b"\x00"


EMOJI_NAME = "Zoë 😎"


EMOJI_TEXT = "héllo 😎 日本語"


SAMPLES: dict[type[Event], list[Event]] = {
    Hello: [Hello(1, "Ada"), Hello(version=1, member=EMOJI_NAME, password="pässwörd 🔑")],
    Say: [Say(EMOJI_TEXT), Say('tab\t newline\n "quotes" \\ backslash \x00 nul \u2028')],
    ListOnline: [ListOnline(), ListOnline(ref=7)],
    ListFiles: [ListFiles(), ListFiles(ref=8)],
    RunCommand: [RunCommand("ls"), RunCommand(line="cat 'résumé 😎.txt'", ref=9)],
    RequestQR: [RequestQR(), RequestQR(ref=10)],
    VerifyCode: [VerifyCode("MMC-ABCDEFGHJK"), VerifyCode(code="MMC-ABCDEFGHJK", ref=11)],
    OfferUpload: [
        OfferUpload("notes.pdf", 0),
        OfferUpload(filename="日本語 😎.txt", size=2**40, ref=12),
    ],
    RequestDownload: [RequestDownload("notes.pdf"), RequestDownload(filename="résumé.txt", ref=13)],
    Goodbye: [Goodbye()],
    Ping: [Ping()],
    Pong: [Pong()],
    Welcome: [Welcome(1, "Ada"), Welcome(version=1, member="Ada-2", renamed=True, host="Büro 🖥")],
    Refused: [Refused("A name may not start with '!'."), Refused("Wrong password.", RefusalKind.WRONG_PASSWORD)],
    ChatMessage: [
        ChatMessage(1, 1700000000.25, EMOJI_NAME, EMOJI_TEXT),
        ChatMessage(seq=2, ts=0.0, sender="Ada", text="", history=True),
    ],
    Notice: [
        Notice(3, 1.5, NoticeKind.SHUTDOWN),
        Notice(seq=4, ts=2.5, kind=NoticeKind.SHARE, member=EMOJI_NAME, filename="日本語.pdf", size=123, history=True),
    ],
    OnlineList: [OnlineList(()), OnlineList(members=("Ada", EMOJI_NAME, "日本語"), ref=14)],
    FileList: [
        FileList(()),
        FileList(
            files=(
                SharedFile("a.txt", 0, "Ada", 1.0),
                SharedFile("日本語 😎.pdf", 2**33, EMOJI_NAME, 1700000000.5),
                SharedFile("b", 1, "host", 2.0),
            ),
            ref=15,
        ),
    ],
    CommandResult: [
        CommandResult("ls", "a.txt\nb.txt\n", True),
        CommandResult(line="rm x", output="Refused: 'rm' is not allowed.", allowed=False, ref=16),
    ],
    QRImage: [QRImage("MMC-ABCDEFGHJK", 60), QRImage(code="MMC-ABCDEFGHJK", expires_in=60, png=PNG, ref=17)],
    VerifyResult: [
        VerifyResult("MMC-ABCDEFGHJK", False),
        VerifyResult(code="MMC-ABCDEFGHJK", valid=True, owner=EMOJI_NAME, ref=18),
    ],
    TransferReady: [
        TransferReady("tok", Direction.UPLOAD, "a.txt"),
        TransferReady(token="t0k-_", direction=Direction.DOWNLOAD, filename="日本語.pdf", size=5, ref=19),
    ],
    ErrorReply: [
        ErrorReply("No such file on the host: notes.pdf"),
        ErrorReply(message="Protocol error: bad frame", ref=20, fatal=True),
    ],
    TransferHello: [TransferHello(1, "tok"), TransferHello(version=1, token="tok", offset=100)],
    TransferStart: [
        TransferStart("a.txt", 0, SHA),
        TransferStart(filename="日本語.pdf", size=10, sha256=SHA, offset=4),
        TransferStart("upload.bin", 10),  # an upload's start: the digest is not known yet
    ],
    TransferEnd: [TransferEnd(SHA)],
    TransferDone: [TransferDone("a (1).txt", 10, SHA)],
}


def all_event_types() -> list[type[Event]]:
    """Every Event subclass (at any depth) that has a wire TYPE."""
    found: list[type[Event]] = []
    todo = list(Event.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.TYPE:
            found.append(cls)
    return sorted(found, key=lambda cls: cls.TYPE)


def raw_frame(header: bytes, body: bytes = b"") -> bytes:
    """A frame around an arbitrary header, valid or not."""
    return PREFIX.pack(len(header), len(body)) + header + body


def frame_of(header: object, body: bytes = b"") -> bytes:
    """A frame whose header is `header` as JSON (which need not be a valid event)."""
    return raw_frame(json.dumps(header, ensure_ascii=False).encode("utf-8"), body)


def decode_all(data: bytes, limits: Limits = BIG) -> list[Event]:
    """Every event in `data`; the decoder must end with nothing left over."""
    decoder = FrameDecoder(limits)
    decoder.receive_data(data)
    events = []
    while (event := decoder.next_event()) is not NEED_DATA:
        events.append(event)
    assert decoder.buffered == 0
    return events


def decode_one(data: bytes, limits: Limits = BIG) -> Event:
    """The first event in `data`, which must hold a whole frame."""
    decoder = FrameDecoder(limits)
    decoder.receive_data(data)
    event = decoder.next_event()
    assert event is not NEED_DATA
    return event


def header_of_frame(frame: bytes) -> dict:
    header_len, _ = PREFIX.unpack_from(frame)
    return json.loads(frame[PREFIX.size : PREFIX.size + header_len].decode("utf-8"))


def ok(header: dict) -> Event:
    return decode_one(frame_of(header))


def refused(header: object, match: str, body: bytes = b"", limits: Limits = BIG) -> None:
    with pytest.raises(ProtocolError, match=match):
        decode_one(frame_of(header, body), limits)


# Any JSON value, for headers a hostile peer might send.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=10,
)
