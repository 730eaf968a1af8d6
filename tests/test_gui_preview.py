"""Inline previews: thumbnails made off the Tk thread, refused with a sentence when unsafe or unreadable."""

from __future__ import annotations

import queue
import threading
import tkinter as tk
from pathlib import Path

import pytest
from PIL import Image

from gui import preview
from gui.preview import PreviewReady
from tests import gui_helpers

tk_root = gui_helpers.tk_root  # the fixtures, used by name below
tk_errors = gui_helpers.tk_errors


def test_a_large_picture_becomes_a_small_thumbnail(tmp_path: Path) -> None:
    path = tmp_path / "wide.jpg"
    Image.new("RGB", (1600, 900), "#3366cc").save(path)
    thumb = preview.load_thumbnail(path)
    assert thumb.width <= preview.THUMBNAIL_SIZE[0] and thumb.height <= preview.THUMBNAIL_SIZE[1]
    assert thumb.width == preview.THUMBNAIL_SIZE[0]  # as large as fits, keeping the shape
    assert thumb.mode == "RGB"


def test_transparency_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "logo.png"
    Image.new("RGBA", (64, 64), (255, 0, 0, 0)).save(path)
    assert preview.load_thumbnail(path).mode == "RGBA"


def test_a_file_that_is_not_a_picture_is_a_sentence(tmp_path: Path) -> None:
    path = tmp_path / "fake.png"
    path.write_bytes(b"not a picture at all")
    with pytest.raises(ValueError, match=r"^Cannot preview fake\.png: it is not a readable image"):
        preview.load_thumbnail(path)


def test_a_decompression_bomb_is_refused_before_decoding(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "bomb.png"
    Image.new("RGB", (300, 300)).save(path)
    monkeypatch.setattr(preview, "MAX_PIXELS", 1000)
    with pytest.raises(ValueError, match=r"bomb\.png is too large to preview \(300×300 pixels\)\."):
        preview.load_thumbnail(path)


def test_load_in_background_reports_through_the_queue(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.png", tmp_path / "bad.png"
    Image.new("RGB", (20, 20)).save(good)
    bad.write_bytes(b"junk")
    results: queue.Queue[PreviewReady] = queue.Queue()
    threads = [preview.load_in_background(p, results, title=p.name) for p in (good, bad)]
    assert all(t is not threading.current_thread() for t in threads)
    for t in threads:
        t.join(10)
    got = {r.path.name: r for r in (results.get_nowait(), results.get_nowait())}
    assert got["good.png"].image is not None and got["good.png"].error == "" and got["good.png"].title == "good.png"
    assert got["bad.png"].image is None and got["bad.png"].error.startswith("Cannot preview bad.png")


def test_photo_makes_a_tk_image_of_the_thumbnail(tk_root, tk_errors) -> None:
    image = Image.new("RGB", (30, 20), "#ff0000")
    photo = preview.photo(tk_root, image)
    assert (photo.width(), photo.height()) == (30, 20)
    assert str(photo) in tk_root.image_names()


# --- in the chat window: at the announcement, and full size on a click ---------------------------

TS = 1_700_000_000.0


@pytest.fixture
def chat(tk_root, tmp_path):
    from tests.gui_fakes import connected_window

    window, _ = connected_window(tk_root, tmp_path)
    gui_helpers.pump_until(tk_root, window.master.winfo_ismapped, what="the window on screen")
    yield window
    window.close()


def _shared_picture_then_talk(chat, tmp_path: Path) -> Path:
    from mmchat.protocol import ChatMessage, Notice

    path = tmp_path / "cat.png"
    Image.new("RGB", (1600, 900), "#3366cc").save(path)
    chat.events.handle(Notice(1, TS, "share", member="bob", filename="cat.png", size=path.stat().st_size))
    for seq in range(2, 6):
        chat.events.handle(ChatMessage(seq, TS + seq, "bob", f"talk after the picture {seq}"))
    chat.ui_events.put(PreviewReady(path, preview.load_thumbnail(path), title="cat.png"))
    gui_helpers.pump_until(chat.master, chat.view.text.image_names, what="the preview in the view")
    return path


def click(widget: tk.Misc, x: int, y: int) -> None:
    """A click as the mouse makes it: moving there first, so the Text knows what is under the pointer."""
    widget.event_generate("<Motion>", x=x, y=y)
    widget.event_generate("<Button-1>", x=x, y=y)
    widget.event_generate("<ButtonRelease-1>", x=x, y=y)


def _line(text, index: str) -> int:
    return int(text.index(index).split(".")[0])


def test_a_preview_appears_under_its_announcement_not_at_the_end(tk_root, tk_errors, chat, tmp_path) -> None:
    _shared_picture_then_talk(chat, tmp_path)
    text = chat.view.text
    [image] = text.image_names()
    announced = _line(text, text.search("cat.png", "1.0"))
    later = _line(text, text.search("talk after the picture 2", "1.0"))
    assert announced < _line(text, image) < later
    assert _line(text, image) - announced <= 2  # the caption, then the picture: right under the notice
    assert text.get("end-2l linestart", "end-1c").startswith("talk after the picture 5")  # the end is unchanged


def test_a_click_on_a_preview_opens_the_picture_full_size_and_escape_closes_it(tk_root, tk_errors, chat, tmp_path):
    _shared_picture_then_talk(chat, tmp_path)
    text = chat.view.text
    [image] = text.image_names()
    text.see(image)
    box = gui_helpers.pump_until(tk_root, lambda: text.bbox(image), what="the preview in view")
    x, y, width, height = box
    click(text, x + width // 2, y + height // 2)

    def opened():
        return [w for w in gui_helpers.walk(tk_root) if isinstance(w, tk.Toplevel) and w.title() == "cat.png"]

    [top] = gui_helpers.pump_until(tk_root, opened, what="the full-size picture window")
    [label] = [w for w in top.winfo_children() if isinstance(w, tk.Label)]
    shown = top.tk.call("image", "width", label["image"])
    fits = preview.screen_fit(tk_root)
    assert preview.THUMBNAIL_SIZE[0] < shown <= fits[0]  # larger than the thumbnail, within the screen
    gui_helpers.pump_until(tk_root, lambda: top.focus_get() is not None and top.focus_get().winfo_toplevel() is top)
    gui_helpers.pump_for(tk_root, 0.1)
    assert not chat.attention.away  # a picture opened from the chat is still the chat
    top.event_generate("<Escape>")
    gui_helpers.pump_until(tk_root, lambda: not opened(), what="Escape to close the picture")
    text.see(image)
    x, y, width, height = gui_helpers.pump_until(tk_root, lambda: text.bbox(image), what="the preview in view")
    click(text, x + width // 2, y + height // 2)
    [top] = gui_helpers.pump_until(tk_root, opened, what="the picture again")
    top.event_generate("<Button-1>", x=5, y=5)
    gui_helpers.pump_until(tk_root, lambda: not opened(), what="a click to close the picture")
