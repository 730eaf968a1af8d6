"""The join-mode chat window: messages, input box, who is online, shared files and transfers.

How this works
--------------
Nothing here blocks the Tk thread on the network for long.  Connecting runs on
a worker thread whose outcome (`_Connected` / `_ConnectFailed`) goes on the
window's own queue, together with finished image thumbnails; each ChatClient
has its own event queue, drained by a second QueuePump, so a reconnect never
mixes the old connection's events with the new one's.  Transfer threads only
bump a ProgressCounter that the TransferPanel polls.

Every `after` id belongs to a QueuePump, the TransferPanel or the QRWindow, and
each cancels its own when its widget is destroyed.  Closing the window (or
destroying its master) says goodbye to the host, so the others see
"<name> left the chat".
"""

from __future__ import annotations

import queue
import threading
import tkinter as tk
import tkinter.font as tkfont
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from tkinter import filedialog, ttk

from mmchat import describe, protocol
from mmchat.client import ChatClient, ConnectError, Disconnected, Request, Transfer, TransferFinished
from mmchat.protocol import ChatMessage, CommandResult, ErrorReply, FileList, Notice, OnlineList, QRImage, VerifyResult

from . import chat_format, preview, theme
from .message_view import MessageView
from .pump import QueuePump
from .qr_window import QRWindow
from .side_panel import SidePanel
from .transfer_panel import ProgressCounter, TransferPanel

ASTRAL_WIDTH = 2 if tk.TkVersion < 9 else 1


@dataclass(frozen=True)
class _Connected:
    client: ChatClient


@dataclass(frozen=True)
class _ConnectFailed:
    reason: str


class ChatWindow:
    """The chat window of one member, on any Tk or Toplevel `master`."""

    def __init__(
        self, master: tk.Tk | tk.Toplevel, host: str, port: int, name: str = "", downloads: Path | str = ".",
        password: str = "",
    ) -> None:  # fmt: skip
        self.master = master
        self.host, self.port, self.name = host, port, name
        self.wanted_name = name  # asked for again on a reconnect (the host may have renamed us)
        self.downloads = Path(downloads)
        self.password = password
        self.client: ChatClient | None = None
        self.qr_window: QRWindow | None = None
        self.closed = False
        self.ended = ""  # why the chat ended for us (kicked, host gone...), '' while it runs
        self.ui_events: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._client_pump: QueuePump | None = None
        self._quiet_refs: set[int] = set()  # answers the window asked for itself: not echoed
        self._last_seq = 0
        self._previews: set[Transfer] = set()
        self._preview_paths: dict[str, Path] = {}  # shared name -> its copy in the preview folder
        self._upload_paths: dict[Transfer, Path] = {}
        self._build()
        self._ui_pump = QueuePump(self.frame, self.ui_events, self._on_ui_event)
        self._ui_pump.start()
        self.frame.bind("<Destroy>", self._on_destroy, add="+")
        master.protocol("WM_DELETE_WINDOW", self.close)
        if name:
            self.connect()
        else:
            self._ask_name()

    # --- layout ------------------------------------------------------------------------

    def _build(self) -> None:
        m = self.master
        m.title(chat_format.window_title(self.name, self.host, self.port))
        m.geometry("1020x680")
        m.minsize(640, 420)
        m.columnconfigure(0, weight=1)
        m.rowconfigure(0, weight=1)
        self.frame = ttk.Frame(m)
        self.frame.grid(row=0, column=0, sticky="nsew")
        self.frame.columnconfigure(0, weight=1)
        self.frame.rowconfigure(3, weight=1)
        self._build_menu()

        header = ttk.Frame(self.frame, style="Surface.TFrame", padding=(theme.PAD * 2, theme.PAD))
        header.grid(row=0, column=0, sticky="ew")
        ttk.Label(header, text="mmchat", style="Title.TLabel", background=theme.SURFACE).pack(side="left")
        self.where = ttk.Label(header, text=f"{self.host}:{self.port}", style="Muted.TLabel", background=theme.SURFACE)
        self.where.pack(side="left", padx=(theme.PAD * 2, 0), pady=(4, 0))
        self.status = ttk.Label(header, background=theme.SURFACE)
        self.status.pack(side="right")
        ttk.Separator(self.frame).grid(row=1, column=0, sticky="ew")
        self.banner = ttk.Frame(self.frame, padding=(theme.PAD * 2, theme.PAD))
        self.banner.grid(row=2, column=0, sticky="ew")

        panes = ttk.Panedwindow(self.frame, orient="horizontal")
        panes.grid(row=3, column=0, sticky="nsew")
        left = ttk.Frame(panes)
        left.columnconfigure(0, weight=1)
        left.rowconfigure(0, weight=1)
        self.view = MessageView(left)
        self.view.frame.grid(row=0, column=0, sticky="nsew")
        self.transfers = TransferPanel(left)
        self.transfers.grid(row=1, column=0, sticky="ew", pady=(1, 0))
        self.transfers.grid_remove()
        self._build_composer(left)
        self.side = SidePanel(panes, download=self.download, run=self.run_command)
        panes.add(left, weight=1)
        panes.add(self.side, weight=0)
        self._set_status("Not connected", theme.MUTED)

    def _build_composer(self, parent: ttk.Frame) -> None:
        box = ttk.Frame(parent, padding=(theme.PAD + 4, theme.PAD, theme.PAD + 4, 0))
        box.grid(row=2, column=0, sticky="ew")
        box.columnconfigure(1, weight=1)
        self.attach_button = ttk.Button(box, text="📎 Attach", command=self.attach)
        self.attach_button.grid(row=0, column=0, sticky="sw", padx=(0, theme.PAD))
        border = tk.Frame(box, background=theme.BORDER, padx=1, pady=1)
        border.grid(row=0, column=1, sticky="ew")
        base = tkfont.nametofont("TkTextFont", root=parent)
        self.input = tk.Text(
            border, height=3, wrap="word", undo=True, borderwidth=0, highlightthickness=0, padx=8, pady=6,
            background=theme.SURFACE, foreground=theme.TEXT, insertbackground=theme.TEXT,
            font=(base.actual("family"), base.actual("size") + 1),
        )  # fmt: skip
        self.input.pack(fill="both", expand=True)
        self.input.bind("<FocusIn>", lambda e: border.configure(background=theme.ACCENT))
        self.input.bind("<FocusOut>", lambda e: border.configure(background=theme.BORDER))
        self.input.bind("<Return>", self.send_typed)
        self.input.bind("<KP_Enter>", self.send_typed)
        self.input.bind("<Shift-Return>", self._new_line)
        self.input.bind("<<Modified>>", self._on_input_changed)
        self.send_button = ttk.Button(box, text="Send", style="Accent.TButton", command=self.send_typed)
        self.send_button.grid(row=0, column=2, sticky="se", padx=(theme.PAD, 0))
        hint = ttk.Frame(box)
        hint.grid(row=1, column=1, columnspan=2, sticky="ew", pady=(2, theme.PAD - 2))
        ttk.Label(hint, text="Enter: send  ·  Shift+Enter: new line  ·  !help: commands",
                  style="Muted.TLabel").pack(side="left")  # fmt: skip
        self.counter = ttk.Label(hint, style="Muted.TLabel")
        self.counter.pack(side="right")

    def _build_menu(self) -> None:
        menubar = tk.Menu(self.master)
        chat = tk.Menu(menubar, tearoff=False)
        chat.add_command(label="Send file…", command=self.attach)
        chat.add_command(label="Download…", command=self._download_menu)
        chat.add_command(label="Get QR code", command=self.request_qr)
        chat.add_command(label="Run command…", command=lambda: self.side.command.focus_set())
        chat.add_separator()
        chat.add_command(label="Leave", command=self.close)
        helpmenu = tk.Menu(menubar, tearoff=False)
        helpmenu.add_command(label="Commands", command=self.show_help)
        menubar.add_cascade(label="Chat", menu=chat)
        menubar.add_cascade(label="Help", menu=helpmenu)
        self.master.configure(menu=menubar)
        self.menu = menubar

    def _set_status(self, text: str, colour: str) -> None:
        self.status.configure(text=f"●  {text}", foreground=colour)
        connected = self.client is not None and not self.ended
        for button in (self.send_button, self.attach_button):
            button.state(["!disabled"] if connected else ["disabled"])

    def _clear_banner(self) -> None:
        for child in self.banner.winfo_children():
            child.destroy()
        self.banner.grid_remove()

    def _show_banner(self, text: str, style: str, button: str = "", command: Callable[[], None] | None = None) -> None:
        self._clear_banner()
        self.banner.grid()
        self.banner_label = ttk.Label(self.banner, text=text, style=style, wraplength=700)
        self.banner_label.pack(side="left")
        if button and command:
            self.banner_button = ttk.Button(self.banner, text=button, style="Accent.TButton", command=command)
            self.banner_button.pack(side="right")

    def _ask_name(self) -> None:
        self._clear_banner()
        self.banner.grid()
        ttk.Label(self.banner, text="Your name in the chat:").pack(side="left")
        self.name_entry = ttk.Entry(self.banner, width=24)
        self.name_entry.pack(side="left", padx=theme.PAD)
        self.name_entry.bind("<Return>", lambda event: self.submit_name())
        ttk.Button(self.banner, text="Join", style="Accent.TButton", command=self.submit_name).pack(side="left")
        self.name_error = ttk.Label(self.banner, style="Error.TLabel")
        self.name_error.pack(side="left", padx=theme.PAD)
        self.name_entry.focus_set()

    def submit_name(self) -> None:
        """Check the name typed in the name form, then connect with it."""
        name = chat_format.clean_text(self.name_entry.get())
        try:
            self.name = self.wanted_name = protocol.check_member_name(name)
        except ValueError as exc:
            self.name_error["text"] = str(exc)
            return
        self.connect()

    # --- connecting ----------------------------------------------------------------------

    def connect(self) -> None:
        """Join the chat on a worker thread; the outcome arrives through the window's queue."""
        if self.closed:
            return
        self.ended = ""
        self._set_status("Connecting…", theme.MUTED)
        self._show_banner(f"Connecting to {self.host}:{self.port}…", "Muted.TLabel")
        client = ChatClient(self.host, self.port, self.wanted_name, downloads=self.downloads, password=self.password)
        threading.Thread(target=self._connect_worker, args=(client,), name="mmchat-connect", daemon=True).start()

    def _connect_worker(self, client: ChatClient) -> None:
        try:
            client.connect()
        except ConnectError as exc:
            self.ui_events.put(_ConnectFailed(str(exc)))
            return
        except Exception as exc:  # whatever happens, the window gets a sentence, not a dead thread
            self.ui_events.put(_ConnectFailed(f"Could not connect: {exc}"))
            return
        with self._lock:
            if not self.closed:
                self.ui_events.put(_Connected(client))
                return
        client.close()  # the window went away while we were connecting

    def reconnect(self) -> None:
        """Start over with a new connection (after a failure, a kick, or the host going away)."""
        old, self.client = self.client, None
        if self._client_pump is not None:
            self._client_pump.stop()
        if old is not None:
            old.close()
        self.view.new_connection()
        self.connect()

    def _connected(self, client: ChatClient) -> None:
        self.client, self.name = client, client.name
        self.side.me = client.name
        self.side.set_online([])
        self._clear_banner()
        self.master.title(chat_format.window_title(self.name, self.host, self.port))
        self.where["text"] = f"{self.host}:{self.port}  ·  you are {chat_format.single_line(self.name)}"
        self._set_status("Connected", theme.SUCCESS)
        self.view.system(f"Connected to {self.host}:{self.port} as {self.name}.")
        if client.renamed:
            self.view.system(f"That name was taken: you are {self.name} in this chat.")
        self._client_pump = QueuePump(self.frame, client.events, self._on_client_event)
        self._client_pump.start()
        self._quietly(client.online)
        self._quietly(client.list_files)
        self.input.focus_set()

    def _quietly(self, ask: Callable[[], Request]) -> None:
        try:
            self._quiet_refs.add(ask().ref)
        except ConnectionError:
            pass  # the Disconnected event tells the person

    def _end(self, reason: str) -> None:
        """The chat is over for us: say why and offer to reconnect."""
        if self.ended:
            return
        self.ended = reason
        self.side.set_online([])  # we no longer know who is there
        self._set_status("Disconnected", theme.ERROR)
        self._show_banner(reason, "Error.TLabel", "Reconnect", self.reconnect)
        self.view.system(reason, error=True)

    # --- events ----------------------------------------------------------------------

    def _on_ui_event(self, item: object) -> None:
        if isinstance(item, _Connected):
            self._connected(item.client)
        elif isinstance(item, _ConnectFailed):
            self._set_status("Not connected", theme.ERROR)
            self._show_banner(item.reason, "Error.TLabel", "Retry", self.connect)
            self.view.system(item.reason, error=True)
        elif isinstance(item, preview.PreviewReady):
            if item.image is None:
                self.view.system(item.error, error=True)
            else:
                self.view.add_image(preview.photo(self.view.text, item.image), item.title)

    def _on_client_event(self, event: object) -> None:
        me = self.name
        if isinstance(event, (ChatMessage, Notice)):
            if event.history and event.seq <= self._last_seq:
                return  # already shown before a reconnect
            self._last_seq = max(self._last_seq, event.seq)
        if isinstance(event, ChatMessage):
            self.view.add_message(event.sender, event.text, event.ts, event.sender == me, event.history)
        elif isinstance(event, Notice):
            self._on_notice(event)
        elif isinstance(event, OnlineList):
            self.side.set_online(event.members)
            if not self._answer_is_quiet(event.ref):
                self.view.system("Online: " + ", ".join(describe.online_lines(event)))
        elif isinstance(event, FileList):
            self.side.set_files(event.files)
            if not self._answer_is_quiet(event.ref):
                self.view.block("Shared files", "\n".join(describe.file_lines(event)))
        elif isinstance(event, CommandResult):
            self.view.block(f"$ {event.line}", "\n".join(describe.command_lines(event)), error=not event.allowed)
        elif isinstance(event, QRImage):
            self.show_qr(event)
        elif isinstance(event, VerifyResult):
            self.view.system(f"Code {event.code}: {describe.verify_line(event)}")
        elif isinstance(event, ErrorReply):
            self._answer_is_quiet(event.ref)
            self.view.system(describe.error_line(event), error=True)
        elif isinstance(event, TransferFinished):
            self._transfer_finished(event.transfer)
        elif isinstance(event, Disconnected) and not event.by_us:
            self._end(f"Disconnected: {event.reason}")

    def _answer_is_quiet(self, ref: int) -> bool:
        if ref in self._quiet_refs:
            self._quiet_refs.discard(ref)
            return True
        return False

    def _on_notice(self, event: Notice) -> None:
        links = []
        if event.kind == "share" and event.filename:
            name = event.filename
            links.append(self.view.link("Download", lambda: self.download(name)))
            if chat_format.is_image(name):
                links.append(self.view.link("Preview", lambda: self.preview(name)))
        text = describe.notice_line(event, self.name)
        self.view.add_notice(text, event.kind, event.ts, event.history, links)
        if event.history:
            return
        if event.kind == "join":
            self.side.member_joined(event.member)
        elif event.kind in ("leave", "dropped", "kicked"):
            self.side.member_left(event.member)
        if event.kind == "share" and self.client is not None:
            self._quietly(self.client.list_files)
        if event.kind == "shutdown" or (event.kind == "kicked" and event.member == self.name):
            self._end(text)

    # --- typing ----------------------------------------------------------------------

    def _new_line(self, event: tk.Event) -> str:
        self.input.insert("insert", "\n")
        self.input.see("insert")
        return "break"

    def _on_input_changed(self, event: tk.Event | None = None) -> None:
        if not self.input.edit_modified():
            return
        self.input.edit_modified(False)
        text = self.input.get("1.0", "end-1c")
        limit = protocol.MAX_TEXT_CHARS
        if len(text) > limit:  # cut at a whole character: never half an emoji
            self.input.delete(chat_format.tk_index(text, limit, ASTRAL_WIDTH), "end")
            text = text[:limit]
        self.counter["text"] = chat_format.input_counter(text)

    def send_typed(self, event: tk.Event | None = None) -> str:
        """Send what is in the input box: a message, or a ! command as in the terminal."""
        typed = chat_format.parse_typed(self.input.get("1.0", "end-1c"))
        if typed.action == "exit":
            self.close()
            return "break"
        if typed.action != "nothing" and self._run_typed(typed):
            self.input.delete("1.0", "end")
            self.input.edit_separator()
        return "break"

    def _run_typed(self, typed: chat_format.Typed) -> bool:
        """Act on a typed line; False keeps it in the input box (nothing was sent)."""
        action, arg = typed.action, typed.arg
        if action in ("usage", "unknown"):
            self.view.system(arg)
            return True
        if action == "help":
            self.show_help()
            return True
        client = self._require_client()
        if client is None:
            return False
        try:
            if action == "say":
                client.say(arg)
            elif action == "online":
                client.online()
            elif action == "files":
                client.list_files()
            elif action == "cmd":
                client.command(arg)
            elif action == "qr":
                client.request_qr()
            elif action == "verify":
                client.verify(arg)
            elif action == "send":
                self.upload(chat_format.local_path(arg))
            elif action == "req":
                self._start_download(arg)
        except (ConnectionError, ValueError) as exc:
            self.view.system(str(exc), error=True)
            return action != "say"
        return True

    def _require_client(self) -> ChatClient | None:
        if self.client is None or self.ended or not self.client.connected:
            self.view.system("You are not connected to the chat.", error=True)
            return None
        return self.client

    def show_help(self) -> None:
        """List the commands that can be typed."""
        self.view.block("Commands", describe.HELP.split("\n", 1)[1])

    def run_command(self, line: str) -> None:
        """Run a !cmd on the host; the output appears as a monospace block."""
        self._run_typed(chat_format.Typed("cmd", line))

    def request_qr(self) -> None:
        """Ask the host for a one-time code (the QR window opens when it arrives)."""
        self._run_typed(chat_format.Typed("qr"))

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

    # --- files -------------------------------------------------------------------------

    def _ask_open_path(self) -> str:
        """The file dialog for Attach (tests replace this method)."""
        return filedialog.askopenfilename(parent=self.master, title="Share a file with everyone")

    def _ask_save_path(self, name: str) -> str:
        """The save dialog for a download, starting in the downloads folder (tests replace this)."""
        return filedialog.asksaveasfilename(
            parent=self.master,
            title=f"Save {chat_format.single_line(name)}",
            initialdir=str(self.downloads),
            initialfile=chat_format.default_save_name(name),
        )

    def attach(self) -> None:
        """Pick a file and share it."""
        if self._require_client() is None:
            return
        path = self._ask_open_path()
        if path:
            self.upload(Path(path))

    def upload(self, path: Path) -> Transfer | None:
        """Share a local file through the host, with a progress row."""
        client = self._require_client()
        if client is None:
            return None
        if not path.is_file():
            self.view.system(f"No such file here: {path}", error=True)
            return None
        counter = ProgressCounter()
        t = client.send_file(path, progress=counter)
        self._upload_paths[t] = path
        self.transfers.add(t, counter)
        return t

    def download(self, name: str) -> Transfer | None:
        """Ask where to save a shared file, then download it."""
        if self._require_client() is None:
            return None
        path = self._ask_save_path(name)
        return self._start_download(name, save_as=Path(path)) if path else None

    def preview(self, name: str) -> Transfer | None:
        """Download a shared image into the preview folder (once) and show it inline."""
        fetched = self._preview_paths.get(name)
        if fetched is not None and fetched.is_file():
            preview.load_in_background(fetched, self.ui_events, title=name)
            return None
        t = self._start_download(name, folder=chat_format.preview_folder(self.downloads))
        if t is not None:
            self._previews.add(t)
        return t

    def _download_menu(self) -> None:
        name = self.side.selected_file()
        if name:
            self.download(name)
        else:
            self.view.system("Choose a file in the Shared files list first, then Download.")
            self.side.files.focus_set()

    def _start_download(self, name: str, save_as: Path | None = None, folder: Path | None = None) -> Transfer | None:
        client = self._require_client()
        if client is None:
            return None
        counter = ProgressCounter()
        t = client.request_file(name, progress=counter, save_as=save_as, folder=folder)
        self.transfers.add(t, counter)
        return t

    def _transfer_finished(self, t: Transfer) -> None:
        self.transfers.finish(t)
        is_preview = t in self._previews
        self._previews.discard(t)
        local = t.path or self._upload_paths.pop(t, None)  # where the bytes are on this machine
        if is_preview and t.ok and t.path is not None:
            if chat_format.is_inside(t.path, chat_format.preview_folder(self.downloads)):
                self._preview_paths[t.filename] = t.path
        else:
            detail = str(t.path) if t.ok else t.error
            name = t.remote_name or t.filename
            self.view.system(chat_format.transfer_result(t.direction, t.ok, name, detail), error=not t.ok)
        if t.ok and local is not None and chat_format.is_image(local.name):
            preview.load_in_background(local, self.ui_events, title=t.remote_name or t.filename)

    # --- leaving -----------------------------------------------------------------------

    def close(self) -> None:
        """Leave the chat cleanly and close the window."""
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
        if self._client_pump is not None:
            self._client_pump.stop()
        if self.qr_window is not None:
            self.qr_window.close()
        while True:  # a connection that completed just as we closed
            try:
                item = self.ui_events.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, _Connected):
                item.client.close()
        if self.client is not None:
            self.client.close()
        # Drop our Tk images here, on the Tk thread: a garbage collection on some
        # other thread would otherwise try to delete them from there.
        self.view.images.clear()
        folder = chat_format.preview_folder(self.downloads)
        for path in self._preview_paths.values():
            if chat_format.is_inside(path, folder):
                path.unlink(missing_ok=True)
        try:
            folder.rmdir()  # only if empty: never anything the person put there
        except OSError:
            pass
