"""mmchat.terminal: the terminal chat, driven with in-memory streams against a real host on 127.0.0.1."""

from __future__ import annotations

import argparse
import io
import queue
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO, cast

import pytest

from mmchat import terminal
from mmchat.address import join_url
from mmchat.client import ChatClient
from mmchat.server import ChatServer
from mmchat.terminal import ask_name, run_join, terminal_safe

WAIT = 20.0  # generous: a pass never waits this long


class PendingInput:
    """Standard input that gives the lines put in it and ends only when told: a person at a keyboard."""

    def __init__(self, *lines: str) -> None:
        self._lines: queue.Queue[str] = queue.Queue()
        for line in lines:
            self.type(line)

    def type(self, line: str) -> None:
        self._lines.put(line + "\n")

    def end(self) -> None:
        self._lines.put("")

    def isatty(self) -> bool:
        return False

    def readline(self) -> str:
        try:
            return self._lines.get(timeout=WAIT)
        except queue.Empty:
            return ""

    def __iter__(self) -> Iterator[str]:
        return iter(self.readline, "")


class Screen(io.StringIO):
    """Standard output that a test can wait on (the chat writes from its own thread)."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            return super().write(text)

    def wait_for(self, text: str) -> str:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            with self._lock:
                seen = self.getvalue()
            if text in seen:
                return seen
            time.sleep(0.02)
        raise AssertionError(f"{text!r} never appeared in:\n{seen}")


@pytest.fixture
def host(tmp_path: Path) -> Iterator[ChatServer]:
    share = tmp_path / "share"
    share.mkdir()
    (share / "readme.txt").write_text("hello from the host\n")
    server = ChatServer(share, "127.0.0.1", 0)
    server.start()
    yield server
    server.stop()


def join_args(server: ChatServer, tmp_path: Path, name: str | None = "alice", where: str = "") -> argparse.Namespace:
    where = where or f"127.0.0.1:{server.address[1]}"
    return argparse.Namespace(join=where, name=name, downloads=str(tmp_path / "dl"), password="")


def chat(args: argparse.Namespace, stdin: io.StringIO) -> tuple[int, str, str]:
    out, err = Screen(), Screen()
    code = run_join(args, cast(TextIO, stdin), out, err)
    return code, out.getvalue(), err.getvalue()


def first_line_starting(lines: list[str], start: str) -> int:
    found = [i for i, line in enumerate(lines) if line.startswith(start)]
    assert found, f"no line starts with {start!r}: {lines!r}"
    return found[0]


def start_chat(
    args: argparse.Namespace, keyboard: PendingInput, out: io.StringIO, err: io.StringIO
) -> tuple[threading.Thread, list[int]]:
    """The chat on a thread of its own, as a person would have it; its exit code lands in the list."""
    result: list[int] = []
    stdin = cast(TextIO, keyboard)
    thread = threading.Thread(target=lambda: result.append(run_join(args, stdin, out, err)), daemon=True)
    thread.start()
    return thread, result


def test_a_script_is_read_line_by_line_in_order(host: ChatServer, tmp_path: Path) -> None:
    script = io.StringIO("hello 😎\n!online\n!cmd\tls\n!files\n!exit\n")
    code, out, err = chat(join_args(host, tmp_path), script)
    assert code == 0, err
    lines = out.splitlines()
    port = host.address[1]
    assert lines[0] == f"Connected to 127.0.0.1:{port} as alice. Type !help for commands, !exit to leave."
    listing = first_line_starting(lines, "  readme.txt")  # ls shows the name and its size, indented
    assert lines.index("[alice] hello 😎") < lines.index("  alice") < listing
    assert listing < lines.index("  No files have been shared yet.")


@pytest.mark.parametrize("line", ["!cmd\tls", "!cmd   ls", "!CMD ls"])
def test_a_command_and_its_argument_may_be_apart_by_any_whitespace(host: ChatServer, tmp_path: Path, line: str) -> None:
    # The named bug: the terminal split at the first space only, so '!cmd<TAB>ls' was an unknown command.
    code, out, _ = chat(join_args(host, tmp_path), io.StringIO(line + "\n"))
    assert code == 0
    first_line_starting(out.splitlines(), "  readme.txt")
    assert "Unknown command" not in out


def test_usage_and_unknown_commands_are_answered_here(host: ChatServer, tmp_path: Path) -> None:
    script = io.StringIO("!send\n!req\n!cmd\n!verify\n!get photo\n!dance\n!send /no/such/file.txt\n!help\n")
    code, out, _ = chat(join_args(host, tmp_path), script)
    assert code == 0
    lines = out.splitlines()
    for sentence in (
        "Usage: !send PATH",
        "Usage: !req NAME",
        "Usage: !cmd COMMAND (try !cmd help)",
        "Usage: !verify CODE",
        "Usage: !get QRcode",
        "Unknown command: !dance (type !help for the list)",
        "No such file here: /no/such/file.txt",
        "Commands:",
    ):
        assert sentence in lines


def test_send_then_fetch_a_file(host: ChatServer, tmp_path: Path) -> None:
    notes = tmp_path / "my notes.txt"
    notes.write_bytes(b"x" * 100_000)
    script = io.StringIO(f'!send "{notes}"\n!files\n!req "my notes.txt"\n')
    code, out, err = chat(join_args(host, tmp_path), script)
    assert code == 0, err
    fetched = tmp_path / "dl" / "my notes.txt"
    assert "File sent successfully: my notes.txt" in out.splitlines()
    assert f"File received successfully: {fetched}" in out.splitlines()
    assert fetched.read_bytes() == notes.read_bytes()


def test_a_failed_download_is_one_sentence(host: ChatServer, tmp_path: Path) -> None:
    code, out, _ = chat(join_args(host, tmp_path), io.StringIO("!req missing.txt\n"))
    assert code == 0
    assert any(line.startswith("Download of missing.txt failed: ") for line in out.splitlines()), out


def test_others_messages_show_escape_sequences_as_text(host: ChatServer, tmp_path: Path) -> None:
    keyboard = PendingInput()
    out = Screen()
    thread, result = start_chat(join_args(host, tmp_path), keyboard, out, Screen())
    out.wait_for("Connected to")
    bob = ChatClient("127.0.0.1", host.address[1], "bob", downloads=tmp_path / "bob")
    bob.connect()
    try:
        bob.say("look \x1b[2J away")
        out.wait_for("[bob] look \\x1b[2J away")
    finally:
        bob.close()
    keyboard.end()
    thread.join(WAIT)
    assert result == [0]
    assert "\x1b" not in out.getvalue()


def test_the_host_stopping_ends_the_chat_with_code_1(host: ChatServer, tmp_path: Path) -> None:
    keyboard = PendingInput("hi")
    out = Screen()
    thread, result = start_chat(join_args(host, tmp_path), keyboard, out, Screen())
    out.wait_for("[alice] hi")
    host.stop()
    thread.join(WAIT)
    keyboard.end()
    assert result == [1]
    lines = out.getvalue().splitlines()
    assert "The host stopped the chat." in lines
    assert any(line.startswith("Disconnected: ") for line in lines)


def test_being_removed_ends_the_chat_with_code_1(host: ChatServer, tmp_path: Path) -> None:
    keyboard = PendingInput()
    out = Screen()
    thread, result = start_chat(join_args(host, tmp_path), keyboard, out, Screen())
    out.wait_for("Connected to")
    host.kick("alice")
    thread.join(WAIT)
    keyboard.end()
    assert result == [1]
    assert "You were removed from the chat by the host." in out.getvalue().splitlines()


def test_a_taken_name_is_changed_and_said(host: ChatServer, tmp_path: Path) -> None:
    first = ChatClient("127.0.0.1", host.address[1], "alice", downloads=tmp_path / "a")
    first.connect()
    try:
        code, out, _ = chat(join_args(host, tmp_path), io.StringIO("!exit\n"))
    finally:
        first.close()
    assert code == 0
    assert out.splitlines()[0] == "The name alice is taken: you are alice-2 in this chat."


def test_the_name_is_asked_when_not_given(host: ChatServer, tmp_path: Path) -> None:
    code, out, _ = chat(join_args(host, tmp_path, name=None), io.StringIO("carol\n!exit\n"))
    assert code == 0
    assert " as carol." in out.splitlines()[0]


@pytest.mark.parametrize(
    ("stdin", "sentence"),
    [("", "mmchat: No name given."), ("!bob\n", "mmchat: A name may not start with '!'.")],
)
def test_a_missing_or_bad_name_is_one_sentence(host: ChatServer, tmp_path: Path, stdin: str, sentence: str) -> None:
    code, out, err = chat(join_args(host, tmp_path, name=None), io.StringIO(stdin))
    assert code == 2
    assert err.splitlines() == [sentence]
    assert out == ""


def test_a_person_at_a_terminal_is_asked_again() -> None:
    err = io.StringIO()
    assert ask_name(io.StringIO("[x]\nalice\n"), err, interactive=True) == "alice"
    assert "A name may not contain brackets or slashes." in err.getvalue()


@pytest.mark.parametrize(
    ("where", "sentence"),
    [
        ("bad:port", "mmchat: The port must be a number, like 12002."),
        ("http://x", "mmchat: Only mmchat:// links lead to a chat, not http:// ones."),
    ],
)
def test_a_bad_address_is_one_sentence(tmp_path: Path, where: str, sentence: str) -> None:
    args = argparse.Namespace(join=where, name="alice", downloads=str(tmp_path), password="")
    code, out, err = chat(args, io.StringIO(""))
    assert (code, out, err.splitlines()) == (2, "", [sentence])


def test_nobody_listening_is_one_sentence_and_code_1(tmp_path: Path) -> None:
    server = ChatServer(tmp_path / "share", "127.0.0.1", 0)
    port = server.start()[1]
    server.stop()  # the port is now free, and nobody listens there
    args = argparse.Namespace(join=f"127.0.0.1:{port}", name="alice", downloads=str(tmp_path), password="")
    code, out, err = chat(args, io.StringIO(""))
    assert (code, out) == (1, "")
    assert len(err.splitlines()) == 1 and err.startswith("mmchat: ")


@pytest.mark.parametrize(
    ("password", "sentence"), [("", "mmchat: This chat needs a password."), ("guess", "mmchat: Wrong password.")]
)
def test_a_password_refusal_says_which_and_how_to_give_one(tmp_path: Path, password: str, sentence: str) -> None:
    server = ChatServer(tmp_path / "share", "127.0.0.1", 0, password="s3cret")
    port = server.start()[1]
    try:
        args = argparse.Namespace(join=f"127.0.0.1:{port}", name="alice", downloads=str(tmp_path), password=password)
        code, out, err = chat(args, io.StringIO(""))
    finally:
        server.stop()
    assert (code, out) == (1, "")
    hint = "mmchat: Give the password with --password-file PATH or the MMCHAT_PASSWORD variable."
    assert err.splitlines()[-2:] == [sentence, hint]  # after the line saying the host was trusted on first use


def test_terminal_safe_keeps_newlines_and_tabs() -> None:
    assert terminal_safe("a\tb\nc\x1b[31m\x07\x9b") == "a\tb\nc\\x1b[31m\\x07\\x9b"


def test_a_one_time_code_is_shown_and_checked(host: ChatServer, tmp_path: Path) -> None:
    keyboard = PendingInput("!qr")
    out = Screen()
    thread, result = start_chat(join_args(host, tmp_path), keyboard, out, Screen())
    seen = out.wait_for(" s, once)")
    found = re.search(r"One-time code: (\S+) \(valid \d+ s, once\)", seen)
    assert found, out.getvalue()
    keyboard.type(f"!verify {found.group(1)}")
    out.wait_for("verified (issued to alice)")
    keyboard.type(f"!verify {found.group(1)}")
    out.wait_for("invalid or expired")
    keyboard.end()
    thread.join(WAIT)
    assert result == [0]


class Terminal(PendingInput):
    """A keyboard on a terminal: transfers run in the background and pictures go away."""

    def isatty(self) -> bool:
        return True


class TerminalScreen(Screen):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_the_qr_picture_is_erased_and_transfers_show_progress(
    host: ChatServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(terminal, "QR_SECONDS", 0.2)
    big = tmp_path / "big.bin"
    big.write_bytes(b"\0" * 3_000_000)
    keyboard, out, err = Terminal("!qr"), TerminalScreen(), TerminalScreen()
    invite = join_url("127.0.0.1", host.address[1], host.fingerprint)  # on a terminal, a bare address would ask
    thread, result = start_chat(join_args(host, tmp_path, where=invite), keyboard, out, err)
    out.wait_for("this picture disappears in 0 s")
    out.wait_for("(QR code removed)")
    keyboard.type(f"!send {big}")
    out.wait_for("File sent successfully: big.bin")
    keyboard.end()
    thread.join(WAIT)
    assert result == [0]
    assert "\x1b[J" in out.getvalue()  # the picture was cleared from the screen
    assert "big.bin [" in err.getvalue() and "100%" in err.getvalue()


def test_a_message_cannot_print_a_fake_line_from_someone_else(host: ChatServer, tmp_path: Path) -> None:
    keyboard = PendingInput()
    out = Screen()
    thread, result = start_chat(join_args(host, tmp_path), keyboard, out, Screen())
    out.wait_for("Connected to")
    mallory = ChatClient("127.0.0.1", host.address[1], "mallory", downloads=tmp_path / "mallory")
    mallory.connect()
    try:
        mallory.say("hi\n[bob] I owe alice 100€\nThe host stopped the chat.\r[bob] again\u2028[bob] more")
        out.wait_for("more")
    finally:
        mallory.close()
    keyboard.end()
    thread.join(WAIT)
    assert result == [0]
    lines = out.getvalue().splitlines()
    start = lines.index("[mallory] hi")
    assert lines[start + 1 : start + 3] == [
        "          [bob] I owe alice 100€",
        "          The host stopped the chat.\\x0d[bob] again\\u2028[bob] more",
    ]
    assert not any(line.startswith(("[bob]", "The host")) for line in lines)


def test_a_look_alike_of_an_online_name_joins_under_a_free_variant(host: ChatServer, tmp_path: Path) -> None:
    alice = ChatClient("127.0.0.1", host.address[1], "alice", downloads=tmp_path / "alice")
    alice.connect()
    try:
        code, out, err = chat(join_args(host, tmp_path, name="\u0430lice"), io.StringIO("!online\n"))  # Cyrillic а
    finally:
        alice.close()
    assert code == 0, err
    lines = out.splitlines()
    assert "Connected to" in lines[1] and " as \u0430lice-2." in lines[1], lines
    assert lines.index("  alice") < lines.index("  \u0430lice-2")


def test_a_name_with_an_invisible_joiner_is_refused_with_a_sentence(host: ChatServer, tmp_path: Path) -> None:
    code, _, err = chat(join_args(host, tmp_path, name="al\u200dice"), io.StringIO(""))
    assert code != 0
    assert "A name may not contain invisible characters." in err


def test_asking_again_resumes_a_transfer_cut_short_and_says_so(host: ChatServer, tmp_path: Path) -> None:
    import hashlib
    import os

    from tests.resume_helpers import CuttingRelay

    (host.share / "movie.bin").write_bytes(os.urandom(6 << 20))
    mine = tmp_path / "mine.bin"
    mine.write_bytes(os.urandom(6 << 20))
    relay = CuttingRelay(host.address[1])
    relay.cut_up = relay.cut_down = 2 << 20
    relay.cuts_left = 2  # the first upload and the first download are cut short, the second tries are not
    try:
        script = io.StringIO(f'!req movie.bin\n!send "{mine}"\n!req movie.bin\n!send "{mine}"\n')
        code, out, _ = chat(join_args(host, tmp_path, where=f"127.0.0.1:{relay.port}"), script)
    finally:
        relay.close()
    lines = out.splitlines()
    assert code == 0, out
    failed = first_line_starting(lines, "Download of movie.bin failed: ")
    assert first_line_starting(lines, "Upload of mine.bin failed: ") > failed
    resuming = first_line_starting(lines, "Resuming movie.bin at ")
    assert re.fullmatch(r"Resuming movie\.bin at \d+ % \(.+ of 6\.3 MB here already\)\.", lines[resuming])
    assert first_line_starting(lines, "File received successfully: ") > resuming
    assert re.search(r"^Resuming mine\.bin at \d+ % \(.+ of 6\.3 MB on the host already\)\.$", out, re.M)
    assert "File sent successfully: mine.bin" in out
    received = tmp_path / "dl" / "movie.bin"
    assert (
        hashlib.sha256(received.read_bytes()).digest()
        == hashlib.sha256((host.share / "movie.bin").read_bytes()).digest()
    )
    assert (host.share / "mine.bin").read_bytes() == mine.read_bytes()
