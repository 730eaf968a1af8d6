"""Tests for mmchat.qr: one-time codes, PNG rendering and the terminal picture."""

from __future__ import annotations

import io
import re
import tempfile
import threading

import pytest
import qrcode
import qrcode.constants
import qrcode.image.pil
import zxingcpp
from PIL import Image, ImageOps

from mmchat.qr import CodeBook, png_to_text, render_png

CODE_PATTERN = re.compile(r"MMC-[ABCDEFGHJKLMNPQRSTUVWXYZ23456789]{10}")
LONG_TEXT = "mmchat://192.168.100.200:12002/join?code=MMC-ABCDEFGHJK&name=" + "x" * 200


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def decode(image: Image.Image) -> str:
    """Return the text of the one QR code zxing-cpp finds in `image`."""
    results = zxingcpp.read_barcodes(image)
    assert results, "zxing-cpp found no barcode"
    return results[0].text


def decode_png(png: bytes) -> str:
    """Return the text of the QR code in PNG bytes."""
    return decode(Image.open(io.BytesIO(png)))


def text_to_image(picture: str, invert: bool = True, scale: int = 6) -> Image.Image:
    """Rebuild the pixels a terminal would show for a half-block picture."""
    halves = {
        " ": (False, False),
        "▀": (True, False),
        "▄": (False, True),
        "█": (True, True),
    }
    lines = picture.split("\n")
    width = len(lines[0])
    ink, background = (255, 0) if invert else (0, 255)
    image = Image.new("L", (width, 2 * len(lines)), background)
    for y, line in enumerate(lines):
        assert len(line) == width
        for x, char in enumerate(line):
            upper, lower = halves[char]
            image.putpixel((x, 2 * y), ink if upper else background)
            image.putpixel((x, 2 * y + 1), ink if lower else background)
    image = image.resize((width * scale, 2 * len(lines) * scale), Image.NEAREST)
    # The terminal around the picture: its own colour, which is the background.
    framed = Image.new("L", (image.width + 8 * scale, image.height + 8 * scale), background)
    framed.paste(image, (4 * scale, 4 * scale))
    return framed


def make_png(text: str, box_size: int, border: int) -> bytes:
    """Make a QR PNG with qrcode directly, at any box size and border."""
    code = qrcode.QRCode(box_size=box_size, border=border, image_factory=qrcode.image.pil.PilImage)
    code.add_data(text)
    code.make(fit=True)
    buffer = io.BytesIO()
    code.make_image().save(buffer, format="PNG")
    return buffer.getvalue()


# CodeBook


def test_codes_look_right_and_are_unique():
    book = CodeBook()
    codes = [book.issue("alice") for _ in range(10_000)]
    assert len(set(codes)) == 10_000
    assert all(CODE_PATTERN.fullmatch(code) for code in codes)
    assert len(book) == 10_000


def test_verify_returns_owner_once():
    book = CodeBook()
    alice, bob = book.issue("alice"), book.issue("bob")
    assert book.verify(bob) == "bob"
    assert book.verify(alice) == "alice"
    assert book.verify(alice) is None
    assert book.verify(bob) is None
    assert len(book) == 0


def test_verify_tolerates_case_and_spaces_as_typed():
    book = CodeBook()
    code = book.issue("alice")
    assert book.verify(f"  {code.lower()}\n") == "alice"


def test_unknown_code_is_none():
    book = CodeBook()
    book.issue("alice")
    assert book.verify("MMC-AAAAAAAAAA") is None
    assert book.verify("") is None
    assert book.verify(None) is None  # type: ignore[arg-type]
    assert len(book) == 1


def test_code_expires_after_ttl():
    clock = FakeClock()
    book = CodeBook(ttl=60, clock=clock)
    early, late = book.issue("alice"), book.issue("bob")
    clock.now += 59.9
    assert book.verify(early) == "alice"
    clock.now += 0.1
    assert book.verify(late) is None
    # An expired code stays dead even if the clock were to run backwards.
    clock.now -= 10
    assert book.verify(late) is None


def test_len_shrinks_after_expiry():
    clock = FakeClock()
    book = CodeBook(ttl=10, clock=clock)
    for _ in range(5):
        book.issue("alice")
    clock.now += 5
    for _ in range(3):
        book.issue("bob")
    assert len(book) == 8
    clock.now += 5
    assert len(book) == 3
    clock.now += 5
    assert len(book) == 0


def test_issue_prunes_expired_codes():
    clock = FakeClock()
    book = CodeBook(ttl=1, clock=clock)
    for _ in range(1000):
        book.issue("alice")
        clock.now += 0.5
    # Only the codes issued within the last second are kept in memory.
    assert len(book._live) <= 2


def test_nonpositive_ttl_is_refused():
    with pytest.raises(ValueError):
        CodeBook(ttl=0)


def test_issuing_from_many_threads():
    book = CodeBook()
    results: dict[str, list[str]] = {}
    start = threading.Barrier(8)

    def worker(owner: str) -> None:
        start.wait()
        results[owner] = [book.issue(owner) for _ in range(500)]

    threads = [threading.Thread(target=worker, args=(f"member{n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    all_codes = [code for codes in results.values() for code in codes]
    assert len(all_codes) == len(set(all_codes)) == 4000
    assert len(book) == 4000
    for owner, codes in results.items():
        assert all(book.verify(code) == owner for code in codes)
    assert len(book) == 0


# render_png


@pytest.mark.parametrize("text", ["hello, mmchat", "MMC-ABCDEFGHJK", LONG_TEXT])
def test_render_png_decodes(text):
    png = render_png(text)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert decode_png(png) == text


def test_render_png_is_black_on_white_with_box_8_border_4():
    image = Image.open(io.BytesIO(render_png("hi"))).convert("L")
    assert image.getpixel((0, 0)) == 255
    # The finder's top-left corner sits just inside the 4-module, 8-pixel quiet zone.
    assert image.getpixel((32, 32)) == 0
    assert image.getpixel((31, 31)) == 255
    assert image.width % 8 == 0


def test_render_png_writes_no_files(tmp_path, monkeypatch):
    work, temp = tmp_path / "cwd", tmp_path / "tmp"
    work.mkdir()
    temp.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    render_png(LONG_TEXT)
    assert list(work.iterdir()) == []
    assert list(temp.iterdir()) == []


# png_to_text


@pytest.mark.parametrize("invert", [True, False])
@pytest.mark.parametrize("text", ["hi", "MMC-ABCDEFGHJK", LONG_TEXT])
def test_terminal_picture_is_a_real_qr_code(text, invert):
    picture = png_to_text(render_png(text), invert=invert)
    assert set(picture) <= set(" ▀▄█\n")
    assert decode(text_to_image(picture, invert=invert)) == text


def test_terminal_picture_is_inverted_by_default():
    picture = png_to_text(render_png("hi"))
    # The quiet zone is light, so on a dark terminal it is drawn in full blocks.
    assert picture.split("\n")[0] == "█" * len(picture.split("\n")[0])
    assert png_to_text(render_png("hi"), invert=False).split("\n")[0].strip() == ""


def test_terminal_picture_size_has_two_module_quiet_zone():
    # "hi" fits version 1: 21 modules, plus 2 on each side, two rows per line.
    lines = png_to_text(render_png("hi")).split("\n")
    assert all(len(line) == 25 for line in lines)
    assert len(lines) == 13


@pytest.mark.parametrize(("box_size", "border"), [(1, 0), (3, 1), (5, 4), (13, 10)])
def test_terminal_picture_from_other_box_sizes_and_borders(box_size, border):
    text = "mmchat://10.0.0.7:12002/join?code=MMC-QRSTUVWXYZ"
    png = make_png(text, box_size, border)
    expected = png_to_text(render_png(text))
    assert png_to_text(png) == expected
    assert decode(text_to_image(png_to_text(png))) == text


def test_transparent_background_counts_as_light():
    grey = Image.open(io.BytesIO(render_png("hi"))).convert("L")
    # Black ink, opaque only where the code is dark; the rest is see-through.
    image = Image.new("RGB", grey.size, "black")
    image.putalpha(ImageOps.invert(grey))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    assert png_to_text(buffer.getvalue()) == png_to_text(render_png("hi"))


def test_blank_image_is_not_a_qr():
    buffer = io.BytesIO()
    Image.new("L", (64, 64), 255).save(buffer, format="PNG")
    with pytest.raises(ValueError, match="not a QR image"):
        png_to_text(buffer.getvalue())


def test_garbage_bytes_are_not_a_qr():
    with pytest.raises(ValueError, match="not a QR image"):
        png_to_text(b"definitely not a png")
