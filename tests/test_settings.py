"""Launcher settings and the checks on what a person types (no display needed)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from mmchat import settings
from mmchat.settings import LauncherSettings


def test_settings_round_trip(tmp_path, monkeypatch):
    monkeypatch.setenv("MMCHAT_CONFIG_DIR", str(tmp_path / "cfg"))
    saved = LauncherSettings(host_port=4000, share="/srv/share", join_address="10.0.0.2", join_port=5000, name="zoë")
    settings.save_settings(saved)
    assert (tmp_path / "cfg" / "launcher.json").exists()
    assert settings.load_settings() == saved


@pytest.mark.parametrize("content", ["not json", "[1, 2]", '{"host_port": "oops", "name": 5}', ""])
def test_unreadable_settings_fall_back_to_defaults(tmp_path, content):
    path = tmp_path / "launcher.json"
    path.write_text(content)
    loaded = settings.load_settings(path)
    assert loaded.host_port == settings.DEFAULT_PORT and loaded.name == ""


def test_missing_settings_are_defaults(tmp_path):
    assert settings.load_settings(tmp_path / "none.json") == LauncherSettings()


def test_config_dir_follows_the_platform(monkeypatch, tmp_path):
    monkeypatch.delenv("MMCHAT_CONFIG_DIR", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.setattr(settings.sys, "platform", "linux")
    assert settings.config_dir() == tmp_path / "mmchat"


@pytest.mark.parametrize(("text", "port"), [("12002", 12002), (" 1 ", 1), ("65535", 65535)])
def test_good_ports(text, port):
    assert settings.check_port(text) == port


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "Please enter a port number."),
        ("abc", "The port must be a number, like 12002."),
        ("-1", "The port must be a number, like 12002."),
        ("0", "The port must be between 1 and 65535."),
        ("65536", "The port must be between 1 and 65535."),
    ],
)
def test_bad_ports(text, problem):
    with pytest.raises(ValueError, match=f"^{re.escape(problem)}$"):
        settings.check_port(text)


def test_port_zero_is_fine_for_hosting():
    assert settings.check_port("0", allow_zero=True) == 0


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("192.168.1.5", "192.168.1.5"),
        (" host.local ", "host.local"),
        ("mmchat://10.0.0.1", "10.0.0.1"),
        ("[::1]", "::1"),
    ],
)
def test_good_addresses(text, address):
    assert settings.check_address(text) == address


@pytest.mark.parametrize(("text", "problem"), [("", "Please enter"), ("a b", "no spaces"), ("1.2.3.4:99", "own field")])
def test_bad_addresses(text, problem):
    with pytest.raises(ValueError, match=problem):
        settings.check_address(text)


def test_names_are_checked_like_the_host_does():
    assert settings.check_name(" alice 😎 ") == "alice 😎"
    with pytest.raises(ValueError, match=r"^Please choose a name\.$"):
        settings.check_name("   ")
    with pytest.raises(ValueError, match="brackets"):
        settings.check_name("[admin]")


def test_passwords_are_checked_and_never_saved(tmp_path):
    assert settings.check_password("") == "" and settings.check_password("s3cret ☕ ") == "s3cret ☕ "
    with pytest.raises(ValueError, match="at most 256 characters"):
        settings.check_password("x" * 257)
    with pytest.raises(ValueError, match="control characters"):
        settings.check_password("a\tb")
    assert "password" not in {field.name for field in dataclasses.fields(settings.LauncherSettings)}


def test_share_must_not_be_a_file(tmp_path):
    (tmp_path / "f").write_text("x")
    assert settings.check_share(str(tmp_path / "new")) == tmp_path / "new"
    with pytest.raises(ValueError, match=r"^That is a file, not a folder\.$"):
        settings.check_share(str(tmp_path / "f"))
    with pytest.raises(ValueError, match="Please choose a folder"):
        settings.check_share("  ")


@pytest.mark.parametrize(
    ("text", "result"),
    [
        ("192.168.1.5", ("192.168.1.5", None)),
        ("192.168.1.5:4000", ("192.168.1.5", 4000)),
        (" mmchat://host.local:12002/ ", ("host.local", 12002)),
        ("[fe80::1]:5", ("fe80::1", 5)),
        ("2001:db8::1", ("2001:db8::1", None)),
    ],
)
def test_an_address_may_carry_its_port(text, result):
    assert settings.split_host_port(text) == result


@pytest.mark.parametrize(
    ("text", "problem"),
    [("host:abc", "The port must be a number, like 12002."), (":5", "Please enter the host's address")],
)
def test_an_address_with_a_bad_port_is_explained(text, problem):
    with pytest.raises(ValueError, match=f"^{re.escape(problem)}"):
        settings.split_host_port(text)


def test_a_host_bound_to_one_address_is_reached_there_only():
    assert settings.lan_addresses("10.1.2.3", candidates=["192.168.1.5"]) == ["10.1.2.3"]
    assert settings.lan_addresses("127.0.0.1", candidates=["192.168.1.5"]) == ["127.0.0.1"]
    assert settings.lan_addresses("::1", candidates=["192.168.1.5"]) == ["::1"]


def test_a_host_bound_everywhere_shows_its_lan_addresses_first():
    candidates = ["127.0.0.1", "169.254.3.4", "8.8.4.4", "192.168.1.5", "fe80::1%eth0", "2001:db8::7", "192.168.1.5"]
    assert settings.lan_addresses("0.0.0.0", candidates=candidates) == ["192.168.1.5", "8.8.4.4"]
    assert settings.lan_addresses("::", candidates=candidates) == ["192.168.1.5", "8.8.4.4", "2001:db8::7"]


def test_without_a_lan_address_the_computer_name_is_the_best_guess():
    assert settings.lan_addresses("0.0.0.0", candidates=["127.0.1.1"], hostname="desk-7") == ["desk-7"]
    assert settings.lan_addresses("0.0.0.0", candidates=[], hostname="localhost") == ["127.0.0.1"]
    assert settings.lan_addresses("0.0.0.0", candidates=[], hostname="") == ["127.0.0.1"]


def test_this_computer_s_own_addresses_leave_out_loopback():
    found = settings.lan_addresses("0.0.0.0")
    assert (found and all(not a.startswith("127.") for a in found)) or found == ["127.0.0.1"]


def test_remember_host_port_keeps_the_other_settings(tmp_path: Path) -> None:
    path = tmp_path / "launcher.json"
    settings.save_settings(settings.LauncherSettings(host_port=0, share="/srv/share", name="al"), path)
    settings.remember_host_port(40123, path)
    saved = settings.load_settings(path)
    assert (saved.host_port, saved.share, saved.name) == (40123, "/srv/share", "al")
