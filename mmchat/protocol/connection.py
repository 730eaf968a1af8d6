"""One side of one connection: the frame decoder and the state table, together."""

from __future__ import annotations

from collections.abc import Iterator

from .errors import LocalProtocolError, ProtocolError
from .events import Event
from .framing import HOST_INBOUND, MEMBER_INBOUND, NEED_DATA, FrameDecoder, Limits, NeedData, encode
from .state import Role, State, next_state


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
        after = next_state(self.state, role, event)
        if after is None:
            raise (LocalProtocolError if role is self.our_role else ProtocolError)(
                f"{role.value} may not send {event.TYPE!r} while {self.state.value}"
            )
        self.state = after

    def send(self, event: Event) -> bytes:
        """Check that we may send `event` now and return its frame."""
        self._advance(self.our_role, event)
        return encode(event)

    def receive_data(self, data: bytes) -> None:
        """Feed bytes read from the peer."""
        self._decoder.receive_data(data)

    def next_event(self) -> Event | NeedData:
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
        while (event := self.next_event()) is not NEED_DATA:
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
