"""Confusable skeletons (TR 39) and invisible characters (mmchat.names)."""

from __future__ import annotations

import pytest

from mmchat import names


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("alice", "\u0430lice"),  # Cyrillic а
        ("alice", "\u0430l\u0456\u0441\u0435"),  # Cyrillic а, і, с, е
        ("alice", "\uff41\uff4c\uff49\uff43\uff45"),  # fullwidth letters
        ("paypal", "\u0440\u0430ypal"),  # Cyrillic р, а
        ("bob1", "bobl"),  # digit one and small L
        ("bobI", "bobl"),  # capital i and small L
        ("scope", "\u0455\u0441\u043e\u0440\u0435"),  # all Cyrillic
        ("omega", "\u03bfmega"),  # Greek omicron
        ("alice", "al\u200dice"),  # an invisible joiner is not part of what a name shows
        ("alice", "alice\ufe0f"),
    ],
)
def test_names_a_person_cannot_tell_apart_have_one_skeleton(a, b):
    assert names.skeleton(a) == names.skeleton(b)
    assert names.confusable(a, b) and names.confusable(b, a)


@pytest.mark.parametrize(("a", "b"), [("alice", "alicé"), ("alice", "bob"), ("alice", "Alice"), ("日本", "日本語")])
def test_names_that_look_different_are_not_confusable(a, b):
    assert not names.confusable(a, b)


def test_the_skeleton_is_the_tr39_one_decompose_map_decompose():
    assert names.skeleton("\u0430lice") == "alice"
    assert names.skeleton("é") == "e\u0301"  # decomposed, the accent kept
    assert names.skeleton("") == ""


def test_the_table_is_unicodes_confusables_file_in_the_package():
    table = names.parse_confusables(names.confusables_file().read_text(encoding="utf-8"))
    assert len(table) > 6000
    assert table["\u0430"] == "a" and table["\u0031"] == "l"
    assert names.parse_confusables("# comment\n\n0430;0061\n2474;0028 0031 0029 # ⑴\n") == {
        "\u0430": "a",
        "\u2474": "(1)",
    }


@pytest.mark.parametrize(
    "ch",
    ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u034f", "\u3164", "\uffa0", "\u115f", "\u1160",
     "\ufe00", "\ufe0f", "\U000e0100", "\U000e0041", "\u202a", "\u202e", "\u2066", "\u2069", "\u200e", "\u061c",
     "\u2800", "\u00a0", "\u3000", "\u180e"],
)  # fmt: skip
def test_invisible_characters(ch):
    assert names.invisible(ch)
    assert names.hidden_characters(f"a{ch}b") == [ch]


@pytest.mark.parametrize("ch", ["a", " ", "é", "\u0301", "😎", "-", "日"])
def test_visible_characters(ch):
    assert not names.invisible(ch)


@pytest.mark.parametrize(
    "name",
    [
        "\U0001f469\u200d\U0001f4bb",  # 👩‍💻
        "\U0001f469\U0001f3fd\u200d\U0001f4bb",  # with a skin tone
        "\u2764\ufe0f",  # ❤️
        "\u2764\ufe0f\u200d\U0001f525",  # ❤️‍🔥
        "ana \u2764\ufe0f",
    ],
)
def test_an_emojis_joiner_and_emoji_style_are_not_hidden_characters(name):
    assert names.hidden_characters(name) == []


@pytest.mark.parametrize(
    "name", ["\u200d\U0001f4bb", "\U0001f469\u200d", "a\u200db", "a\u200d\U0001f4bb", "\ufe0f", "a\ufe0f"]
)
def test_a_joiner_or_emoji_style_outside_an_emoji_is_hidden(name):
    assert names.hidden_characters(name)
