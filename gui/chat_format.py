"""What the chat window decides without a screen: wording, where files go, and Tk-safe text.

How this works
--------------
Tk 8.6 stores text as UTF-16, so a character outside the Basic Multilingual
Plane (most emoji) takes two index positions in a Text widget, while Python
counts it as one.  Asking Tk for half of such a pair gives back a lone
surrogate that cannot even be encoded as UTF-8.  So the window never computes
Tk indexes by hand: `tk_index` turns a Python position into a Tk 'line.column'
index, `truncate` cuts by whole characters, and `clean_text` removes any lone
surrogate before text goes on the wire or into a widget.  (Tk 9 counts every
character once: pass `astral_width=1` there.)

Nothing here imports tkinter, so all of it is tested without a display.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from mmchat import describe, protocol
from mmchat.address import format_address
from mmchat.files import human_size
from mmchat.typed import clean_text

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".gif", ".webp"})
PREVIEW_FOLDER = ".mmchat-previews"  # inside the downloads folder, never elsewhere
GROUP_SECONDS = 300  # messages from one sender this close together share one header

# Typed lines are parsed in mmchat.typed, the one parser for the terminal and this window, and
# transfer results are worded in mmchat.describe.

# --- text that Tk counts differently ----------------------------------------------------------


def tk_len(text: str, astral_width: int = 2) -> int:
    """How many columns `text` takes in a Tk line (Tk 8.6: astral characters count twice)."""
    return len(text) + (astral_width - 1) * sum(1 for ch in text if ord(ch) > 0xFFFF)


def tk_index(text: str, index: int, astral_width: int = 2) -> str:
    """The Tk 'line.column' index of Python index `index` in `text` (as held in a Text widget)."""
    before = text[:index]
    line = before.count("\n") + 1
    column = tk_len(before.rpartition("\n")[2], astral_width)
    return f"{line}.{column}"


def truncate(text: str, limit: int, ellipsis: str = "…") -> str:
    """At most `limit` characters of `text`, ending in `ellipsis` when cut; never half a character."""
    text = clean_text(text)
    if len(text) <= limit:
        return text
    keep = max(limit - len(ellipsis), 0)
    return text[:keep] + ellipsis[: limit - keep]


def single_line(text: str) -> str:
    """`text` with line breaks and other control characters shown as spaces (for titles and labels)."""
    return "".join(ch if ch.isprintable() else " " for ch in clean_text(text))


# --- wording ----------------------------------------------------------------------------------


def clock(ts: float) -> str:
    """The time shown beside a message."""
    return describe.clock(ts)


def starts_group(sender: str, ts: float, previous: tuple[str, float] | None) -> bool:
    """Whether a message needs its own name header (a new sender, or a pause)."""
    if previous is None:
        return True
    last_sender, last_ts = previous
    return sender != last_sender or not 0 <= ts - last_ts <= GROUP_SECONDS


def notice_style(kind: str) -> str:
    """The text tag a notice is drawn with."""
    return {"join": "join", "leave": "leave", "share": "share"}.get(kind, "alert")


def is_image(name: str) -> bool:
    """Whether a shared file gets an inline preview."""
    return Path(name).suffix.lower() in IMAGE_SUFFIXES


def percent(done: int, total: int) -> float:
    """Progress in percent, 0-100 (an empty file is complete at once)."""
    if total <= 0:
        return 100.0
    return max(0.0, min(100.0, done * 100.0 / total))


def rate_text(rate: float) -> str:
    """'3.4 MB/s'."""
    return f"{human_size(max(int(rate), 0))}/s"


def transfer_status(done: int, total: int, rate: float) -> str:
    """'62 %  ·  1.2 MB of 2.0 MB  ·  3.4 MB/s'."""
    return f"{percent(done, total):.0f} %  ·  {human_size(done)} of {human_size(total)}  ·  {rate_text(rate)}"


def file_row(entry: protocol.SharedFile) -> tuple[str, str, str]:
    """The (name, size, who) columns of the shared-files list."""
    return entry.filename, human_size(entry.size), entry.owner


def window_title(name: str, host: str, port: int) -> str:
    """'alice — mmchat at 192.168.1.5:12002'."""
    where = format_address(host, port)
    return f"{name} — mmchat at {where}" if name else f"mmchat at {where}"


def input_counter(text: str, limit: int = protocol.MAX_TEXT_CHARS) -> str:
    """'3,980 / 4,000' once a message nears the limit, else ''."""
    n = len(text)
    return f"{n:,} / {limit:,}" if n >= limit * 0.9 else ""


# --- where files go ---------------------------------------------------------------------------


def default_save_name(name: str) -> str:
    """The file name offered in the save dialog: only the base name of a remote name."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    return base if base not in ("", ".", "..") else "download"


def preview_folder(downloads: Path) -> Path:
    """Where 'Preview' downloads go: a hidden folder inside the downloads folder."""
    return Path(downloads) / PREVIEW_FOLDER


def is_inside(path: Path, folder: Path) -> bool:
    """Whether `path` really lies inside `folder` (links resolved)."""
    try:
        Path(os.path.realpath(path)).relative_to(os.path.realpath(folder))
    except ValueError:
        return False
    return True


# --- links in messages ----------------------------------------------------------------------------

# Only plain ASCII web addresses become links, and only whole: an address that goes on in another
# script (a Cyrillic 'а' in 'exаmple.org') is no link at all, so what is underlined is exactly
# what the browser is asked to open.
_URL = re.compile(r"(?<![\w@.])(?:https?://|www\.)[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+", re.IGNORECASE)
_TRAILING = ".,;:!?'\""  # sentence punctuation after an address is not part of it


def link_spans(text: str) -> list[tuple[int, int, str]]:
    """The web addresses in a message as (start, end, URL to open); 'www.' ones get 'http://'."""
    spans = []
    for match in _URL.finditer(text):
        start, end = match.span()
        if end < len(text) and not (text[end].isspace() or text[end] in _TRAILING + ")]}>"):
            continue  # the address goes on in characters a link does not take
        while end > start and (text[end - 1] in _TRAILING or _unbalanced_close(text[start:end])):
            end -= 1
        found = text[start:end]
        if found.lower() in ("http://", "https://", "www."):
            continue  # a scheme with nothing after it
        spans.append((start, end, found if "://" in found else "http://" + found))
    return spans


def _unbalanced_close(url: str) -> bool:
    """A ')' or ']' at the end that closes nothing inside the address: '(see http://x.org)'."""
    pairs = {")": "(", "]": "["}
    last = url[-1]
    return last in pairs and url.count(last) > url.count(pairs[last])
