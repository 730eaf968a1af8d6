"""The join-mode chat window: messages, input box, who is online, shared files and transfers.

How this works
--------------
ChatWindow owns the connection's life (connect, reconnect, the banners that
say why the chat ended, leaving) and hands the rest to one module per job:
ChatLayout builds the widgets, ClientEvents shows what the host sends,
ChatCommands acts on typed lines and ChatTransfers on files.

The Tk thread never waits on the network.  Connecting runs on a worker thread
whose outcome (`_Connected` / `_ConnectFailed`) comes back on the window's own
queue, with finished image thumbnails and the connecting thread's questions about
the host's key (gui/trust_dialog.py).  Once connected, every call that writes to
the host's socket (messages, requests, the goodbye) is made by the connection's
ClientWorker, in order, and its failures come back through the client's event
queue; `send_file` / `request_file` only start threads.
Each ChatClient has its own event queue, drained by a second QueuePump, so a
reconnect never mixes the old connection's events with the new one's.
Transfer threads only bump a ProgressCounter that the TransferPanel polls.

A host that answers it needs a password (or that the one sent was wrong) gets
the password form in the banner (`password_field.PasswordPrompt`) instead of a
retry: what is typed there is used for this connection and every reconnect.

When the chat ends by itself (the host stopped or went away, not a kick), the
window tries again after RETRY_FIRST_S seconds, doubling the wait after each
failure up to RETRY_MAX_S; a connection, a click on Reconnect or closing the
window stops the timer.  The host replays its history on join: ClientEvents
skips the seqs already shown, so the conversation catches up without repeats.

Every `after` id belongs to a QueuePump, the TransferPanel, the QRWindow or the
reconnect timer, and each is cancelled when its widget is destroyed.  Closing the window (or
destroying its master) says goodbye to the host from the worker, so the others
see "<name> left the chat" while this window is already gone.
"""

from __future__ import annotations

import functools
import queue
import threading
import tkinter as tk
from dataclasses import dataclass
from pathlib import Path
from tkinter import ttk

from mmchat import describe, protocol
from mmchat.address import Address, format_address
from mmchat.client import ChatClient, ConnectError, Transfer
from mmchat.known_hosts import HostVerifier, connect_verified
from mmchat.protocol import QRImage, RefusalKind
from mmchat.typed import Kind, Typed, clean_text

from . import chat_format, drop, file_dialogs, preview, theme
from .attention import Attention
from .chat_commands import ChatCommands
from .chat_events import ClientEvents
from .chat_layout import ChatActions, ChatLayout
from .chat_media import ChatMedia
from .chat_transfers import ChatTransfers
from .client_worker import ClientWorker, close_in_background
from .password_field import PasswordPrompt
from .pump import QueuePump
from .qr_window import QRWindow
from .trust_dialog import WindowTrust

RETRY_FIRST_S = 1.0  # the first automatic reconnect, after the chat ended by itself
RETRY_MAX_S = 30.0  # the wait doubles after each failed try, up to this


def next_retry_delay(delay: float) -> float:
    """The wait before the next automatic try: twice the last one, at most RETRY_MAX_S."""
    return min(delay * 2, RETRY_MAX_S)


@dataclass(frozen=True)
class _Connected:
    client: ChatClient


@dataclass(frozen=True)
class _ConnectFailed:
    reason: str
    refusal: RefusalKind = RefusalKind.OTHER
    distrusted: bool = False  # the host's key was refused: trying again by itself would only ask again


ASK_PASSWORD = (RefusalKind.PASSWORD_NEEDED, RefusalKind.WRONG_PASSWORD)


class ChatWindow:
    """The chat window of one member, on any Tk or Toplevel `master`."""

    def __init__(
        self, master: tk.Tk | tk.Toplevel, host: str, port: int, name: str = "", downloads: Path | str = ".",
        password: str = "", fingerprint: str = "", accept_new_key: bool = False, tls: bool = True,
    ) -> None:  # fmt: skip
        self.master = master
        self.host, self.port, self.name, self.fingerprint = host, port, name, fingerprint  # the invite's, or ''
        self.wanted_name = name  # asked for again on a reconnect (the host may have renamed us)
        self.downloads, self.tls = Path(downloads), tls  # tls: False only with --no-tls (for measuring)
        self.password = password
        self.client: ChatClient | None = None
        self.worker: ClientWorker | None = None  # makes the client's network calls, off the Tk thread
        self.qr_window: QRWindow | None = None
        self.password_prompt: PasswordPrompt | None = None  # in the banner while the host wants a password
        self.closed = False
        self.ended = ""  # why the chat ended for us (kicked, host gone...), '' while it runs
        self.ui_events: queue.Queue[object] = queue.Queue()
        self.trust = WindowTrust(master, self.ui_events, accept_new_key)  # the host's key: verifiers, dialogs
        self._lock = threading.Lock()
        self._client_pump: QueuePump | None = None
        self._retry_id: str | None = None  # the pending automatic reconnect
        self.retry_delay = 0.0  # the wait before the next automatic try; 0 when none is planned
        self.commands = ChatCommands(self)
        self.sharing = ChatTransfers(self)
        self.events = ClientEvents(self)
        self.layout = ChatLayout(
            master, ChatActions(
                send=self.send_typed, attach=self.attach, download=self.download,
                download_selected=self.sharing.download_selected, request_qr=self.request_qr,
                run_command=self.run_command, show_help=self.show_help, leave=self.close,
            ),
        )  # fmt: skip
        ui = self.layout
        # The widgets other code and the tests reach through the window, as before the split.
        self.frame, self.where, self.status, self.banner, self.menu = ui.frame, ui.where, ui.status, ui.banner, ui.menu
        self.view, self.transfers, self.side = ui.view, ui.transfers, ui.side
        self.input, self.counter = ui.input, ui.counter
        self.send_button, self.attach_button = ui.send_button, ui.attach_button
        ui.show_identity(name, host, port, joined=False)
        self.attention = Attention(self)  # unread count, divider, attention hint, notifications
        self.media = ChatMedia(self)  # audio players, video cards, the microphone button
        self.accepts_drops = drop.enable_drop(master, self.sharing.dropped)  # files dropped here are shared
        self._ui_pump = QueuePump(self.frame, self.ui_events, self._on_ui_event)
        self._ui_pump.start()
        self.frame.bind("<Destroy>", self._on_destroy, add="+")
        master.protocol("WM_DELETE_WINDOW", self.close)
        if name:
            self.connect()
        else:
            ui.ask_name(self.submit_name)

    # The banner's widgets come and go with the banner: read them from the layout.
    @property
    def banner_label(self) -> ttk.Label | None:
        return self.layout.banner_label

    @property
    def banner_button(self) -> ttk.Button | None:
        return self.layout.banner_button

    @property
    def name_entry(self) -> ttk.Entry | None:
        return self.layout.name_entry

    @property
    def name_error(self) -> ttk.Label | None:
        return self.layout.name_error

    def _set_status(self, text: str, colour: str) -> None:
        self.layout.set_status(text, colour, connected=self.client is not None and not self.ended)

    def submit_name(self) -> None:
        """Check the name typed in the name form, then connect with it."""
        entry, error = self.layout.name_entry, self.layout.name_error
        if entry is None or error is None:
            return  # the form is gone (already joining)
        name = clean_text(entry.get())
        try:
            self.name = self.wanted_name = protocol.check_member_name(name)
        except ValueError as exc:
            error["text"] = str(exc)
            return
        self.connect()

    # --- connecting ----------------------------------------------------------------------

    def connect(self) -> None:
        """Join the chat on a worker thread; the outcome arrives through the window's queue."""
        if self.closed:
            return
        self.ended = ""
        self._set_status("Connecting…", theme.MUTED)
        self.layout.show_banner(f"Connecting to {self.host}:{self.port}…", "Muted.TLabel")
        verifier = self.trust.verifier(Address(self.host, self.port, self.fingerprint))
        make = functools.partial(ChatClient, self.host, self.port, self.wanted_name, downloads=self.downloads,
                                 password=self.password, verify_host=verifier, use_tls=self.tls)  # fmt: skip
        threading.Thread(target=self._connect_worker, args=(make, verifier), name="mmchat-connect", daemon=True).start()

    def _connect_worker(self, make_client: functools.partial[ChatClient], verifier: HostVerifier) -> None:
        try:
            client = connect_verified(make_client, verifier)
        except ConnectError as exc:
            self.ui_events.put(_ConnectFailed(str(exc), exc.refusal, distrusted=verifier.refused is not None))
            return
        except Exception as exc:  # whatever happens, the window gets a sentence, not a dead thread
            self.ui_events.put(_ConnectFailed(f"Could not connect: {exc}"))
            return
        with self._lock:
            if not self.closed:
                self.ui_events.put(_Connected(client))
                return
        client.close()  # the window went away while we were connecting (we are off the Tk thread here)

    def reconnect(self) -> None:
        """Start over with a new connection (after a failure, a kick, or the host going away)."""
        self._cancel_retry()
        self._drop_connection()
        self.view.new_connection()
        self.connect()

    def _drop_connection(self) -> None:
        """Stop listening to the current client and let its worker close it, without waiting."""
        self.client = None
        if self._client_pump is not None:
            self._client_pump.stop()
            self._client_pump = None
        if self.worker is not None:
            self.worker.close()
            self.worker = None

    def _connected(self, client: ChatClient) -> None:
        self.client, self.name = client, client.name
        self.worker = ClientWorker(client, client.events)
        self.events.new_connection()
        self._cancel_retry()
        self.retry_delay = 0.0
        self.side.me = client.name
        self.side.set_online([])
        self.side.set_connected(True)
        self.layout.clear_banner()
        self.layout.show_identity(self.name, self.host, self.port, joined=True)
        self.attention.show_title()  # keeps an unread count through a reconnect
        self._set_status("Connected", theme.SUCCESS)
        self.view.system(f"Connected to {format_address(self.host, self.port)} as {self.name}.")
        if client.renamed:
            self.view.system(f"That name was taken: you are {self.name} in this chat.")
        self._client_pump = QueuePump(self.frame, client.events, self.events.handle)
        self._client_pump.start()
        for what in ("online", "files"):
            self.commands.ask(what, quiet=True)
        self.sharing.reconnected()  # unfinished transfers go on from where they stopped
        self.input.focus_set()

    def end(self, reason: str, retry: bool = True) -> None:
        """The chat is over for us: say why (once), clear what no longer holds, and try again by itself."""
        if self.ended:
            return
        self.ended = reason
        self.side.set_online([])  # we no longer know who is there
        self.side.set_connected(False)
        self._set_status("Disconnected", theme.ERROR)
        if not self._last_line_says(reason):  # the host's own notice may have said it already
            self.view.system(reason, error=True)
        if retry:
            self.retry_delay = RETRY_FIRST_S
            self._plan_retry(reason)
        else:
            self.layout.show_banner(reason, "Error.TLabel", "Reconnect", self.reconnect)

    def _last_line_says(self, reason: str) -> bool:
        last = self.view.text.get("end-3l linestart", "end")  # the line just written, and its newline
        return reason in last

    def _plan_retry(self, reason: str) -> None:
        """Show why, and reconnect by itself after `retry_delay` seconds."""
        self._cancel_retry()
        self.layout.show_banner(
            f"{reason} Trying again in {self.retry_delay:g} s…", "Error.TLabel", "Reconnect", self.reconnect
        )
        self._retry_id = self.frame.after(int(self.retry_delay * 1000), self._retry)

    def _retry(self) -> None:
        self._retry_id = None
        self.reconnect()

    def _cancel_retry(self) -> None:
        if self._retry_id is not None:
            self.frame.after_cancel(self._retry_id)
            self._retry_id = None

    def ask_password(self, sentence: str) -> None:
        """The host wants a password: the form in the banner, and the sentence in the conversation."""
        self.layout.clear_banner()
        self.layout.banner.grid()
        self.password_prompt = PasswordPrompt(self.layout.banner, sentence, self.submit_password)
        self.view.system(sentence, error=True)

    def submit_password(self, password: str) -> None:
        """Connect again with the password typed in the form (kept for reconnects, never saved)."""
        self.password, self.password_prompt = password, None
        self.connect()

    def require_client(self) -> ChatClient | None:
        """The live client, or None after telling the person they are not connected."""
        if self.client is None or self.worker is None or self.ended or not self.client.connected:
            self.view.system("You are not connected to the chat.", error=True)
            return None
        return self.client

    def _on_ui_event(self, item: object) -> None:
        if isinstance(item, _Connected):
            self._connected(item.client)
        elif self.trust.handle(item, self.view.system):
            pass  # a question about the host's key (the dialog opens), or a line about it
        elif isinstance(item, _ConnectFailed):
            self.trust.connect_failed()
            self._set_status("Not connected", theme.ERROR)
            if item.refusal in ASK_PASSWORD:  # trying again by itself would only guess wrong again
                self._cancel_retry()
                self.retry_delay = 0.0
                self.ask_password(item.reason)
                return
            # Trying by itself: wait longer, and say it in the banner only (never after a refused key: it would ask).
            if self.retry_delay and not item.distrusted:
                self.retry_delay = next_retry_delay(self.retry_delay)
                self._plan_retry(item.reason)
                return
            self.layout.show_banner(item.reason, "Error.TLabel", "Retry", self.connect)
            self.view.system(item.reason, error=True)
        elif isinstance(item, preview.PreviewReady):
            preview.show(self.master, self.view, item, self.ui_events)

    # --- what the person does ----------------------------------------------------------

    def send_typed(self, event: tk.Event | None = None) -> str:
        """Send what is in the input box: a message, or a ! command as in the terminal."""
        self.commands.send_typed()
        return "break"

    def show_help(self) -> None:
        """List the commands that can be typed."""
        self.view.block("Commands", describe.HELP.split("\n", 1)[1])

    def run_command(self, line: str) -> None:
        """Run a !cmd on the host; the output appears as a monospace block."""
        self.commands.run(Typed(Kind.CMD, line))

    def request_qr(self) -> None:
        """Ask the host for a one-time code (the QR window opens when it arrives)."""
        self.commands.run(Typed(Kind.QR))

    def show_qr(self, event: QRImage) -> None:
        """Open the five-second QR window."""
        if self.qr_window is not None:
            self.qr_window.close()
        try:
            self.qr_window = QRWindow(self.master, event.png, event.code, event.expires_in)
        except ValueError as exc:
            self.view.system(str(exc), error=True)
            return
        self.view.system(f"A one-time code is shown for a few seconds (valid {event.expires_in} s, once).")

    def _ask_open_path(self) -> str:
        """The file dialog for Attach (tests replace this method)."""
        return file_dialogs.ask_open_path(self.master, title="Share a file with everyone")

    def _ask_save_path(self, name: str) -> str:
        """The save dialog for a download, starting in the downloads folder (tests replace this)."""
        return file_dialogs.ask_save_path(
            self.master,
            title=f"Save {chat_format.single_line(name)}",
            initialdir=str(self.downloads),
            initialfile=chat_format.default_save_name(name),
        )

    def attach(self) -> None:
        """Pick a file and share it."""
        self.sharing.attach()

    def upload(self, path: Path) -> Transfer | None:
        """Share a local file through the host, with a progress row."""
        return self.sharing.upload(path)

    def download(self, name: str) -> Transfer | None:
        """Ask where to save a shared file, then download it."""
        return self.sharing.download(name)

    def preview(self, name: str) -> Transfer | None:
        """Download a shared image into the preview folder (once) and show it inline."""
        return self.sharing.preview(name)

    # --- leaving -----------------------------------------------------------------------

    def close(self) -> None:
        """Leave the chat and close the window at once (the goodbye leaves from the worker)."""
        self._leave()
        try:
            self.master.destroy()
        except tk.TclError:
            pass

    def _on_destroy(self, event: tk.Event) -> None:
        if event.widget is self.frame:
            self._leave()

    def _leave(self) -> None:
        if self.closed:
            return
        with self._lock:
            self.closed = True
        self._ui_pump.stop()
        self.trust.close()  # a connecting thread waiting for the trust dialog hears "no" at once
        self._cancel_retry()
        if self.qr_window is not None:
            self.qr_window.close()
        while True:  # a connection that completed just as we closed
            try:
                item = self.ui_events.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, _Connected):
                close_in_background(item.client)
        self._drop_connection()
        # Drop our Tk images here, on the Tk thread: a garbage collection on some
        # other thread would otherwise try to delete them from there.
        self.view.images.clear()
        self.media.close()  # the players let go of their files before the cache goes
        self.sharing.remove_previews()
