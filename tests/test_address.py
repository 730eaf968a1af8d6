"""mmchat.address: every form of address a person types, pastes or scans, and the way back."""

from __future__ import annotations

import dataclasses
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mmchat.address import (
    Address,
    format_address,
    join_url,
    parse_address,
    parse_port,
    split_address,
)
from mmchat.protocol import DEFAULT_PORT


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("192.168.1.5:4000", Address("192.168.1.5", 4000)),
        ("192.168.1.5", Address("192.168.1.5", DEFAULT_PORT)),
        ("  desk-7.local:5  ", Address("desk-7.local", 5)),
        ("localhost", Address("localhost", DEFAULT_PORT)),
        ("[::1]:5", Address("::1", 5)),
        ("[::1]", Address("::1", DEFAULT_PORT)),
        ("[fe80::1%eth0]:7", Address("fe80::1%eth0", 7)),
        ("2001:db8::7", Address("2001:db8::7", DEFAULT_PORT)),
        ("::1", Address("::1", DEFAULT_PORT)),
        ("mmchat://10.0.0.1:12003", Address("10.0.0.1", 12003)),
        ("mmchat://10.0.0.1:12003/", Address("10.0.0.1", 12003)),
        ("MMCHAT://10.0.0.1", Address("10.0.0.1", DEFAULT_PORT)),
        ("mmchat://[2001:db8::7]:9/", Address("2001:db8::7", 9)),
        ("mmchat://10.0.0.1:12003/#AB:CD:EF", Address("10.0.0.1", 12003, "AB:CD:EF")),
        ("mmchat://10.0.0.1:12003#AB:CD", Address("10.0.0.1", 12003, "AB:CD")),
        ("mmchat://[::1]:9/#sha256=abc", Address("::1", 9, "sha256=abc")),
        ("host:65535", Address("host", 65535)),
    ],
)
def test_every_form_of_address_is_read(text: str, expected: Address) -> None:
    assert parse_address(text) == expected


def test_the_default_port_can_be_chosen() -> None:
    assert parse_address("10.0.0.1", default_port=4444) == Address("10.0.0.1", 4444)
    assert parse_address("10.0.0.1:5", default_port=4444) == Address("10.0.0.1", 5)


def test_split_says_when_no_port_was_written() -> None:
    assert split_address("10.0.0.1") == ("10.0.0.1", None, "")
    assert split_address("[::1]") == ("::1", None, "")
    assert split_address("mmchat://h:5/#f") == ("h", 5, "f")


@pytest.mark.parametrize(
    ("text", "sentence"),
    [
        ("", "Please enter the host's address, like 192.168.1.5:12002."),
        ("   ", "Please enter the host's address, like 192.168.1.5:12002."),
        ("mmchat://", "Please enter the host's address, like 192.168.1.5:12002."),
        ("bad:port", "The port must be a number, like 12002."),
        ("host:", "Write the port after the ':', like 192.168.1.5:12002."),
        ("host:0", "The port must be between 1 and 65535."),
        ("host:65536", "The port must be between 1 and 65535."),
        ("host:-5", "The port must be a number, like 12002."),
        ("host:١٢", "The port must be a number, like 12002."),  # Arabic-Indic digits
        ("host:00000000000000080", "The port must be a number, like 12002."),
        (":5", "Please enter the host's address before the port, like 192.168.1.5:12002."),
        ("a b:5", "An address has no spaces in it."),
        ("host\x1b[2J", "An address may not contain control or invisible characters."),
        ("http://10.0.0.1:80", "Only mmchat:// links lead to a chat, not http:// ones."),
        ("mmchat://h:5/join?x=1", "A chat address has no path: use mmchat://HOST:PORT."),
        ("fe80::1:99999", "Put an IPv6 address in brackets when a port follows it, like [2001:db8::7]:12002."),
        ("a:b:c", "Put an IPv6 address in brackets when a port follows it, like [2001:db8::7]:12002."),
        ("[::1:5", "A '[' needs its ']': write an IPv6 address as [2001:db8::7]:12002."),
        ("[host.local]:5", "Only an IPv6 address goes in brackets, like [2001:db8::7]."),
        ("[::1]5", "After the ']' comes ':' and the port, like [2001:db8::7]:12002."),
        ("user@host:5", "A host name has letters, digits, dots and dashes, not '@'."),
        ("-rf", "That is not a host name or an IP address: -rf."),
        ("a..b", "That is not a host name or an IP address: a..b."),
        ("x" * 254, "A host name has at most 253 characters."),
        ("x" * 5000, "That address is far too long to be a chat's address."),
        ("mmchat://h:5/#" + "f" * 201, "The link's certificate fingerprint is too long."),
    ],
)
def test_a_bad_address_is_explained_in_one_sentence(text: str, sentence: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(sentence)}$"):
        parse_address(text)


@pytest.mark.parametrize(
    ("host", "port", "text"),
    [
        ("192.168.1.5", 12002, "192.168.1.5:12002"),
        ("desk-7.local", 5, "desk-7.local:5"),
        ("2001:db8::7", 5, "[2001:db8::7]:5"),
        ("::1", 12002, "[::1]:12002"),
        ("[::1]", 12002, "[::1]:12002"),  # already in brackets: not twice
    ],
)
def test_format_address_puts_ipv6_in_brackets(host: str, port: int, text: str) -> None:
    assert format_address(host, port) == text


def test_an_address_prints_as_it_is_typed() -> None:
    assert str(Address("::1", 5)) == "[::1]:5"
    assert str(Address("10.0.0.1", 5, "AB")) == "10.0.0.1:5"
    assert f"at {Address('h', 1)}" == "at h:1"


def test_join_url() -> None:
    assert join_url("192.168.1.5", 12002) == "mmchat://192.168.1.5:12002"
    assert join_url("2001:db8::7", 5) == "mmchat://[2001:db8::7]:5"
    assert join_url("h", 5, "AB:CD") == "mmchat://h:5/#AB:CD"
    assert Address("::1", 5, "AB").url == "mmchat://[::1]:5/#AB"


def test_an_address_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Address("h", 1).port = 2  # type: ignore[misc]


def test_ports_for_hosting_may_be_zero() -> None:
    assert parse_port("0", allow_zero=True) == 0
    assert parse_port(" 12002 ") == 12002
    with pytest.raises(ValueError, match=r"^The port must be between 0 and 65535\.$"):
        parse_port("70000", allow_zero=True)
    with pytest.raises(ValueError, match=r"^Please enter a port number\.$"):
        parse_port("")


_hosts = st.one_of(
    st.ip_addresses().map(str),
    st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z][a-z0-9-]{0,20}){0,3}", fullmatch=True),
)


@given(host=_hosts, port=st.integers(1, 65535), fingerprint=st.from_regex(r"[0-9A-F:]{0,40}", fullmatch=True))
def test_what_is_written_reads_back_the_same(host: str, port: int, fingerprint: str) -> None:
    address = Address(host, port, fingerprint)
    assert parse_address(format_address(host, port)) == Address(host, port)
    assert parse_address(str(address)) == Address(host, port)
    assert parse_address(join_url(host, port, fingerprint)) == address


@given(st.text(max_size=300))
def test_any_text_gives_an_address_or_a_sentence(text: str) -> None:
    try:
        address = parse_address(text)
    except ValueError as exc:
        message = str(exc)
        assert message.endswith(".") and message[0].isupper(), message
        assert message.isprintable() and len(message) < 200
    else:
        assert 1 <= address.port <= 65535
        assert address.host and not any(ch.isspace() for ch in address.host)
