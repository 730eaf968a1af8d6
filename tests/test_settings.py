"""Launcher settings and the checks on what a person types (no display needed)."""

from __future__ import annotations

import re

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


def test_share_must_not_be_a_file(tmp_path):
    (tmp_path / "f").write_text("x")
    assert settings.check_share(str(tmp_path / "new")) == tmp_path / "new"
    with pytest.raises(ValueError, match=r"^That is a file, not a folder\.$"):
        settings.check_share(str(tmp_path / "f"))
    with pytest.raises(ValueError, match="Please choose a folder"):
        settings.check_share("  ")


def test_lan_addresses_without_network_traffic():
    assert settings.lan_addresses("10.1.2.3") == ["10.1.2.3"]
    everywhere = settings.lan_addresses("0.0.0.0", hostname="localhost")
    assert everywhere[-1] == "127.0.0.1"
    assert all(not a.startswith("127.") for a in everywhere[:-1])
