"""Where a chat is: the one place that reads and writes `HOST:PORT`, `[v6]:PORT` and `mmchat://` links.

How this works
--------------
A person types, pastes or scans an address in one of these forms:

    192.168.1.5            a bare host: the port is protocol.DEFAULT_PORT
    192.168.1.5:12002      HOST:PORT (a name such as desk-7.local works too)
    [fe80::1]:12002        an IPv6 address with a port goes in brackets
    2001:db8::7            a bare IPv6 address needs none, as nothing else has two colons
    mmchat://HOST:PORT/    the link a host's QR code carries, maybe with /#FINGERPRINT

`split_address` turns any of them into (host, port or None, fingerprint);
`parse_address` fills in the default port and gives an `Address`.  Every
problem is a ValueError whose text is a sentence to show as it is.  The other
way, `format_address` and `join_url` always put an IPv6 address in brackets,
so what they write reads back the same.  Nothing here touches the network: a
host name is checked for its shape, not looked up.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from .protocol import DEFAULT_PORT

SCHEME = "mmchat://"
MAX_ADDRESS_CHARS = 1000  # far more than any real link; longer text is refused before it is looked at
MAX_HOST_CHARS = 253  # the longest DNS name
MAX_FINGERPRINT_CHARS = 200  # a SHA-256 fingerprint is 95 characters written with colons

# Characters that never belong in a host name or IPv4 address, some because they mean
# something else in a link (user@, /path, ?query, #fragment).
_NOT_IN_HOST = frozenset("/\\?#@[]<>\"'`{}|^%,;=+*&$!~()")


@dataclass(frozen=True)
class Address:
    """A host and port to join, and the host's certificate fingerprint when the link carried one."""

    host: str
    port: int
    fingerprint: str = ""

    def __str__(self) -> str:
        return format_address(self.host, self.port)

    @property
    def url(self) -> str:
        """The `mmchat://` link for this address."""
        return join_url(self.host, self.port, self.fingerprint)


def format_address(host: str, port: int) -> str:
    """'192.168.1.5:12002', or '[2001:db8::7]:12002' for IPv6 (brackets, so the port stays readable)."""
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{host}:{port}"


def join_url(host: str, port: int, fingerprint: str = "") -> str:
    """The link a QR code carries: 'mmchat://HOST:PORT', with '/#FINGERPRINT' when one is given."""
    url = SCHEME + format_address(host, port)
    return f"{url}/#{fingerprint}" if fingerprint else url


def parse_port(text: str, allow_zero: bool = False) -> int:
    """A TCP port written as text ('0' only when `allow_zero`: a host that lets the system pick)."""
    text = text.strip()
    if not text:
        raise ValueError("Please enter a port number.")
    # str.isdigit() also accepts digits of other scripts (and '²'), which int() may refuse.
    if not (text.isascii() and text.isdigit()) or len(text) > 5:
        raise ValueError("The port must be a number, like 12002.")
    port = int(text)
    low = 0 if allow_zero else 1
    if not low <= port <= 65535:
        raise ValueError(f"The port must be between {low} and 65535.")
    return port


def split_address(text: str) -> tuple[str, int | None, str]:
    """(host, port, fingerprint) from any form above; the port is None when none was written."""
    text = _unwrap(text)
    text, _, fingerprint = text.partition("#")
    text = text.removesuffix("/")
    if "/" in text:
        raise ValueError("A chat address has no path: use mmchat://HOST:PORT.")
    if not text:
        raise ValueError(f"Please enter the host's address, like 192.168.1.5:{DEFAULT_PORT}.")
    if text.startswith("["):
        host, port_text = _split_bracketed(text)
    elif text.count(":") == 0:
        host, port_text = text, None
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    elif _is_ipv6(text):
        host, port_text = text, None
    else:
        raise ValueError(f"Put an IPv6 address in brackets when a port follows it, like [2001:db8::7]:{DEFAULT_PORT}.")
    if not host:
        raise ValueError(f"Please enter the host's address before the port, like 192.168.1.5:{DEFAULT_PORT}.")
    if ":" not in host:
        _check_host_name(host)
    if port_text == "":
        raise ValueError(f"Write the port after the ':', like 192.168.1.5:{DEFAULT_PORT}.")
    port = None if port_text is None else parse_port(port_text)
    return host, port, _check_fingerprint(fingerprint)


def parse_address(text: str, default_port: int = DEFAULT_PORT) -> Address:
    """The Address that `text` names; a missing port is `default_port`; ValueError with a sentence if none."""
    host, port, fingerprint = split_address(text)
    return Address(host, default_port if port is None else port, fingerprint)


# --- the parts ----------------------------------------------------------------------------------


def _unwrap(text: str) -> str:
    """`text` without surrounding spaces and its mmchat:// scheme, refusing what no address contains."""
    if len(text) > MAX_ADDRESS_CHARS:
        raise ValueError("That address is far too long to be a chat's address.")
    text = text.strip()
    if any(ch.isspace() for ch in text):
        raise ValueError("An address has no spaces in it.")
    if not text.isprintable():
        raise ValueError("An address may not contain control or invisible characters.")
    if text[: len(SCHEME)].lower() == SCHEME:
        return text[len(SCHEME) :]
    scheme, sep, _ = text.partition("://")
    if sep:
        raise ValueError(f"Only mmchat:// links lead to a chat, not {scheme[:20]}:// ones.")
    return text


def _split_bracketed(text: str) -> tuple[str, str | None]:
    """'[v6]' or '[v6]:PORT' -> (v6, port text or None)."""
    inside, sep, after = text[1:].partition("]")
    if not sep:
        raise ValueError(f"A '[' needs its ']': write an IPv6 address as [2001:db8::7]:{DEFAULT_PORT}.")
    if not _is_ipv6(inside):
        raise ValueError("Only an IPv6 address goes in brackets, like [2001:db8::7].")
    if not after:
        return inside, None
    if not after.startswith(":"):
        raise ValueError(f"After the ']' comes ':' and the port, like [2001:db8::7]:{DEFAULT_PORT}.")
    return inside, after[1:]


def _is_ipv6(text: str) -> bool:
    # A zone ('fe80::1%eth0') says which interface a link-local address is on.
    address, _, zone = text.partition("%")
    if "%" in text and not (zone and zone.replace("-", "").replace("_", "").replace(".", "").isalnum()):
        return False
    try:
        ipaddress.IPv6Address(address)
    except ValueError:
        return False
    return True


def _check_host_name(host: str) -> None:
    if len(host) > MAX_HOST_CHARS:
        raise ValueError(f"A host name has at most {MAX_HOST_CHARS} characters.")
    bad = next((ch for ch in host if ch in _NOT_IN_HOST), None)
    if bad is not None:
        raise ValueError(f"A host name has letters, digits, dots and dashes, not {bad!r}.")
    if host.startswith(("-", ".")) or ".." in host:
        raise ValueError(f"That is not a host name or an IP address: {host[:40]}.")


def _check_fingerprint(fingerprint: str) -> str:
    # Its form is the business of whoever checks it (a later TLS layer); here only its size.
    if len(fingerprint) > MAX_FINGERPRINT_CHARS:
        raise ValueError("The link's certificate fingerprint is too long.")
    return fingerprint
