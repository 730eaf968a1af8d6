"""The conversation pane of the chat window: MessageView, a read-only Tk Text.

MessageView shows chat messages (grouped under a name header while one sender
keeps talking), room notices with clickable links, web addresses in messages as links (a
right-click menu copies and opens them: message_menu.py), system lines, monospace
blocks for command output and inline images.  It keeps itself bounded to
MAX_LINES lines, follows new lines while the end is in view, and offers a
"New messages" button once the person has scrolled up.  It never touches the
network: ChatWindow feeds it on the Tk thread.

What a member sent never passes for someone else's line or a room notice: a
message's every line, wrapped or after a new line, carries a bar of its
sender's colour in the left margin (tag `from<colour>`), under the sender's
bold header; notices have their own arrow and style; controls, bidi controls
and line separators are shown as escapes (mmchat.describe.visible).
"""

from __future__ import annotations

import itertools
import tkinter as tk
import tkinter.font as tkfont
from collections.abc import Callable, Iterable
from tkinter import ttk
from typing import Protocol

from mmchat.describe import visible
from mmchat.typed import clean_text

from . import chat_format, theme
from .attention import mention_spans
from .message_menu import MessageMenu, open_in_browser

MAX_LINES = 5000  # the message view forgets its oldest lines beyond this
MAX_BLOCK_CHARS = 64 * 1024  # command output shown inline
CODE_BACKGROUND = "#f6f8fa"
MENTION_BACKGROUND = "#fff3c4"  # @name of the member reading: stands out like a highlighter
UNREAD_TEXT = "New messages"

Run = tuple[str, tuple[str, ...]]  # a run of text and its tags


class Picture(Protocol):
    """What an inline image must be: a Tk image (tk.PhotoImage or PIL's ImageTk.PhotoImage)."""

    def width(self) -> int: ...

    def height(self) -> int: ...


class MessageView:
    """The read-only conversation: a tagged Text with links, inline images and auto-scroll."""

    def __init__(self, master: tk.Misc) -> None:
        self.frame = ttk.Frame(master, style="Surface.TFrame")
        base = tkfont.nametofont("TkTextFont", root=master)
        family, size = base.actual("family"), base.actual("size")
        self.text = tk.Text(
            self.frame, height=8, width=40, wrap="word", state="disabled", borderwidth=0, highlightthickness=0,
            padx=12, pady=10,
            background=theme.SURFACE, foreground=theme.TEXT, font=(family, size + 1), cursor="xterm",
            selectbackground="#cfe0ff", selectforeground=theme.TEXT, inactiveselectbackground="#e3ecff",
        )  # fmt: skip
        scroll = ttk.Scrollbar(self.frame, orient="vertical", command=self._scrollbar)
        self._scroll = scroll
        self.text.configure(yscrollcommand=self._on_scroll)
        self.text.grid(row=0, column=0, sticky="nsew")
        scroll.grid(row=0, column=1, sticky="ns")
        self.frame.rowconfigure(0, weight=1)
        self.frame.columnconfigure(0, weight=1)
        self.jump = ttk.Button(self.frame, text="↓  New messages", style="Accent.TButton", command=self.scroll_to_end)
        self.images: dict[str, Picture] = {}  # image name in the Text -> PhotoImage (kept alive while shown)
        self.link_commands: dict[str, Callable[[], object]] = {}  # links' and pictures' click tags
        self.urls: dict[str, str] = {}  # link tags of web addresses in messages -> the address
        self.open_url: Callable[[str], object] = open_in_browser
        self.menu = MessageMenu(self.text, self.urls, lambda url: self.open_url(url))  # right-click
        self.anchors: dict[str, str] = {}  # a shared picture's name -> the mark under its announcement
        self.colour_for: Callable[[str], str] = theme.colour_for  # the window shares its SenderColours here
        self._link_ids = itertools.count(1)
        self._previous: tuple[str, float] | None = None  # (sender, ts) of the last message, for grouping
        self._history_shown = False
        self._live_after_history = False
        self.following = True  # show new lines as they come, until the person scrolls up
        self._configure_tags(family, size)
        for sequence in ("<Button-4>", "<Button-5>", "<MouseWheel>"):
            self.text.bind(sequence, self._wheel)
        for sequence in ("<KeyRelease>", "<ButtonRelease-1>"):
            self.text.bind(sequence, lambda event: self._user_moved(), add="+")
        self.text.bind("<Configure>", self._on_resize, add="+")

    def _configure_tags(self, family: str, size: int) -> None:
        t = self.text
        pad = 6
        t.tag_configure("header", spacing1=10, lmargin1=pad)
        t.tag_configure("sender", font=(family, size + 1, "bold"))
        t.tag_configure("time", foreground=theme.MUTED, font=(family, size - 1))
        t.tag_configure("body", lmargin1=pad, lmargin2=pad, rmargin=pad, spacing3=3)
        t.tag_configure("own", background=theme.OWN_BG, lmargincolor=theme.OWN_BG, rmargincolor=theme.OWN_BG)
        t.tag_configure("history", foreground=theme.HISTORY)
        t.tag_configure("notice", lmargin1=pad, lmargin2=pad, spacing1=6, spacing3=4, font=(family, size))
        t.tag_configure("join", foreground=theme.SUCCESS)
        t.tag_configure("leave", foreground=theme.MUTED)
        t.tag_configure("share", foreground=theme.TEXT)
        t.tag_configure("alert", foreground=theme.ERROR)
        t.tag_configure("system", foreground=theme.MUTED, font=(family, size, "italic"))
        t.tag_configure("error", foreground=theme.ERROR)
        t.tag_configure("divider", justify="center", foreground=theme.MUTED, spacing1=12, spacing3=6,
                        font=(family, size - 1))  # fmt: skip
        mono = theme.monospace(self.text, size)
        t.tag_configure("code", font=mono, background=CODE_BACKGROUND, lmargin1=pad + 8, lmargin2=pad + 8,
                        lmargincolor=CODE_BACKGROUND, rmargin=pad)  # fmt: skip
        t.tag_configure("code_head", font=(mono.actual("family"), size, "bold"), spacing1=8)
        t.tag_configure("code_error", foreground=theme.ERROR)
        t.tag_configure("image", lmargin1=pad + 8, spacing1=4, spacing3=6)
        t.tag_configure("caption", foreground=theme.MUTED, lmargin1=pad + 8, font=(family, size - 1))
        t.tag_configure("link", foreground=theme.ACCENT, underline=True)
        t.tag_configure("mention", background=MENTION_BACKGROUND, font=(family, size + 1, "bold"))
        for tag in ("link", "picture"):  # things to click show a hand
            t.tag_bind(tag, "<Enter>", lambda e: t.configure(cursor="hand2"))
            t.tag_bind(tag, "<Leave>", lambda e: t.configure(cursor="xterm"))
        t.tag_raise("sel")

    # --- writing ------------------------------------------------------------------

    def _write(self, first: Run, *more: Run) -> None:
        """Append text runs with their tags, keep the size bounded, and follow the end if we were there."""
        rest: list[str | tuple[str, ...]] = [first[1]]
        for text, tags in more:
            rest += [clean_text(text), tags]
        self.text.configure(state="normal")
        self.text.insert("end", clean_text(first[0]), *rest)
        self._trim()
        self.text.configure(state="disabled")
        self._follow()

    def _follow(self) -> None:
        if self.following:
            self.scroll_to_end()
        else:
            self.jump.place(relx=1.0, rely=1.0, x=-28, y=-12, anchor="se")

    def _trim(self) -> None:
        lines = int(self.text.index("end-1c").split(".")[0])
        if lines > MAX_LINES:
            # Whole lines only: a cut inside a line could split an emoji in two.
            self.text.delete("1.0", f"{lines - MAX_LINES + 1}.0")
            shown = set(self.text.image_names())
            self.images = {name: image for name, image in self.images.items() if name in shown}
            for key, mark in list(self.anchors.items()):
                if self.text.compare(mark, "<=", "1.0"):  # its announcement was forgotten
                    self.text.mark_unset(mark)
                    del self.anchors[key]
            for tag in [tag for tag in self.link_commands if not self.text.tag_ranges(tag)]:
                del self.link_commands[tag]
                self.urls.pop(tag, None)
                self.text.tag_delete(tag)

    def link(self, label: str, command: Callable[[], object]) -> Run:
        """A clickable run of text."""
        tag = f"link{next(self._link_ids)}"
        self.link_commands[tag] = command
        self.text.tag_bind(tag, "<Button-1>", lambda event: command())
        return label, ("link", tag)

    def add_message(self, sender: str, text: str, ts: float, own: bool, history: bool, me: str = "") -> None:
        """A chat message, with a name header unless it continues the sender's last one; @me highlighted."""
        self._mark_history(history)
        parts: list[Run] = []
        colour = self.colour_for(sender)  # the window's SenderColours: clear of the others online
        # The margin bar marks every line of the message as the sender's (tags made later win).
        self.text.tag_configure(f"from{colour}", lmargincolor=colour)
        if chat_format.starts_group(sender, ts, self._previous):
            self.text.tag_configure(f"colour{colour}", foreground=colour)
            name = chat_format.single_line(sender) + ("  (you)" if own else "")
            parts += [(name, ("header", "sender", f"colour{colour}"))]
            parts += [("  " + chat_format.clock(ts), ("header", "time")), ("\n", ("header",))]
        self._previous = (sender, ts)
        body = ("body", f"from{colour}", *(("own",) if own else ()), *(("history",) if history else ()))
        shown = visible(text).rstrip("\n") + "\n"
        marks: list[tuple[int, int, tuple[str, ...]]] = [(a, b, ("mention",)) for a, b in mention_spans(shown, me)]
        marks += [(start, end, ("link", self._url_tag(url))) for start, end, url in chat_format.link_spans(shown)]
        cuts = sorted({0, len(shown), *(at for start, end, _ in marks for at in (start, end))})
        for a, b in itertools.pairwise(cuts):  # each piece carries the marks that cover it
            covering = (tag for start, end, tags in marks if start <= a < end for tag in tags)
            parts.append((shown[a:b], (*body, *covering)))
        self._write(*parts)

    def _url_tag(self, url: str) -> str:
        """A link tag that opens `url` when clicked (and that the context menu knows)."""
        _, (_, tag) = self.link("", lambda: self.open_url(url))
        self.urls[tag] = url
        return tag

    def add_notice(self, text: str, kind: str, ts: float, history: bool, links: Iterable[Run] = ()) -> None:
        """A join, leave, share or other room notice, with optional links after it."""
        self._mark_history(history)
        self._previous = None
        style = ("notice", chat_format.notice_style(kind), *(("history",) if history else ()))
        arrow = {"join": "→ ", "leave": "← ", "dropped": "← ", "timed out": "← ", "share": "📎 "}.get(kind, "● ")
        parts: list[Run] = [(arrow + text, style)]
        for label, tags in links:
            parts += [("   ", style), (label, (*style, *tags))]
        self._write(*parts, ("   " + chat_format.clock(ts), (*style, "time")), ("\n", style))

    def system(self, text: str, error: bool = False, links: Iterable[Run] = ()) -> None:
        """A line from the window itself (connected, transfer done, usage...), with optional links."""
        self._previous = None
        style = ("notice", "error" if error else "system")
        parts: list[Run] = [(text, style)]
        for label, tags in links:
            parts += [("   ", style), (label, (*style, *tags))]
        self._write(*parts, ("\n", style))

    def divider(self, text: str) -> None:
        """A centred separator line."""
        self._previous = None
        self._write((f"────────   {text}   ────────\n", ("divider",)))

    def unread_divider(self) -> None:
        """The 'New messages' line where the person left off (the one of an earlier absence goes)."""
        old = self.text.tag_ranges("unread")
        if old:
            self.text.configure(state="normal")
            self.text.delete(old[0], old[-1])
            self.text.configure(state="disabled")
        self._previous = None
        self._write((f"────────   {UNREAD_TEXT}   ────────\n", ("divider", "unread")))

    def show_unread(self) -> None:
        """Bring the 'New messages' line into view if what came since has pushed it out."""
        ranges = self.text.tag_ranges("unread")
        if not ranges:
            return
        self.text.update_idletasks()  # dlineinfo needs the lines laid out
        if self.text.dlineinfo(ranges[0]) is None:
            self.text.yview(ranges[0])  # the divider at the top, the first new line under it
            self._user_moved()
            if not self.following:
                self.jump.place(relx=1.0, rely=1.0, x=-28, y=-12, anchor="se")

    def anchor_here(self, key: str) -> str:
        """Mark the end of what is shown, so a picture called `key` can be shown here later."""
        old = self.anchors.pop(key, None)
        if old is not None:
            self.text.mark_unset(old)
        mark = f"anchor{next(self._link_ids)}"
        self.text.mark_set(mark, "end-1c")
        self.text.mark_gravity(mark, "left")  # what comes later is written after it, not before
        self.anchors[key] = mark
        return mark

    def block(self, title: str, body: str, error: bool = False) -> None:
        """Monospace output (a !cmd result, the command list)."""
        self._previous = None
        if len(body) > MAX_BLOCK_CHARS:
            body = chat_format.truncate(body, MAX_BLOCK_CHARS, "\n… (output shortened)")
        extra = ("code_error",) if error else ()
        head, shown = visible(title), visible(body).rstrip("\n")
        self._write((head + "\n", ("code", "code_head", *extra)), (shown + "\n", ("code", *extra)))

    def add_image(
        self, photo: Picture, caption: str, at: str = "", on_click: Callable[[], object] | None = None
    ) -> str:
        """A picture with a caption at the mark `at` (else at the end); returns its name in the Text."""
        t = self.text
        if not at:
            self._previous = None  # at the end, it breaks the run of the last sender's lines
        where = t.index(at) if at and at in t.mark_names() else t.index("end-1c")
        t.configure(state="normal")
        # Written backwards at one index, so each piece goes in front of the one before.
        t.insert(where, "\n", ("image",))
        name = t.image_create(where, image=photo)
        t.insert(where, clean_text(caption) + "\n", ("caption",))
        image_at = t.index(name)
        t.tag_add("image", image_at)
        if on_click is not None:
            tag = f"picture{next(self._link_ids)}"
            self.link_commands[tag] = on_click
            t.tag_add(tag, image_at)
            t.tag_add("picture", image_at)
            t.tag_bind(tag, "<Button-1>", lambda event: on_click())
        self.images[name] = photo
        self._trim()
        self.text.configure(state="disabled")
        self._follow()
        return name

    def add_widget(self, widget: tk.Misc, at: str = "") -> str:
        """A widget (an audio player...) on a line of its own at the mark `at` (else at the end).

        `widget` must be a child of `text`; returns its name in the Text.
        """
        t = self.text
        if not at:
            self._previous = None
        where = t.index(at) if at and at in t.mark_names() else t.index("end-1c")
        t.configure(state="normal")
        t.insert(where, "\n", ("image",))  # the widget goes in front of its own line end
        t.window_create(where, window=widget, pady=2)
        t.tag_add("image", where)
        self._trim()
        t.configure(state="disabled")
        self._follow()
        return str(widget)

    def _mark_history(self, history: bool) -> None:
        if history and not self._history_shown:
            self._history_shown = True
            self.divider("Earlier messages")
        elif not history and self._history_shown and not self._live_after_history:
            self._live_after_history = True
            self.divider("Now")

    def new_connection(self) -> None:
        """Forget per-connection state (history markers) before a reconnect."""
        self._history_shown = self._live_after_history = False
        self._previous = None

    # --- scrolling ----------------------------------------------------------------

    def at_end(self) -> bool:
        """Whether the end of the conversation is in view."""
        # dlineinfo looks at what is really displayed; yview() fractions are estimates
        # while Tk measures tall lines (images) in the background.
        return self.text.dlineinfo("end-1c") is not None

    def scroll_to_end(self) -> None:
        """Show the newest line, follow new ones, and hide the 'New messages' button."""
        self.following = True
        self.text.see("end")
        self.jump.place_forget()

    def _on_resize(self, event: tk.Event) -> None:
        if self.following:
            self.text.see("end")

    def _on_scroll(self, first: float | str, last: float | str) -> None:
        self._scroll.set(first, last)

    def _user_moved(self) -> None:
        # Only the person's own scrolling decides whether we follow: a resize or a
        # taller image must not stop the view from showing what comes in.
        self.following = self.at_end()
        if self.following:
            self.jump.place_forget()

    def _scrollbar(self, *args: str) -> None:
        self.text.yview(*args)
        self._user_moved()

    def _wheel(self, event: tk.Event) -> str:
        if event.num in (4, 5):
            steps = -3 if event.num == 4 else 3
        else:  # Windows reports multiples of 120, macOS small numbers
            steps = -int(event.delta / 120 * 3) if abs(event.delta) >= 120 else -event.delta
        self.text.yview_scroll(steps, "units")
        self._user_moved()
        return "break"

    def content(self) -> str:
        """Everything shown, as text (for tests and copying)."""
        return self.text.get("1.0", "end-1c")
