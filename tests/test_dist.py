"""The one-file executable: build dist/mmchat with `make dist`, then use it as a person would.

The build happens once per test session (`binary`).  `make dist` itself decides
whether anything needs doing: on a clean clone it builds from scratch, and with
an up-to-date dist/mmchat (newer than every source file, icon and the spec) it
returns at once.  Every process runs in a sandbox of its own (HOME, config
folder, working folder, and TMPDIR, where the executable unpacks itself), so a
test can see everything the executable writes.  The processes are driven with
the same line-collecting `Process` as tests/test_e2e.py.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from mmchat import __version__
from mmchat.files import human_size
from tests.test_e2e import ROOT, Process, _sha256, leave_and_stop, share_and_fetch

BUILD_SECONDS = 600  # from scratch it takes about a minute here; CI machines can be slower
BINARY = ROOT / "dist" / "mmchat"
ARCHIVE_VIEWER = ROOT / ".venv-dist" / "bin" / "pyi-archive_viewer"

pytestmark = [pytest.mark.dist, pytest.mark.slow, pytest.mark.timeout(BUILD_SECONDS + 120)]


@pytest.fixture(scope="session")
def binary() -> Path:
    """dist/mmchat, built by `make dist` (which does nothing when the binary is up to date)."""
    if shutil.which("make") is None:
        pytest.fail("The executable is built with make, which is not installed (sudo apt-get install make).")
    (ROOT / "build").mkdir(exist_ok=True)
    # Two test runs in one work tree must not run PyInstaller on the same build/ and dist/ at once.
    with open(ROOT / "build" / ".make-dist.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            build = subprocess.run(
                ["make", "--no-print-directory", "dist"],
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=BUILD_SECONDS,
            )
        except subprocess.TimeoutExpired:
            pytest.fail(f"make dist took more than {BUILD_SECONDS} s")
    assert build.returncode == 0, f"make dist failed:\n{build.stdout}\n{build.stderr}"
    assert BINARY.is_file() and os.access(BINARY, os.X_OK), f"make dist made no {BINARY}"
    return BINARY


def listing(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under `folder` with its size and modification time."""
    if not folder.exists():
        return {}
    return {
        str(path.relative_to(folder)): (path.stat().st_size if path.is_file() else -1, path.stat().st_mtime_ns)
        for path in folder.rglob("*")
    }


class Binary(Process):
    """One dist/mmchat process in its own sandbox, its output lines collected as in test_e2e."""

    def __init__(self, args: list[str], cwd: Path, unpack_root: Path, env: dict[str, str], stdin=subprocess.PIPE):
        self.unpack_root = unpack_root  # the executable unpacks into TMPDIR/_MEIxxxxxx
        self.unpack_root.mkdir(parents=True)
        super().__init__(args, stdin, command=[str(BINARY)], cwd=cwd, env={**env, "TMPDIR": str(unpack_root)})

    def unpacked(self) -> dict[str, tuple[int, int]]:
        """What the running executable unpacked (its sys._MEIPASS), with sizes and times."""
        folders = list(self.unpack_root.glob("_MEI*"))
        assert len(folders) == 1, f"expected one unpack folder in {self.unpack_root}, found {folders}"
        return listing(folders[0])


class Sandbox:
    """Starts dist/mmchat processes with their own HOME, config folder, working folder and TMPDIR."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.home = base / "home"
        self.config = base / "config"
        self.work = base / "work"
        for folder in (self.home, self.work):
            folder.mkdir()
        self.env = {key: value for key, value in os.environ.items() if not key.startswith(("XDG_", "MMCHAT_"))}
        self.env.update(
            HOME=str(self.home),
            MMCHAT_CONFIG_DIR=str(self.config),
            XDG_CACHE_HOME=str(base / "cache"),  # fontconfig may cache there; not mmchat's business
            PYTHONIOENCODING="utf-8",
        )
        self.started: list[Binary] = []

    def start(self, *args: str, stdin=subprocess.PIPE) -> Binary:
        unpack_root = self.base / "tmp" / str(len(self.started))
        process = Binary(list(args), self.work, unpack_root, self.env, stdin=stdin)
        self.started.append(process)
        return process

    def assert_cleaned_up(self) -> None:
        """Every executable that ended removed its unpack folder and left nothing else there."""
        for process in self.started:
            if process.proc.poll() is not None:
                leftovers = sorted(p.name for p in process.unpack_root.iterdir())
                assert leftovers == [], f"left in TMPDIR by mmchat {' '.join(process.args)}: {leftovers}"


@pytest.fixture
def sandbox(binary: Path, tmp_path: Path) -> Iterator[Sandbox]:
    """A Sandbox; the test fails if anything was written next to the executable meanwhile."""
    beside = listing(binary.parent)
    box = Sandbox(tmp_path)
    try:
        yield box
    finally:
        for process in box.started:
            process.kill()
    assert listing(binary.parent) == beside, "something was written next to the executable"


def test_bundle_holds_icons_and_tk_image_glue(binary):
    contents = subprocess.run(
        [str(ARCHIVE_VIEWER), "--recursive", "--brief", str(binary)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.split()
    for size in (16, 32, 48, 64, 128, 256):
        assert f"icons/mmchat-{size}.png" in contents
    assert "PIL._tkinter_finder" in contents, "ImageTk would fail: invalid command name PyImagingPhoto"
    assert "mmchat/data/confusables.txt" in contents, "look-alike names could not be compared"
    for module in ("gui.app", "gui.chat_window", "gui.qr_window", "mmchat.cli", "mmchat.server"):
        assert module in contents
    # Audio plays with nothing installed: miniaudio, its compiled decoders and back ends, and cffi under it.
    for module in ("miniaudio", "mmchat.audio", "gui.audio_player"):
        assert module in contents, module
    for compiled in ("_miniaudio", "_cffi_backend"):
        assert any(name.startswith(compiled) for name in contents), f"{compiled} is not in the bundle"
    for unwanted in ("pytest", "hypothesis", "zxingcpp"):
        assert not any(name == unwanted or name.startswith(unwanted + ".") for name in contents), unwanted


def test_version(sandbox):
    process = sandbox.start("--version", stdin=subprocess.DEVNULL)
    assert process.wait_exit() == 0, process.dump()
    assert process.lines == [f"mmchat {__version__}"]
    sandbox.assert_cleaned_up()


def test_host_and_two_members_chat_share_and_download(sandbox, tmp_path):
    share = tmp_path / "share"
    host = sandbox.start("--host", "--headless", "--bind", "127.0.0.1", "--port", "0", "--share", str(share))
    index, found = host.wait_for(r"^Server listening at 127\.0\.0\.1:(\d+)$")
    assert index == 0, "the listening line must come first\n" + host.dump()
    port = int(found.group(1))
    unpacked_at_start = host.unpacked()

    original = tmp_path / "film.bin"
    original.write_bytes(os.urandom(4_000_037))
    size = re.escape(human_size(4_000_037))

    def join(name: str) -> Binary:
        member = sandbox.start(
            "--join", f"127.0.0.1:{port}", "--cli", "--name", name, "--downloads", str(tmp_path / f"dl_{name}")
        )
        member.wait_for(rf"^Connected to 127\.0\.0\.1:{port} as {name}\.")
        return member

    bob = join("bob")
    alice = join("alice")
    bob.wait_for(r"^alice has joined the chat$")

    alice.send("hello from the one-file build 😎")
    bob.wait_for(r"^\[alice\] hello from the one-file build 😎$")
    bob.send("hi alice")
    alice.wait_for(r"^\[bob\] hi alice$")
    # Unicode's look-alike table travels inside: a Cyrillic "аlice" joins as a free variant.
    look_alike = sandbox.start(
        "--join", f"127.0.0.1:{port}", "--cli", "--name", "\u0430lice", "--downloads", str(tmp_path / "dl_look")
    )
    look_alike.wait_for(rf"^Connected to 127\.0\.0\.1:{port} as \u0430lice-2\.")
    look_alike.send("!exit")
    assert look_alike.wait_exit() == 0, look_alike.dump()

    share_and_fetch(alice, bob, original, size, tmp_path / "dl_bob")
    assert _sha256(share / "film.bin") == _sha256(original)

    assert host.unpacked() == unpacked_at_start, "the running executable wrote into its unpack folder"

    leave_and_stop(host, alice, bob)

    log = "\n".join(host.lines)
    assert re.search(rf"^File received: film\.bin \({size}\) from alice$", log, re.MULTILINE), host.dump()
    assert re.search(rf"^File sent: film\.bin \({size}\) to bob$", log, re.MULTILINE), host.dump()
    for process in (host, alice, bob):
        assert "Traceback" not in process.dump()
    # Host data went to the share folder; members wrote only their downloads; nobody wrote settings.
    assert (share / ".mmchat" / "mmchat.db").is_file()
    assert sorted(p.name for p in (tmp_path / "dl_bob").iterdir()) == ["film.bin"]
    assert list(sandbox.work.iterdir()) == [], "something was written to the working folder"
    # The terminal members remember the host's key they trusted on first use (known_hosts), nothing else.
    written = sorted(p.name for p in sandbox.config.rglob("*") if p.is_file())
    assert written == ["known_hosts"], written
    assert f"127.0.0.1:{port}" in (sandbox.config / "known_hosts").read_text()
    sandbox.assert_cleaned_up()


def test_selftest_opens_every_window(sandbox):
    assert os.environ.get("DISPLAY"), "pytest-xvfb should have set DISPLAY"
    process = sandbox.start("--selftest", stdin=subprocess.DEVNULL)
    code = process.wait_exit(timeout=60)
    assert code == 0, process.dump()
    assert process.lines[-1] == "selftest OK", process.dump()
    # The bundled miniaudio wrote, measured, decoded and played (on its null back end) a short wav.
    assert "selftest: audio OK (miniaudio 1.71 decodes and plays)" in process.lines, process.dump()
    assert any(line.startswith("selftest: TLS OK (TLSv1.3") for line in process.lines), process.dump()
    assert "Traceback" not in process.dump()
    assert list(sandbox.work.iterdir()) == [], "something was written to the working folder"
    # Whatever the windows remember goes to the config folder (MMCHAT_CONFIG_DIR) and nowhere else.
    if sandbox.config.exists():  # settings, and the keys of the hosts its windows joined
        written = [path for path in sandbox.config.rglob("*") if path.is_file()]
        assert all(path.suffix == ".json" or path.name == "known_hosts" for path in written), written
    assert list(sandbox.home.iterdir()) == [], f"written to HOME: {list(sandbox.home.iterdir())}"
    sandbox.assert_cleaned_up()


def test_windows_that_cannot_open_say_why_before_the_terminal_takes_over(sandbox):
    # A display that is named but not there; on a minimal system the same line names libxcb1 or
    # fontconfig-config instead (mmchat/display.py, tested with those errors in test_display.py).
    sandbox.env["DISPLAY"] = ":9999"
    process = sandbox.start("--join", "127.0.0.1:1", "--name", "nobody", stdin=subprocess.DEVNULL)
    assert process.wait_exit() == 1, process.dump()
    assert process.err_lines[0].startswith("mmchat: Tk could not connect to the display :9999:"), process.dump()
    assert "No display for the chat window: using terminal mode." in process.err_lines
    assert "Traceback" not in process.dump()
    sandbox.assert_cleaned_up()
