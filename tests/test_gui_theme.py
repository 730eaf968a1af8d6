"""The look of every window: styles, stable sender colours, fonts and the icon."""

from __future__ import annotations

import colorsys
import sys
import tkinter as tk
import tkinter.font as tkfont
from pathlib import Path
from tkinter import ttk

from gui import theme
from tests import gui_helpers

tk_root = gui_helpers.tk_root  # the fixtures, used by name below (new_root applies the theme)
tk_errors = gui_helpers.tk_errors


def test_sender_colours_are_stable_and_from_the_palette() -> None:
    names = ["alice", "bob", "carol", "dave", "erin", "frank", "😎", "\udcff"]
    colours = [theme.colour_for(name) for name in names]
    assert all(c in theme.NAME_COLOURS for c in colours)
    assert colours == [theme.colour_for(name) for name in names]  # the same every time, unlike hash()
    assert theme.colour_for("alice") == "#047857"  # and the same every run
    assert theme.colour_for("alice") != theme.colour_for("bob")
    assert len(set(colours)) > 1


def _hue_and_saturation(colour: str) -> tuple[float, float]:
    r, g, b = (int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
    hue, _, saturation = colorsys.rgb_to_hls(r, g, b)
    return hue * 360, saturation


def test_the_palette_has_no_two_near_identical_colours() -> None:
    assert len(set(theme.NAME_COLOURS)) == len(theme.NAME_COLOURS)
    for i, first in enumerate(theme.NAME_COLOURS):
        for second in theme.NAME_COLOURS[i + 1 :]:
            (h1, s1), (h2, s2) = _hue_and_saturation(first), _hue_and_saturation(second)
            apart = min(abs(h1 - h2), 360 - abs(h1 - h2))
            assert apart >= 15 or abs(s1 - s2) >= 0.5, (first, second)  # another hue, or grey beside a colour


def test_a_collision_steps_to_a_free_colour_and_a_name_keeps_its_colour() -> None:
    book = theme.SenderColours()
    # carol and bob start on the same colour: whoever comes second steps on.
    assert theme.colour_index("carol") == theme.colour_index("bob")
    book.set_online(["bob", "carol", "alice"])
    colours = [book.colour(name) for name in ("bob", "carol", "alice")]
    assert len(set(colours)) == 3
    assert colours[0] == theme.colour_for("bob")
    book.set_online(["carol"])  # bob left: carol keeps the colour she was given
    assert book.colour("carol") == colours[1]
    crowd = [f"member{n}" for n in range(len(theme.NAME_COLOURS))]
    book = theme.SenderColours()
    book.set_online(crowd)
    assert {book.colour(name) for name in crowd} == set(theme.NAME_COLOURS)  # all different while they last


def test_apply_theme_configures_the_styles(tk_root, tk_errors) -> None:
    style = ttk.Style(tk_root)
    assert style.theme_use() == "clam"
    assert style.lookup("Accent.TButton", "background") == theme.ACCENT
    assert style.lookup("Error.TLabel", "foreground") == theme.ERROR
    assert style.lookup("Surface.TFrame", "background") == theme.SURFACE
    assert str(tk_root["background"]) == theme.BG
    assert tkfont.nametofont("TkDefaultFont", root=tk_root).actual("size") == 10


def test_monospace_is_a_fixed_width_copy(tk_root, tk_errors) -> None:
    fixed = tkfont.nametofont("TkFixedFont", root=tk_root)
    size_before = fixed.cget("size")
    font = theme.monospace(tk_root, 14)
    assert font.actual("size") == 14 and font.metrics("fixed") == 1
    assert fixed.cget("size") == size_before  # a copy: every other window keeps its fixed font


def test_the_icon_is_set_and_kept_alive(tk_root, tk_errors) -> None:
    top = tk.Toplevel(tk_root)
    theme.set_icon(top)
    sizes = [s for s in (256, 128, 64, 48, 32, 16) if theme.icon_path(s).exists()]
    assert sizes, "the project's icons/ folder has the icon"
    icons = theme._ICONS[top]
    assert len(icons) == len(sizes)
    assert {icon.width() for icon in icons} == set(sizes)


def test_missing_icons_are_not_an_error(tk_root, tk_errors, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)  # a one-file build without icons
    assert theme.resource_dir() == tmp_path
    assert theme.icon_path(32) == tmp_path / "icons" / "mmchat-32.png"
    top = tk.Toplevel(tk_root)
    theme.set_icon(top)
    assert top not in theme._ICONS


def test_resource_dir_is_the_project_root_when_not_frozen() -> None:
    assert (theme.resource_dir() / "gui" / "theme.py").is_file()
