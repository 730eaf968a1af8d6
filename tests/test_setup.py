"""mmchat-setup, the README's two commands: what it finds missing, what it installs, and how it asks.

Each test runs the real script with a PATH of its own: a folder holding the few tools the
script uses, this Python, and fakes for `id`, `apt-get`, `apt-cache` and `sudo` that write
down how they were called.  Leaving `make`, `Xvfb` and `xauth` out of that folder makes them
"not installed", so the tests see what a fresh machine would see without installing anything.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_e2e import ROOT

SCRIPT = ROOT / "mmchat-setup"
TOOLS = ("sh", "basename", "cut", "head", "find", "dirname", "cat", "env")

pytestmark = pytest.mark.skipif(shutil.which("sh") is None, reason="mmchat-setup is a POSIX shell script")


class FakeSystem:
    """A bin folder standing in for a Debian/Ubuntu machine that lacks make, Xvfb and xauth."""

    def __init__(self, base: Path) -> None:
        self.bin = base / "bin"
        self.bin.mkdir()
        self.calls = base / "calls.log"
        self.calls.touch()
        for tool in TOOLS:
            found = shutil.which(tool)
            assert found, f"the tests need {tool}"
            (self.bin / tool).symlink_to(found)
        self.script("python3", f'exec "{sys.executable}" "$@"')
        self.uid(0)

    def script(self, name: str, body: str) -> None:
        path = self.bin / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o755)

    def uid(self, uid: int) -> None:
        self.script("id", f"echo {uid}")

    def logging(self, name: str, then: str = "exit 0") -> None:
        """A fake command that notes its arguments (and says so on stderr) before `then`."""
        self.script(name, f'echo "{name} $*" >> "{self.calls}"\necho "[{name} ran]" >&2\n{then}')

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["sh", str(SCRIPT), *args],
            env={"PATH": str(self.bin), "HOME": str(self.bin.parent)},
            executable=shutil.which("sh"),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def logged(self) -> list[str]:
        return self.calls.read_text().splitlines()


@pytest.fixture
def system(tmp_path: Path) -> FakeSystem:
    return FakeSystem(tmp_path)


def test_check_names_each_missing_package_and_why(system):
    result = system.run("check", "test")
    assert result.returncode == 1, result.stderr
    assert "mmchat-setup: 'test' needs these packages, which are not installed:" in result.stderr
    assert "    make: make, which runs the build steps in the Makefile" in result.stderr
    assert "    xvfb: a virtual display for the window tests" in result.stderr
    assert "    xauth: the virtual display's access key" in result.stderr
    assert "    binutils: objdump and strip, which PyInstaller runs on the libraries" in result.stderr
    assert result.stdout == ""


def test_hosting_headless_needs_no_virtual_display(system):
    result = system.run("check", "run")
    assert "xvfb" not in result.stderr and "make:" in result.stderr


def test_without_apt_get_it_says_so_and_installs_nothing(system):
    result = system.run("test")
    assert result.returncode == 1
    assert "This system has no apt-get: install them with its own package manager" in result.stderr


def test_a_user_without_sudo_is_told_which_packages_to_ask_for(system):
    system.uid(1000)
    system.logging("apt-get")
    result = system.run("test")
    assert result.returncode == 1
    assert "mmchat-setup: mmchat needs these packages, which are not installed:" in result.stderr
    assert re.search(
        r"You are not root and there is no sudo here: ask an administrator to run "
        r"'apt-get install make xvfb xauth[^']*' as root, then run \./mmchat-setup test again\.",
        result.stderr,
    ), result.stderr
    assert system.logged() == [], "nothing may be installed without root"


def test_root_installs_in_one_apt_get_run_after_saying_what_and_why(system):
    system.logging("apt-get")
    result = system.run("test")
    calls = system.logged()
    assert calls[0] == "apt-get update -qq"
    assert calls[1].startswith("apt-get install -y -qq make xvfb xauth")
    assert len(calls) == 2
    announced = result.stderr.index("installing with apt-get, because mmchat needs:")
    assert announced < result.stderr.index("[apt-get ran]"), "say what is installed before installing it"
    # The fake installed nothing, so the second look still finds them missing, and says so.
    assert "Still missing after installing:" in result.stderr
    assert result.returncode == 1


def test_a_user_with_sudo_installs_through_sudo(system):
    system.uid(1000)
    system.logging("apt-get")
    system.logging("sudo", 'exec "$@"')
    result = system.run("test")
    assert "(sudo may ask for your password)" in result.stderr
    calls = system.logged()
    assert calls[0] == "sudo apt-get update -qq"
    assert calls[2].startswith("sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq make xvfb xauth")
    assert calls[3].startswith("apt-get install -y -qq make")


def test_a_failed_install_says_what_to_run_by_hand(system):
    system.logging("apt-get", "exit 100")
    result = system.run("test")
    assert result.returncode == 1
    assert re.search(
        r"Could not install make xvfb xauth.* with apt-get \(see above\)\. Install them as root", result.stderr
    )


def test_ubuntu_22_04_gets_python3_11_from_its_packages(system):
    # python3 is 3.10 there; apt knows python3.11 (universe), and its venv and Tk packages.
    system.script("python3", 'case "$1" in --version) echo "Python 3.10.12" ;; *) exit 1 ;; esac')
    system.script("apt-cache", 'case "$2" in python3.11|python3.11-tk) exit 0 ;; *) exit 1 ;; esac')
    result = system.run("check", "test")
    assert result.returncode == 1
    assert "    python3.11: Python 3.11 (this system's python3 is 3.10.12; mmchat needs 3.11 or newer)" in result.stderr
    assert "    python3.11-venv: Python's venv module" in result.stderr
    assert "    python3.11-tk: Tk, for the windows the tests open" in result.stderr
    # Its shared library's name is only known once that Python is there (the second round).
    assert "libpython" not in result.stderr


def test_what_the_first_round_installs_can_need_a_second_round(system, tmp_path):
    # A fake apt-get that "installs" by copying commands from a pool: python3.11 (whose shared
    # library is missing), make, Xvfb, xauth and objdump.
    pool = tmp_path / "pool"
    pool.mkdir()
    scripts = {
        "python3.11": f'case "$*" in *INSTSONAME*) exit 1 ;; esac\nexec "{sys.executable}" "$@"',
        "make": "exit 0",
        "xvfb": "exit 0",
        "xauth": "exit 0",
        "binutils": "exit 0",
    }
    for name, body in scripts.items():
        (pool / name).write_text(f"#!/bin/sh\n{body}\n")
        (pool / name).chmod(0o755)
    system.script("python3", 'case "$1" in --version) echo "Python 3.10.12" ;; *) exit 1 ;; esac')
    system.script("apt-cache", 'case "$2" in python3.11|libpython3.11) exit 0 ;; *) exit 1 ;; esac')
    system.logging(
        "apt-get",
        f'for p in "$@"; do [ ! -e "{pool}/$p" ] || {shutil.which("cp")} "{pool}/$p" "{system.bin}/$p"; done\n'
        f'[ ! -e "{system.bin}/xvfb" ] || {shutil.which("mv")} "{system.bin}/xvfb" "{system.bin}/Xvfb"\n'
        f'[ ! -e "{system.bin}/binutils" ] || {shutil.which("mv")} "{system.bin}/binutils" "{system.bin}/objdump"',
    )
    result = system.run("test")
    installs = [call for call in system.logged() if call.startswith("apt-get install")]
    assert installs[0].startswith("apt-get install -y -qq python3.11 python3.11-venv make python3-tk xvfb xauth")
    assert installs[1:] == ["apt-get install -y -qq libpython3.11"], result.stderr
    assert result.returncode == 1, "the fake's python3.11 still has no shared library"
    assert "Still missing after installing:\n    libpython3.11: Python's shared library" in result.stderr


def test_too_old_a_python_and_none_in_the_packages_is_one_clear_sentence(system):
    system.script("python3", 'case "$1" in --version) echo "Python 3.9.2" ;; *) exit 1 ;; esac')
    result = system.run("check", "test")
    assert result.returncode == 1
    assert "mmchat needs Python 3.11 or newer, and this system has Python 3.9.2 and no newer one" in result.stderr
    assert "PYTHON=/path/to/python3.11 ./mmchat-setup check" in result.stderr


def test_unknown_job_prints_usage(system):
    result = system.run("frobnicate")
    assert result.returncode == 2
    assert result.stderr.startswith("Usage: ./mmchat-setup run [HOST OPTIONS]")


def nothing_missing_here() -> bool:
    check = subprocess.run(["sh", str(SCRIPT), "check", "test"], capture_output=True, timeout=60)
    return check.returncode == 0 and (ROOT / ".venv" / ".installed").exists()


@pytest.mark.slow
def test_ci_counts_a_run_without_tests_as_red():
    # Only where nothing would be installed: this runs the real script, without fakes.
    if not nothing_missing_here():
        pytest.skip("mmchat-setup would install packages here first")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTEST_", "DISPLAY"))}
    result = subprocess.run(
        [
            "sh",
            str(ROOT / ".ci" / "run"),
            "tests/test_files.py",
            "-k",
            "no_such_test_anywhere",
            "-p",
            "no:cacheprovider",
        ],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 5, result.stdout + result.stderr
    assert ".ci/run: pytest ran no tests (exit status 5); that is a failure." in result.stderr
