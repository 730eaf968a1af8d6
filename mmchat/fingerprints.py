"""A host's identity as people see it: the SHA-256 fingerprint of its TLS certificate.

How this works
--------------
`fingerprint_of(der)` writes the SHA-256 of a certificate (DER bytes) the way
SSH and browsers do, as 32 upper-case hex pairs joined by colons
(`AB:01:...`, 95 characters).  What a person pastes or an invite carries may
come without colons or in lower case: `normalize` reads either and gives the
canonical form, or a ValueError whose text is a sentence to show.  `same`
compares two fingerprints in constant time.  Nothing here touches the network
or the disk, so the host (which makes the certificate) and the member (which
checks it) share one spelling.
"""

from __future__ import annotations

import hashlib
import hmac
import string

__all__ = ["FINGERPRINT_CHARS", "fingerprint_of", "normalize", "same", "short"]

DIGEST_BYTES = 32  # SHA-256
FINGERPRINT_CHARS = DIGEST_BYTES * 3 - 1  # 'AB:' per byte, no colon after the last
_HEX = frozenset(string.hexdigits)


def fingerprint_of(der: bytes) -> str:
    """The canonical fingerprint of a DER-encoded certificate: 'AB:01:...' (SHA-256)."""
    return ":".join(f"{byte:02X}" for byte in hashlib.sha256(der).digest())


def normalize(text: str) -> str:
    """The canonical form of a typed or linked fingerprint (colons optional, any case)."""
    digits = "".join(text.split()).replace(":", "")
    if len(digits) != DIGEST_BYTES * 2 or not set(digits) <= _HEX:
        raise ValueError(
            "That is not a certificate fingerprint: it should be 64 hexadecimal digits (SHA-256), colons allowed."
        )
    digits = digits.upper()
    return ":".join(digits[i : i + 2] for i in range(0, len(digits), 2))


def same(a: str, b: str) -> bool:
    """Whether two fingerprints (any accepted spelling) are the same, compared in constant time."""
    try:
        left, right = normalize(a), normalize(b)
    except ValueError:
        return False
    return hmac.compare_digest(left.encode("ascii"), right.encode("ascii"))


def short(fingerprint: str) -> str:
    """The first eight pairs, for a status line where the whole fingerprint does not fit."""
    return ":".join(normalize(fingerprint).split(":")[:8])
