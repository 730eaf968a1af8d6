"""Frames: events to bytes, and bytes to events, with hard caps on every length read.

A frame is an 8-byte prefix, then the header (UTF-8 JSON), then the body::

    header length (u32, big endian) | body length (u32, big endian) | header | body

There is one way to build a frame, `_frame`; `encode` checks the event first
and `encode_trusted` does not (the host's events are built from values it
has checked already).  The host's two hottest frames have a direct path
each, which the tests hold to the general one: a live chat message out
(`encode_chat_message`: the same bytes as `_frame`) and a member's `say` in
(in `FrameDecoder.next_event`: the same event, or the same refusal, as
`event_from_header`).
"""

from __future__ import annotations

import enum
import json
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from .errors import LocalProtocolError, ProtocolError
from .events import ChatMessage, Event, Say
from .fields import check_str, event_from_header, header_of

PREFIX = struct.Struct(">II")


class NeedData(enum.Enum):
    """The type of NEED_DATA: a one-member enum, so a type checker narrows `event is not NEED_DATA`."""

    NEED_DATA = "NEED_DATA"

    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA: Final = NeedData.NEED_DATA  # next_event(): no whole frame yet, feed more bytes


@dataclass(frozen=True)
class Limits:
    """Hard caps on the lengths read from the wire, per direction."""

    max_header: int
    max_body: int


# What the host accepts from members, and what members accept from the host.
HOST_INBOUND = Limits(max_header=64 * 1024, max_body=0)
MEMBER_INBOUND = Limits(max_header=4 * 1024 * 1024, max_body=1024 * 1024)


# --- events to bytes ---------------------------------------------------------------


def _frame(event: Event) -> bytes:
    header = json.dumps(header_of(event), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    body = event.body
    return PREFIX.pack(len(header), len(body)) + header + body


def encode(event: Event) -> bytes:
    """Serialize one event into one complete frame."""
    try:
        # Validate on the way out too, so a bug here never reaches the wire.
        event_from_header(json.loads(json.dumps(header_of(event))), event.body)
    except (ProtocolError, TypeError, ValueError) as exc:
        raise LocalProtocolError(f"refusing to send invalid {event.TYPE!r}: {exc}") from None
    return _frame(event)


def encode_trusted(event: Event) -> bytes:
    """Serialize an event built by the host from already-validated values (hot path)."""
    if type(event) is ChatMessage and not event.history:
        return encode_chat_message(event.seq, event.ts, event.sender, event.text)
    return _frame(event)


def encode_chat_message(seq: int, ts: float, sender: str, text: str) -> bytes:
    """The frame of a live ChatMessage, the event every member gets most of (host's hot path): byte for
    byte what `encode_trusted` makes of it, built without the dataclass, the field loop and json.dumps."""
    data = (_CHAT_HEADER % (seq, float.__repr__(ts), _json_str(sender), _json_str(text))).encode("utf-8")
    return PREFIX.pack(len(data), 0) + data


_CHAT_HEADER = '{"type":"message","seq":%d,"ts":%s,"sender":%s,"text":%s}'
_json_str = json.encoder.encode_basestring  # the C string escaper json.dumps(ensure_ascii=False) uses


# --- bytes to events ---------------------------------------------------------------

_JSON_SPACE = " \t\n\r"
# What json.loads does, minus two layers of Python.  JSONDecoder sets scan_once in __init__, and the
# type stubs do not declare it: hence vars().
_scan_json: Callable[[str, int], tuple[Any, int]] = vars(json.JSONDecoder())["scan_once"]


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

    def next_event(self) -> Event | NeedData:
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
            header, parsed = _scan_json(text, 0)
            if parsed != len(text):
                raise ValueError("extra data after the JSON value")
        except (UnicodeDecodeError, ValueError, StopIteration):
            raise ProtocolError("frame header is not valid UTF-8 JSON") from None
        except RecursionError:  # "[[[[..." nests deeper than the parser can go
            raise ProtocolError("frame header is nested too deeply") from None
        if not isinstance(header, dict):
            raise ProtocolError("frame header is not a JSON object")
        if header.get("type") == "say" and len(header) == 2 and "text" in header and not body:
            return Say(check_str("text", header["text"]))  # the host's hot path: what event_from_header makes
        return event_from_header(header, body)

    def take_buffered(self) -> bytes:
        """Hand over the bytes received past the last frame (raw transfer data)."""
        rest = bytes(self._buf[self._pos :])
        self._buf.clear()
        self._pos = 0
        return rest
