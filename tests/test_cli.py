"""mmchat.cli: the options, and which front end each combination of them starts."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from mmchat import __version__, cli, headless, protocol, terminal

ROOT = Path(__file__).resolve().parent.parent
FrontEnd = Callable[[argparse.Namespace], int]


class FrontEnds:
    """Stand-ins for every front end, recording which one ran."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, display: bool = True) -> None:
        self.ran: list[tuple[str, argparse.Namespace]] = []
        self.display = display
        self.probed = 0
        monkeypatch.setattr(headless, "run_host", self._record("headless"))
        monkeypatch.setattr(terminal, "run_join", self._record("terminal"))

    def _record(self, name: str) -> FrontEnd:
        def front_end(args: argparse.Namespace) -> int:
            self.ran.append((name, args))
            return 0

        return front_end

    def windows(self) -> dict[str, FrontEnd]:
        self.probed += 1
        if not self.display:
            return {}
        return {kind: self._record(f"{kind} window") for kind in ("host", "join", "launcher", "selftest")}

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.ran]


@pytest.fixture
def front_ends(monkeypatch: pytest.MonkeyPatch) -> FrontEnds:
    return FrontEnds(monkeypatch)


@pytest.fixture
def no_display(monkeypatch: pytest.MonkeyPatch) -> FrontEnds:
    return FrontEnds(monkeypatch, display=False)


# --- options ------------------------------------------------------------------------------------


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MMCHAT_PASSWORD", raising=False)
    args = cli.build_parser().parse_args([])
    assert (args.host, args.join, args.bind, args.port) == (False, None, "0.0.0.0", protocol.DEFAULT_PORT)
    assert (args.share, args.data, args.headless) == ("mmchat-share", None, False)
    assert (args.name, args.cli, args.downloads, args.password, args.selftest) == (None, False, ".", "", False)


def test_the_password_may_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMCHAT_PASSWORD", "s3cret")
    assert cli.build_parser().parse_args([]).password == "s3cret"
    assert cli.build_parser().parse_args(["--password", "other"]).password == "other"


def test_the_help_warns_that_the_process_list_shows_a_password(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "process list" in help_text and "--password-file PATH" in help_text and "MMCHAT_PASSWORD" in help_text


def test_the_host_reads_its_password_from_the_first_line_of_a_file(front_ends: FrontEnds, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s3cret ☕ with spaces \r\nsecond line\n", encoding="utf-8")
    assert cli.main(["--host", "--headless", "--password-file", str(secret)], windows=front_ends.windows) == 0
    assert front_ends.ran[0][1].password == "s3cret ☕ with spaces "


@pytest.mark.parametrize(
    ("content", "sentence"),
    [
        (None, "Cannot read the password file"),
        (b"", "is empty: put the password on its first line."),
        (b"\n", "is empty"),
        (b"\xff\xfe", "is not UTF-8 text."),
        (b"x" * 300, "is too long: at most 256 characters."),
    ],
)
def test_a_password_file_that_cannot_be_used_is_one_sentence(
    front_ends: FrontEnds, tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes | None, sentence: str
) -> None:
    secret = tmp_path / "secret"
    if content is not None:
        secret.write_bytes(content)
    assert cli.main(["--host", "--headless", "--password-file", str(secret)], windows=front_ends.windows) == 2
    err = capsys.readouterr().err
    assert err.startswith("mmchat: ") and sentence in err and "Traceback" not in err
    assert front_ends.ran == []


def test_host_and_join_exclude_each_other(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        cli.build_parser().parse_args(["--host", "--join", "h:1"])
    assert stopped.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_the_limits_have_their_defaults_in_help(capsys: pytest.CaptureFixture[str]) -> None:
    args = cli.build_parser().parse_args(["--host"])
    assert (args.transfers_at_once, args.transfer_stall) == (16, 60.0)
    assert (args.ping_after, args.keepalive_timeout, args.openers_per_address) == (15.0, 45.0, 8)
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["--help"])
    shown = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    for flag, default in [("--transfers-at-once N", "16"), ("--transfer-stall SECONDS", "60"),
                          ("--ping-after SECONDS", "15"), ("--keepalive-timeout SECONDS", "45"),
                          ("--openers-per-address N", "8")]:  # fmt: skip
        described = shown.rsplit(flag, 1)[1].split(")", 1)[0] + ")"  # the last one: the help, not the usage
        assert f"(default {default})" in described, flag


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--transfer-stall", "0"], "Expected a number of seconds above 0, such as 30, not '0'."),
        (["--ping-after", "soon"], "Expected a number of seconds above 0, such as 30, not 'soon'."),
        (["--transfers-at-once", "0"], "Expected a whole number above 0, not '0'."),
        (["--ping-after", "30", "--keepalive-timeout", "30"], "--keepalive-timeout must be longer than --ping-after"),
    ],
)
def test_bad_limits_are_one_sentence(
    front_ends: FrontEnds, capsys: pytest.CaptureFixture[str], argv: list[str], said: str
) -> None:
    with pytest.raises(SystemExit) as stopped:
        cli.main(["--host", "--headless", *argv], windows=front_ends.windows)
    assert stopped.value.code == 2
    assert said in capsys.readouterr().err
    assert front_ends.ran == []


def test_a_port_must_be_a_number(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["--host", "--port", "many"])
    assert "invalid int value" in capsys.readouterr().err


def test_version(capsys: pytest.CaptureFixture[str], front_ends: FrontEnds) -> None:
    with pytest.raises(SystemExit) as stopped:
        cli.main(["--version"], windows=front_ends.windows)
    assert stopped.value.code == 0
    assert capsys.readouterr().out == f"mmchat {__version__}\n"
    assert front_ends.probed == 0


# --- dispatch -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "ran"),
    [
        (["--host"], "host window"),
        (["--host", "--headless"], "headless"),
        (["--join", "10.0.0.1:5"], "join window"),
        (["--join", "10.0.0.1:5", "--cli"], "terminal"),
        ([], "launcher window"),
        (["--selftest"], "selftest window"),
    ],
)
def test_each_mode_starts_its_front_end(front_ends: FrontEnds, argv: list[str], ran: str) -> None:
    assert cli.main(argv, windows=front_ends.windows) == 0
    assert front_ends.names == [ran]


@pytest.mark.parametrize("argv", [["--host", "--headless"], ["--join", "h:5", "--cli"]])
def test_terminal_modes_never_probe_the_display(front_ends: FrontEnds, argv: list[str]) -> None:
    cli.main(argv, windows=front_ends.windows)
    assert front_ends.probed == 0


def test_without_a_display_the_host_runs_headless(no_display: FrontEnds, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--host"], windows=no_display.windows) == 0
    assert no_display.names == ["headless"]
    assert capsys.readouterr().out == "No display for the admin window: running headless.\n"


def test_without_a_display_joining_is_in_the_terminal(
    no_display: FrontEnds, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["--join", "h:5"], windows=no_display.windows) == 0
    assert no_display.names == ["terminal"]
    assert capsys.readouterr().err == "No display for the chat window: using terminal mode.\n"


def test_without_a_display_there_is_no_launcher(no_display: FrontEnds, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([], windows=no_display.windows) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: mmchat")
    assert err.endswith("mmchat: no display for the launcher window; use --host or --join HOST:PORT --cli.\n")
    assert cli.main(["--selftest"], windows=no_display.windows) == 2
    assert capsys.readouterr().err == "mmchat: --selftest needs a display (Tk could not open a window).\n"
    assert no_display.names == []


@pytest.mark.parametrize("argv", [["--join", "bad:port"], ["--join", "bad:port", "--cli"]])
def test_a_bad_join_address_is_one_sentence_before_any_front_end(
    front_ends: FrontEnds, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    # The named bug: with a display, the chat window's start raised ValueError (a traceback).
    assert cli.main(argv, windows=front_ends.windows) == 2
    assert front_ends.names == []
    assert capsys.readouterr().err == "mmchat: The port must be a number, like 12002.\n"


@pytest.mark.skipif(not os.environ.get("DISPLAY"), reason="needs the display pytest-xvfb provides")
def test_a_bad_join_address_with_a_display_is_no_traceback() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "mmchat.py"), "--join", "bad:port"],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == "mmchat: The port must be a number, like 12002.\n"


def test_a_windowed_build_without_a_console_refuses_terminal_modes(
    monkeypatch: pytest.MonkeyPatch, front_ends: FrontEnds
) -> None:
    monkeypatch.setattr(sys, "stdout", None)
    assert cli.main(["--host", "--headless"], windows=front_ends.windows) == 2
    assert front_ends.names == []
