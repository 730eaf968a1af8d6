"""One look for every mmchat window: ttk styles, colours, fonts and the window icon."""

from __future__ import annotations

import hashlib
import sys
import tkinter as tk
import tkinter.font as tkfont
import weakref
from collections.abc import Iterable
from pathlib import Path
from tkinter import ttk

BG = "#f4f5f7"
SURFACE = "#ffffff"
BORDER = "#d9dce1"
TEXT = "#1f2328"
MUTED = "#6b7280"
ACCENT = "#2563eb"
ACCENT_DARK = "#1d4ed8"
ERROR = "#b91c1c"
SUCCESS = "#15803d"
OWN_BG = "#eef4ff"
SYSTEM = "#6b7280"
HISTORY = "#9ca3af"
PAD = 8

# Sender colours: nine hues at least ~20 degrees apart (most ~40), each readable on white
# (contrast >= 4.5) and none near the accent blue, so a name never looks like a link.
NAME_COLOURS = (  # in an order where neighbours are far apart: a collision step lands on another hue
    "#c2410c",  # orange
    "#0e7490",  # cyan
    "#a21caf",  # magenta
    "#4d7c0f",  # olive green
    "#6d28d9",  # violet
    "#a16207",  # amber
    "#047857",  # emerald
    "#be123c",  # rose
    "#57534e",  # stone grey
)


def colour_index(name: str) -> int:
    """Where a name starts in the palette: a stable hash (the same every run, unlike hash())."""
    digest = hashlib.sha1(name.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:4], "big") % len(NAME_COLOURS)


def colour_for(name: str, taken: Iterable[str] = ()) -> str:
    """A stable colour for a name, stepping past the colours in `taken` while any is free."""
    busy = set(taken)
    start = colour_index(name)
    for step in range(len(NAME_COLOURS)):
        colour = NAME_COLOURS[(start + step) % len(NAME_COLOURS)]
        if colour not in busy:
            return colour
    return NAME_COLOURS[start]  # more people than colours: share, but stay stable


class SenderColours:
    """The colours of one window: members online together differ, and a name keeps its first colour."""

    def __init__(self) -> None:
        self._given: dict[str, str] = {}
        self.online: list[str] = []

    def set_online(self, names: Iterable[str]) -> None:
        """Who is online now; each gets a colour none of the others (already coloured) has."""
        self.online = list(names)
        for name in self.online:
            self.colour(name)

    def colour(self, name: str) -> str:
        """The name's colour: the one it was given, else its hash colour stepped past the online ones."""
        given = self._given.get(name)
        if given is not None:
            return given
        taken = [self._given[other] for other in self.online if other in self._given and other != name]
        colour = self._given[name] = colour_for(name, taken)
        return colour


def resource_dir() -> Path:
    """The folder holding icons/: the unpack folder in a one-file build, else the project root."""
    frozen = getattr(sys, "_MEIPASS", None)
    return Path(frozen) if frozen else Path(__file__).resolve().parent.parent


def icon_path(size: int) -> Path:
    return resource_dir() / "icons" / f"mmchat-{size}.png"


# The icon images of each window: Tk forgets an image once Python drops its last reference.
_ICONS: weakref.WeakKeyDictionary[tk.Misc, list[tk.PhotoImage]] = weakref.WeakKeyDictionary()


def set_icon(window: tk.Tk | tk.Toplevel) -> None:
    """Give the window mmchat's icon, in every size there is (missing icons are not an error)."""
    images = []
    for size in (256, 128, 64, 48, 32, 16):
        path = icon_path(size)
        if path.exists():
            try:
                images.append(tk.PhotoImage(master=window, file=str(path)))
            except tk.TclError:
                pass
    if images:
        window.iconphoto(True, *images)
        _ICONS[window] = images


def apply_theme(root: tk.Tk) -> None:
    """Configure ttk styles and default fonts for all windows of this Tk."""
    style = ttk.Style(root)
    if "clam" in style.theme_names():
        style.theme_use("clam")
    default = tkfont.nametofont("TkDefaultFont")
    default.configure(size=10)
    text_font = tkfont.nametofont("TkTextFont")
    text_font.configure(size=10)
    family = default.actual("family")
    root.configure(background=BG)
    # Classic widgets only: a blanket "*Font" would override every ttk style's font.
    for widget in ("Menu", "Listbox", "Text", "Entry"):
        root.option_add(f"*{widget}.font", text_font if widget == "Text" else default)

    style.configure(".", background=BG, foreground=TEXT, bordercolor=BORDER, focuscolor=ACCENT)
    style.configure("TFrame", background=BG)
    style.configure("Surface.TFrame", background=SURFACE)
    style.configure("TLabel", background=BG, foreground=TEXT)
    style.configure("Surface.TLabel", background=SURFACE)
    style.configure("Title.TLabel", font=(family, 15, "bold"))
    style.configure("Heading.TLabel", font=(family, 10, "bold"), foreground=MUTED)
    style.configure("Muted.TLabel", foreground=MUTED)
    style.configure("Error.TLabel", foreground=ERROR)
    style.configure("Success.TLabel", foreground=SUCCESS)
    style.configure("TButton", padding=(10, 4))
    # The default focus ring is drawn in the accent colour: on a blue button it would not show.
    style.configure(
        "Accent.TButton", background=ACCENT, foreground="#ffffff", bordercolor=ACCENT_DARK, focuscolor="#ffffff"
    )
    style.map(
        "Accent.TButton",
        background=[("disabled", BORDER), ("pressed", ACCENT_DARK), ("active", ACCENT_DARK)],
        foreground=[("disabled", MUTED)],
        bordercolor=[("focus", TEXT)],
    )
    style.map("TButton", bordercolor=[("focus", ACCENT)])
    style.configure("Link.TButton", foreground=ACCENT, background=SURFACE, borderwidth=0, padding=(2, 0))
    style.map("Link.TButton", foreground=[("active", ACCENT_DARK)], background=[("active", SURFACE)])
    style.configure("TEntry", padding=4, fieldbackground=SURFACE)
    style.configure("Treeview", rowheight=24, fieldbackground=SURFACE, background=SURFACE)
    style.configure("Treeview.Heading", font=(family, 9, "bold"))
    style.configure("TLabelframe", background=BG)
    style.configure("TLabelframe.Label", background=BG, foreground=MUTED, font=(family, 9, "bold"))
    style.configure("TNotebook", background=BG, bordercolor=BORDER)
    style.configure("TNotebook.Tab", background=BG, foreground=MUTED, padding=(12, 4), bordercolor=BORDER)
    style.map(
        "TNotebook.Tab",
        background=[("selected", SURFACE), ("active", SURFACE)],
        foreground=[("selected", TEXT)],
    )
    style.configure("Horizontal.TProgressbar", troughcolor=BORDER, background=ACCENT, thickness=8)


def monospace(root: tk.Misc, size: int = 10) -> tkfont.Font:
    """The fixed-width font for command output and QR codes."""
    font = tkfont.nametofont("TkFixedFont", root=root).copy()
    font.configure(size=size)
    return font
