"""Inline previews: thumbnails made off the Tk thread, refused with a sentence when unsafe or unreadable."""

from __future__ import annotations

import queue
import threading
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
