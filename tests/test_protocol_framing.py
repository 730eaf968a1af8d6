"""Tests for mmchat.protocol.framing: frames split at every point, caps on lengths, the fast paths.

Every frame here is built in memory and fed to a `FrameDecoder`, split at
every possible point, so nothing depends on how a real network happens to
cut the stream (in the manner of h11's tests).
"""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmchat import protocol
from mmchat.protocol import (
    HOST_INBOUND,
    MAX_COMMAND_CHARS,
    MAX_FILENAME_BYTES,
    MAX_LIST_ITEMS,
    MAX_NAME_CHARS,
    MAX_TEXT_CHARS,
    MEMBER_INBOUND,
    NEED_DATA,
    PREFIX,
    ChatMessage,
    ErrorReply,
    Event,
    FileList,
    FrameDecoder,
    Goodbye,
    Hello,
    Limits,
    ListOnline,
    LocalProtocolError,
    Notice,
    OfferUpload,
    OnlineList,
    ProtocolError,
    QRImage,
    Say,
    SharedFile,
    TransferDone,
    TransferEnd,
    TransferReady,
    Welcome,
    encode,
    encode_chat_message,
    encode_trusted,
    event_from_header,
    framing,
)
from tests.protocol_helpers import (
    BIG,
    EMOJI_NAME,
    EMOJI_TEXT,
    PNG,
    SAMPLES,
    SHA,
    decode_all,
    decode_one,
    frame_of,
    header_of_frame,
    json_values,
    ok,
    raw_frame,
    refused,
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


# --- caps on lengths and malformed frames ------------------------------------------------


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
    assert protocol.PROTOCOL_VERSION == 5  # 3: ping, pong, "timed out"; 4: refused.kind; 5: TLS


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
        Notice(seq=1, ts=1.0, kind="wave"),
        TransferReady(token="t", direction="sideways", filename="a"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_encoding_an_invalid_event_raises_local_protocol_error(event):
    with pytest.raises(LocalProtocolError, match=f"refusing to send invalid '{event.TYPE}'"):
        encode(event)


def test_encoding_a_lone_surrogate_raises_local_protocol_error():
    with pytest.raises(LocalProtocolError):
        encode(Say("\ud800"))


def test_deeply_nested_json_is_a_protocol_error():
    with pytest.raises(ProtocolError):
        decode_one(raw_frame(b"[" * 60_000), HOST_INBOUND)


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
    general = framing._frame(message)  # the one general way to build a frame
    assert encode_trusted(message) == general
    assert encode_chat_message(seq, ts, sender, text) == general
    assert encode(message) == general  # and what the checking encoder makes


def test_the_chat_message_fast_path_handles_escapes_and_emoji():
    message = ChatMessage(7, 1700000000.125, EMOJI_NAME, 'tab\t "q" \\ \x00 \u2028 😎 日本語')
    frame = encode_trusted(message)
    decoder = FrameDecoder(MEMBER_INBOUND)
    decoder.receive_data(frame)
    assert decoder.next_event() == message
    assert encode_trusted(dataclasses.replace(message, history=True)) != frame  # history goes the general way


# --- the say frame's own decoder ----------------------------------------------------


def decode_or_reason(decode, *args) -> object:
    """What a decoding call returns, or the reason it refuses."""
    try:
        return decode(*args)
    except ProtocolError as exc:
        return f"ProtocolError: {exc}"


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(st.text(max_size=50), st.text(min_size=MAX_TEXT_CHARS, max_size=MAX_TEXT_CHARS + 2), json_values))
def test_the_say_fast_path_decodes_as_the_general_path_does(text):
    """FrameDecoder reads a say frame directly; it must accept and refuse exactly what event_from_header does."""
    header = {"type": "say", "text": text}
    assert decode_or_reason(decode_one, frame_of(header)) == decode_or_reason(event_from_header, header)


@pytest.mark.parametrize(
    "header",
    [
        b'{"type":"say","text":"\\ud800"}',  # a lone surrogate
        b'{"type":"say","text":"' + b"x" * (MAX_TEXT_CHARS + 1) + b'"}',
        b'{"type":"say","text":5}',
    ],
    ids=["lone surrogate", "too long", "not text"],
)
def test_the_say_fast_path_refuses_with_the_general_paths_reason(header):
    with pytest.raises(ProtocolError) as general:
        event_from_header(json.loads(header))
    with pytest.raises(ProtocolError) as fast:
        decode_one(raw_frame(header))
    assert str(fast.value) == str(general.value)


def test_say_frames_the_fast_path_leaves_to_the_general_one():
    refused({"type": "say"}, "message 'say' lacks field 'text'")
    refused({"type": "say", "colour": "red"}, r"unknown field\(s\): colour")
    refused({"type": "say", "text": "hi"}, "takes no body", body=b"x")
