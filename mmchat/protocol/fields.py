"""Header fields: the caps on every value from the wire, their checks, and events to headers and back.

A frame's header is a JSON object; `event_from_header` turns one into its
event class, checking every field against its type and cap, and refuses
unknown, missing or extra fields.  `header_of` goes the other way and leaves
out fields equal to their default.  The checks raise `ProtocolError` with a
short reason; `check_member_name` instead speaks to a person, in sentences.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Callable
from typing import Any, NamedTuple

from ..names import hidden_characters
from .errors import ProtocolError
from .events import EVENT_TYPES, Direction, Event, NoticeKind, RefusalKind, SharedFile

# 2: an upload's SHA-256 follows its bytes (`end`) instead of coming first.
# 3: `ping` / `pong` keep-alive and the "timed out" notice (a version-2 member would refuse both).
# 4: `refused` says why in `kind` (password needed, wrong password, banned), beside its sentence.
# 5: every connection runs over TLS from its first byte (a version-4 member gets a clear-text refusal).
PROTOCOL_VERSION = 5
DEFAULT_PORT = 12002

MAX_NAME_CHARS = 32
MAX_TEXT_CHARS = 4000
MAX_FILENAME_BYTES = 255
MAX_COMMAND_CHARS = 1024
MAX_PASSWORD_CHARS = 256
MAX_OUTPUT_CHARS = 256 * 1024
MAX_LIST_ITEMS = 10_000
MAX_FILE_LIST_ITEMS = 1_000  # so the largest possible file list still fits framing.MEMBER_INBOUND
_DEFAULT_STR_CHARS = 4096


def check_member_name(name: str) -> str:
    """Return `name` if it is an acceptable member name, else raise ValueError with a sentence."""
    if not name or not name.strip():
        raise ValueError("Please choose a name.")
    if name != name.strip():
        raise ValueError("A name may not start or end with a space.")
    if len(name) > MAX_NAME_CHARS:
        raise ValueError(f"A name may have at most {MAX_NAME_CHARS} characters.")
    # Invisible characters would let two names that look alike both be online (an emoji keeps
    # its joiner and its emoji style: 👩‍💻, ❤️); look-alike letters are the room's to compare.
    if hidden_characters(name):
        raise ValueError("A name may not contain invisible characters.")
    if not name.replace("\u200d", "").isprintable():  # what is left: tabs, new lines, escapes
        raise ValueError("A name may not contain control characters.")
    if any(ch in name for ch in "[]/\\"):
        raise ValueError("A name may not contain brackets or slashes.")
    if name.startswith("!"):
        raise ValueError("A name may not start with '!'.")
    return name


# --- one check per field type ------------------------------------------------------

_STR_CAPS = {
    "member": MAX_NAME_CHARS,
    "sender": MAX_NAME_CHARS,
    "owner": MAX_NAME_CHARS,
    "text": MAX_TEXT_CHARS,
    "line": MAX_COMMAND_CHARS,
    "output": MAX_OUTPUT_CHARS,
    "code": 128,
    "token": 128,
    "password": MAX_PASSWORD_CHARS,
    "kind": 16,
    "direction": 16,
}
_SHA256_RE = re.compile(r"[0-9a-f]{64}\Z")
_MAX_SIZE = 1 << 62


def is_sha256(value: str) -> bool:
    """Whether `value` spells a SHA-256 as the wire does: 64 lowercase hex digits."""
    return _SHA256_RE.match(value) is not None


def check_str(name: str, value: Any) -> str:
    """`value` if it is text within field `name`'s cap, else ProtocolError."""
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
        if not is_sha256(value):
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


def _enum_check(kind: type[enum.StrEnum], what: str) -> Callable[[str, Any], Any]:
    """The check of a field that holds one of `kind`'s values (`what` names them in the reason)."""

    def check(name: str, value: Any) -> enum.StrEnum:
        text = check_str(name, value)  # first, so a long or non-text value gets the usual reason
        try:
            return kind(text)
        except ValueError:
            raise ProtocolError(f"unknown {what} {text!r}") from None

    return check


def _check_list(name: str, value: Any, cap: int) -> list[Any]:
    if not isinstance(value, list):
        raise ProtocolError(f"field {name!r} must be a list")
    if len(value) > cap:
        raise ProtocolError(f"field {name!r} has more than {cap} items")
    return value


def _check_members(name: str, value: Any) -> tuple[str, ...]:
    return tuple(check_str("member", item) for item in _check_list(name, value, MAX_LIST_ITEMS))


def _check_files(name: str, value: Any) -> tuple[SharedFile, ...]:
    return tuple(_shared_file(item) for item in _check_list(name, value, MAX_FILE_LIST_ITEMS))


def _shared_file(item: Any) -> SharedFile:
    if not isinstance(item, dict) or set(item) != {"filename", "size", "owner", "ts"}:
        raise ProtocolError("malformed entry in file list")
    return SharedFile(
        filename=check_str("filename", item["filename"]),
        size=_check_int("size", item["size"]),
        owner=check_str("owner", item["owner"]),
        ts=_check_float("ts", item["ts"]),
    )


Check = Callable[[str, Any], Any]

# A field's annotation (a string: the event modules use `from __future__ import annotations`) -> its check.
_CHECKS: dict[str, Check] = {
    "str": check_str,
    "int": _check_int,
    "float": _check_float,
    "bool": _check_bool,
    "NoticeKind": _enum_check(NoticeKind, "notice kind"),
    "Direction": _enum_check(Direction, "transfer direction"),
    "RefusalKind": _enum_check(RefusalKind, "refusal kind"),
    "tuple[str, ...]": _check_members,
    "tuple[SharedFile, ...]": _check_files,
}


# --- headers to events and back ------------------------------------------------------


class Layout(NamedTuple):
    """What decoding and encoding need to know of one event class, worked out once."""

    fields: tuple[tuple[str, Check, Any], ...]  # the header fields as (name, check, default)
    names: frozenset[str]  # their names, and "type"
    takes_body: bool


_LAYOUTS: dict[type[Event], Layout] = {}


def layout(cls: type[Event]) -> Layout:
    """The `Layout` of an event class."""
    found = _LAYOUTS.get(cls)
    return found if found is not None else _LAYOUTS.setdefault(cls, _work_out_layout(cls))


def _work_out_layout(cls: type[Event]) -> Layout:
    header_fields = tuple((f.name, _CHECKS[str(f.type)], f.default) for f in dataclasses.fields(cls) if f.name != "png")
    takes_body = any(f.name == "png" for f in dataclasses.fields(cls))
    return Layout(header_fields, frozenset(name for name, _, _ in header_fields) | {"type"}, takes_body)


def event_from_header(header: dict[str, Any], body: bytes = b"") -> Event:
    """Build the typed event for a decoded JSON header, validating every field."""
    kind = header.get("type")
    cls = EVENT_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ProtocolError(f"unknown message type {kind!r}")
    header_fields, names, takes_body = layout(cls)
    if not names.issuperset(header):
        extra = set(header) - names
        raise ProtocolError(f"message {kind!r} has unknown field(s): {', '.join(sorted(extra))}")
    kwargs: dict[str, Any] = {}
    for name, check, default in header_fields:
        if name in header:
            value = header[name]
            # A text field's default "" is always valid (an upload's start has no sha256 yet).
            kwargs[name] = value if value == "" == default else check(name, value)
        elif default is dataclasses.MISSING:
            raise ProtocolError(f"message {kind!r} lacks field {name!r}")
    if takes_body:
        kwargs["png"] = body  # the PNG is the frame body, never a header field
    elif body:
        raise ProtocolError(f"message {kind!r} takes no body")
    return cls(**kwargs)


def header_of(event: Event) -> dict[str, Any]:
    """The JSON header of `event`, without the fields that equal their default (smaller frames)."""
    header: dict[str, Any] = {"type": event.TYPE}
    for name, _, default in layout(type(event)).fields:
        value = getattr(event, name)
        if value == default:
            continue
        if isinstance(value, tuple):
            value = [dataclasses.asdict(v) if isinstance(v, SharedFile) else v for v in value]
        header[name] = value
    return header
