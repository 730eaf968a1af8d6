"""Tests for mmchat.protocol.fields: the caps and checks on every header field, and member names."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmchat.protocol import (
    MAX_COMMAND_CHARS,
    MAX_FILE_LIST_ITEMS,
    MAX_LIST_ITEMS,
    MAX_NAME_CHARS,
    MAX_TEXT_CHARS,
    MEMBER_INBOUND,
    Direction,
    ErrorReply,
    Event,
    FileList,
    Goodbye,
    ListOnline,
    Notice,
    NoticeKind,
    ProtocolError,
    RefusalKind,
    Refused,
    RequestDownload,
    RunCommand,
    Say,
    SharedFile,
    TransferStart,
    Welcome,
    check_member_name,
    encode,
)
from tests.protocol_helpers import (
    EMOJI_NAME,
    SAMPLES,
    SHA,
    all_event_types,
    decode_all,
    decode_one,
    frame_of,
    header_of_frame,
    json_values,
    ok,
    raw_frame,
    refused,
)


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
        seq=1, ts=2.0, kind=NoticeKind.JOIN, member="", filename="", size=0, history=False
    )


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


# --- hostile headers (hypothesis) ---------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from([cls.TYPE for cls in all_event_types()] + ["nope"]),
    fields=st.dictionaries(
        st.sampled_from(
            ["text", "member", "version", "ref", "seq", "ts", "files", "members", "size", "kind", "direction", "x"]
        ),
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


# --- caps and malformed fields -----------------------------------------------------------


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


def test_a_refusal_says_why_as_a_kind_and_an_unknown_kind_is_refused():
    assert ok({"type": "refused", "reason": "r", "kind": "banned"}) == Refused("r", RefusalKind.BANNED)
    assert ok({"type": "refused", "reason": "r"}).kind is RefusalKind.OTHER
    refused({"type": "refused", "reason": "r", "kind": "bored"}, "unknown refusal kind 'bored'")
    assert header_of_frame(encode(Refused("r"))) == {"type": "refused", "reason": "r"}  # no kind: as before


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
    # A resume's offset, every way it travels: a protocol error, never a crash.
    refused({"type": "transfer", "version": 4, "token": "t", "offset": value}, f"'offset' {match}")
    refused(
        {"type": "ready", "token": "t", "direction": "upload", "filename": "a", "offset": value}, f"'offset' {match}"
    )
    refused({"type": "start", "filename": "a", "size": 1, "offset": value}, f"'offset' {match}")


def test_a_resume_travels_in_optional_fields_that_default_to_the_start():
    assert ok({"type": "upload", "filename": "a", "size": 5, "sha256": SHA}).sha256 == SHA
    assert ok({"type": "upload", "filename": "a", "size": 5}).sha256 == ""
    assert (
        ok({"type": "ready", "token": "t", "direction": "upload", "filename": "a", "size": 5, "offset": 3}).offset == 3
    )
    assert ok({"type": "start", "filename": "a", "size": 5}).offset == 0
    refused({"type": "upload", "filename": "a", "size": 5, "sha256": "X" * 64}, "64 lowercase hex digits")


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


@pytest.mark.parametrize(
    ("kind", "match"),
    [
        ("wave", "unknown notice kind 'wave'"),
        ("JOIN", "unknown notice kind 'JOIN'"),  # the wire's spelling is lowercase
        ("", "unknown notice kind ''"),
        ("join ", "unknown notice kind 'join '"),
        (5, "'kind' must be text"),
        ("k" * 17, "'kind' is longer than 16"),
    ],
)
def test_a_notice_of_unknown_kind_is_a_protocol_error(kind, match):
    refused({"type": "notice", "seq": 1, "ts": 1, "kind": kind}, match)


@pytest.mark.parametrize(
    ("direction", "match"),
    [
        ("sideways", "unknown transfer direction 'sideways'"),
        ("Upload", "unknown transfer direction 'Upload'"),
        ("", "unknown transfer direction ''"),
        (None, "'direction' must be text"),
        ("d" * 17, "'direction' is longer than 16"),
    ],
)
def test_a_transfer_ready_of_unknown_direction_is_a_protocol_error(direction, match):
    refused({"type": "ready", "token": "tok", "direction": direction, "filename": "a.txt"}, match)


def test_every_notice_kind_and_direction_is_accepted():
    for kind in NoticeKind:
        assert ok({"type": "notice", "seq": 1, "ts": 1, "kind": kind.value}).kind is kind
    for direction in Direction:
        assert ok({"type": "ready", "token": "t", "direction": direction.value, "filename": "a"}).direction is direction


# --- once bugs: lone surrogates, png as a header field, caps that disagree --------------------


def test_lone_surrogate_from_the_wire_is_refused():
    with pytest.raises(ProtocolError):
        decode_one(raw_frame(b'{"type":"say","text":"\\ud800"}'))


def test_png_key_in_a_qr_image_header_is_refused():
    refused({"type": "qr_image", "code": "c", "expires_in": 1, "png": "not the body"}, "unknown field")


def test_a_file_list_at_the_caps_fits_the_member_limit():
    entry = SharedFile(filename="é" * 127 + "a", size=2**40, owner="😎" * MAX_NAME_CHARS, ts=1700000000.123456)
    event = FileList(files=(entry,) * MAX_FILE_LIST_ITEMS)
    assert decode_all(encode(event), MEMBER_INBOUND) == [event]


# --- member names -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "Ada",
        "Ada Lovelace",
        EMOJI_NAME,
        "😎",
        "日本語",
        "x" * 32,
        "😎" * 32,
        "a-2",
        "Zoë (laptop)",
        "ana \u2764\ufe0f",  # an emoji in emoji style keeps its variation selector
        "\U0001f469\U0001f3fd\u200d\U0001f4bb",  # and a joined emoji with a skin tone its joiner
        "한국어",
    ],
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
        ("a\tb", "A name may not contain control characters."),
        ("a\x00b", "A name may not contain control characters."),
        ("a\x1b[31mb", "A name may not contain control characters."),
        ("a\nb", "A name may not contain control characters."),
        ("a\u2028b", "A name may not contain control characters."),
        ("al\u200dice", "A name may not contain invisible characters."),  # zero-width joiner
        ("al\u200cice", "A name may not contain invisible characters."),  # zero-width non-joiner
        ("al\u200bice", "A name may not contain invisible characters."),  # zero-width space
        ("alice\ufe0f", "A name may not contain invisible characters."),  # variation selector 16 after a letter
        ("alice\ufe00", "A name may not contain invisible characters."),  # variation selector 1
        ("alice\U000e0101", "A name may not contain invisible characters."),  # variation selector 18
        ("alice\u3164", "A name may not contain invisible characters."),  # Hangul filler
        ("\u3164", "A name may not contain invisible characters."),
        ("alice\uffa0", "A name may not contain invisible characters."),  # halfwidth Hangul filler
        ("alice\u115f\u1160", "A name may not contain invisible characters."),  # Hangul choseong/jungseong fillers
        ("ali\u00adce", "A name may not contain invisible characters."),  # soft hyphen
        ("\u202eecila", "A name may not contain invisible characters."),  # right-to-left override
        ("alice\u2066", "A name may not contain invisible characters."),  # bidi isolate
        ("alice\u200f", "A name may not contain invisible characters."),  # right-to-left mark
        ("alice\U000e0041", "A name may not contain invisible characters."),  # tag letter A
        ("alice\u2800", "A name may not contain invisible characters."),  # Braille blank
        ("ali\u00a0ce", "A name may not contain invisible characters."),  # no-break space
        ("ali\u3000ce", "A name may not contain invisible characters."),  # ideographic space
        ("\u200d😎", "A name may not contain invisible characters."),  # a joiner that joins nothing
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
