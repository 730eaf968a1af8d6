"""Tests for mmchat.commands: the allowed commands work, everything else is refused."""

from __future__ import annotations

import datetime
import os
import pathlib

import pytest

from mmchat import commands
from mmchat.commands import HELP_TEXT, CommandOutcome, CommandSandbox

SECRET = "root:x:0:0:the host's secret"


@pytest.fixture
def share(tmp_path: pathlib.Path) -> pathlib.Path:
    """A shared folder with a sub folder, a private .mmchat folder and links leading out."""
    root = tmp_path / "share"
    (root / "sub" / "dir").mkdir(parents=True)
    (root / "empty").mkdir()
    (root / ".mmchat").mkdir()
    (root / ".mmchat" / "db").write_text("private host data")
    (root / "notes.txt").write_text("x" * 1234)
    (root / "hello.txt").write_text("héllo wörld\n", encoding="utf-8")
    (root / "sub" / "a.txt").write_text("in sub")
    (root / "image.bin").write_bytes(b"PNG\0\x01\x02")
    (root / "latin1.txt").write_bytes("café".encode("latin-1"))
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET)
    try:
        (root / "link.txt").symlink_to(outside / "secret.txt")
        (root / "linkdir").symlink_to(outside, target_is_directory=True)
        (root / "inner").symlink_to(root / "sub", target_is_directory=True)
    except OSError:
        pass  # no symlinks on this system; the tests that need them skip
    return root


@pytest.fixture
def sandbox(share: pathlib.Path) -> CommandSandbox:
    """A sandbox over the shared folder with a fixed clock."""
    return CommandSandbox(share, clock=lambda: datetime.datetime(2026, 11, 21, 23, 54, 0))


def run(sandbox: CommandSandbox, line: str, cwd: str = "") -> CommandOutcome:
    """Run a line and check what every outcome must satisfy."""
    outcome = sandbox.run(line, cwd)
    assert isinstance(outcome.output, str)
    assert sandbox.root not in outcome.output
    assert "Traceback" not in outcome.output
    assert SECRET not in outcome.output
    assert not outcome.cwd.startswith("/")
    return outcome


# -- the allowed commands ------------------------------------------------------


def test_ls_root_lists_folders_first_then_files_with_sizes(sandbox):
    outcome = run(sandbox, "ls")
    assert outcome.allowed
    lines = outcome.output.splitlines()
    assert lines[:3] == ["empty/", "inner/", "sub/"]
    assert "notes.txt   1.2 kB" in lines
    assert any(line.startswith("hello.txt") and line.endswith("14 B") for line in lines)
    assert outcome.cwd == ""


def test_ls_hides_private_folder_and_links_leading_out(sandbox):
    output = run(sandbox, "ls").output
    assert ".mmchat" not in output
    assert "link.txt" not in output
    assert "linkdir" not in output


def test_ls_sub_folder_and_single_file(sandbox):
    assert run(sandbox, "ls sub").output == "dir/\na.txt  6 B"
    assert run(sandbox, "ls /sub/a.txt").output == "/sub/a.txt  6 B"
    assert run(sandbox, "ls a.txt", cwd="sub").output == "a.txt  6 B"


def test_ls_empty_folder(sandbox):
    assert run(sandbox, "ls empty").output == "(empty folder)"


def test_ls_missing_path_is_a_sentence(sandbox):
    outcome = run(sandbox, "ls nothing")
    assert outcome.allowed
    assert outcome.output == "ls: no such file or folder: nothing"


def test_cd_into_sub_and_back(sandbox):
    outcome = run(sandbox, "cd sub")
    assert (outcome.allowed, outcome.output, outcome.cwd) == (True, "/sub", "sub")
    outcome = run(sandbox, "cd dir", cwd=outcome.cwd)
    assert (outcome.output, outcome.cwd) == ("/sub/dir", "sub/dir")
    outcome = run(sandbox, "cd ..", cwd=outcome.cwd)
    assert (outcome.output, outcome.cwd) == ("/sub", "sub")
    outcome = run(sandbox, "cd ..", cwd=outcome.cwd)
    assert (outcome.allowed, outcome.output, outcome.cwd) == (True, "/", "")


@pytest.mark.parametrize("line", ["cd", "cd /", "cd ~"])
def test_cd_to_share_root(sandbox, line):
    outcome = run(sandbox, line, cwd="sub/dir")
    assert (outcome.allowed, outcome.output, outcome.cwd) == (True, "/", "")


def test_cd_absolute_path_is_share_relative(sandbox):
    outcome = run(sandbox, "cd /sub/dir", cwd="empty")
    assert (outcome.output, outcome.cwd) == ("/sub/dir", "sub/dir")


def test_cd_to_missing_or_file_keeps_folder(sandbox):
    outcome = run(sandbox, "cd nothing", cwd="sub")
    assert (outcome.allowed, outcome.output, outcome.cwd) == (
        True,
        "cd: no such file or folder: nothing",
        "sub",
    )
    outcome = run(sandbox, "cd a.txt", cwd="sub")
    assert (outcome.output, outcome.cwd) == ("cd: not a folder: a.txt", "sub")


def test_cd_through_link_inside_share_is_allowed(sandbox, share):
    if not (share / "inner").is_symlink():
        pytest.skip("symlinks are not available")
    outcome = run(sandbox, "cd inner")
    assert outcome.allowed
    assert outcome.cwd == "sub"


def test_pwd(sandbox):
    assert run(sandbox, "pwd").output == "/"
    assert run(sandbox, "pwd", cwd="sub/dir").output == "/sub/dir"


@pytest.mark.parametrize("cwd", ["gone", "../..", "/etc", ".mmchat", "notes.txt"])
def test_bad_cwd_falls_back_to_root(sandbox, cwd):
    outcome = run(sandbox, "pwd", cwd=cwd)
    assert (outcome.allowed, outcome.output, outcome.cwd) == (True, "/", "")


def test_cat_small_file(sandbox):
    outcome = run(sandbox, "cat hello.txt")
    assert (outcome.allowed, outcome.output) == (True, "héllo wörld")
    assert run(sandbox, "cat ../a.txt", cwd="sub/dir").output == "in sub"


def test_cat_cut_at_limit_keeps_multibyte_characters_whole(share):
    # "€" is three bytes, at offsets 9 to 11: a cut at 10 falls inside it.
    (share / "euro.txt").write_text("a" * 9 + "€" + "b" * 100, encoding="utf-8")
    outcome = run(CommandSandbox(share, cat_limit=10), "cat euro.txt")
    text, note = outcome.output.split("\n")
    assert text == "a" * 9
    assert "\ufffd" not in outcome.output
    assert note == "[… cut: showing the first 10 B of 112 B]"


def test_cat_cut_with_default_limit(share):
    (share / "big.txt").write_text("line of text\n" * 260_000)
    outcome = run(CommandSandbox(share), "cat big.txt")
    assert outcome.allowed
    assert outcome.output.endswith("\n[… cut: showing the first 65.5 kB of 3.4 MB]")
    assert len(outcome.output.encode()) < 64 * 1024 + 100


def test_cat_exactly_at_limit_is_not_cut(share):
    (share / "ten.txt").write_text("0123456789")
    assert run(CommandSandbox(share, cat_limit=10), "cat ten.txt").output == "0123456789"


@pytest.mark.parametrize("name", ["image.bin", "latin1.txt"])
def test_cat_binary_refused(sandbox, name):
    outcome = run(sandbox, f"cat {name}")
    assert (outcome.allowed, outcome.output) == (
        True,
        f"cat: {name} is not a text file",
    )


def test_cat_folder_and_missing_file(sandbox):
    assert run(sandbox, "cat sub").output == "cat: sub is a folder"
    assert run(sandbox, "cat nope.txt").output == "cat: no such file or folder: nope.txt"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_cat_fifo_refused_without_blocking(sandbox, share):
    os.mkfifo(share / "pipe")
    assert run(sandbox, "cat pipe").output == "cat: pipe is not a regular file"


def test_cat_etc_passwd_reads_share_root_not_host(sandbox):
    outcome = run(sandbox, "cat /etc/passwd")
    assert outcome.output == "cat: no such file or folder: /etc/passwd"
    assert "root:" not in outcome.output


def test_echo(sandbox):
    assert run(sandbox, "echo").output == ""
    assert run(sandbox, "echo  hello   'big  world' \"again\"").output == "hello big  world again"


def test_date_uses_clock(sandbox):
    assert run(sandbox, "date").output == "Sat Nov 21 23:54:00 2026"


def test_date_without_clock_is_now(share):
    output = CommandSandbox(share).run("date").output
    assert output.endswith(str(datetime.datetime.now().year))


def test_help(sandbox):
    outcome = run(sandbox, "help")
    assert outcome.output == HELP_TEXT
    for name in ["ls", "cd", "pwd", "cat", "echo", "date", "help"]:
        assert any(line.startswith(name + " ") for line in HELP_TEXT.splitlines())


@pytest.mark.parametrize(
    ("line", "usage"),
    [
        ("cat", "Usage: cat FILE"),
        ("cat a b", "Usage: cat FILE"),
        ("ls a b", "Usage: ls [PATH]"),
        ("cd a b", "Usage: cd [FOLDER]"),
        ("pwd x", "Usage: pwd"),
        ("date x", "Usage: date"),
    ],
)
def test_wrong_argument_count_gives_usage(sandbox, line, usage):
    outcome = run(sandbox, line, cwd="sub")
    assert (outcome.allowed, outcome.output, outcome.cwd) == (True, usage, "sub")


def test_os_error_becomes_a_sentence(sandbox, monkeypatch):
    def refuse(path):
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(commands.os, "scandir", refuse)
    outcome = run(sandbox, "ls sub")
    assert (outcome.allowed, outcome.output) == (
        True,
        "ls failed on the host: Permission denied.",
    )


# -- everything else is refused ------------------------------------------------

HOSTILE = [
    ("rm x", ""),
    ("sudo ls", ""),
    ("sh", ""),
    ("bash -c ls", ""),
    ("python -c 1", ""),
    ("mv notes.txt x", ""),
    ("cp notes.txt x", ""),
    ("chmod 777 notes.txt", ""),
    ("wget http://example.com/x", ""),
    ("curl http://example.com/x", ""),
    ("frobnicate", ""),
    ("LS", ""),
    ("Cat notes.txt", ""),
    ("ls; rm x", ""),
    ("ls | cat", ""),
    ("ls && rm x", ""),
    ("echo $(whoami)", ""),
    ("echo `id`", ""),
    ("echo ${HOME}", ""),
    ("echo hi > x", ""),
    ("cat < notes.txt", ""),
    ("ls\nrm x", ""),
    ("ls\rrm x", ""),
    ("cat notes.txt\0", ""),
    ("echo 'unbalanced", ""),
    ('echo "unbalanced', ""),
    ("", ""),
    ("cat \ud800", ""),
    ("   ", ""),
    ("cat ../../etc/passwd", ""),
    ("cat /../etc/passwd", ""),
    ("cat ~/../outside/secret.txt", ""),
    ("cd ..", ""),
    ("cd ../..", "sub"),
    ("ls ..", ""),
    ("ls sub/../..", ""),
    ("cat ../../outside/secret.txt", "sub"),
    ("cat link.txt", ""),
    ("cd linkdir", ""),
    ("ls linkdir", ""),
    ("cat linkdir/secret.txt", ""),
    ("cat .mmchat/db", ""),
    ("cat .MMCHAT/db", ""),
    ("cat /.mmchat/db", "sub"),
    ("cat ../.mmchat/db", "sub"),
    ("ls .mmchat", ""),
    ("cd .mmchat", ""),
    ("ls .mmchat/nothing", ""),
]


@pytest.mark.parametrize(("line", "cwd"), HOSTILE)
def test_hostile_input_refused(sandbox, share, line, cwd):
    if "link" in line and not (share / "link.txt").is_symlink():
        pytest.skip("symlinks are not available")
    before = sorted(share.rglob("*"))
    outcome = run(sandbox, line, cwd)
    assert outcome.allowed is False
    assert outcome.cwd == cwd
    assert "private host data" not in outcome.output
    assert "root:" not in outcome.output
    assert sorted(share.rglob("*")) == before  # nothing created, moved or removed


def test_refusal_message_names_the_command(sandbox):
    assert run(sandbox, "  rm x ").output == "No privileges to run the command: rm x"
    assert run(sandbox, "ls; rm x").output == "No privileges to run the command: ls; rm x"
    assert run(sandbox, "ls\0").output == "No privileges to run the command: ls\\x00"


def test_escape_message_is_a_sentence(sandbox):
    outcome = run(sandbox, "cat ../../etc/passwd")
    assert outcome.output == "Not allowed outside the shared folder: ../../etc/passwd"


def test_hidden_folder_looks_missing(sandbox):
    assert run(sandbox, "ls .mmchat").output == "ls: no such file or folder: .mmchat"
    assert run(sandbox, "cat .mmchat/db").output == "cat: no such file or folder: .mmchat/db"


def test_echo_redirect_creates_no_file(sandbox, share):
    run(sandbox, "echo hi > x")
    assert not (share / "x").exists()
    assert not pathlib.Path("x").exists()


def test_no_output_contains_host_path(sandbox, share, tmp_path):
    lines = [
        "ls",
        "ls sub",
        "cd sub",
        "pwd",
        "cat hello.txt",
        "cat ../../x",
        "cd ..",
        "help",
    ]
    lines += [line for line, _ in HOSTILE]
    for line in lines:
        assert str(tmp_path) not in sandbox.run(line).output


# -- limits ----------------------------------------------------------------------


def test_ls_of_a_huge_folder_lists_the_first_entries_and_says_how_many_more(tmp_path):
    big = tmp_path / "big"
    big.mkdir()
    (big / "sub").mkdir()
    for i in range(commands.MAX_LISTED + 1500):
        (big / f"f{i:05d}.txt").touch()
    outcome = CommandSandbox(big).run("ls")
    lines = outcome.output.splitlines()
    assert lines[0] == "sub/" and lines[1].startswith("f00000.txt")  # folders first, then names in order
    assert len(lines) == commands.MAX_LISTED + 1
    assert lines[-1] == "… and 1,501 more"  # 1,500 files and the folder make 2,501 entries, 1,000 shown


def test_ls_that_takes_too_long_says_what_it_saw(tmp_path, monkeypatch):
    big = tmp_path / "big"
    big.mkdir()
    for i in range(3000):
        (big / f"f{i}").touch()
    ticks = iter(range(10**6))
    monkeypatch.setattr(commands.time, "monotonic", lambda: float(next(ticks)))  # every look at the clock: 1 s
    outcome = CommandSandbox(big, time_limit=0.5).run("ls")
    assert outcome.output.endswith("… and more: the folder is too big to read in 0.5 seconds")
    assert 1000 <= len(outcome.output.splitlines()) - 1 <= commands.MAX_LISTED


def test_cat_of_a_huge_file_says_it_was_cut(share):
    (share / "huge.txt").write_text("y" * (10 * 1024 * 1024))
    outcome = CommandSandbox(share).run("cat huge.txt")
    assert len(outcome.output) < 70 * 1024
    assert outcome.output.endswith("[… cut: showing the first 65.5 kB of 10.5 MB]")
