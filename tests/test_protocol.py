"""Tests for mmchat.protocol: bytes in, events out, no sockets (in the manner of h11's tests).

Every frame here is built in memory and fed to a `FrameDecoder` or a
`Connection`, split at every possible point, so nothing depends on how a real
network happens to cut the stream.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmchat import protocol
from mmchat.protocol import (
    HOST_INBOUND,
    MAX_COMMAND_CHARS,
    MAX_FILE_LIST_ITEMS,
    MAX_FILENAME_BYTES,
    MAX_LIST_ITEMS,
    MAX_NAME_CHARS,
    MAX_TEXT_CHARS,
    MEMBER_INBOUND,
    NEED_DATA,
    PREFIX,
    ChatMessage,
    CommandResult,
    Connection,
    ErrorReply,
    Event,
    FileList,
    FrameDecoder,
    Goodbye,
    Hello,
    Limits,
    ListFiles,
    ListOnline,
    LocalProtocolError,
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
    check_member_name,
    encode,
    encode_trusted,
)

# Generous limits for tests that are about framing, not about caps.
BIG = Limits(max_header=64 * 1024 * 1024, max_body=64 * 1024 * 1024)

SHA = hashlib.sha256(b"hello").hexdigest()
# A PNG-like body with NUL bytes, a CR LF, and every byte value.
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00" + bytes(range(256)) + b"\x00"
EMOJI_NAME = "Zoë 😎"
EMOJI_TEXT = "héllo 😎 日本語"

# At least one sample per event type; the second one sets every optional field.
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
    Welcome: [Welcome(1, "Ada"), Welcome(version=1, member="Ada-2", renamed=True, host="Büro 🖥")],
    Refused: [Refused("Wrong password for this chat.")],
    ChatMessage: [
        ChatMessage(1, 1700000000.25, EMOJI_NAME, EMOJI_TEXT),
        ChatMessage(seq=2, ts=0.0, sender="Ada", text="", history=True),
    ],
    Notice: [
        Notice(3, 1.5, "shutdown"),
        Notice(seq=4, ts=2.5, kind="share", member=EMOJI_NAME, filename="日本語.pdf", size=123, history=True),
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
        TransferReady("tok", "upload", "a.txt"),
        TransferReady(token="t0k-_", direction="download", filename="日本語.pdf", size=5, ref=19),
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
    decoder = FrameDecoder(limits)
    decoder.receive_data(data)
    return decoder.next_event()


def header_of_frame(frame: bytes) -> dict:
    header_len, _ = PREFIX.unpack_from(frame)
    return json.loads(frame[PREFIX.size : PREFIX.size + header_len].decode("utf-8"))


# --- round trips -----------------------------------------------------------------


def test_every_event_type_has_samples():
    types = all_event_types()
    assert len(types) == 25
    missing = [cls.__name__ for cls in types if cls not in SAMPLES]
    assert missing == [], f"add samples to SAMPLES for {missing}"
    assert len({cls.TYPE for cls in types}) == len(types), "two event types share a TYPE"


@pytest.mark.parametrize("cls", all_event_types(), ids=lambda cls: cls.TYPE)
def test_round_trip_of_every_event_type(cls):
    assert cls in SAMPLES, f"no sample for {cls.__name__}: add one to SAMPLES"
    for event in SAMPLES[cls]:
        frame = encode(event)
        header = header_of_frame(frame)
        assert header["type"] == cls.TYPE
        # Fields equal to their default stay off the wire; all others are there.
        expected_keys = {"type"} | {
            f.name for f in dataclasses.fields(event) if f.name != "png" and getattr(event, f.name) != f.default
        }
        assert set(header) == expected_keys
        decoded = decode_all(frame)
        assert decoded == [event]
        assert type(decoded[0]) is cls


def test_defaults_are_omitted_on_the_wire():
    assert header_of_frame(encode(ListOnline())) == {"type": "online"}
    assert header_of_frame(encode(Goodbye())) == {"type": "bye"}
    assert header_of_frame(encode(Welcome(1, "Ada"))) == {"type": "welcome", "version": 1, "member": "Ada"}
    assert header_of_frame(encode(Welcome(1, "Ada", renamed=True))) == {
        "type": "welcome",
        "version": 1,
        "member": "Ada",
        "renamed": True,
    }
    assert header_of_frame(encode(ErrorReply("x", ref=3, fatal=False))) == {"type": "error", "message": "x", "ref": 3}
    # ... and a decoder fills them back in.
    assert decode_one(frame_of({"type": "notice", "seq": 1, "ts": 2.0, "kind": "join"})) == Notice(
        seq=1, ts=2.0, kind="join", member="", filename="", size=0, history=False
    )


def test_exact_bytes_of_a_small_frame():
    header = b'{"type":"say","text":"hi"}'
    assert encode(Say("hi")) == b"\x00\x00\x00\x1a\x00\x00\x00\x00" + header
    assert len(header) == 0x1A


def test_non_ascii_travels_as_utf8_not_escapes():
    frame = encode(ChatMessage(1, 2.0, EMOJI_NAME, EMOJI_TEXT))
    assert EMOJI_TEXT.encode("utf-8") in frame
    assert EMOJI_NAME.encode("utf-8") in frame
    assert b"\\u" not in frame


def test_qr_image_body_carries_binary_png():
    event = QRImage(code="MMC-ABCDEFGHJK", expires_in=60, png=PNG, ref=1)
    frame = encode(event)
    header_len, body_len = PREFIX.unpack_from(frame)
    assert body_len == len(PNG)
    assert frame.endswith(PNG)
    assert len(frame) == PREFIX.size + header_len + body_len
    assert "png" not in header_of_frame(frame)
    (decoded,) = decode_all(frame, MEMBER_INBOUND)
    assert decoded.png == PNG
    assert b"\x00" in decoded.png


def test_file_list_entries_come_back_as_shared_files():
    event = SAMPLES[FileList][1]
    header = header_of_frame(encode(event))
    assert header["files"][1] == {"filename": "日本語 😎.pdf", "size": 2**33, "owner": EMOJI_NAME, "ts": 1700000000.5}
    (decoded,) = decode_all(encode(event))
    assert isinstance(decoded.files, tuple)
    assert [type(f) for f in decoded.files] == [SharedFile] * 3
    assert [f.filename for f in decoded.files] == ["a.txt", "日本語 😎.pdf", "b"]


def test_whole_number_timestamp_decodes_as_float():
    event = decode_one(frame_of({"type": "message", "seq": 1, "ts": 5, "sender": "a", "text": "b"}))
    assert event.ts == 5.0
    assert type(event.ts) is float


# --- chunk boundaries ----------------------------------------------------------------

STREAM_EVENTS: list[Event] = [
    Hello(1, EMOJI_NAME),
    Say(EMOJI_TEXT),
    QRImage(code="MMC-ABCDEFGHJK", expires_in=60, png=PNG, ref=2),
    SAMPLES[FileList][1],
    ListOnline(ref=3),
    Goodbye(),
]
STREAM_FRAMES = [encode(e) for e in STREAM_EVENTS]
STREAM = b"".join(STREAM_FRAMES)


def drain(decoder: FrameDecoder) -> list[Event]:
    events = []
    while (event := decoder.next_event()) is not NEED_DATA:
        events.append(event)
    return events


def test_stream_split_at_every_byte_boundary():
    for i in range(len(STREAM) + 1):
        decoder = FrameDecoder(BIG)
        decoder.receive_data(STREAM[:i])
        first = drain(decoder)
        decoder.receive_data(STREAM[i:])
        second = drain(decoder)
        assert first + second == STREAM_EVENTS, f"split at {i}"
        assert decoder.buffered == 0


def test_stream_fed_one_byte_at_a_time_needs_data_until_each_frame_is_complete():
    ends = []
    total = 0
    for frame in STREAM_FRAMES:
        total += len(frame)
        ends.append(total)
    decoder = FrameDecoder(BIG)
    got: list[Event] = []
    for fed in range(1, len(STREAM) + 1):
        decoder.receive_data(STREAM[fed - 1 : fed])
        got += drain(decoder)
        complete = sum(1 for end in ends if end <= fed)
        assert len(got) == complete, f"after {fed} bytes"
    assert got == STREAM_EVENTS
    assert decoder.next_event() is NEED_DATA


def test_less_than_a_prefix_is_need_data_even_for_a_huge_length():
    decoder = FrameDecoder(Limits(max_header=10, max_body=0))
    decoder.receive_data(PREFIX.pack(2**32 - 1, 2**32 - 1)[:7])
    assert decoder.next_event() is NEED_DATA
    assert decoder.buffered == 7


def test_take_buffered_returns_bytes_after_the_last_frame():
    decoder = FrameDecoder(BIG)
    decoder.receive_data(encode(Say("a")) + b"raw\x00bytes")
    assert decoder.next_event() == Say("a")
    assert decoder.take_buffered() == b"raw\x00bytes"
    assert decoder.buffered == 0
    assert decoder.next_event() is NEED_DATA


# --- random chunkings (hypothesis) ------------------------------------------------------

names = st.text(min_size=1, max_size=MAX_NAME_CHARS)
timestamps = st.floats(allow_nan=False, allow_infinity=False)
counts = st.integers(min_value=0, max_value=2**62)

random_events = st.one_of(
    st.builds(Say, text=st.text(max_size=200)),
    st.builds(Hello, version=counts, member=names, password=st.text(max_size=50)),
    st.builds(ChatMessage, seq=counts, ts=timestamps, sender=names, text=st.text(max_size=200), history=st.booleans()),
    st.builds(
        QRImage, code=st.text(max_size=20), expires_in=counts, png=st.binary(max_size=300), ref=st.integers(0, 1000)
    ),
    st.builds(OnlineList, members=st.lists(names, max_size=5).map(tuple), ref=st.integers(0, 1000)),
    st.builds(
        FileList,
        files=st.lists(
            st.builds(SharedFile, filename=st.text(max_size=40), size=counts, owner=names, ts=timestamps),
            max_size=4,
        ).map(tuple),
    ),
    st.builds(ErrorReply, message=st.text(max_size=100), ref=st.integers(0, 1000), fatal=st.booleans()),
)


@settings(max_examples=200, deadline=None)
@given(events=st.lists(random_events, min_size=1, max_size=6), data=st.data())
def test_random_chunkings_decode_to_the_same_events(events, data):
    stream = b"".join(encode(e) for e in events)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=12)))
    decoder = FrameDecoder(BIG)
    got: list[Event] = []
    start = 0
    for cut in [*cuts, len(stream)]:
        decoder.receive_data(stream[start:cut])
        start = cut
        got += drain(decoder)
    assert got == events
    assert decoder.buffered == 0


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from([cls.TYPE for cls in all_event_types()] + ["nope"]),
    fields=st.dictionaries(
        st.sampled_from(["text", "member", "version", "ref", "seq", "ts", "files", "members", "size", "x"]),
        json_values,
    ),
)
def test_hostile_headers_raise_only_protocol_error(kind, fields):
    try:
        event = decode_one(frame_of({"type": kind, **fields}))
    except ProtocolError:
        return
    # Whatever was accepted is a proper event that can be sent on unchanged.
    assert isinstance(event, Event)
    assert decode_all(encode(event)) == [event]


# --- caps and malformed input ------------------------------------------------------------


def test_header_over_the_limit_is_refused_from_the_prefix_alone():
    decoder = FrameDecoder(Limits(max_header=100, max_body=0))
    decoder.receive_data(PREFIX.pack(101, 0))
    with pytest.raises(ProtocolError, match=r"header of 101 bytes \(limit 100\)"):
        decoder.next_event()


def test_header_at_the_limit_waits_for_its_bytes():
    decoder = FrameDecoder(Limits(max_header=100, max_body=0))
    decoder.receive_data(PREFIX.pack(100, 0))
    assert decoder.next_event() is NEED_DATA


@pytest.mark.parametrize(
    ("limits", "header_len", "body_len", "refused"),
    [
        (HOST_INBOUND, 64 * 1024, 0, False),
        (HOST_INBOUND, 64 * 1024 + 1, 0, True),
        (HOST_INBOUND, 10, 1, True),
        (MEMBER_INBOUND, 4 * 1024 * 1024, 1024 * 1024, False),
        (MEMBER_INBOUND, 4 * 1024 * 1024 + 1, 0, True),
        (MEMBER_INBOUND, 10, 1024 * 1024 + 1, True),
    ],
)
def test_inbound_caps_of_each_direction(limits, header_len, body_len, refused):
    decoder = FrameDecoder(limits)
    decoder.receive_data(PREFIX.pack(header_len, body_len))
    if refused:
        with pytest.raises(ProtocolError, match="limit"):
            decoder.next_event()
    else:
        assert decoder.next_event() is NEED_DATA


def test_the_caps_are_the_documented_numbers():
    assert (HOST_INBOUND.max_header, HOST_INBOUND.max_body) == (65536, 0)
    assert (MEMBER_INBOUND.max_header, MEMBER_INBOUND.max_body) == (4194304, 1048576)
    assert (MAX_NAME_CHARS, MAX_TEXT_CHARS, MAX_FILENAME_BYTES) == (32, 4000, 255)
    assert (MAX_COMMAND_CHARS, protocol.MAX_OUTPUT_CHARS, MAX_LIST_ITEMS) == (1024, 262144, 10000)
    assert protocol.PROTOCOL_VERSION == 2


def test_body_over_the_limit_is_refused_from_the_prefix_alone():
    decoder = FrameDecoder(Limits(max_header=100, max_body=10))
    decoder.receive_data(PREFIX.pack(5, 11))
    with pytest.raises(ProtocolError, match=r"body of 11 bytes \(limit 10\)"):
        decoder.next_event()


def test_zero_length_header_is_refused():
    decoder = FrameDecoder(BIG)
    decoder.receive_data(PREFIX.pack(0, 0))
    with pytest.raises(ProtocolError, match="header of 0 bytes"):
        decoder.next_event()


def ok(header: dict) -> Event:
    return decode_one(frame_of(header))


def refused(header: object, match: str, body: bytes = b"", limits: Limits = BIG) -> None:
    with pytest.raises(ProtocolError, match=match):
        decode_one(frame_of(header, body), limits)


def test_text_length_cap():
    assert ok({"type": "say", "text": "x" * MAX_TEXT_CHARS}) == Say("x" * MAX_TEXT_CHARS)
    # Characters are counted, not bytes: 4000 emoji are fine.
    assert ok({"type": "say", "text": "😎" * MAX_TEXT_CHARS}) == Say("😎" * MAX_TEXT_CHARS)
    refused({"type": "say", "text": "x" * (MAX_TEXT_CHARS + 1)}, "'text' is longer than 4000 characters")


def test_member_name_cap():
    assert ok({"type": "hello", "version": 1, "member": "😎" * MAX_NAME_CHARS}).member == "😎" * 32
    refused({"type": "hello", "version": 1, "member": "x" * 33}, "'member' is longer than 32 characters")
    refused({"type": "message", "seq": 1, "ts": 1, "sender": "x" * 33, "text": ""}, "'sender' is longer than 32")
    refused({"type": "online_list", "members": ["ok", "x" * 33]}, "longer than 32")
    refused(
        {"type": "file_list", "files": [{"filename": "a", "size": 1, "owner": "x" * 33, "ts": 1}]},
        "'owner' is longer than 32",
    )


def test_filename_cap_counts_utf8_bytes():
    name_255 = "é" * 127 + "a"
    assert len(name_255.encode("utf-8")) == 255
    assert ok({"type": "download", "filename": name_255}) == RequestDownload(name_255)
    refused({"type": "download", "filename": "é" * 128}, "file name longer than 255 bytes")
    # 64 characters, 256 bytes.
    refused({"type": "upload", "filename": "😎" * 64, "size": 1}, "longer than 255 bytes")
    refused(
        {"type": "file_list", "files": [{"filename": "a" * 256, "size": 1, "owner": "o", "ts": 1}]},
        "longer than 255 bytes",
    )


def test_command_line_cap():
    assert ok({"type": "cmd", "line": "x" * MAX_COMMAND_CHARS}) == RunCommand("x" * 1024)
    refused({"type": "cmd", "line": "x" * (MAX_COMMAND_CHARS + 1)}, "'line' is longer than 1024 characters")


def test_other_string_caps():
    refused({"type": "hello", "version": 1, "member": "a", "password": "p" * 257}, "'password' is longer than 256")
    refused({"type": "verify", "code": "c" * 129}, "'code' is longer than 128")
    refused({"type": "transfer", "version": 1, "token": "t" * 129}, "'token' is longer than 128")
    refused({"type": "notice", "seq": 1, "ts": 1, "kind": "k" * 17}, "'kind' is longer than 16")
    refused({"type": "refused", "reason": "r" * 4097}, "'reason' is longer than 4096")
    assert ok({"type": "refused", "reason": "r" * 4096}) == Refused("r" * 4096)


def test_list_cap():
    assert len(ok({"type": "online_list", "members": ["a"] * MAX_LIST_ITEMS}).members) == MAX_LIST_ITEMS
    refused({"type": "online_list", "members": ["a"] * (MAX_LIST_ITEMS + 1)}, "more than 10000 items")
    entry = {"filename": "a", "size": 1, "owner": "o", "ts": 1}
    refused({"type": "file_list", "files": [entry] * (MAX_FILE_LIST_ITEMS + 1)}, "more than 1000 items")
    refused({"type": "online_list", "members": "Ada"}, "'members' must be a list")


@pytest.mark.parametrize(
    "sha256",
    [
        SHA.upper(),
        SHA[:-1],
        SHA + "0",
        "g" * 64,
        SHA + "\n",  # `$` would let this through; the code must anchor with \Z
        "",
    ],
    ids=["uppercase", "63 digits", "65 digits", "not hex", "trailing newline", "empty"],
)
def test_sha256_must_be_64_lowercase_hex_digits(sha256):
    refused({"type": "end", "sha256": sha256}, "64 lowercase hex digits")
    refused({"type": "done", "filename": "a", "size": 1, "sha256": sha256}, "64 lowercase hex digits")
    if sha256:  # a start may leave it empty (an upload's), but not wrong
        refused({"type": "start", "filename": "a", "size": 1, "sha256": sha256}, "64 lowercase hex digits")
    else:
        assert ok({"type": "start", "filename": "a", "size": 1, "sha256": ""}) == TransferStart("a", 1)


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (-1, "is out of range"),
        (2**62 + 1, "is out of range"),
        (True, "must be a whole number"),
        (False, "must be a whole number"),
        (1.0, "must be a whole number"),
        ("1", "must be a whole number"),
        (None, "must be a whole number"),
    ],
)
def test_bad_whole_numbers(value, match):
    refused({"type": "upload", "filename": "a", "size": value}, f"'size' {match}")
    refused({"type": "online", "ref": value}, f"'ref' {match}")


def test_largest_whole_number():
    assert ok({"type": "upload", "filename": "a", "size": 2**62}).size == 2**62


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity", b"1e400"])
def test_non_finite_floats_are_refused(literal):
    header = b'{"type":"message","seq":1,"ts":' + literal + b',"sender":"a","text":"b"}'
    with pytest.raises(ProtocolError, match="'ts' must be finite"):
        decode_one(raw_frame(header))


@pytest.mark.parametrize("value", [True, "1.5", None, [1.5]])
def test_floats_must_be_numbers(value):
    refused({"type": "message", "seq": 1, "ts": value, "sender": "a", "text": "b"}, "'ts' must be a number")


@pytest.mark.parametrize("value", [1, 0, "true", None])
def test_booleans_must_be_true_or_false(value):
    refused({"type": "welcome", "version": 1, "member": "a", "renamed": value}, "'renamed' must be true or false")


@pytest.mark.parametrize("value", [5, None, ["x"], {"a": 1}])
def test_strings_must_be_text(value):
    refused({"type": "say", "text": value}, "'text' must be text")


@pytest.mark.parametrize(
    ("header", "match"),
    [
        ({"type": "shout", "text": "hi"}, "unknown message type 'shout'"),
        ({"type": "", "text": "hi"}, "unknown message type ''"),
        ({"type": 5}, "unknown message type 5"),
        ({"type": None}, "unknown message type None"),
        ({"text": "hi"}, "unknown message type None"),
        ({"type": "say"}, "message 'say' lacks field 'text'"),
        ({"type": "hello", "version": 1}, "message 'hello' lacks field 'member'"),
        ({"type": "say", "text": "hi", "colour": "red"}, r"message 'say' has unknown field\(s\): colour"),
        ({"type": "bye", "b": 1, "a": 2}, r"unknown field\(s\): a, b"),
    ],
)
def test_malformed_headers(header, match):
    refused(header, match)


@pytest.mark.parametrize(
    "entry",
    [
        {"filename": "a", "size": 1, "owner": "o"},
        {"filename": "a", "size": 1, "owner": "o", "ts": 1, "extra": 2},
        ["a", 1, "o", 1],
        "a",
    ],
    ids=["missing key", "extra key", "list", "string"],
)
def test_malformed_file_list_entries(entry):
    refused({"type": "file_list", "files": [entry]}, "malformed entry in file list")


@pytest.mark.parametrize("header", [["say", "hi"], 42, "say", None, True])
def test_header_must_be_a_json_object(header):
    refused(header, "not a JSON object")


@pytest.mark.parametrize(
    "header",
    [
        b'{"type":"say","text":"\xff"}',
        b'{"type":"say","text":"\xc3"}',  # truncated sequence
        b'{"type":"say","text":"\xed\xa0\x80"}',  # an encoded surrogate
    ],
)
def test_invalid_utf8_is_refused(header):
    with pytest.raises(ProtocolError, match="not valid UTF-8 JSON"):
        decode_one(raw_frame(header))


@pytest.mark.parametrize(
    "header",
    [b'{"type":"say",', b"{'type': 'say'}", b"", b"\xef\xbb\xbf{}", b'{"type":"say","text":"a"} x', b"1" * 5000],
    ids=["truncated", "single quotes", "spaces only", "BOM", "trailing garbage", "huge integer"],
)
def test_invalid_json_is_refused(header):
    header = header or b"   "
    with pytest.raises(ProtocolError, match="not valid UTF-8 JSON"):
        decode_one(raw_frame(header))


def test_body_on_a_type_that_takes_none():
    # The host takes no bodies at all: refused from the prefix...
    decoder = FrameDecoder(HOST_INBOUND)
    decoder.receive_data(PREFIX.pack(30, 1))
    with pytest.raises(ProtocolError, match=r"body of 1 bytes \(limit 0\)"):
        decoder.next_event()
    # ... and a decoder that allows bodies still refuses one on a type without one.
    refused({"type": "say", "text": "hi"}, "message 'say' takes no body", body=b"x")
    refused({"type": "message", "seq": 1, "ts": 1, "sender": "a", "text": "b"}, "takes no body", body=b"\0")
    assert ok({"type": "qr_image", "code": "c", "expires_in": 1}) == QRImage("c", 1, b"")


def test_a_bad_frame_does_not_eat_the_next_one():
    # A frame whose JSON is bad is consumed whole: the decoder stays in step.
    decoder = FrameDecoder(BIG)
    decoder.receive_data(raw_frame(b"{nope") + encode(Say("after")))
    with pytest.raises(ProtocolError):
        decoder.next_event()
    assert decoder.next_event() == Say("after")


@pytest.mark.parametrize(
    "event",
    [
        Say("x" * (MAX_TEXT_CHARS + 1)),
        Hello(version=-1, member="Ada"),
        Hello(version=True, member="Ada"),
        Welcome(version=1, member="x" * 33),
        TransferEnd(sha256="XYZ"),
        TransferEnd(sha256=SHA.upper()),
        TransferDone(filename="a", size=1, sha256=""),
        OfferUpload(filename="é" * 128, size=1),
        ChatMessage(seq=1, ts=math.nan, sender="a", text="b"),
        ChatMessage(seq=1, ts=math.inf, sender="a", text="b"),
        ChatMessage(seq=1.5, ts=1.0, sender="a", text="b"),
        OnlineList(members=("a",) * (MAX_LIST_ITEMS + 1)),
        FileList(files=(SharedFile("a", -1, "o", 1.0),)),
        Say(text=5),
    ],
    ids=lambda e: type(e).__name__,
)
def test_encoding_an_invalid_event_raises_local_protocol_error(event):
    with pytest.raises(LocalProtocolError, match=f"refusing to send invalid '{event.TYPE}'"):
        encode(event)


# --- once bugs: lone surrogates, deep nesting, png as a header field, caps that disagree ----


def test_lone_surrogate_from_the_wire_is_refused():
    with pytest.raises(ProtocolError):
        decode_one(raw_frame(b'{"type":"say","text":"\\ud800"}'))


def test_encoding_a_lone_surrogate_raises_local_protocol_error():
    with pytest.raises(LocalProtocolError):
        encode(Say("\ud800"))


def test_deeply_nested_json_is_a_protocol_error():
    with pytest.raises(ProtocolError):
        decode_one(raw_frame(b"[" * 60_000), HOST_INBOUND)


def test_png_key_in_a_qr_image_header_is_refused():
    refused({"type": "qr_image", "code": "c", "expires_in": 1, "png": "not the body"}, "unknown field")


def test_a_file_list_at_the_caps_fits_the_member_limit():
    entry = SharedFile(filename="é" * 127 + "a", size=2**40, owner="😎" * MAX_NAME_CHARS, ts=1700000000.123456)
    event = FileList(files=(entry,) * MAX_FILE_LIST_ITEMS)
    assert decode_all(encode(event), MEMBER_INBOUND) == [event]


# --- conversation rules ----------------------------------------------------------------------


def pair() -> tuple[Connection, Connection]:
    """A member and a host connection, both at OPENING."""
    return Connection(Role.MEMBER), Connection(Role.HOST)


def deliver(sender: Connection, receiver: Connection, event: Event) -> Event:
    """Send `event` from one side and return what the other side decodes."""
    receiver.receive_data(sender.send(event))
    got = receiver.next_event()
    assert receiver.next_event() is NEED_DATA
    return got


def chatting() -> tuple[Connection, Connection]:
    member, host = pair()
    deliver(member, host, Hello(1, "Ada"))
    deliver(host, member, Welcome(1, "Ada"))
    return member, host


def test_default_limits_follow_the_role():
    assert Connection(Role.HOST)._decoder.limits == HOST_INBOUND
    assert Connection(Role.MEMBER)._decoder.limits == MEMBER_INBOUND


def test_say_before_hello_is_refused_by_the_host():
    host = Connection(Role.HOST)
    host.receive_data(encode(Say("hi")))
    with pytest.raises(ProtocolError, match="member may not send 'say' while opening"):
        host.next_event()


def test_member_may_not_send_say_before_hello():
    member = Connection(Role.MEMBER)
    with pytest.raises(LocalProtocolError, match="member may not send 'say' while opening"):
        member.send(Say("hi"))
    assert member.state is State.OPENING


def test_member_may_not_say_before_welcome():
    member, host = pair()
    deliver(member, host, Hello(1, "Ada"))
    with pytest.raises(LocalProtocolError, match="while greeted"):
        member.send(Say("hi"))
    host.receive_data(encode(Say("hi")))
    with pytest.raises(ProtocolError, match="member may not send 'say' while greeted"):
        host.next_event()


def test_welcome_moves_both_sides_to_chatting():
    member, host = pair()
    assert deliver(member, host, Hello(1, EMOJI_NAME, "pw")) == Hello(1, EMOJI_NAME, "pw")
    assert (member.state, host.state) == (State.GREETED, State.GREETED)
    assert deliver(host, member, Welcome(1, EMOJI_NAME)) == Welcome(1, EMOJI_NAME)
    assert (member.state, host.state) == (State.CHATTING, State.CHATTING)
    assert deliver(member, host, Say(EMOJI_TEXT)) == Say(EMOJI_TEXT)
    message = ChatMessage(1, 2.0, EMOJI_NAME, EMOJI_TEXT)
    assert deliver(host, member, message) == message
    assert deliver(member, host, RequestQR(ref=1)) == RequestQR(ref=1)
    qr = QRImage("MMC-ABCDEFGHJK", 60, PNG, ref=1)
    assert deliver(host, member, qr) == qr
    assert (member.state, host.state) == (State.CHATTING, State.CHATTING)


@pytest.mark.parametrize(
    "request_event", [e for cls in protocol.state.MEMBER_REQUESTS for e in SAMPLES[cls][:1]], ids=lambda e: e.TYPE
)
def test_every_member_request_is_allowed_while_chatting(request_event):
    member, host = chatting()
    assert deliver(member, host, request_event) == request_event
    assert host.state is State.CHATTING


def test_refused_closes_both_sides():
    member, host = pair()
    deliver(member, host, Hello(1, "Ada"))
    assert deliver(host, member, Refused("Wrong password for this chat.")) == Refused("Wrong password for this chat.")
    assert (member.state, host.state) == (State.CLOSED, State.CLOSED)
    with pytest.raises(LocalProtocolError, match="while closed"):
        member.send(Say("hi"))
    with pytest.raises(LocalProtocolError, match="host may not send 'welcome' while closed"):
        host.send(Welcome(1, "Ada"))


def test_goodbye_closes_and_the_host_ignores_what_follows():
    member, host = chatting()
    frame = member.send(Goodbye())
    assert member.state is State.CLOSED
    host.receive_data(frame + encode(Say("after goodbye")))
    assert host.next_event() == Goodbye()
    assert host.state is State.CLOSED
    assert host.next_event() is NEED_DATA


def test_host_may_not_send_chat_before_welcome():
    member, host = pair()
    message = ChatMessage(1, 2.0, "Ada", "early")
    with pytest.raises(LocalProtocolError, match="host may not send 'message' while opening"):
        host.send(message)
    deliver(member, host, Hello(1, "Ada"))
    with pytest.raises(LocalProtocolError, match="host may not send 'message' while greeted"):
        host.send(message)
    member.receive_data(encode(message))
    with pytest.raises(ProtocolError, match="host may not send 'message' while greeted"):
        member.next_event()


def test_hello_only_once_and_only_from_the_member():
    member, _host = chatting()
    with pytest.raises(LocalProtocolError, match="member may not send 'hello' while chatting"):
        member.send(Hello(1, "Ada"))
    with pytest.raises(LocalProtocolError, match="host may not send 'hello' while opening"):
        Connection(Role.HOST).send(Hello(1, "Ada"))
    member2 = Connection(Role.MEMBER)
    member2.receive_data(encode(Welcome(1, "Ada")))
    with pytest.raises(ProtocolError, match="host may not send 'welcome' while opening"):
        member2.next_event()


def test_non_fatal_error_keeps_chatting_and_fatal_error_closes():
    member, host = chatting()
    assert deliver(host, member, ErrorReply("No such file on the host: x", ref=4)).ref == 4
    assert (member.state, host.state) == (State.CHATTING, State.CHATTING)
    assert deliver(host, member, ErrorReply("Protocol error: x", fatal=True)).fatal is True
    assert (member.state, host.state) == (State.CLOSED, State.CLOSED)


def test_fatal_error_in_answer_to_hello_closes():
    member, host = pair()
    deliver(member, host, Hello(1, "x"))
    deliver(host, member, ErrorReply("Protocol error: x", fatal=True))
    assert (member.state, host.state) == (State.CLOSED, State.CLOSED)


def test_transfer_hello_is_not_allowed_on_a_chat_connection():
    member, host = chatting()
    with pytest.raises(LocalProtocolError, match="member may not send 'transfer' while chatting"):
        member.send(TransferHello(1, "tok"))
    host.receive_data(encode(TransferHello(1, "tok")))
    with pytest.raises(ProtocolError, match="while chatting"):
        host.next_event()


def test_upload_connection_raw_bytes_then_end_then_done():
    member, host = pair()
    raw = b"\x00file bytes\x00" + encode(Say("not a frame in TRANSFER"))
    # The member's hello and the first raw bytes may arrive in one recv().
    host.receive_data(member.send(TransferHello(1, "tok")))
    assert host.next_event() == TransferHello(1, "tok")
    assert host.state is State.TRANSFER_ASKED
    start = TransferStart("a.txt", len(raw))
    assert deliver(host, member, start) == start
    assert (member.state, host.state) == (State.TRANSFER, State.TRANSFER)
    end = member.send(TransferEnd(SHA))
    assert member.state is State.VERIFYING
    host.receive_data(raw + end[:5])
    assert host.next_event() is NEED_DATA  # raw bytes are never parsed as frames
    assert host.take_buffered() == raw + end[:5]
    host.end_of_body(end[:5])  # what came after the body goes back to the decoder
    assert host.next_event() is NEED_DATA
    host.receive_data(end[5:])
    assert host.next_event() == TransferEnd(SHA)
    assert host.state is State.VERIFYING
    assert deliver(host, member, TransferDone("a (1).txt", len(raw), SHA)) == TransferDone("a (1).txt", len(raw), SHA)
    assert (member.state, host.state) == (State.CLOSED, State.CLOSED)


def test_end_of_body_is_only_for_a_host_receiving_an_upload():
    member, host = pair()
    with pytest.raises(LocalProtocolError, match="end_of_body"):
        host.end_of_body()
    deliver(member, host, TransferHello(1, "tok"))
    deliver(host, member, TransferStart("a", 1))
    with pytest.raises(LocalProtocolError, match="end_of_body"):
        member.end_of_body()


def test_host_may_not_confirm_an_upload_before_its_digest():
    member, host = pair()
    deliver(member, host, TransferHello(1, "tok"))
    deliver(host, member, TransferStart("a", 1))
    with pytest.raises(LocalProtocolError, match="host may not send 'done' while transfer"):
        host.send(TransferDone("a", 1, SHA))
    host.end_of_body()
    host.receive_data(encode(TransferDone("a", 1, SHA)))  # a member pretending to be the host
    with pytest.raises(ProtocolError, match="member may not send 'done'"):
        host.next_event()


def test_raw_bytes_that_arrive_with_the_transfer_hello_are_handed_over():
    member, host = pair()
    host.receive_data(member.send(TransferHello(1, "tok")) + b"early raw bytes")
    assert host.next_event() == TransferHello(1, "tok")
    assert host.take_buffered() == b"early raw bytes"


def test_download_connection_transfer_start_then_raw_bytes():
    member, host = pair()
    deliver(member, host, TransferHello(1, "tok"))
    body = bytes(range(256)) * 4
    member.receive_data(host.send(TransferStart("a.bin", len(body), hashlib.sha256(body).hexdigest())) + body)
    start = member.next_event()
    assert start == TransferStart("a.bin", 1024, hashlib.sha256(body).hexdigest())
    assert member.state is State.TRANSFER
    assert member.take_buffered() == body


def test_transfer_refused_with_fatal_error():
    member, host = pair()
    deliver(member, host, TransferHello(1, "expired"))
    reply = deliver(host, member, ErrorReply("This transfer is unknown or has expired.", fatal=True))
    assert reply.message == "This transfer is unknown or has expired."
    assert (member.state, host.state) == (State.CLOSED, State.CLOSED)


def test_member_may_not_send_transfer_done_or_chat_on_a_transfer_connection():
    member, host = pair()
    deliver(member, host, TransferHello(1, "tok"))
    with pytest.raises(LocalProtocolError, match="while transfer asked"):
        member.send(Say("hi"))
    deliver(host, member, TransferStart("a", 1))
    with pytest.raises(LocalProtocolError, match="member may not send 'done' while transfer"):
        member.send(TransferDone("a", 1, SHA))
    member.send(TransferEnd(SHA))
    with pytest.raises(LocalProtocolError, match="member may not send 'end' while verifying"):
        member.send(TransferEnd(SHA))


def test_anything_missing_from_the_table_is_refused():
    samples = {cls: SAMPLES[cls][0] for cls in all_event_types()}
    for state in State:
        for role in Role:
            for cls, event in samples.items():
                if (state, role, cls) in protocol.TRANSITIONS:
                    continue
                sender = Connection(role)
                sender.state = state
                with pytest.raises(LocalProtocolError):
                    sender.send(event)
                assert sender.state is state
                receiver = Connection(Role.HOST if role is Role.MEMBER else Role.MEMBER, BIG)
                receiver.state = state
                receiver.receive_data(encode(event))
                if state is State.CLOSED or (role is Role.MEMBER and state is State.TRANSFER):
                    assert receiver.next_event() is NEED_DATA
                else:
                    with pytest.raises(ProtocolError):
                        receiver.next_event()


def test_events_iterator_yields_everything_buffered():
    member, _host = chatting()
    member.receive_data(b"".join(encode(ChatMessage(i, 1.0, "a", str(i))) for i in range(1, 4)))
    assert [e.seq for e in member.events()] == [1, 2, 3]
    assert list(member.events()) == []


# --- member names -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["Ada", "Ada Lovelace", EMOJI_NAME, "😎", "日本語", "x" * 32, "😎" * 32, "a-2", "Zoë (laptop)"]
)
def test_acceptable_member_names(name):
    assert check_member_name(name) == name


@pytest.mark.parametrize(
    ("name", "sentence"),
    [
        ("", "Please choose a name."),
        ("   ", "Please choose a name."),
        (" Ada", "A name may not start or end with a space."),
        ("Ada ", "A name may not start or end with a space."),
        ("x" * 33, "A name may have at most 32 characters."),
        ("a\tb", "A name may not contain control or invisible characters."),
        ("a\x00b", "A name may not contain control or invisible characters."),
        ("a\x1b[31mb", "A name may not contain control or invisible characters."),
        ("[x]", "A name may not contain brackets or slashes."),
        ("a/b", "A name may not contain brackets or slashes."),
        ("a\\b", "A name may not contain brackets or slashes."),
        ("!bang", "A name may not start with '!'."),
    ],
)
def test_refused_member_names_get_a_sentence(name, sentence):
    with pytest.raises(ValueError) as info:
        check_member_name(name)
    assert str(info.value) == sentence


# --- the chat message's own encoder -------------------------------------------------


@given(
    seq=st.integers(min_value=0, max_value=2**62),
    ts=st.floats(min_value=0, max_value=4e9, allow_nan=False, allow_infinity=False),
    sender=st.text(max_size=MAX_NAME_CHARS),
    text=st.text(max_size=200),
)
def test_the_chat_message_fast_path_makes_the_same_bytes_as_the_general_one(seq, ts, sender, text):
    """encode_trusted builds live chat messages directly; the frame must not differ by a byte."""
    message = ChatMessage(seq=seq, ts=ts, sender=sender, text=text)
    header = json.dumps(protocol.fields.header_of(message), ensure_ascii=False, separators=(",", ":")).encode()
    general = protocol.PREFIX.pack(len(header), 0) + header
    assert encode_trusted(message) == general


def test_the_chat_message_fast_path_handles_escapes_and_emoji():
    message = ChatMessage(7, 1700000000.125, EMOJI_NAME, 'tab\t "q" \\ \x00 \u2028 😎 日本語')
    frame = encode_trusted(message)
    decoder = FrameDecoder(MEMBER_INBOUND)
    decoder.receive_data(frame)
    assert decoder.next_event() == message
    assert encode_trusted(dataclasses.replace(message, history=True)) != frame  # history goes the general way
