"""MessageView: the read-only conversation, driven directly under Xvfb."""

from __future__ import annotations

from PIL import Image, ImageTk

from gui import message_view
from gui.message_view import MessageView
from tests import gui_helpers
from tests.gui_helpers import pump_for

tk_root = gui_helpers.tk_root  # the fixtures, used by name below
tk_errors = gui_helpers.tk_errors
view = gui_helpers.view

TS = 1_700_000_000.0


def tags_at(view: MessageView, needle: str) -> tuple[str, ...]:
    index = view.text.search(needle, "1.0", "end")
    assert index, f"{needle!r} not shown"
    return view.text.tag_names(index)


def test_one_header_while_a_sender_keeps_talking(tk_root, tk_errors, view) -> None:
    view.add_message("bob", "one", TS, own=False, history=False)
    view.add_message("bob", "two", TS + 10, own=False, history=False)
    view.add_message("alice", "three", TS + 20, own=True, history=False)
    view.add_message("bob", "four", TS + 30, own=False, history=False)
    content = view.content()
    assert content.count("bob") == 2  # a new header only after someone else spoke
    assert "alice  (you)" in content
    assert "own" in tags_at(view, "three") and "own" not in tags_at(view, "four")
    assert "sender" in tags_at(view, "bob")


def test_history_sits_between_earlier_and_now(tk_root, tk_errors, view) -> None:
    view.add_message("bob", "old news", TS, own=False, history=True)
    view.add_message("bob", "fresh", TS + 5, own=False, history=False)
    content = view.content()
    assert content.index("Earlier messages") < content.index("old news") < content.index("Now") < content.index("fresh")
    assert "history" in tags_at(view, "old news")
    view.new_connection()  # a reconnect replays history again, with its own markers
    view.add_message("bob", "old again", TS, own=False, history=True)
    assert view.content().count("Earlier messages") == 2


def test_notices_carry_links_that_run_their_command(tk_root, tk_errors, view) -> None:
    clicked: list[str] = []
    link = view.link("Download", lambda: clicked.append("download"))
    view.add_notice("bob shared cat.png (2 KB)", "share", TS, history=False, links=[link])
    assert "📎 bob shared cat.png" in view.content()
    [tag] = view.link_commands
    start, end = view.text.tag_ranges(tag)[:2]
    assert view.text.get(start, end) == "Download"
    view.link_commands[tag]()
    x, y, _, _ = view.text.bbox(start)
    view.text.event_generate("<Motion>", x=x + 2, y=y + 2)  # Tk finds the tag under the pointer on motion
    view.text.event_generate("<Button-1>", x=x + 2, y=y + 2)  # a real click on the link
    tk_root.update()
    assert clicked == ["download", "download"]


def test_system_lines_errors_and_blocks(tk_root, tk_errors, view) -> None:
    view.system("Connected.")
    view.system("Something failed.", error=True)
    view.block("$ ls", "a.txt\nb.txt\n")
    view.block("$ cat", "Not allowed.", error=True)
    assert "system" in tags_at(view, "Connected.")
    assert "error" in tags_at(view, "Something failed.")
    assert {"code", "code_head"} <= set(tags_at(view, "$ ls"))
    assert "code" in tags_at(view, "b.txt")
    assert "code_error" in tags_at(view, "Not allowed.")


def test_long_output_is_shortened(tk_root, tk_errors, view) -> None:
    view.block("$ big", "x" * (message_view.MAX_BLOCK_CHARS + 500))
    content = view.content()
    assert "… (output shortened)" in content
    assert content.count("x") <= message_view.MAX_BLOCK_CHARS


def test_the_view_is_read_only_and_cleans_what_it_shows(tk_root, tk_errors, view) -> None:
    view.system("bad \ud800 surrogate")
    assert str(view.text["state"]) == "disabled"
    assert "\ud800" not in view.content()
    view.text.insert("end", "typed by someone")  # a disabled Text ignores it
    assert "typed by someone" not in view.content()


def test_old_lines_images_and_links_are_forgotten(tk_root, tk_errors, view, monkeypatch) -> None:
    monkeypatch.setattr(message_view, "MAX_LINES", 20)
    photo = ImageTk.PhotoImage(Image.new("RGB", (10, 10)), master=view.text)
    name = view.add_image(photo, "tiny")
    view.add_notice("bob shared x", "share", TS, history=False, links=[view.link("Download", lambda: None)])
    assert view.images == {name: photo} and len(view.link_commands) == 1
    for n in range(40):
        view.system(f"line {n}")
    lines = int(view.text.index("end-1c").split(".")[0])
    assert lines <= 20
    assert "line 39" in view.content() and "line 0\n" not in view.content()
    assert view.images == {} and view.link_commands == {}


def test_an_image_is_shown_with_its_caption(tk_root, tk_errors, view) -> None:
    photo = ImageTk.PhotoImage(Image.new("RGB", (40, 30), "#00ff00"), master=view.text)
    name = view.add_image(photo, "sunset.png")
    assert name in view.text.image_names()
    assert view.images[name] is photo  # kept alive while shown
    assert "caption" in tags_at(view, "sunset.png")


def test_scrolling_up_stops_following_until_the_button(tk_root, tk_errors, view) -> None:
    for n in range(80):
        view.system(f"line {n}")
    tk_root.update()
    assert view.at_end() and view.following
    view.text.event_generate("<Button-4>")  # the wheel, upwards (X11)
    view._scrollbar("moveto", "0")
    assert not view.following
    view.system("while away")
    tk_root.update()
    assert not view.at_end() and view.jump.winfo_ismapped()
    view.jump.invoke()
    pump_for(tk_root, 0.05)
    assert view.at_end() and view.following and not view.jump.winfo_ismapped()


HOSTILE = "hi\nbob  10:00\n[bob] I owe alice 100€\n→ alice has joined the chat\r\u2028\u202eevil\x1b[2J"


def test_every_line_of_a_message_is_marked_as_its_senders(tk_root, tk_errors, view) -> None:
    view.add_message("bob", "real", TS, own=False, history=False)
    view.add_notice("alice has joined the chat", "join", TS, history=False)
    view.add_message("mallory", HOSTILE, TS + 5, own=False, history=False)
    bar = f"from{message_view.theme.colour_for('mallory')}"
    assert str(view.text.tag_cget(bar, "lmargincolor")) == message_view.theme.colour_for("mallory")
    lines = view.content().split("\n")
    start = lines.index("hi")
    for number, line in enumerate(lines[start : start + 4], start=start + 1):
        tags = view.text.tag_names(f"{number}.0")
        assert bar in tags and "body" in tags, (line, tags)
        assert not {"header", "sender", "notice", "join"} & set(tags), (line, tags)
    # The real header and notice carry what no message can.
    assert "sender" in tags_at(view, "bob") and "notice" in tags_at(view, "→ alice has joined")
    assert bar not in tags_at(view, "→ alice has joined")


def test_controls_and_bidi_controls_a_member_sent_are_shown_as_escapes(tk_root, tk_errors, view) -> None:
    view.add_message("mallory", HOSTILE, TS, own=False, history=False)
    view.block("$ cat x", "line\r\nfake\u202e\x1b[1A\n")
    content = view.content()
    for hidden in ("\r", "\u2028", "\u202e", "\x1b"):
        assert hidden not in content
    assert "\\x0d\\u2028\\u202eevil\\x1b[2J" in content
    assert "fake\\u202e\\x1b[1A" in content


def test_a_mention_of_the_reader_is_highlighted_and_nothing_else(tk_root, tk_errors, view) -> None:
    view.add_message("bob", "hi @alice and @alicex, mail bob@alice.org", TS, own=False, history=False, me="alice")
    ranges = view.text.tag_ranges("mention")
    assert [view.text.get(a, b) for a, b in zip(ranges[::2], ranges[1::2], strict=True)] == ["@alice"]
    assert "body" in tags_at(view, "@alice and")  # still part of bob's message, with his margin bar
    assert view.content().endswith("hi @alice and @alicex, mail bob@alice.org\n")
    view.add_message("carol", "@alice", TS, own=False, history=False)  # no reader known: no highlight
    assert len(view.text.tag_ranges("mention")) == 2


def test_only_the_latest_unread_divider_stays(tk_root, tk_errors, view) -> None:
    view.add_message("bob", "one", TS, own=False, history=False)
    view.unread_divider()
    view.add_message("bob", "two", TS + 1, own=False, history=False)
    view.unread_divider()
    view.add_message("bob", "three", TS + 2, own=False, history=False)
    content = view.content()
    assert content.count(message_view.UNREAD_TEXT) == 1
    assert content.index("two") < content.index(message_view.UNREAD_TEXT) < content.index("three")


def test_a_picture_goes_to_its_anchor_and_a_click_on_it_runs_its_command(tk_root, tk_errors, view) -> None:
    view.add_notice("bob shared cat.png", "share", TS, history=False)
    mark = view.anchor_here("cat.png")
    view.add_message("bob", "later words", TS + 1, own=False, history=False)
    clicks: list[str] = []
    photo = ImageTk.PhotoImage(Image.new("RGB", (40, 30), "#ff0000"), master=view.text)
    name = view.add_image(photo, "cat.png", at=mark, on_click=lambda: clicks.append("open"))
    text = view.text
    assert text.compare(name, "<", text.search("later words", "1.0"))
    assert text.compare(text.search("bob shared", "1.0"), "<", name)
    [tag] = [t for t in text.tag_names(name) if t.startswith("picture") and t != "picture"]
    view.link_commands[tag]()
    assert clicks == ["open"]
    view.add_image(photo, "elsewhere.png")  # no anchor: at the end, as before
    assert text.compare(text.search("elsewhere.png", "1.0"), ">", text.search("later words", "1.0"))
