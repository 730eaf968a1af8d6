"""The chat window's pure logic: wording, where files go, Tk-safe text (no display needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gui import chat_format
from mmchat import protocol, typed

COOL = "😎"  # outside the BMP: two positions in Tk 8.6


# --- Tk positions and safe cutting ------------------------------------------------------------


def test_tk_len_counts_astral_characters_twice() -> None:
    assert chat_format.tk_len("abc") == 3
    assert chat_format.tk_len(f"a{COOL}b") == 4
    assert chat_format.tk_len("é中") == 2  # inside the BMP: one position each
    assert chat_format.tk_len(f"a{COOL}b", astral_width=1) == 3


def test_tk_index_is_line_and_column_in_tk_positions() -> None:
    text = f"{COOL}x\nab{COOL}c"
    assert chat_format.tk_index(text, 0) == "1.0"
    assert chat_format.tk_index(text, 1) == "1.2"  # after the emoji
    assert chat_format.tk_index(text, 3) == "2.0"
    assert chat_format.tk_index(text, 6) == "2.4"
    assert chat_format.tk_index(text, 6, astral_width=1) == "2.3"


@pytest.mark.parametrize("limit", range(0, 12))
def test_truncate_never_splits_a_character(limit: int) -> None:
    text = f"{COOL}a{COOL}{COOL}bc{COOL}d"
    cut = chat_format.truncate(text, limit)
    assert len(cut) <= limit
    cut.encode("utf-8")  # would raise on a lone surrogate
    if len(text) <= limit:
        assert cut == text
    elif limit:
        assert cut.endswith("…")
        assert text.startswith(cut[:-1])


def test_truncate_with_a_longer_ellipsis() -> None:
    assert chat_format.truncate("abcdefgh", 5, "...") == "ab..."
    assert chat_format.truncate("abcdefgh", 2, "...") == ".."


def test_clean_text_removes_lone_surrogates_only() -> None:
    assert typed.clean_text(f"a\ud83d{COOL}\udcf0b") == f"a{COOL}b"


def test_single_line_shows_control_characters_as_spaces() -> None:
    assert chat_format.single_line("a\nb\x1b[31mc") == "a b [31mc"


def test_input_counter_appears_near_the_limit() -> None:
    assert chat_format.input_counter("x" * 100) == ""
    assert chat_format.input_counter("x" * 3700) == "3,700 / 4,000"
    assert chat_format.input_counter("x" * 5, limit=5) == "5 / 5"
    assert protocol.MAX_TEXT_CHARS == 4000


# --- wording ----------------------------------------------------------------------------------


def test_percent_rate_and_status() -> None:
    assert chat_format.percent(0, 200) == 0
    assert chat_format.percent(50, 200) == 25
    assert chat_format.percent(300, 200) == 100
    assert chat_format.percent(0, 0) == 100  # an empty file is done at once
    assert chat_format.rate_text(3_400_000) == "3.4 MB/s"
    assert chat_format.rate_text(-5) == "0 B/s"
    assert chat_format.transfer_status(1_200_000, 2_000_000, 3_400_000) == "60 %  ·  1.2 MB of 2.0 MB  ·  3.4 MB/s"


def test_messages_group_by_sender_and_time() -> None:
    assert chat_format.starts_group("alice", 100.0, None)
    assert not chat_format.starts_group("alice", 160.0, ("alice", 100.0))
    assert chat_format.starts_group("bob", 160.0, ("alice", 100.0))
    assert chat_format.starts_group("alice", 100.0 + chat_format.GROUP_SECONDS + 1, ("alice", 100.0))
    assert chat_format.starts_group("alice", 50.0, ("alice", 100.0))  # history older than the last line


def test_notice_styles() -> None:
    assert chat_format.notice_style("join") == "join"
    assert chat_format.notice_style("leave") == "leave"
    assert chat_format.notice_style("kicked") == "alert"
    assert chat_format.notice_style("shutdown") == "alert"


@pytest.mark.parametrize(
    ("name", "image"),
    [("a.png", True), ("B.JPG", True), ("c.jpeg", True), ("d.gif", True), ("e.webp", True), ("f.pdf", False),
     ("png", False), ("g.png.txt", False)],
)  # fmt: skip
def test_is_image(name: str, image: bool) -> None:
    assert chat_format.is_image(name) is image


def test_file_row_and_title() -> None:
    entry = protocol.SharedFile("notes.pdf", 2_000_000, "alice", 0.0)
    assert chat_format.file_row(entry) == ("notes.pdf", "2.0 MB", "alice")
    assert chat_format.window_title("bob", "10.0.0.2", 12002) == "bob — mmchat at 10.0.0.2:12002"
    assert chat_format.window_title("", "::1", 5) == "mmchat at [::1]:5"


# --- where files go ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("remote", "offered"),
    [("a.txt", "a.txt"), ("../../etc/passwd", "passwd"), ("..\\x.bat", "x.bat"), ("..", "download"), ("", "download")],
)
def test_default_save_name_is_a_base_name(remote: str, offered: str) -> None:
    assert chat_format.default_save_name(remote) == offered


def test_preview_folder_is_inside_downloads(tmp_path: Path) -> None:
    folder = chat_format.preview_folder(tmp_path)
    assert folder.parent == tmp_path
    assert chat_format.is_inside(folder / "x.png", tmp_path)


def test_is_inside_sees_through_links(tmp_path: Path) -> None:
    inside, outside = tmp_path / "in", tmp_path / "out"
    inside.mkdir()
    outside.mkdir()
    (inside / "link").symlink_to(outside)
    assert chat_format.is_inside(inside / "a.png", inside)
    assert not chat_format.is_inside(inside / "link" / "a.png", inside)
    assert not chat_format.is_inside(inside / ".." / "out" / "a.png", inside)


@pytest.mark.parametrize(
    ("text", "links"),
    [
        ("see https://example.org/a?b=1.", ["https://example.org/a?b=1"]),
        ("(www.python.org)", ["http://www.python.org"]),
        ("https://en.wikipedia.org/wiki/Foo_(bar))", ["https://en.wikipedia.org/wiki/Foo_(bar)"]),
        ("go to http://localhost:8080/x", ["http://localhost:8080/x"]),
        ("two: http://a.io, https://b.io!", ["http://a.io", "https://b.io"]),
        ("mail me@www.x.org", []),  # an e-mail address is no web link
        ("http:// and nothing", []),
        ("xhttps://a.b", []),  # inside a word
        ("https://ex\u0430mple.org", []),  # a Cyrillic look-alike: no link at all, not half of one
        ("javascript:alert(1) file:///etc/passwd", []),
    ],
)
def test_link_spans_find_whole_web_addresses_only(text: str, links: list[str]) -> None:
    spans = chat_format.link_spans(text)
    assert [url for _, _, url in spans] == links
    for start, end, url in spans:
        assert url.endswith(text[start:end])  # what is underlined is what opens
