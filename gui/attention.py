"""What the chat window does to be noticed while the person is elsewhere.

How this works
--------------
Attention decides whether the window is "in front" from Tk's own events on
the toplevel: a <FocusOut> whose focus did not just move to another widget of
the same window, or an <Unmap> (iconified), means the person left; a <FocusIn>
or <Map> means they came back.  A window that never saw a focus event (no
window manager, as under a bare Xvfb) counts as in front, so nothing changes
for it.  Tests drive the same events with `event_generate`.

While the person is away, each new message or share from someone else adds
one to the count in the title ("(3) alice — mmchat at …"), the first one of
the absence puts a "New messages" divider where they left off, the window
asks for attention (`wm attributes -urgent` where Tk has it, else the bell),
and a desktop notification goes out through the system's own notifier
(notify-send, osascript or PowerShell's toasts: notifier.py).  Notifications
can be turned off in the Chat menu, and the switch is remembered in the
settings file; a message that mentions the member by `@name` notifies even
then.
Coming back clears the count and the hint.

The notifier is a separate program started on a thread that waits for it
(`notifier.run_in_background`), so the Tk thread never waits; `Attention.runner`
is what tests replace.
"""

from __future__ import annotations

import re
import tkinter as tk
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from mmchat import settings

from . import chat_format
from .notifier import find_notifier, notify_command, run_in_background

if TYPE_CHECKING:
    from .chat_window import ChatWindow


def mention_spans(text: str, name: str) -> list[tuple[int, int]]:
    """Where `text` mentions `name` as @name (any case), as (start, end) character offsets."""
    if not name:
        return []
    # Not inside a longer word or e-mail address: "@alice" and "@Alice," count, "bob@alice" and "@alicex" do not.
    pattern = re.compile(r"(?<![\w@])@" + re.escape(name) + r"(?![\w-])", re.IGNORECASE)
    return [match.span() for match in pattern.finditer(text)]


class Attention:
    """The unread count, the divider, the attention hint and notifications of one ChatWindow."""

    def __init__(self, window: ChatWindow) -> None:
        self.window = window
        self.master = window.master
        self.unread = 0
        self.away = False  # the person is elsewhere (focus gone, or the window iconified)
        self._divided = False  # the divider of this absence is shown
        self.hinting = False  # the attention hint (or its bell) was given during this absence
        self.notifier = find_notifier()  # the system's own notifier (notifier.py); None: no notifications
        self.runner: Callable[[Sequence[str]], object] = run_in_background  # tests replace it
        self.bell: Callable[[], object] = self.master.bell
        self.notifications = tk.BooleanVar(self.master, value=settings.load_settings().notifications)
        self.notifications.trace_add("write", lambda *args: self._remember_switch())
        self._check_id: str | None = None
        self._add_menu_entry()
        for sequence, handler in (
            ("<FocusIn>", self._on_focus_in), ("<FocusOut>", self._on_focus_out),
            ("<Map>", self._on_map), ("<Unmap>", self._on_unmap),
        ):  # fmt: skip
            self.master.bind(sequence, handler, add="+")
        window.frame.bind("<Destroy>", self._on_destroy, add="+")

    def _add_menu_entry(self) -> None:
        menubar = self.window.menu
        try:
            chat = menubar.nametowidget(menubar.entrycget("Chat", "menu"))
        except (tk.TclError, KeyError):
            return  # no Chat menu: notifications stay on, as by default
        try:
            where = int(chat.index("Leave")) - 1  # before the separator above Leave
        except (tk.TclError, TypeError):
            where = int(chat.index("end") or 0) + 1
        chat.insert_checkbutton(where, label="Desktop notifications", variable=self.notifications)

    def _remember_switch(self) -> None:
        """Keep the notifications switch for the next window (the settings file in the config folder)."""
        saved = settings.load_settings()
        saved.notifications = bool(self.notifications.get())
        settings.save_settings(saved)

    # --- in front or not ---------------------------------------------------------------

    def _mine(self, event: tk.Event) -> bool:
        return str(event.widget) == str(self.master)

    def _on_focus_in(self, event: tk.Event) -> None:
        self.came_back()

    def _on_focus_out(self, event: tk.Event) -> None:
        # Focus moving from one widget to another of this window also starts with a FocusOut:
        # look once Tk has settled where it went.
        if self._check_id is None:
            self._check_id = self.master.after_idle(self._check_focus)

    def _check_focus(self) -> None:
        self._check_id = None
        try:
            focus = str(self.master.tk.call("focus", "-displayof", self.master))  # '' when we have none
            where = str(self.master.tk.call("winfo", "toplevel", focus)) if focus else ""
        except tk.TclError:
            return  # the window is going away
        mine = str(self.master)
        # Windows opened from this one (a picture, the QR code) are below its path; a path with
        # '#' is one of Tk's own copies: the menu bar's menus, open in this window.
        if where != mine and not where.startswith(mine.rstrip(".") + ".") and "#" not in focus:
            self.went_away()

    def _on_map(self, event: tk.Event) -> None:
        if self._mine(event):
            self.came_back()

    def _on_unmap(self, event: tk.Event) -> None:
        if self._mine(event):
            self.went_away()

    def _on_destroy(self, event: tk.Event) -> None:
        if event.widget is self.window.frame and self._check_id is not None:
            self.master.after_cancel(self._check_id)
            self._check_id = None

    def went_away(self) -> None:
        """The person left the window: what comes now counts as new."""
        if not self.away:
            self.away = True
            self._divided = False

    def came_back(self) -> None:
        """The person is back: clear the count and the hint."""
        if not self.away:
            return
        self.away = False
        self.unread = 0
        self.show_title()
        if self._divided:
            self.window.view.show_unread()  # start reading where you left off
        if self.hinting:
            self.hinting = False
            self._set_urgent(False)

    # --- something new -----------------------------------------------------------------

    def arriving(self, sender: str, text: str) -> None:
        """A live message or share from someone else is about to be shown (call before showing it)."""
        w = self.window
        mentioned = bool(mention_spans(text, w.name))
        if not self.away:
            return
        if not self._divided:
            self._divided = True
            w.view.unread_divider()
        self.unread += 1
        self.show_title()
        if not self.hinting:
            self.hinting = True
            if not self._set_urgent(True):
                self.bell()
        if self.notifier and (self.notifications.get() or mentioned):
            title = f"{sender} mentioned you" if mentioned else f"{sender} in mmchat"
            self.runner(notify_command(self.notifier, chat_format.single_line(title), text))

    def show_title(self) -> None:
        """The window's title, with the unread count in front while there is one."""
        w = self.window
        base = chat_format.window_title(w.name, w.host, w.port)
        self.master.title(f"({self.unread}) {base}" if self.unread else base)

    def _set_urgent(self, on: bool) -> bool:
        """The window manager's attention hint, where Tk has it; False when it does not."""
        try:
            self.master.wm_attributes("-urgent", on)
        except tk.TclError:
            return False
        return True
