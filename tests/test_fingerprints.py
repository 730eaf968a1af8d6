"""The fingerprint spelling shared by host and member (no network)."""

from __future__ import annotations

import hashlib

import pytest

from mmchat.fingerprints import FINGERPRINT_CHARS, fingerprint_of, normalize, same, short

DER = b"not really a certificate, but bytes all the same"


def test_fingerprint_is_sha256_in_colon_pairs() -> None:
    fp = fingerprint_of(DER)
    assert len(fp) == FINGERPRINT_CHARS == 95
    assert fp.replace(":", "").lower() == hashlib.sha256(DER).hexdigest()
    assert fp == fp.upper()


def test_normalize_accepts_lower_case_and_no_colons() -> None:
    fp = fingerprint_of(DER)
    assert normalize(fp.replace(":", "").lower()) == fp
    assert normalize(f"  {fp.lower()} ") == fp


@pytest.mark.parametrize("bad", ["", "AB:CD", "ZZ" * 32, fingerprint_of(DER) + ":00"])
def test_normalize_refuses_what_is_not_a_fingerprint(bad: str) -> None:
    with pytest.raises(ValueError, match="64 hexadecimal digits"):
        normalize(bad)


def test_same_compares_spellings_and_refuses_garbage() -> None:
    fp = fingerprint_of(DER)
    assert same(fp, fp.replace(":", "").lower())
    assert not same(fp, fingerprint_of(DER + b"!"))
    assert not same(fp, "nonsense")


def test_short_is_the_first_eight_pairs() -> None:
    fp = fingerprint_of(DER)
    assert short(fp) == fp[: 8 * 3 - 1]
