"""gui/app.py: which window opens, and what it is handed (no window is opened here)."""

from __future__ import annotations

import argparse
import ast
from collections.abc import Callable
from pathlib import Path

import pytest

import gui.launcher
from gui import app
from gui.launcher import LaunchChoice


class FakeRoot:
    def mainloop(self) -> None:
        pass


def launcher_choosing(choice: LaunchChoice | None) -> type:
    class FakeLauncher:
        def __init__(self, master: object) -> None:
            self.choice = choice

    return FakeLauncher


def recorder(calls: list[argparse.Namespace]) -> Callable[[argparse.Namespace], int]:
    def front_end(args: argparse.Namespace, **hooks: object) -> int:
        calls.append(args)
        return 0

    return front_end


def args(**values: object) -> argparse.Namespace:
    base = {"join": None, "name": None, "host": False, "port": 0, "share": "s", "downloads": ".", "password": ""}
    return argparse.Namespace(**{**base, **values})


@pytest.mark.parametrize(
    ("address", "join"),
    [("192.168.1.5", "192.168.1.5:5"), ("fe80::1", "[fe80::1]:5"), ("desk-7.local", "desk-7.local:5")],
)
def test_the_launcher_hands_its_address_on_with_brackets_for_ipv6(
    monkeypatch: pytest.MonkeyPatch, address: str, join: str
) -> None:
    # It once wrote 'fe80::1:5', which reads back as one IPv6 address on the default port.
    joined: list[argparse.Namespace] = []
    monkeypatch.setattr(app, "new_root", lambda title: FakeRoot())
    monkeypatch.setattr(
        gui.launcher, "Launcher", launcher_choosing(LaunchChoice("join", 5, address=address, name="al"))
    )
    monkeypatch.setattr(app, "run_join", recorder(joined))
    assert app.run_launcher(args()) == 0
    assert [(a.join, a.name) for a in joined] == [(join, "al")]


def test_the_launcher_hands_hosting_on(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    hosted: list[argparse.Namespace] = []
    monkeypatch.setattr(app, "new_root", lambda title: FakeRoot())
    monkeypatch.setattr(gui.launcher, "Launcher", launcher_choosing(LaunchChoice("host", 7, share=tmp_path)))
    monkeypatch.setattr(app, "run_host", recorder(hosted))
    assert app.run_launcher(args()) == 0
    assert [(a.host, a.port, a.share) for a in hosted] == [(True, 7, str(tmp_path))]


@pytest.mark.parametrize(("typed", "environment", "used"), [("typed", "", "typed"), ("", "from-env", "from-env")])
def test_the_launcher_hands_its_password_on(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, typed: str, environment: str, used: str
) -> None:
    hosted: list[argparse.Namespace] = []
    monkeypatch.setattr(app, "new_root", lambda title: FakeRoot())
    choice = LaunchChoice("host", 7, share=tmp_path, password=typed)
    monkeypatch.setattr(gui.launcher, "Launcher", launcher_choosing(choice))
    monkeypatch.setattr(app, "run_host", recorder(hosted))
    assert app.run_launcher(args(password=environment)) == 0  # MMCHAT_PASSWORD, when nothing was typed
    assert [a.password for a in hosted] == [used]


def test_closing_the_launcher_starts_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app, "new_root", lambda title: FakeRoot())
    monkeypatch.setattr(gui.launcher, "Launcher", launcher_choosing(None))
    monkeypatch.setattr(app, "run_join", lambda a: pytest.fail("nothing was chosen"))
    assert app.run_launcher(args()) == 0


def test_a_bad_address_opens_no_chat_window(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(app, "new_root", lambda title: pytest.fail("no window for a bad address"))
    assert app.run_join(args(join="bad:port")) == 2
    assert capsys.readouterr().err == "mmchat: The port must be a number, like 12002.\n"


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_gui_never_imports_the_terminal_front_end() -> None:
    for path in sorted(Path(app.__file__).parent.glob("*.py")):
        assert not imported_modules(path) & {"mmchat.cli", "mmchat.terminal"}, path.name


def test_the_probe_opens_a_window_and_draws_on_the_virtual_display():
    assert app.tk_start_error() is None


def test_the_probe_returns_tks_error_for_a_display_that_is_not_there(monkeypatch):
    monkeypatch.setenv("DISPLAY", ":9999")
    error = app.tk_start_error()
    assert error is not None and "couldn't connect to display" in str(error)


@pytest.mark.parametrize(("typed", "remembered"), [(0, "the real port"), (7, None)])
def test_hosting_on_any_free_port_remembers_the_port_the_host_got(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, typed: int, remembered: str | None
) -> None:
    import gui.admin_window
    from mmchat import settings

    monkeypatch.setenv("MMCHAT_CONFIG_DIR", str(tmp_path / "config"))
    settings.save_settings(settings.LauncherSettings(host_port=typed))  # what the launcher saved: 0 or 7
    servers: list = []
    monkeypatch.setattr(app, "new_root", lambda title: FakeRoot())
    monkeypatch.setattr(gui.admin_window, "AdminWindow", lambda root, server: servers.append(server))
    monkeypatch.setattr(gui.launcher, "Launcher", launcher_choosing(LaunchChoice("host", typed, share=tmp_path)))
    if typed:
        monkeypatch.setattr(app, "run_host", lambda a, on_listening=None: servers.append(on_listening) or 0)
    host = args(bind="127.0.0.1", data=str(tmp_path / "data"))
    assert app.run_launcher(host) == 0
    if remembered:
        [server] = servers
        port = server.address[1]
        assert port != 0 and settings.load_settings().host_port == port
    else:
        assert servers == [None] and settings.load_settings().host_port == 7  # a port typed is kept as typed
