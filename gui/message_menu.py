"""Right-click in the conversation, and opening the web links in messages.

How this works
--------------
`MessageMenu` binds the context-menu click of the message Text (Button-3;
Button-2 and Control-click on macOS, where that is the right button) and, at
the pointer, offers what a person expects of a chat: Copy (the selection, or
else the line under the pointer), Copy link address and Open link when the
pointer is on a web address, and Select all.  Links are found by
`chat_format.link_spans` and tagged by the MessageView; `urls` maps each
link's tag to its address.  `context_clicks` and `popup` serve the other
lists' menus too (the side panel's members and files).  `open_in_browser` hands an address to the
system's browser on a thread of its own, so a slow browser start never
freezes the window, and only http(s) addresses are ever opened.
"""

from __future__ import annotations

import threading
import tkinter as tk
import webbrowser
from collections.abc import Callable

__all__ = ["MessageMenu", "context_clicks", "open_in_browser", "popup"]


def context_clicks(widget: tk.Misc) -> list[str]:
    """The events that ask for a context menu: the right button; on macOS also Button-2 and Control-click."""
    if widget.tk.call("tk", "windowingsystem") == "aqua":
        return ["<Button-2>", "<Control-Button-1>", "<Button-3>"]
    return ["<Button-3>"]


def to_clipboard(widget: tk.Misc, text: str) -> None:
    """Put `text` on the clipboard (nothing for an empty text)."""
    if text:
        widget.clipboard_clear()
        widget.clipboard_append(text)


def popup(menu: tk.Menu, event: tk.Event) -> str:
    """Show `menu` at the pointer of a click `event`; 'break' so nothing else handles the click."""
    try:
        menu.tk_popup(event.x_root, event.y_root)
    finally:
        menu.grab_release()
    return "break"


def open_in_browser(url: str) -> threading.Thread | None:
    """Open a web address in the system's browser, off the Tk thread; anything but http(s) is ignored."""
    if not url.lower().startswith(("http://", "https://")):
        return None
    thread = threading.Thread(target=webbrowser.open, args=(url,), kwargs={"new": 2}, daemon=True)
    thread.start()
    return thread


class MessageMenu:
    """The conversation's context menu: Copy, Copy link address, Open link, Select all."""

    def __init__(self, text: tk.Text, urls: dict[str, str], open_url: Callable[[str], object]) -> None:
        self.text = text
        self.urls = urls  # link tag -> address (the MessageView's)
        self.open_url = open_url
        self.menu = tk.Menu(text, tearoff=False)
        self._line = ""  # what Copy takes when nothing is selected
        self._url = ""
        for sequence in context_clicks(text):
            text.bind(sequence, self.popup, add="+")

    def url_at(self, index: str) -> str:
        """The web address at a Text index, or ''."""
        for tag in self.text.tag_names(index):
            if tag in self.urls:
                return self.urls[tag]
        return ""

    def entries(self, x: int, y: int) -> list[str]:
        """Fill the menu for a click at (x, y) in the Text; return the labels, in order."""
        index = self.text.index(f"@{x},{y}")
        self._url = self.url_at(index)
        self._line = self.text.get(f"{index} linestart", f"{index} lineend")
        self.menu.delete(0, "end")
        labels = ["Copy"]
        self.menu.add_command(label="Copy", command=self.copy)
        if self._url:
            labels += ["Copy link address", "Open link"]
            self.menu.add_command(label="Copy link address", command=lambda: to_clipboard(self.text, self._url))
            self.menu.add_command(label="Open link", command=lambda: self.open_url(self._url))
        self.menu.add_separator()
        self.menu.add_command(label="Select all", command=self.select_all)
        return [*labels, "Select all"]

    def popup(self, event: tk.Event) -> str:
        self.entries(event.x, event.y)
        return popup(self.menu, event)

    def copy(self) -> None:
        """Copy the selection, or the line that was right-clicked when nothing is selected."""
        ranges = self.text.tag_ranges("sel")
        to_clipboard(self.text, self.text.get(ranges[0], ranges[1]) if ranges else self._line)

    def select_all(self) -> None:
        self.text.tag_add("sel", "1.0", "end-1c")
