"""Draw mmchat's app icon with Pillow and write every file the windows and the builds need.

    python icons/make_icons.py

writes icons/mmchat-{16,32,48,64,128,256}.png (Tk's iconphoto, Linux desktops),
icons/mmchat.ico (Windows, PyInstaller --icon) and icons/mmchat.icns (macOS).

The icon is a blue rounded square with a white speech bubble holding three
dots.  Each size is drawn on its own at 8x and reduced with a box filter, so
edges are smooth without the blur of scaling one big picture down; the smallest
sizes get a bigger bubble and dots so they still read at 16 pixels.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

HERE = Path(__file__).resolve().parent
PNG_SIZES = (16, 32, 48, 64, 128, 256)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
ICNS_SIZES = (16, 32, 64, 128, 256, 512, 1024)
SUPERSAMPLE = 8

TOP = (59, 130, 246)  # #3b82f6
BOTTOM = (29, 78, 216)  # #1d4ed8, so the middle is close to the accent #2563eb
DOT = (37, 99, 235)  # #2563eb
WHITE = (255, 255, 255)


def _gradient(size: int) -> Image.Image:
    """A top-to-bottom blend from TOP to BOTTOM."""
    mask = Image.linear_gradient("L").resize((size, size))
    return Image.composite(Image.new("RGB", (size, size), BOTTOM), Image.new("RGB", (size, size), TOP), mask)


def draw_icon(size: int) -> Image.Image:
    """The icon at `size` x `size` pixels, RGBA."""
    s = size * SUPERSAMPLE
    small = size <= 24

    # Background: a rounded square; no margin at small sizes, where every pixel counts.
    margin = 0 if size <= 32 else round(s * 0.04)
    box = (margin, margin, s - 1 - margin, s - 1 - margin)
    inner = s - 2 * margin
    shape = Image.new("L", (s, s), 0)
    ImageDraw.Draw(shape).rounded_rectangle(box, radius=round(inner * 0.23), fill=255)
    icon = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    icon.paste(_gradient(s), (0, 0), shape)

    # The speech bubble, in units of the inner square.
    def at(fx: float, fy: float) -> tuple[int, int]:
        return (round(margin + fx * inner), round(margin + fy * inner))

    if small:
        left, top, right, bottom = 0.12, 0.16, 0.88, 0.70
        tail = [at(0.24, 0.62), at(0.20, 0.90), at(0.48, 0.66)]
    else:
        left, top, right, bottom = 0.17, 0.21, 0.83, 0.66
        tail = [at(0.27, 0.60), at(0.22, 0.84), at(0.47, 0.63)]
    bubble = Image.new("L", (s, s), 0)
    draw = ImageDraw.Draw(bubble)
    draw.rounded_rectangle((*at(left, top), *at(right, bottom)), radius=round(inner * 0.14), fill=255)
    draw.polygon(tail, fill=255)

    if size >= 48:  # a soft shadow lifts the bubble off the background
        shadow = bubble.filter(ImageFilter.GaussianBlur(s * 0.018))
        shadow = Image.eval(shadow, lambda v: v * 30 // 100)
        offset = Image.new("L", (s, s), 0)
        offset.paste(shadow, (0, round(s * 0.012)))
        dark = Image.new("RGBA", (s, s), (15, 23, 42, 255))
        icon = Image.composite(dark, icon, Image.composite(offset, Image.new("L", (s, s), 0), shape))

    icon.paste(Image.new("RGBA", (s, s), (*WHITE, 255)), (0, 0), bubble)

    # Three dots, centred in the bubble.
    draw = ImageDraw.Draw(icon)
    cy = (top + bottom) / 2
    radius = inner * (0.075 if small else 0.058)
    gap = 0.22 if small else 0.17
    for fx in (0.5 - gap, 0.5, 0.5 + gap):
        x, y = at(fx, cy)
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=(*DOT, 255))

    return icon.reduce(SUPERSAMPLE)


def main(folder: Path = HERE) -> int:
    """Write the PNGs, the .ico and the .icns into `folder`."""
    drawn = {size: draw_icon(size) for size in sorted({*PNG_SIZES, *ICO_SIZES, *ICNS_SIZES})}
    for size in PNG_SIZES:
        drawn[size].save(folder / f"mmchat-{size}.png", optimize=True)
    biggest_ico = drawn[max(ICO_SIZES)]
    biggest_ico.save(
        folder / "mmchat.ico",
        sizes=[(n, n) for n in ICO_SIZES],
        append_images=[drawn[n] for n in ICO_SIZES if n != max(ICO_SIZES)],
    )
    biggest_icns = drawn[max(ICNS_SIZES)]
    biggest_icns.save(
        folder / "mmchat.icns",
        append_images=[drawn[n] for n in ICNS_SIZES if n != max(ICNS_SIZES)],
    )
    for name in [f"mmchat-{n}.png" for n in PNG_SIZES] + ["mmchat.ico", "mmchat.icns"]:
        print(folder / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
