"""Links in messages and the conversation's right-click menu, on a real MessageView under Xvfb."""

from __future__ import annotations

from gui import message_menu
from gui.message_view import MessageView
from tests import gui_helpers

tk_root = gui_helpers.tk_root  # the fixtures, used by name below
tk_errors = gui_helpers.tk_errors
view = gui_helpers.view

TS = 1_700_000_000.0


def point_at(view: MessageView, needle: str) -> tuple[int, int]:
    """Window coordinates of the middle of the first character of `needle` in the view."""
    index = view.text.search(needle, "1.0", "end")
    assert index, f"{needle!r} not shown"
    view.text.see(index)
    view.text.update()
    x, y, width, height = view.text.bbox(index)
    return x + width // 2, y + height // 2


def test_a_web_address_in_a_message_is_a_link_that_opens_on_click(tk_root, tk_errors, view) -> None:
    opened: list[str] = []
    view.open_url = opened.append
    view.add_message("bob", "docs at https://docs.python.org/3/ and www.example.org.", TS, own=False, history=False)
    for needle in ("https://docs", "www.example"):
        x, y = point_at(view, needle)
        view.text.event_generate("<Motion>", x=x, y=y)  # Tk finds the tag under the pointer on motion
        view.text.event_generate("<Button-1>", x=x, y=y)  # a real click on the link
    tk_root.update()
    assert opened == ["https://docs.python.org/3/", "http://www.example.org"]
    assert "link" not in view.text.tag_names(view.text.search(" and ", "1.0", "end"))  # the text between is not


def test_a_mention_inside_a_message_with_a_link_keeps_both(tk_root, tk_errors, view) -> None:
    view.add_message("bob", "@alice see https://x.org", TS, own=False, history=False, me="alice")
    assert "mention" in view.text.tag_names(view.text.search("@alice", "1.0", "end"))
    assert "link" in view.text.tag_names(view.text.search("https://x.org", "1.0", "end"))


def test_right_click_on_a_link_offers_copy_and_open(tk_root, tk_errors, view) -> None:
    opened: list[str] = []
    view.open_url = opened.append
    view.add_message("bob", "look https://example.org/page", TS, own=False, history=False)
    x, y = point_at(view, "https://example")
    assert view.menu.entries(x, y) == ["Copy", "Copy link address", "Open link", "Select all"]
    view.menu.menu.invoke("Copy link address")
    assert tk_root.clipboard_get() == "https://example.org/page"
    view.menu.menu.invoke("Open link")
    assert opened == ["https://example.org/page"]


def test_right_click_copy_takes_the_selection_or_else_the_line(tk_root, tk_errors, view) -> None:
    view.add_message("bob", "first line\nsecond line", TS, own=False, history=False)
    x, y = point_at(view, "second")
    assert view.menu.entries(x, y) == ["Copy", "Select all"]  # no link here
    view.menu.menu.invoke("Copy")
    assert tk_root.clipboard_get() == "second line"
    start = view.text.search("first", "1.0", "end")
    view.text.tag_add("sel", start, f"{start}+5c")
    view.menu.menu.invoke("Copy")
    assert tk_root.clipboard_get() == "first"
    view.menu.menu.invoke("Select all")
    assert "bob" in view.text.get("sel.first", "sel.last") and "second line" in view.text.get("sel.first", "sel.last")


def test_right_click_pops_the_menu_up(tk_root, tk_errors, view, monkeypatch) -> None:
    shown: list[tuple[int, int]] = []
    monkeypatch.setattr(view.menu.menu, "tk_popup", lambda x, y: shown.append((x, y)))
    view.add_message("bob", "hello", TS, own=False, history=False)
    x, y = point_at(view, "hello")
    view.text.event_generate("<Button-3>", x=x, y=y, rootx=100, rooty=120)
    tk_root.update()
    assert shown == [(100, 120)]


def test_only_web_addresses_are_handed_to_the_browser(monkeypatch) -> None:
    asked: list[str] = []
    monkeypatch.setattr(message_menu.webbrowser, "open", lambda url, new=0: asked.append(url))
    for url in ("file:///etc/passwd", "javascript:alert(1)", "https://example.org"):
        if thread := message_menu.open_in_browser(url):
            thread.join(5)
    assert asked == ["https://example.org"]
