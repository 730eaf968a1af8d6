"""What the chat window shows for each event from its connection.

How this works
--------------
ClientEvents.handle runs on the Tk thread for every item on the client's event
queue: the host's messages, notices and answers, finished transfers, the end
of the connection, and what the ClientWorker reports about the calls it made
(`CallDone` with the Request a call returned, `CallFailed` with a sentence).

The window asks for the online list and the file list itself (on joining, and
after each share) to fill the side panel; those answers must not be echoed
into the conversation.  Which answer belongs to which question is known by
the request's `ref`, but the worker learns the ref only after the request has
left, so the answer can reach the queue before the worker's CallDone does.
`Answers` copes with either order: an answer to a ref not yet reported waits
(at most MAX_WAITING of them) until its CallDone arrives.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mmchat import describe, media
from mmchat.client import Disconnected, Request, TransferFinished, TransferResumed
from mmchat.media import MediaKind
from mmchat.protocol import (
    ChatMessage,
    CommandResult,
    ErrorReply,
    FileList,
    Notice,
    NoticeKind,
    OnlineList,
    QRImage,
    VerifyResult,
)

from . import chat_format
from .client_worker import CallDone, CallFailed

if TYPE_CHECKING:
    from .chat_window import ChatWindow

MAX_WAITING = 256  # answers or refs kept while their other half is on its way


class Answers:
    """Pairs each request's ref (from the worker) with its answer (from the host), in either order."""

    def __init__(self) -> None:
        self._quiet: dict[int, bool] = {}  # ref -> asked quietly, for refs whose answer is still to come
        self._early: dict[int, object] = {}  # ref -> an answer that came before its ref was reported

    def asked(self, ref: int, quiet: bool) -> object | None:
        """The worker reports a request's ref; returns its answer if that came first."""
        early = self._early.pop(ref, None)
        if early is None:
            _remember(self._quiet, ref, quiet)
        return early

    def answered(self, ref: int, answer: object) -> bool | None:
        """An answer arrived: whether its request was quiet, or None when the ref is not known yet."""
        if not ref:
            return False  # not an answer to anything we asked
        if ref in self._quiet:
            return self._quiet.pop(ref)
        _remember(self._early, ref, answer)
        return None


def _remember(table: dict, key: int, value: object) -> None:
    table[key] = value
    while len(table) > MAX_WAITING:  # an other half that never comes must not grow the table for ever
        del table[next(iter(table))]


class ClientEvents:
    """Turns one ChatWindow's connection events into what the window shows."""

    def __init__(self, window: ChatWindow) -> None:
        self.window = window
        self.answers = Answers()
        self._last_seq = 0  # kept across reconnects: replayed history is not shown twice

    def new_connection(self) -> None:
        """Forget the refs of the previous connection (they start again from 1)."""
        self.answers = Answers()

    def handle(self, event: object) -> None:
        """Show one event from the client's queue."""
        w = self.window
        if isinstance(event, (ChatMessage, Notice)):
            if event.history and event.seq <= self._last_seq:
                return  # already shown before a reconnect
            self._last_seq = max(self._last_seq, event.seq)
        if isinstance(event, ChatMessage):
            if not event.history and event.sender != w.name:
                w.attention.arriving(event.sender, event.text)  # before it is shown: the divider goes above
            w.view.add_message(event.sender, event.text, event.ts, event.sender == w.name, event.history, me=w.name)
        elif isinstance(event, Notice):
            self._on_notice(event)
        elif isinstance(event, OnlineList):
            w.side.set_online(event.members)
            self._answer(event)
        elif isinstance(event, FileList):
            w.side.set_files(event.files)
            self._answer(event)
        elif isinstance(event, CommandResult):
            w.view.block(f"$ {event.line}", "\n".join(describe.command_lines(event)), error=not event.allowed)
            self.answers.answered(event.ref, event)
        elif isinstance(event, QRImage):
            w.show_qr(event)
            self.answers.answered(event.ref, event)
        elif isinstance(event, VerifyResult):
            w.view.system(f"Code {event.code}: {describe.verify_line(event)}")
            self.answers.answered(event.ref, event)
        elif isinstance(event, ErrorReply):
            w.view.system(describe.error_line(event), error=True)
            self.answers.answered(event.ref, event)
        elif isinstance(event, TransferFinished):
            w.sharing.finished(event.transfer)
        elif isinstance(event, TransferResumed):
            t = event.transfer
            w.view.system(describe.resume_line(t.direction, t.filename, t.offset, t.size))
        elif isinstance(event, Disconnected) and (over := describe.chat_over(event, w.name)):
            w.end(over)
        elif isinstance(event, CallDone) and isinstance(event.result, Request):
            early = self.answers.asked(event.result.ref, event.quiet)
            if early is not None and not event.quiet:
                self._echo(early)
        elif isinstance(event, CallFailed):
            self._call_failed(event)

    def _answer(self, event: OnlineList | FileList) -> None:
        if self.answers.answered(event.ref, event) is False:
            self._echo(event)

    def _echo(self, answer: object) -> None:
        """Show an answer the person asked for (the side panel already has it)."""
        view = self.window.view
        if isinstance(answer, OnlineList):
            view.system("Online: " + ", ".join(describe.online_lines(answer)))
        elif isinstance(answer, FileList):
            view.block("Shared files", "\n".join(describe.file_lines(answer)))
        # Anything else was shown when it arrived.

    def _call_failed(self, event: CallFailed) -> None:
        w = self.window
        if event.quiet:
            return  # the window's own question; a lost connection says so through Disconnected
        if event.what == "say":
            w.view.system(f"Your message was not sent: {event.error}", error=True)
            if event.text and not w.layout.typed().strip():
                w.input.insert("1.0", event.text)  # give it back, to send again after a reconnect
        else:
            w.view.system(event.error, error=True)

    def _on_notice(self, event: Notice) -> None:
        w = self.window
        links = []
        if event.kind == NoticeKind.SHARE and event.filename:
            name = event.filename
            links.append(w.view.link("Download", lambda: w.download(name)))
            if chat_format.is_image(name):
                links.append(w.view.link("Preview", lambda: w.preview(name)))
            links += w.media.links(name, event.size, event.history)
        text = describe.notice_line(event, w.name)
        if event.kind == NoticeKind.SHARE and not event.history and event.member != w.name:
            w.attention.arriving(event.member, text)
        w.view.add_notice(text, event.kind, event.ts, event.history, links)
        if event.kind == NoticeKind.SHARE and event.filename and chat_format.is_image(event.filename):
            w.view.anchor_here(event.filename)  # its preview will appear here, under the announcement
        if event.kind == NoticeKind.SHARE and event.filename and media.kind_of(event.filename) is not MediaKind.OTHER:
            w.view.anchor_here(event.filename)  # and so will its player or video card
            w.media.shared(event.filename, event.size, event.history)
        if event.history:
            return
        if event.kind == NoticeKind.JOIN:
            w.side.member_joined(event.member)
        elif event.kind in (NoticeKind.LEAVE, NoticeKind.DROPPED, NoticeKind.KICKED, NoticeKind.TIMED_OUT):
            w.side.member_left(event.member)
        if event.kind == NoticeKind.SHARE and w.client is not None:
            w.commands.ask("files", quiet=True)
        if over := describe.chat_over(event, w.name):
            w.end(over, retry=event.kind != NoticeKind.KICKED)  # a kicked member is not pushed back in
