"""Names a person cannot tell apart: confusable skeletons (Unicode TR 39) and invisible characters.

How this works
--------------
Two names are confusable when their *skeletons* are equal (Unicode Technical
Standard 39, section 4): decompose (NFD), replace every character by its
prototype from the TR 39 table `confusables.txt`, decompose again.  "аlice"
with a Cyrillic а, "ａｌｉｃｅ" and "alice" all become "alice"; "bob1" and
"bobl" become "bobl"; accents stay ("alicé" is not "alice").
Default-ignorable characters (joiners, variation selectors, fillers) are left
out of a skeleton, so a name that keeps an emoji's joiner is still compared by
what it shows.

The table is Unicode's own TR 39 `confusables.txt` (Unicode 13.0.0), kept
without its comments in mmchat/data/confusables.txt (80 kB; the one-file
build carries it as data, see mmchat.spec).  Python's unicodedata has no
confusables data and no library fits: `confusable-homoglyphs` (maintained)
has pairs of look-alikes but no skeletons, and `confusables` (which carries
the file, and where ours comes from) has had no release since 2021 and
installs a top-level `tests` package that hides our own tests.

`invisible(ch)` is the set of characters that show nothing (or move text
around): the Default_Ignorable_Code_Point property, bidi controls, other
format characters, blank look-alikes such as the Braille blank, and spaces
other than the plain space.
"""

from __future__ import annotations

import functools
import unicodedata
from pathlib import Path

ZWJ = "\u200d"
EMOJI_STYLE = "\ufe0f"  # variation selector 16: "show as emoji" (❤️)

# Default_Ignorable_Code_Point (Unicode DerivedCoreProperties) and a few blank-looking letters.
_INVISIBLE_RANGES = (
    (0x00AD, 0x00AD),  # soft hyphen
    (0x034F, 0x034F),  # combining grapheme joiner
    (0x061C, 0x061C),  # Arabic letter mark
    (0x115F, 0x1160),  # Hangul choseong and jungseong fillers
    (0x17B4, 0x17B5),  # Khmer inherent vowels
    (0x180B, 0x180F),  # Mongolian free variation selectors and vowel separator
    (0x200B, 0x200F),  # zero-width space, non-joiner, joiner, LRM, RLM
    (0x202A, 0x202E),  # bidi embeddings and overrides
    (0x2060, 0x206F),  # word joiner, invisible operators, bidi isolates, deprecated formats
    (0x2800, 0x2800),  # Braille pattern blank: a letter that shows nothing
    (0x3164, 0x3164),  # Hangul filler
    (0xFE00, 0xFE0F),  # variation selectors
    (0xFEFF, 0xFEFF),  # zero-width no-break space (BOM)
    (0xFFA0, 0xFFA0),  # halfwidth Hangul filler
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),  # shorthand format controls
    (0x1D173, 0x1D17A),  # musical symbol format controls
    (0xE0000, 0xE0FFF),  # tag characters and variation selectors supplement
)


def invisible(ch: str) -> bool:
    """Whether character `ch` shows nothing, or only moves or changes the text around it."""
    code = ord(ch)
    if any(low <= code <= high for low, high in _INVISIBLE_RANGES):
        return True
    category = unicodedata.category(ch)
    return category == "Cf" or (category == "Zs" and ch != " ")


def _emoji_part(ch: str) -> bool:
    # Emoji are symbols ("So"); skin tones are modifiers ("Sk").  unicodedata has no Emoji property.
    return unicodedata.category(ch) in ("So", "Sk")


def hidden_characters(name: str) -> list[str]:
    """The invisible characters of `name`, except an emoji's joiner and emoji style (👩‍💻, ❤️)."""
    found = []
    for i, ch in enumerate(name):
        if not invisible(ch):
            continue
        before = name[i - 1] if i > 0 else ""
        after = name[i + 1] if i + 1 < len(name) else ""
        if ch == EMOJI_STYLE and before and _emoji_part(before):
            continue
        if ch == ZWJ and before and after and (_emoji_part(before) or before == EMOJI_STYLE) and _emoji_part(after):
            continue
        found.append(ch)
    return found


def skeleton(name: str) -> str:
    """The TR 39 skeleton of `name`: equal skeletons mean a person cannot tell the names apart."""
    return _skeleton(name)


@functools.lru_cache(maxsize=4096)
def _skeleton(name: str) -> str:
    table = _prototypes()
    shown = (ch for ch in unicodedata.normalize("NFD", name) if not invisible(ch))
    return unicodedata.normalize("NFD", "".join(table.get(ch, ch) for ch in shown))


def confusable(a: str, b: str) -> bool:
    """Whether names `a` and `b` look the same to a person."""
    return a == b or skeleton(a) == skeleton(b)


@functools.cache
def _prototypes() -> dict[str, str]:
    """Character -> its prototype, from TR 39's confusables.txt."""
    return parse_confusables(confusables_file().read_text(encoding="utf-8"))


def parse_confusables(text: str) -> dict[str, str]:
    """The mapping in a confusables.txt: lines 'SOURCE ; TARGET... ; MA # comment'."""
    table: dict[str, str] = {}
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split(";")
        if len(fields) < 2 or not fields[0].strip():
            continue
        source = chr(int(fields[0], 16))
        table[source] = "".join(chr(int(code, 16)) for code in fields[1].split())
    return table


def confusables_file() -> Path:
    """Where TR 39's confusables.txt is (beside this module, also in the one-file build)."""
    return Path(__file__).resolve().parent / "data" / "confusables.txt"
