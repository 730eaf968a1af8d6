"""The system notifiers' argument lists (none is run here but a harmless Python), and running them."""

from __future__ import annotations

import base64
import re
import sys
from pathlib import Path

from gui import notifier
from gui.notifier import NOTIFY_BODY_CHARS, find_notifier, notify_command

HOSTILE = "--help <b>me</b> & you' \" ; $(rm -rf ~) `x` end run"


def test_notify_send_never_reads_text_as_options_or_markup() -> None:
    argv = notify_command("notify-send", "bob in mmchat", "--help <b>me</b> & you")
    assert argv[2] == "--" and argv[-1] == "--help &lt;b&gt;me&lt;/b&gt; &amp; you"
    long = notify_command("/usr/bin/notify-send", "t", "x" * 1000)[-1]
    assert len(long) == NOTIFY_BODY_CHARS and long.endswith("…")


def test_osascript_gets_the_texts_as_arguments_never_as_script() -> None:
    argv = notify_command("/usr/bin/osascript", "bob in mmchat", HOSTILE)
    assert argv[-2:] == ["bob in mmchat", HOSTILE]
    script = " ".join(argv[1:-2])
    assert "bob" not in script and "rm -rf" not in script
    assert "display notification (item 2 of argv) with title (item 1 of argv)" in script


def test_powershell_gets_the_texts_base64_encoded_into_text_nodes() -> None:
    argv = notify_command(r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe", "bob 😎", HOSTILE)
    assert argv[1:4] == ["-NoProfile", "-NonInteractive", "-Command"]
    script = argv[4]
    assert "rm -rf" not in script and "bob" not in script  # the texts are not in the code
    encoded = re.findall(r"\(Text '([A-Za-z0-9+/=]*)'\)", script)
    assert [base64.b64decode(e).decode("utf-8") for e in encoded] == ["bob 😎", HOSTILE]
    assert "CreateTextNode" in script and notifier.POWERSHELL_APP_ID in script


def test_each_system_has_its_notifier() -> None:
    found = {"notify-send": "/usr/bin/notify-send", "osascript": "/usr/bin/osascript", "powershell": "ps.exe"}
    assert find_notifier("linux", found.get) == "/usr/bin/notify-send"
    assert find_notifier("darwin", found.get) == "/usr/bin/osascript"
    assert find_notifier("win32", found.get) == "ps.exe"
    assert find_notifier("freebsd14", found.get) == "/usr/bin/notify-send"
    assert find_notifier("linux", lambda name: None) is None  # then there are no notifications


def test_the_notifier_runs_without_a_shell_off_the_calling_thread(tmp_path: Path) -> None:
    out = tmp_path / "ran.txt"
    code = "import sys; open(sys.argv[1], 'w').write(sys.argv[2])"
    notifier.run_in_background([sys.executable, "-c", code, str(out), "$(not a shell) ; *"]).join(30)
    assert out.read_text() == "$(not a shell) ; *"
    notifier.run_in_background([str(tmp_path / "no-such-notifier")]).join(30)  # a missing program is no error
