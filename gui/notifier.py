"""Desktop notifications through the system's own notifier, on Linux, macOS and Windows.

How this works
--------------
No library is needed: each desktop has a program that shows a notification.
`find_notifier` picks it — `notify-send` (freedesktop: GNOME, KDE, Xfce...),
`osascript` on macOS, PowerShell's toast API on Windows — and
`notify_command` builds its argument list.  What a member wrote is never
read as an option, markup or code: notify-send gets it after `--` and
escaped (its servers may read markup), osascript gets it as a run argument
(`item 1 of argv`), never inside the AppleScript text, and PowerShell gets it
base64-encoded, decoded into a variable and added to the toast as an XML
text node.  `run_in_background` starts the program without a shell on a
thread that waits for it, so the Tk thread never waits and no child is left
unreaped (and on Windows no console window flashes up).
"""

from __future__ import annotations

import base64
import html
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import PureWindowsPath

from mmchat.describe import visible

__all__ = ["NOTIFY_BODY_CHARS", "find_notifier", "notify_command", "run_in_background"]

NOTIFY_BODY_CHARS = 200  # a notification shows the start of a message, not all of it
NOTIFIER_TIMEOUT_S = 10.0  # a notifier that hangs is left behind after this
# Windows shows toasts only for a registered application id; PowerShell's own is always there.
POWERSHELL_APP_ID = r"{1AC14E77-02E7-4E5D-B744-2EB1AE5198B7}\WindowsPowerShell\v1.0\powershell.exe"
_TOAST = """$ErrorActionPreference = 'Stop'
function Text([string]$b64) { [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($b64)) }
$null = [Windows.UI.Notifications.ToastNotificationManager, Windows.UI.Notifications, ContentType = WindowsRuntime]
$kind = [Windows.UI.Notifications.ToastTemplateType]::ToastText02
$xml = [Windows.UI.Notifications.ToastNotificationManager]::GetTemplateContent($kind)
$lines = $xml.GetElementsByTagName('text')
$null = $lines.Item(0).AppendChild($xml.CreateTextNode((Text '{title}')))
$null = $lines.Item(1).AppendChild($xml.CreateTextNode((Text '{body}')))
$toast = [Windows.UI.Notifications.ToastNotification]::new($xml)
[Windows.UI.Notifications.ToastNotificationManager]::CreateToastNotifier('{app}').Show($toast)
"""
_OSASCRIPT = ["-e", "on run argv", "-e", "display notification (item 2 of argv) with title (item 1 of argv)",
              "-e", "end run"]  # fmt: skip


def find_notifier(platform: str = sys.platform, which: Callable[[str], str | None] = shutil.which) -> str | None:
    """The program that shows notifications here, or None (then there are none)."""
    if platform == "darwin":
        return which("osascript")
    if platform.startswith("win"):
        return which("powershell") or which("pwsh")
    return which("notify-send")


def _shorten(body: str) -> str:
    shown = visible(body).replace("\n", " ")
    return shown[: NOTIFY_BODY_CHARS - 1] + "…" if len(shown) > NOTIFY_BODY_CHARS else shown


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")  # only A-Z a-z 0-9 + / =


def notify_command(program: str, title: str, body: str) -> list[str]:
    """The argument list that shows (title, body) with `program`; the texts are never read as code."""
    kind = PureWindowsPath(program).stem.lower()  # it reads both / and \ as separators
    title, body = visible(title), _shorten(body)
    if kind == "osascript":
        return [program, *_OSASCRIPT, title, body]
    if kind in ("powershell", "pwsh"):
        script = _TOAST.replace("{title}", _b64(title)).replace("{body}", _b64(body))
        script = script.replace("{app}", POWERSHELL_APP_ID)
        return [program, "-NoProfile", "-NonInteractive", "-Command", script]
    # notify-send: '--' so a text that starts with '-' is never an option; servers may read markup.
    return [program, "--app-name=mmchat", "--", title, html.escape(body, quote=False)]


def run_in_background(argv: Sequence[str]) -> threading.Thread:
    """Run a program without a shell on a thread that waits for it (never the Tk thread)."""

    def work() -> None:
        try:
            subprocess.run(
                list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                timeout=NOTIFIER_TIMEOUT_S, check=False, creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0),
            )  # fmt: skip
        except (OSError, subprocess.SubprocessError):
            pass  # no notification is no reason to disturb the chat

    thread = threading.Thread(target=work, name="mmchat-notify", daemon=True)
    thread.start()
    return thread
