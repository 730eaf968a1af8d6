"""The chat window's widgets: header, banner, messages, transfers, the composer, side panel and menu.

ChatLayout only builds and arranges widgets and keeps the input box within the
message limit; what the buttons do comes in as `ChatActions`, so the layout
can be built and clicked in a test without any connection.

The side panel gives way before the conversation does: whenever the messages'
column changes size (the window narrowed, the divider dragged), the divider is
put back so that column keeps at least MIN_MESSAGES_WIDTH pixels, and the side
panel can be folded away with the header's button.
"""

from __future__ import annotations

import tkinter as tk
import tkinter.font as tkfont
from collections.abc import Callable
from dataclasses import dataclass
from tkinter import ttk

from mmchat import protocol
from mmchat.address import format_address

from . import chat_format, theme
from .message_view import MessageView
from .side_panel import SidePanel
from .transfer_panel import TransferPanel

MIN_WIDTH, MIN_HEIGHT = 640, 420  # the smallest window: the messages and the box must still work there
MIN_MESSAGES_WIDTH = 400  # the conversation's column never gets narrower (the side panel gives way)
MIN_SIDE_WIDTH = 160  # narrower than this, the side panel is no use: fold it instead


@dataclass(frozen=True)
class ChatActions:
    """What the window's buttons, keys and menu entries do."""

    send: Callable[[], object]
    attach: Callable[[], object]
    download: Callable[[str], object]  # a shared file chosen in the side panel
    download_selected: Callable[[], object]  # the menu's Download… entry
    request_qr: Callable[[], object]
    run_command: Callable[[str], object]
    show_help: Callable[[], object]
    leave: Callable[[], object]


class ChatLayout:
    """The widgets of one chat window on `master`, wired to `actions`."""

    def __init__(self, master: tk.Tk | tk.Toplevel, actions: ChatActions) -> None:
        self.master = master
        self.actions = actions
        self.banner_label: ttk.Label | None = None
        self.banner_button: ttk.Button | None = None
        self.name_entry: ttk.Entry | None = None
        self.name_error: ttk.Label | None = None
        self.over_limit_shown = False  # the banner offers to send a too-long message as a file
        master.geometry("1020x680")
        master.minsize(MIN_WIDTH, MIN_HEIGHT)
        self._fit_id: str | None = None  # the pending after_idle that puts the divider back
        master.columnconfigure(0, weight=1)
        master.rowconfigure(0, weight=1)
        self.frame = ttk.Frame(master)
        self.frame.grid(row=0, column=0, sticky="nsew")
        self.frame.bind("<Destroy>", self._on_destroy, add="+")
        self.frame.columnconfigure(0, weight=1)
        self.frame.rowconfigure(3, weight=1)
        self.menu = self._build_menu()
        self._bind_shortcuts()

        header = ttk.Frame(self.frame, style="Surface.TFrame", padding=(theme.PAD * 2, theme.PAD))
        header.grid(row=0, column=0, sticky="ew")
        ttk.Label(header, text="mmchat", style="Title.TLabel", background=theme.SURFACE).pack(side="left")
        self.where = ttk.Label(header, style="Muted.TLabel", background=theme.SURFACE)
        self.where.pack(side="left", padx=(theme.PAD * 2, 0), pady=(4, 0))
        self.status = ttk.Label(header, background=theme.SURFACE)
        self.status.pack(side="right")
        self.panel_button = ttk.Button(header, text="Hide panel", command=self.toggle_side_panel)
        self.panel_button.pack(side="right", padx=(0, theme.PAD * 2))
        self.where.pack_configure(after=self.panel_button)  # the address is clipped first, never the status
        ttk.Separator(self.frame).grid(row=1, column=0, sticky="ew")
        self.banner = ttk.Frame(self.frame, padding=(theme.PAD * 2, theme.PAD))
        self.banner.grid(row=2, column=0, sticky="ew")

        self.panes = panes = ttk.Panedwindow(self.frame, orient="horizontal")
        panes.grid(row=3, column=0, sticky="nsew")
        self.messages_column = left = ttk.Frame(panes)
        left.columnconfigure(0, weight=1)
        left.rowconfigure(0, weight=1)
        self.view = MessageView(left)
        self.view.frame.grid(row=0, column=0, sticky="nsew")
        self.transfers = TransferPanel(left)
        self.transfers.grid(row=1, column=0, sticky="ew", pady=(1, 0))
        self.transfers.grid_remove()
        self._build_composer(left)
        self.side = SidePanel(panes, download=actions.download, run=actions.run_command)
        self.side.mention = self.mention
        self.view.colour_for = self.side.colours.colour  # the conversation and the list agree on colours
        panes.add(left, weight=1)
        panes.add(self.side, weight=0)
        left.bind("<Configure>", lambda event: self._fit_soon(), add="+")
        for sequence in ("<B1-Motion>", "<ButtonRelease-1>"):
            panes.bind(sequence, lambda event: self._fit_soon(), add="+")
        self.set_status("Not connected", theme.MUTED, connected=False)

    def _build_composer(self, parent: ttk.Frame) -> None:
        # The box takes the width; Send and Attach stack beside it, so a narrow column still has room to type.
        box = ttk.Frame(parent, padding=(theme.PAD + 4, theme.PAD, theme.PAD + 4, 0))
        box.grid(row=2, column=0, sticky="ew")
        self.composer = box  # the microphone button joins it (gui/chat_media.py), in column 2
        box.columnconfigure(0, weight=1)
        border = tk.Frame(box, background=theme.BORDER, padx=1, pady=1)
        border.grid(row=0, column=0, rowspan=2, sticky="nsew")
        base = tkfont.nametofont("TkTextFont", root=parent)
        self.input = tk.Text(
            border, height=3, width=20, wrap="word", undo=True, borderwidth=0, highlightthickness=0, padx=8, pady=6,
            background=theme.SURFACE, foreground=theme.TEXT, insertbackground=theme.TEXT,
            font=(base.actual("family"), base.actual("size") + 1),
        )  # fmt: skip
        self.input.pack(fill="both", expand=True)
        self.input.bind("<FocusIn>", lambda e: border.configure(background=theme.ACCENT))
        self.input.bind("<FocusOut>", lambda e: border.configure(background=theme.BORDER))
        self.input.bind("<Return>", self._on_enter)
        self.input.bind("<KP_Enter>", self._on_enter)
        self.input.bind("<Shift-Return>", self._new_line)
        # Tab moves on, as in every other field; Ctrl+Tab puts a tab in the message.
        self.input.bind("<Tab>", lambda e: self._move_focus(self.input.tk_focusNext()))
        for sequence in ("<Shift-Tab>", "<ISO_Left_Tab>"):
            self.input.bind(sequence, lambda e: self._move_focus(self.input.tk_focusPrev()))
        self.input.bind("<Control-Tab>", lambda e: self._insert("\t"))
        self.input.bind("<Control-o>", lambda e: self._shortcut(self.actions.attach))  # Text's own Ctrl+O opens a line
        self.input.bind("<<Modified>>", self._on_input_changed)
        self.send_button = ttk.Button(box, text="Send", style="Accent.TButton", command=self.actions.send, width=8)
        self.send_button.grid(row=0, column=1, sticky="new", padx=(theme.PAD, 0))
        self.attach_button = ttk.Button(box, text="📎 Attach", command=self.actions.attach, width=8)
        self.attach_button.grid(row=1, column=1, sticky="sew", padx=(theme.PAD, 0), pady=(4, 0))
        hint = ttk.Frame(box)
        hint.grid(row=2, column=0, columnspan=2, sticky="ew", pady=(2, theme.PAD - 2))
        # The counter is packed first: in a narrow window the hint is clipped, never the counter.
        self.counter = ttk.Label(hint, style="Muted.TLabel")
        self.counter.pack(side="right")
        ttk.Label(hint, text="Enter: send  ·  Shift+Enter: new line  ·  Tab: next  ·  !help: commands",
                  style="Muted.TLabel").pack(side="left")  # fmt: skip

    def _bind_shortcuts(self) -> None:
        # On the window, so they work wherever the focus is inside it.
        keys: dict[str, Callable[[], object]] = {
            "<Control-o>": self.actions.attach,
            "<Control-w>": self.actions.leave,
            "<Control-C>": self.copy_selection,  # Ctrl+Shift+C: Ctrl+C stays the widgets' own copy
            "<Escape>": self.escape,
        }
        for sequence, action in keys.items():
            self.master.bind(sequence, self._shortcut_handler(action))

    def _shortcut_handler(self, action: Callable[[], object]) -> Callable[[tk.Event], str]:
        return lambda event: self._shortcut(action)

    def _shortcut(self, action: Callable[[], object]) -> str:
        action()
        return "break"

    def _move_focus(self, widget: tk.Misc | None) -> str:
        if widget is not None:
            widget.focus_set()
        return "break"

    def _insert(self, text: str) -> str:
        self.input.insert("insert", text)
        return "break"

    def copy_selection(self) -> None:
        """Put the text selected in the conversation (or else in the box) on the clipboard."""
        for text in (self.view.text, self.input):
            if text.tag_ranges("sel"):
                self.master.clipboard_clear()
                self.master.clipboard_append(text.get("sel.first", "sel.last"))
                return

    def escape(self) -> None:
        """Escape: withdraw the too-long offer if it is shown, else empty the box."""
        if self.over_limit_shown:
            self.clear_banner()
        else:
            self.clear_input()

    def _build_menu(self) -> tk.Menu:
        menubar = tk.Menu(self.master)
        chat = tk.Menu(menubar, tearoff=False)
        chat.add_command(label="Send file…", command=self.actions.attach, accelerator="Ctrl+O")
        chat.add_command(label="Download…", command=self.actions.download_selected)
        chat.add_command(label="Get QR code", command=self.actions.request_qr)
        chat.add_command(label="Run command…", command=lambda: self.side.command.focus_set())
        chat.add_separator()
        chat.add_command(label="Leave", command=self.actions.leave, accelerator="Ctrl+W")
        helpmenu = tk.Menu(menubar, tearoff=False)
        helpmenu.add_command(label="Commands", command=self.actions.show_help)
        menubar.add_cascade(label="Chat", menu=chat)
        menubar.add_cascade(label="Help", menu=helpmenu)
        self.master.configure(menu=menubar)
        return menubar

    # --- the side panel gives way --------------------------------------------------------

    def side_panel_shown(self) -> bool:
        """Whether the side panel is in the window (not folded away)."""
        return str(self.side) in self.panes.panes()

    def toggle_side_panel(self) -> None:
        """Fold the side panel away, or bring it back (as wide as the messages allow)."""
        if self.side_panel_shown():
            self.panes.forget(self.side)
            self.panel_button["text"] = "Show panel"
        else:
            self.panes.add(self.side, weight=0)
            self.panel_button["text"] = "Hide panel"
            self._fit_soon()

    def _fit_soon(self) -> None:
        if self._fit_id is None:
            self._fit_id = self.frame.after_idle(self.fit_side_panel)

    def _on_destroy(self, event: tk.Event) -> None:
        if event.widget is self.frame and self._fit_id is not None:
            self.frame.after_cancel(self._fit_id)
            self._fit_id = None

    def fit_side_panel(self) -> None:
        """Move the divider so the messages keep MIN_MESSAGES_WIDTH and the panel at most the rest."""
        self._fit_id = None
        if not self.frame.winfo_exists() or not self.side_panel_shown():
            return
        width = self.panes.winfo_width()
        if width <= 1:
            return  # not laid out yet
        sash = self.panes.sashpos(0)
        keep = min(max(sash, MIN_MESSAGES_WIDTH), max(width - MIN_SIDE_WIDTH, MIN_MESSAGES_WIDTH))
        if keep != sash:
            self.panes.sashpos(0, keep)

    # --- what the window shows -------------------------------------------------------

    def show_identity(self, name: str, host: str, port: int, joined: bool) -> None:
        """Put who we are and where in the title bar and the header ("you are ..." once joined)."""
        self.master.title(chat_format.window_title(name, host, port))
        you = f"  ·  you are {chat_format.single_line(name)}" if joined else ""
        self.where["text"] = f"{format_address(host, port)}{you}"

    def set_status(self, text: str, colour: str, connected: bool) -> None:
        """The coloured status in the header; Send and Attach work only while connected."""
        self.status.configure(text=f"●  {text}", foreground=colour)
        for button in (self.send_button, self.attach_button):
            button.state(["!disabled"] if connected else ["disabled"])

    def clear_banner(self) -> None:
        """Remove the banner under the header."""
        for child in self.banner.winfo_children():
            child.destroy()
        self.banner_label = self.banner_button = self.name_entry = self.name_error = None
        self.over_limit_shown = False
        self.banner.grid_remove()

    def show_banner(self, text: str, style: str, button: str = "", command: Callable[[], object] | None = None) -> None:
        """A line under the header (connecting, why the chat ended), with an optional button."""
        self.clear_banner()
        self.banner.grid()
        self.banner_label = ttk.Label(self.banner, text=text, style=style, wraplength=700)
        self.banner_label.pack(side="left")
        if button and command:
            self.banner_button = ttk.Button(self.banner, text=button, style="Accent.TButton", command=command)
            self.banner_button.pack(side="right")

    def ask_name(self, submit: Callable[[], object]) -> None:
        """The name form in the banner; `submit` reads `name_entry` and reports into `name_error`."""
        self.clear_banner()
        self.banner.grid()
        ttk.Label(self.banner, text="Your name in the chat:").pack(side="left")
        self.name_entry = ttk.Entry(self.banner, width=24)
        self.name_entry.pack(side="left", padx=theme.PAD)
        self.name_entry.bind("<Return>", lambda event: submit())
        ttk.Button(self.banner, text="Join", style="Accent.TButton", command=submit).pack(side="left")
        self.name_error = ttk.Label(self.banner, style="Error.TLabel")
        self.name_error.pack(side="left", padx=theme.PAD)
        self.name_entry.focus_set()

    # --- the input box -------------------------------------------------------------------

    def typed(self) -> str:
        """What is in the input box."""
        return self.input.get("1.0", "end-1c")

    def clear_input(self) -> None:
        """Empty the input box (a line was sent), keeping undo steps apart."""
        self.input.delete("1.0", "end")
        self.input.edit_separator()

    def mention(self, name: str) -> None:
        """Put '@name ' where the cursor is in the message box, and go there (the members' menu)."""
        self.input.insert("insert", f"@{name} ")
        self.input.focus_set()

    def _on_enter(self, event: tk.Event) -> str:
        self.actions.send()
        return "break"  # no newline in the box

    def _new_line(self, event: tk.Event) -> str:
        self.input.insert("insert", "\n")
        self.input.see("insert")
        return "break"

    def _on_input_changed(self, event: tk.Event | None = None) -> None:
        if not self.input.edit_modified():
            return
        self.input.edit_modified(False)
        text = self.typed()
        # Never cut what the person typed: over the limit the counter turns red, and Send offers a file.
        over = len(text) > protocol.MAX_TEXT_CHARS
        counter = chat_format.input_counter(text)
        self.counter.configure(text=f"{counter}  ·  too long" if over else counter,
                               style="Error.TLabel" if over else "Muted.TLabel")  # fmt: skip
        if self.over_limit_shown and not over:
            self.clear_banner()

    def offer_as_file(self, length: int, send_as_file: Callable[[], object]) -> None:
        """Say the message is over the limit, and offer to share it as a text file instead."""
        limit = protocol.MAX_TEXT_CHARS
        self.show_banner(
            f"This message has {length:,} characters, more than the {limit:,} one message may have. "
            "Shorten it, or send it as a text file everyone can open.",
            "Error.TLabel", "Send as file", send_as_file,
        )  # fmt: skip
        self.over_limit_shown = True
