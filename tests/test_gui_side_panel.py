"""SidePanel: who is online, the shared files with Download, and the !cmd entry."""

from __future__ import annotations

import tkinter as tk

import pytest

from gui.side_panel import SidePanel
from mmchat.protocol import SharedFile
from tests import gui_helpers

tk_root = gui_helpers.tk_root  # the fixtures, used by name below
tk_errors = gui_helpers.tk_errors

COOL = "😎"


@pytest.fixture
def panel(tk_root):
    done: list[tuple[str, str]] = []
    top = tk.Toplevel(tk_root)
    side = SidePanel(
        top, download=lambda name: done.append(("download", name)), run=lambda line: done.append(("run", line))
    )
    side.pack(fill="both", expand=True)
    tk_root.update()
    return side, done


def test_online_list_with_count_and_you(tk_root, tk_errors, panel) -> None:
    side, _ = panel
    side.me = "alice"
    side.set_online(["bob", "alice"])
    assert side.names() == ["bob", "alice"]  # in the host's order
    assert side.online_heading["text"] == "ONLINE  ·  2"
    assert side.online.item("alice", "text").endswith("alice  (you)")
    side.member_joined(f"carol {COOL}")
    side.member_joined("bob")  # already there: not twice
    assert side.names().count("bob") == 1 and f"carol {COOL}" in side.names()
    assert side.online_heading["text"] == "ONLINE  ·  3"
    side.member_left("bob")
    side.member_left("nobody")
    assert "bob" not in side.names() and side.online_heading["text"] == "ONLINE  ·  2"


def test_files_newest_first_keeping_the_selection(tk_root, tk_errors, panel) -> None:
    side, _ = panel
    older = SharedFile("old.txt", 10, "bob", 1.0)
    newer = SharedFile("new.pdf", 2_000_000, "carol", 2.0)
    assert side.download_button.instate(["disabled"])
    side.set_files([older, newer])
    assert list(side.files.get_children()) == ["new.pdf", "old.txt"]
    assert side.files.item("new.pdf", "values")[1] == "carol"
    side.files.selection_set("old.txt")
    tk_root.update()
    assert not side.download_button.instate(["disabled"])
    side.set_files([older, newer, SharedFile("newest.png", 5, "bob", 3.0)])
    assert side.selected_file() == "old.txt"
    side.set_files([newer])  # the chosen file is gone
    tk_root.update()
    assert side.selected_file() == "" and side.download_button.instate(["disabled"])


def test_download_by_button_double_click_and_enter(tk_root, tk_errors, panel) -> None:
    side, done = panel
    side.download_button.invoke()  # nothing chosen: nothing happens
    side.set_files([SharedFile("notes.txt", 10, "bob", 1.0)])
    side.files.selection_set("notes.txt")
    tk_root.update()
    side.download_button.invoke()
    side.files.focus_force()
    tk_root.update()
    side.files.event_generate("<Return>")
    for _ in range(2):  # two clicks in a row are a double click
        side.files.event_generate("<ButtonPress-1>", x=10, y=35)
        side.files.event_generate("<ButtonRelease-1>", x=10, y=35)
    tk_root.update()
    assert done == [("download", "notes.txt")] * 3


def test_the_command_entry_runs_trimmed_lines_and_empties(tk_root, tk_errors, panel) -> None:
    side, done = panel
    side.run_button.invoke()  # empty: nothing
    side.command.insert(0, "  cat notes.txt  ")
    side.run_button.invoke()
    assert side.command.get() == ""
    side.command.insert(0, "pwd")
    side.command.focus_force()
    tk_root.update()
    side.command.event_generate("<Return>")
    assert done == [("run", "cat notes.txt"), ("run", "pwd")]


def test_members_online_together_get_different_colours(tk_root, tk_errors, panel) -> None:
    panel, _ = panel
    panel.set_online(["bob", "carol", "alice"])  # bob and carol hash to the same colour
    tags = [panel.online.item(name, "tags")[0] for name in ("bob", "carol", "alice")]
    assert len(set(tags)) == 3
    assert all(str(panel.online.tag_configure(tag, "foreground")) == tag for tag in tags)
    panel.member_left("bob")
    panel.member_joined("dave")
    assert panel.online.item("dave", "tags")[0] not in {tags[1], tags[2]}


def test_the_empty_list_says_nobody_and_disconnected_disables(tk_root, tk_errors, panel) -> None:
    panel, done = panel
    panel.set_online(["alice", "bob"])
    panel.set_online([])
    assert panel.online_heading["text"] == "ONLINE  ·  0"  # not the old count over an empty list
    panel.set_files([SharedFile("a.txt", 1, "bob", 0.0)])
    panel.files.selection_set("a.txt")
    tk_root.update()
    panel.set_connected(False)
    tk_root.update()
    assert panel.download_button.instate(["disabled"]) and panel.run_button.instate(["disabled"])
    assert panel.command.instate(["disabled"])
    panel.download_selected()
    assert done == []
    panel.set_connected(True)
    tk_root.update()
    assert panel.download_button.instate(["!disabled"]) and panel.run_button.instate(["!disabled"])


def row_point(tree, iid: str) -> tuple[int, int]:
    tree.see(iid)
    tree.update()
    x, y, width, height = tree.bbox(iid)
    return x + width // 2, y + height // 2


def test_right_click_on_a_member_offers_mention_and_copy(tk_root, tk_errors, panel, monkeypatch) -> None:
    side, _ = panel
    side.me = "alice"
    side.set_online(["alice", "bob"])
    mentioned: list[str] = []
    side.mention = mentioned.append
    shown: list[tuple[int, int]] = []
    monkeypatch.setattr(side.member_menu, "tk_popup", lambda x, y: shown.append((x, y)))
    x, y = row_point(side.online, "bob")
    side.online.event_generate("<Button-3>", x=x, y=y, rootx=50, rooty=60)
    tk_root.update()
    assert shown == [(50, 60)]
    assert side.member_menu.entrycget(0, "label") == "Mention @bob"
    side.member_menu.invoke(0)
    assert mentioned == ["bob"]
    side.member_menu.invoke("Copy name")
    assert tk_root.clipboard_get() == "bob"
    side.member_entries("alice")  # yourself: nothing to mention
    assert side.member_menu.entrycget(0, "state") == "disabled"


def test_right_click_on_a_file_selects_it_and_offers_download(tk_root, tk_errors, panel, monkeypatch) -> None:
    side, done = panel
    side.set_files([SharedFile("a.txt", 1, "bob", 1.0), SharedFile("b.txt", 2, "al", 2.0)])
    monkeypatch.setattr(side.file_menu, "tk_popup", lambda x, y: None)
    x, y = row_point(side.files, "a.txt")
    side.files.event_generate("<Button-3>", x=x, y=y)
    tk_root.update()
    assert side.selected_file() == "a.txt"
    side.file_menu.invoke("Download")
    assert done == [("download", "a.txt")]
    side.file_menu.invoke("Copy file name")
    assert tk_root.clipboard_get() == "a.txt"
    side.set_connected(False)
    side.file_entries("a.txt")
    assert side.file_menu.entrycget("Download", "state") == "disabled"
