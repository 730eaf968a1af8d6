"""The terminal's side of trusting a host's key: the [y/N] question on a terminal, a script's host trusted
and said so, a changed key and a forged invite refused, --accept-new-key.

Standard input is a real pseudo-terminal where the test is about a terminal.  The joins go through the real
terminal against a real TLS host (tests.trust_helpers).
"""

from __future__ import annotations

import argparse
import io
import os
import pty
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import pytest

from mmchat import terminal
from mmchat.known_hosts import Decision, KnownHosts, Verdict
from mmchat.server import ChatServer
from mmchat.terminal import run_join, trust_asker
from tests import trust_helpers
from tests.trust_helpers import NEW, OLD, hook

host = trust_helpers.host  # the fixture, used by name below

WAIT = 20.0


class PtyInput:
    """A pseudo-terminal: `stdin` is its terminal end (isatty() is true), `type` writes what a person types."""

    def __init__(self) -> None:
        self._keyboard, screen = pty.openpty()
        self.stdin = open(screen, encoding="utf-8", closefd=True)  # closed by close()

    def type(self, text: str) -> None:
        os.write(self._keyboard, text.encode())

    def close(self) -> None:
        # The keyboard end first: a chat's reader thread blocked on the terminal end then gets an error
        # and lets go of the file, which closing the terminal end would otherwise wait for.
        os.close(self._keyboard)
        self.stdin.close()


@pytest.fixture
def keyboard() -> Iterator[PtyInput]:
    typing = PtyInput()
    yield typing
    typing.close()


def first_use(address: str = "127.0.0.1:5") -> Decision:
    return Decision(Verdict.FIRST_USE, address, OLD)


# --- the question --------------------------------------------------------------------------------


@pytest.mark.parametrize(("typed", "trusted"), [("y\n", True), ("YES\n", True), ("n\n", False), ("\n", False)])
def test_on_a_terminal_the_person_is_asked_and_no_is_the_default(
    keyboard: PtyInput, tmp_path: Path, typed: str, trusted: bool
) -> None:
    assert keyboard.stdin.isatty()
    err = io.StringIO()
    ask = trust_asker(keyboard.stdin, err, keyboard.stdin.isatty(), tmp_path / "known_hosts")
    keyboard.type(typed)
    assert ask(first_use()) is trusted
    shown = err.getvalue()
    assert OLD in shown
    assert "The host at 127.0.0.1:5 is new to this computer." in shown
    assert shown.endswith("Trust this host? [y/N] ")


def test_on_a_terminal_a_changed_key_is_not_asked_about(keyboard: PtyInput, tmp_path: Path) -> None:
    err = io.StringIO()
    ask = trust_asker(keyboard.stdin, err, True, tmp_path / "known_hosts")
    keyboard.type("y\n")  # even a ready "yes" is not read: only --accept-new-key accepts a changed key
    assert ask(Decision(Verdict.CHANGED, "127.0.0.1:5", NEW, OLD)) is False
    assert err.getvalue() == ""


def test_ctrl_c_at_the_question_is_a_no(tmp_path: Path) -> None:
    class Interrupted(io.StringIO):
        def readline(self, size: int | None = -1) -> str:
            raise KeyboardInterrupt

    err = io.StringIO()
    ask = trust_asker(Interrupted(), err, True, tmp_path / "known_hosts")
    assert ask(first_use()) is False
    assert err.getvalue().endswith("Trust this host? [y/N] \n")


def test_without_a_terminal_the_host_is_trusted_with_a_line_saying_so(tmp_path: Path) -> None:
    script = io.StringIO("hello\n")
    assert not script.isatty()
    err = io.StringIO()
    ask = trust_asker(script, err, script.isatty(), tmp_path / "known_hosts")
    assert ask(first_use()) is True
    assert err.getvalue() == (
        "mmchat: standard input is not a terminal, so the host at 127.0.0.1:5 is trusted on first use; "
        f"its fingerprint {OLD} is remembered in {tmp_path / 'known_hosts'}.\n"
    )
    assert script.read() == "hello\n"  # nothing was read from the script


# --- the whole terminal chat -----------------------------------------------------------------------


@pytest.fixture
def key(monkeypatch, host: ChatServer) -> str:
    """The key the host shows (the terminal's ChatClient made a HookedClient)."""
    return hook(monkeypatch, terminal, host).key


def join_args(where: str, tmp_path: Path, accept_new_key: bool = False) -> argparse.Namespace:
    return argparse.Namespace(
        join=where, name="alice", downloads=str(tmp_path / "dl"), password="", accept_new_key=accept_new_key
    )


def run(args: argparse.Namespace, stdin: TextIO) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run_join(args, stdin, out, err)
    return code, out.getvalue(), err.getvalue()


def test_a_script_joins_a_new_host_trusts_it_and_saves_it(host: ChatServer, key: str, tmp_path: Path) -> None:
    where = f"127.0.0.1:{host.address[1]}"
    code, out, err = run(join_args(where, tmp_path), io.StringIO("!exit\n"))
    assert code == 0, err
    assert f"the host at {where} is trusted on first use" in err
    assert out.startswith(f"Connected to {where} as alice.")
    assert KnownHosts().get(where) == key  # in the config folder (the tests' own, see conftest.py)
    code, _, err = run(join_args(where, tmp_path), io.StringIO("!exit\n"))
    assert code == 0 and err == ""  # known now: nothing to say


def test_a_person_at_a_terminal_answers_and_joins(
    host: ChatServer, key: str, keyboard: PtyInput, tmp_path: Path
) -> None:
    where = f"127.0.0.1:{host.address[1]}"
    out, err = io.StringIO(), io.StringIO()
    result: list[int] = []
    args = join_args(where, tmp_path)
    chat = threading.Thread(target=lambda: result.append(run_join(args, keyboard.stdin, out, err)), daemon=True)
    chat.start()
    keyboard.type("y\n!exit\n")
    chat.join(WAIT)
    assert result == [0], err.getvalue()
    assert "Trust this host? [y/N] " in err.getvalue()
    assert key in err.getvalue()
    assert KnownHosts().get(where) == key


def test_a_person_at_a_terminal_who_says_no_does_not_join(
    host: ChatServer, key: str, keyboard: PtyInput, tmp_path: Path
) -> None:
    where = f"127.0.0.1:{host.address[1]}"
    keyboard.type("n\n")
    code, out, err = run(join_args(where, tmp_path), keyboard.stdin)
    assert code == 1
    assert f"mmchat: You did not trust the host at {where}, so mmchat did not connect." in err
    assert out == ""
    assert KnownHosts().get(where) is None
    assert host.online() == []


def test_a_changed_key_is_refused_with_both_fingerprints(host: ChatServer, key: str, tmp_path: Path) -> None:
    where = f"127.0.0.1:{host.address[1]}"
    KnownHosts().remember(where, NEW)
    code, out, err = run(join_args(where, tmp_path), io.StringIO("!exit\n"))
    assert code == 1
    assert err.startswith(f"mmchat: The host at {where} shows a different key from the one you trusted before")
    assert f"Trusted before: {NEW}" in err and f"Shown now:      {key}" in err
    assert "join again with --accept-new-key." in err
    assert out == ""
    assert KnownHosts().get(where) == NEW


def test_accept_new_key_joins_and_replaces_the_key(host: ChatServer, key: str, tmp_path: Path) -> None:
    where = f"127.0.0.1:{host.address[1]}"
    KnownHosts().remember(where, NEW)
    code, out, err = run(join_args(where, tmp_path, accept_new_key=True), io.StringIO("!exit\n"))
    assert code == 0, err
    assert "you accepted its new key, which replaces the one you trusted before" in err
    assert out.startswith(f"Connected to {where} as alice.")
    assert KnownHosts().get(where) == key


def test_a_forged_invite_is_refused_without_a_question(host: ChatServer, key: str, keyboard: PtyInput, tmp_path: Path):
    where = f"127.0.0.1:{host.address[1]}"
    keyboard.type("y\n")  # a person ready to say yes is never asked
    code, _, err = run(join_args(f"mmchat://{where}/#{NEW}", tmp_path), keyboard.stdin)
    assert code == 1
    assert f"The host at {where} is not the one the invite names" in err
    assert "Trust this host?" not in err
    assert KnownHosts().get(where) is None


def test_an_invite_that_matches_joins_without_a_question(host: ChatServer, key: str, tmp_path: Path) -> None:
    where = f"127.0.0.1:{host.address[1]}"
    code, out, err = run(join_args(f"mmchat://{where}/#{key.lower()}", tmp_path), io.StringIO("!exit\n"))
    assert code == 0, err
    assert "the invite's fingerprint matches its key" in err
    assert out.startswith(f"Connected to {where} as alice.")
    assert "trusted on first use" not in err
    assert KnownHosts().get(where) == key


def test_accept_new_key_is_a_join_option() -> None:
    from mmchat.cli import build_parser

    assert build_parser().parse_args(["--join", "h:1", "--accept-new-key"]).accept_new_key is True
    assert build_parser().parse_args(["--join", "h:1"]).accept_new_key is False
    help_text = " ".join(build_parser().format_help().split())
    assert "--accept-new-key" in help_text
    script = "when standard input is not a terminal, as in a script, it trusts it and prints a line saying so"
    assert script in help_text
