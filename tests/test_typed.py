"""mmchat.typed: the one parser for a line typed in the terminal chat or the chat window."""

from __future__ import annotations

import dataclasses
import os
import shlex
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mmchat import describe
from mmchat.typed import Kind, Typed, clean_text, local_path, parse_typed

COOL = "😎"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("", Typed("nothing")),
        ("   \n ", Typed("nothing")),
        ("\t", Typed("nothing")),
        ("hello 😎", Typed("say", "hello 😎")),
        ("two\nlines\n", Typed("say", "two\nlines")),
        ("  leading spaces stay", Typed("say", "  leading spaces stay")),
        ("  !online", Typed("say", "  !online")),  # only a line that starts with '!' is a command
        ("!online", Typed("online")),
        ("!ONLINE", Typed("online")),
        ("!files", Typed("files")),
        ("!help", Typed("help")),
        ("!exit", Typed("exit")),
        ("!q", Typed("exit")),
        ("!quit", Typed("exit")),
        ("!Quit", Typed("exit")),
        ("!qr", Typed("qr")),
        ("!get QRcode", Typed("qr")),
        ("!get qrcode", Typed("qr")),
        ("!get\tQRCODE", Typed("qr")),
        ("!get", Typed("usage", "Usage: !get QRcode")),
        ("!get photo", Typed("usage", "Usage: !get QRcode")),
        ("!send", Typed("usage", "Usage: !send PATH")),
        ("!send ~/my notes.txt", Typed("send", "~/my notes.txt")),
        ('!send "quoted name.txt"', Typed("send", "quoted name.txt")),
        ('!send ""', Typed("usage", "Usage: !send PATH")),
        ("!req holiday.mp4", Typed("req", "holiday.mp4")),
        ('!req "holiday photos.zip"', Typed("req", "holiday photos.zip")),
        ("!req", Typed("usage", "Usage: !req NAME")),
        ("!cmd ls -l", Typed("cmd", "ls -l")),
        ('!cmd echo "a  b"', Typed("cmd", 'echo "a  b"')),  # only !send and !req drop quotes
        ("!cmd", Typed("usage", "Usage: !cmd COMMAND (try !cmd help)")),
        ("!verify MMC-ABCD", Typed("verify", "MMC-ABCD")),
        ("!verify", Typed("usage", "Usage: !verify CODE")),
        ("!online\n", Typed("online")),
        ("!dance", Typed("unknown", "Unknown command: !dance (type !help for the list)")),
        ("!", Typed("unknown", "Unknown command: ! (type !help for the list)")),
    ],
)
def test_every_command(line: str, expected: Typed) -> None:
    assert parse_typed(line) == expected


@pytest.mark.parametrize(
    "line",
    ["!cmd\tls", "!cmd   ls", "!cmd \t ls", "!cmd ls  ", "!cmd\tls\r\n", "!CMD ls"],
)
def test_any_whitespace_separates_a_command_from_its_argument(line: str) -> None:
    # The terminal once split at the first space only: "!cmd<TAB>ls" was "Unknown command" there.
    assert parse_typed(line) == Typed(Kind.CMD, "ls")


@pytest.mark.parametrize(
    ("line", "arg"),
    [("!send\ta.txt", "a.txt"), ("!req    b.txt", "b.txt"), ("!verify\t MMC-X", "MMC-X"), ('!send\t"a b"\t', "a b")],
)
def test_whitespace_variants_of_every_command_with_an_argument(line: str, arg: str) -> None:
    assert parse_typed(line).arg == arg


def test_an_unknown_command_is_shown_short() -> None:
    typed = parse_typed("!" + "x" * 5000 + " y")
    assert typed.kind is Kind.UNKNOWN
    assert typed.arg == f"Unknown command: !{'x' * 38}… (type !help for the list)"


def test_the_kind_compares_as_text_for_the_window() -> None:
    typed = parse_typed("!send a.txt")
    assert typed.kind is Kind.SEND
    assert typed.kind == "send"
    assert Typed("send", "a.txt") == typed


def test_a_kind_that_does_not_exist_is_refused() -> None:
    with pytest.raises(ValueError):
        Typed("dance")


def test_typed_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        parse_typed("hi").arg = "bye"  # type: ignore[misc]


def test_half_an_emoji_never_reaches_the_wire() -> None:
    # What Tk hands back for half a surrogate pair must never reach the wire.
    typed = parse_typed("hi \udcf0there")
    assert typed == Typed("say", "hi there")
    typed.arg.encode("utf-8")
    assert parse_typed("!req a\ud83d.txt") == Typed("req", "a.txt")


def test_clean_text_removes_lone_surrogates_only() -> None:
    assert clean_text(f"a\ud83d{COOL}\udcf0b") == f"a{COOL}b"


def test_local_path_expands_the_home_folder() -> None:
    assert local_path("~/x.txt") == Path(os.path.expanduser("~")) / "x.txt"


@given(st.text(max_size=200))
def test_any_line_is_something_to_do_or_a_sentence(line: str) -> None:
    typed = parse_typed(line)
    assert isinstance(typed.kind, Kind)
    typed.arg.encode("utf-8")
    if typed.kind in (Kind.USAGE, Kind.UNKNOWN):
        assert typed.arg.startswith(("Usage: !", "Unknown command: !")) and len(typed.arg) < 100
    elif typed.kind in (Kind.SEND, Kind.REQ, Kind.CMD, Kind.VERIFY, Kind.SAY):
        assert typed.arg


# --- file names with awkward ends: one quoting rule for the terminal and the window ----------------


@pytest.mark.parametrize(
    ("line", "arg"),
    [
        ('!send "my file .txt "', "my file .txt "),  # trailing space kept inside quotes
        ('!send "  two leading.txt"', "  two leading.txt"),
        ("!send 'it'\\''s'", "it's"),  # as a shell: close, escaped quote, open again
        ('!send "it\'s.txt"', "it's.txt"),
        ("!send 'say \"hi\".txt'", 'say "hi".txt'),
        ('!send "say \\"hi\\".txt"', 'say "hi".txt'),
        ('!send "back\\\\slash"', "back\\slash"),
        ("!send it's.txt", "it's.txt"),  # no quote at the start: taken as typed
        ('!send notes".txt"', 'notes".txt"'),
        ('!send ends in a quote"', 'ends in a quote"'),
        ("!send C:\\Users\\me\\my notes.txt", "C:\\Users\\me\\my notes.txt"),  # Windows paths keep backslashes
        ('!send "C:\\Users\\me\\my file .txt "', "C:\\Users\\me\\my file .txt "),
        ('!req "report .pdf  "', "report .pdf  "),
        ("!req 'quote\"'", 'quote"'),
    ],
)
def test_awkward_file_names_are_quoted_as_a_shell_would(line: str, arg: str) -> None:
    assert parse_typed(line) == Typed(Kind.SEND if line.startswith("!send") else Kind.REQ, arg)


@pytest.mark.parametrize(
    ("line", "sentence"),
    [
        ('!send "unclosed.txt', "Usage: !send PATH (a quote is not closed)"),
        ("!req 'unclosed", "Usage: !req NAME (a quote is not closed)"),
        ('!send "a.txt" b.txt', 'Usage: !send PATH (one name; quote it if it has spaces: "my file.txt")'),
        ("!send ''", "Usage: !send PATH"),
    ],
)
def test_quotes_that_do_not_make_one_name_get_a_usage_sentence(line: str, sentence: str) -> None:
    assert parse_typed(line) == Typed(Kind.USAGE, sentence)


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40))
def test_any_file_name_can_be_typed_quoted(name: str) -> None:
    typed = parse_typed("!send " + shlex.quote(name))
    if name.strip() and "\n" not in name and "\r" not in name:
        assert typed == Typed(Kind.SEND, name)


def test_the_help_says_how_to_quote_a_file_name() -> None:
    assert '!send "my file .txt "' in describe.HELP
