"""The launcher: input checked beside each field, remembered between runs."""

from __future__ import annotations

import socket
import tkinter as tk

import pytest

from gui.launcher import Launcher
from mmchat import settings
from mmchat.server import ChatServer
from tests import gui_helpers
from tests.gui_helpers import pump_until

tk_root = gui_helpers.tk_root


@pytest.fixture(autouse=True)
def config(tmp_path, monkeypatch):
    monkeypatch.setenv("MMCHAT_CONFIG_DIR", str(tmp_path / "config"))
    return tmp_path / "config"


@pytest.fixture
def launcher(tk_root):
    top = tk.Toplevel(tk_root)
    return Launcher(top)


def fill(entry, text: str) -> None:
    entry.delete(0, "end")
    entry.insert(0, text)


def closed_port() -> int:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


def test_join_needs_a_name(launcher):
    fill(launcher.address, "127.0.0.1")
    fill(launcher.name, "")
    launcher.choose_join()
    assert launcher.error_text(launcher.name) == "Please choose a name."
    assert launcher.choice is None


@pytest.mark.parametrize("port", ["abc", "0", "70000", ""])
def test_bad_ports_are_explained(launcher, port):
    fill(launcher.address, "127.0.0.1")
    fill(launcher.name, "alice")
    fill(launcher.join_port, port)
    launcher.choose_join()
    assert launcher.error_text(launcher.join_port).startswith(("The port", "Please enter"))
    assert launcher.choice is None


def test_nobody_hosting_is_said_beside_the_address(tk_root, launcher):
    port = closed_port()
    fill(launcher.address, "127.0.0.1")
    fill(launcher.join_port, str(port))
    fill(launcher.name, "alice")
    launcher.choose_join()
    pump_until(tk_root, lambda: "Nobody is hosting" in launcher.error_text(launcher.address))
    assert launcher.error_text(launcher.address) == f"Nobody is hosting a chat at 127.0.0.1:{port}."
    assert launcher.choice is None


def test_joining_a_real_host_is_chosen_and_remembered(tk_root, launcher, tmp_path, config):
    server = ChatServer(tmp_path / "share", "127.0.0.1", 0)
    server.start()
    try:
        fill(launcher.address, "127.0.0.1")
        fill(launcher.join_port, str(server.address[1]))
        fill(launcher.name, "alice 😎")
        launcher.choose_join()
        pump_until(tk_root, lambda: launcher.choice is not None)
    finally:
        server.stop()
    assert launcher.choice.mode == "join" and launcher.choice.name == "alice 😎"
    assert launcher.choice.port == server.address[1]
    remembered = settings.load_settings()
    assert (remembered.join_address, remembered.name) == ("127.0.0.1", "alice 😎")
    again = Launcher(tk.Toplevel(tk_root))
    assert again.name.get() == "alice 😎" and again.join_port.get() == str(server.address[1])


def test_host_share_must_be_a_folder(launcher, tmp_path):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("x")
    fill(launcher.share, str(a_file))
    launcher.choose_host()
    assert launcher.error_text(launcher.share) == "That is a file, not a folder."
    assert launcher.choice is None


def test_hosting_is_chosen(launcher, tmp_path):
    fill(launcher.host_port, "0")
    launcher.ask_directory = lambda: str(tmp_path / "shared")
    launcher.browse_share()
    launcher.choose_host()
    assert launcher.choice.mode == "host" and launcher.choice.port == 0
    assert launcher.choice.share == tmp_path / "shared"
    assert settings.load_settings().share == str(tmp_path / "shared")


def test_an_address_with_its_port_fills_the_port_field(tk_root, launcher, tmp_path):
    server = ChatServer(tmp_path / "share", "127.0.0.1", 0)
    server.start()
    try:
        fill(launcher.address, f"mmchat://127.0.0.1:{server.address[1]}")  # as read from the host's QR code
        fill(launcher.join_port, "1")
        fill(launcher.name, "bob")
        launcher.choose_join()
        assert launcher.address.get() == "127.0.0.1" and launcher.join_port.get() == str(server.address[1])
        pump_until(tk_root, lambda: launcher.choice is not None)
    finally:
        server.stop()
    assert (launcher.choice.address, launcher.choice.port) == ("127.0.0.1", server.address[1])


def test_one_join_check_at_a_time(tk_root, launcher):
    probes = []
    probe = launcher._probe
    launcher._probe = lambda choice: probes.append(choice) or probe(choice)
    fill(launcher.address, "127.0.0.1")
    fill(launcher.join_port, str(closed_port()))
    fill(launcher.name, "alice")
    launcher.choose_join()
    assert launcher.error_text(launcher.address).startswith("Looking for the chat at 127.0.0.1:")
    assert launcher.errors[launcher.address].cget("style") == "Muted.TLabel"  # news, not a problem
    launcher.name.event_generate("<Return>")  # Enter while the first check runs
    launcher.choose_join()
    pump_until(tk_root, lambda: "Nobody is hosting" in launcher.error_text(launcher.address))
    assert len(probes) == 1
    assert launcher.errors[launcher.address].cget("style") == "Error.TLabel"
    assert launcher.join_button.instate(["!disabled"])


def test_an_unknown_computer_name_is_said_so(tk_root, launcher, monkeypatch):
    def no_such_name(*args, **kwargs):
        raise socket.gaierror(-2, "Name or service not known")

    monkeypatch.setattr("gui.launcher.socket.create_connection", no_such_name)  # no DNS query leaves the machine
    fill(launcher.address, "nosuchhost")
    fill(launcher.name, "alice")
    launcher.choose_join()
    pump_until(tk_root, lambda: not launcher.probing)
    assert launcher.error_text(launcher.address) == "No computer called nosuchhost was found on the network."
    assert launcher.choice is None


def test_hosting_on_a_port_in_use_is_explained(launcher, tmp_path):
    server = ChatServer(tmp_path / "share", "127.0.0.1", 0)
    server.start()
    try:
        fill(launcher.host_port, str(server.address[1]))
        fill(launcher.share, str(tmp_path / "shared"))
        launcher.choose_host()
    finally:
        server.stop()
    assert launcher.error_text(launcher.host_port) == (
        f"Port {server.address[1]} is already in use on this computer. Is a chat running? Try another port."
    )
    assert launcher.choice is None


def test_ctrl_a_selects_the_whole_field(launcher, tk_root) -> None:
    for entry in (launcher.address, launcher.join_port, launcher.name, launcher.host_port):
        fill(entry, "some text")
        entry.focus_force()
        entry.icursor(4)
        tk_root.update()
        entry.event_generate("<Control-a>")
        tk_root.update()
        assert entry.selection_present() and entry.selection_get() == "some text"


# --- passwords ------------------------------------------------------------------------------


def test_the_password_fields_hide_what_is_typed_until_show_is_ticked(launcher):
    for field in (launcher.host_password, launcher.join_password):
        assert field.get() == "" and field.entry.cget("show") == "•"
        field.show_box.invoke()
        assert field.entry.cget("show") == ""
        field.show_box.invoke()
        assert field.entry.cget("show") == "•"


def test_a_hosting_password_goes_in_the_choice_and_never_into_the_settings(launcher, tmp_path, config):
    fill(launcher.host_port, "0")
    fill(launcher.share, str(tmp_path / "shared"))
    fill(launcher.host_password.entry, "s3cret ☕")
    launcher.choose_host()
    assert launcher.choice.password == "s3cret ☕" and "s3cret" not in repr(launcher.choice)
    assert any(config.rglob("*.json"))  # the settings were saved, without it
    assert all("s3cret" not in path.read_text(encoding="utf-8") for path in config.rglob("*") if path.is_file())


def test_a_password_that_cannot_be_sent_is_explained_beside_its_field(launcher):
    fill(launcher.address, "127.0.0.1")
    fill(launcher.name, "alice")
    fill(launcher.join_password.entry, "x" * 300)
    launcher.choose_join()
    assert launcher.error_text(launcher.join_password.entry) == "A password may have at most 256 characters."
    assert launcher.choice is None and not launcher.probing


def test_joining_with_a_password_carries_it(tk_root, launcher, tmp_path, config):
    server = ChatServer(tmp_path / "share", "127.0.0.1", 0, password="s3cret")
    server.start()
    try:
        fill(launcher.address, "127.0.0.1")
        fill(launcher.join_port, str(server.address[1]))
        fill(launcher.name, "alice")
        fill(launcher.join_password.entry, "s3cret")
        launcher.choose_join()
        pump_until(tk_root, lambda: launcher.choice is not None)
    finally:
        server.stop()
    assert launcher.choice.password == "s3cret"
    assert all("s3cret" not in path.read_text(encoding="utf-8") for path in config.rglob("*") if path.is_file())
