"""Who may send what, when: the roles, the states, and the one table of transitions."""

from __future__ import annotations

import enum

from .events import (
    ChatMessage,
    CommandResult,
    ErrorReply,
    Event,
    FileList,
    Goodbye,
    Hello,
    ListFiles,
    ListOnline,
    Notice,
    OfferUpload,
    OnlineList,
    Ping,
    Pong,
    QRImage,
    Refused,
    RequestDownload,
    RequestQR,
    RunCommand,
    Say,
    TransferDone,
    TransferEnd,
    TransferHello,
    TransferReady,
    TransferStart,
    VerifyCode,
    VerifyResult,
    Welcome,
)


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


MEMBER_REQUESTS = (Say, ListOnline, ListFiles, RunCommand, RequestQR, VerifyCode, OfferUpload, RequestDownload)
HOST_REPLIES = (ChatMessage, Notice, OnlineList, FileList, CommandResult, QRImage, VerifyResult, TransferReady)

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
    (State.CHATTING, Role.HOST, ErrorReply): State.CHATTING,  # a fatal one closes: see next_state
    **{(State.CHATTING, Role.MEMBER, cls): State.CHATTING for cls in MEMBER_REQUESTS},
    **{(State.CHATTING, Role.HOST, cls): State.CHATTING for cls in HOST_REPLIES},
    # Keep-alive: either side may ask, either side answers, only while chatting.
    **{(State.CHATTING, role, cls): State.CHATTING for role in Role for cls in (Ping, Pong)},
}


def next_state(state: State, role: Role, event: Event) -> State | None:
    """The state after `role` sends `event` in `state`, or None if the table does not allow it."""
    after = TRANSITIONS.get((state, role, type(event)))
    if after is not None and isinstance(event, ErrorReply) and event.fatal:
        return State.CLOSED
    return after
