"""One-time join codes and the QR pictures that carry them (no Tk, no disk).

How this works
--------------
`CodeBook` hands out short random codes, each bound to the member it was
issued to and good for `ttl` seconds and a single `verify`.  Codes are stored
under their SHA-256 digest, so looking one up never compares the secret
itself character by character.  Because every code lives exactly `ttl`
seconds, codes expire in the order they were issued, and pruning only ever
pops from the front of an ordered dict.

`render_png` draws a code as a PNG in memory.  `png_to_text` reads such a PNG
back into its module grid (quiet zone and module size come from the top-left
finder pattern) and draws it with Unicode half blocks, two module rows per
line, so a terminal can show a scannable code.
"""

from __future__ import annotations

import hashlib
import io
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

import qrcode
import qrcode.constants
import qrcode.image.pil
from PIL import Image

# Uppercase letters and digits without 0/O and 1/I, which people misread.
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_PREFIX = "MMC-"
CODE_LENGTH = 10

FINDER_MODULES = 7  # the finder pattern is 7 modules wide
TEXT_QUIET_ZONE = 2  # modules of light margin around the terminal picture
DARK_THRESHOLD = 128  # grey levels below this count as dark


def _digest(code: str) -> bytes:
    """Return the key a code is stored under."""
    return hashlib.sha256(code.encode("utf-8")).digest()


class CodeBook:
    """One-time codes: random, bound to their owner, valid for `ttl` seconds, verifiable once."""

    def __init__(self, ttl: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        """Create an empty book whose codes live `ttl` seconds as measured by `clock`."""
        if ttl <= 0:
            raise ValueError("A code's lifetime must be positive.")
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        # digest -> (owner, expiry time), oldest first
        self._live: OrderedDict[bytes, tuple[str, float]] = OrderedDict()

    def issue(self, owner: str) -> str:
        """Return a new code for `owner`, unique among live codes."""
        with self._lock:
            now = self._clock()
            self._prune(now)
            while True:
                code = CODE_PREFIX + "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
                key = _digest(code)
                # 50 random bits make a clash vanishingly rare, but never reuse a live code.
                if key not in self._live:
                    break
            self._live[key] = (owner, now + self._ttl)
            return code

    def verify(self, code: str) -> str | None:
        """Return the code's owner the first time a live code is verified, else None."""
        if not isinstance(code, str):
            return None
        key = _digest(code.strip().upper())
        with self._lock:
            now = self._clock()
            self._prune(now)
            entry = self._live.pop(key, None)
        if entry is None:
            return None
        owner, expires = entry
        return owner if now < expires else None

    @property
    def ttl(self) -> float:
        """How long a code stays valid, in seconds."""
        return self._ttl

    def __len__(self) -> int:
        """Return how many codes are still live."""
        with self._lock:
            self._prune(self._clock())
            return len(self._live)

    def _prune(self, now: float) -> None:
        """Drop expired codes; the caller holds the lock."""
        while self._live:
            _, expires = next(iter(self._live.values()))
            if now < expires:
                break
            self._live.popitem(last=False)


def render_png(text: str) -> bytes:
    """Return a QR code of `text` as PNG bytes, made in memory."""
    code = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        box_size=8,
        border=4,
        image_factory=qrcode.image.pil.PilImage,
    )
    code.add_data(text)
    code.make(fit=True)
    image = code.make_image(fill_color="black", back_color="white")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _load_grey(png: bytes) -> Image.Image:
    """Open PNG bytes as a greyscale image, transparent parts counted as white."""
    try:
        image: Image.Image = Image.open(io.BytesIO(png))
        image.load()
    except (OSError, ValueError) as exc:
        raise ValueError("not a QR image") from exc
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")
        background = Image.new("RGBA", image.size, "white")
        image = Image.alpha_composite(background, image)
    return image.convert("L")


def _read_modules(png: bytes) -> list[list[bool]]:
    """Return the QR module grid of a PNG, True for dark modules."""
    mask = _load_grey(png).point(lambda level: 255 if level < DARK_THRESHOLD else 0)
    box = mask.getbbox()  # the dark pixels' bounds: the code without its quiet zone
    if box is None:
        raise ValueError("not a QR image")
    left, top, right, bottom = box  # right and bottom are exclusive
    pixels = mask.load()
    if pixels is None:
        raise ValueError("not a QR image")
    # The top-left finder's top edge is a run of 7 dark modules; its length gives the module size.
    run = 0
    while left + run < right and pixels[left + run, top]:
        run += 1
    if run == 0:
        raise ValueError("not a QR image")
    module = run / FINDER_MODULES
    count = round((right - left) / module)
    if count < 21 or round((bottom - top) / module) != count:
        raise ValueError("not a QR image")
    # Sample each module at its centre, so edge blur and rounding do not matter.
    centres = [int((index + 0.5) * module) for index in range(count)]
    return [[bool(pixels[min(left + x, right - 1), min(top + y, bottom - 1)]) for x in centres] for y in centres]


def png_to_text(png: bytes, invert: bool = True) -> str:
    """Draw a QR PNG with Unicode half blocks, two module rows per line."""
    modules = _read_modules(png)
    size = len(modules) + 2 * TEXT_QUIET_ZONE
    light_row = [False] * size
    grid = [light_row] * TEXT_QUIET_ZONE
    grid += [[False] * TEXT_QUIET_ZONE + row + [False] * TEXT_QUIET_ZONE for row in modules]
    grid += [light_row] * TEXT_QUIET_ZONE
    # Inverted, light modules get the ink so the code scans on a dark terminal background.
    ink = [[is_dark != invert for is_dark in row] for row in grid]
    if len(ink) % 2:
        ink.append([False] * size)  # beyond the picture: plain terminal background
    blocks = {
        (False, False): " ",
        (True, False): "▀",
        (False, True): "▄",
        (True, True): "█",
    }
    lines = []
    for upper, lower in zip(ink[0::2], ink[1::2], strict=True):
        lines.append("".join(blocks[pair] for pair in zip(upper, lower, strict=True)))
    return "\n".join(lines)
