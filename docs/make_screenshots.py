"""Regenerate docs/screenshots/*.png: real windows against a real host, on a virtual display.

Run from the project root: `python docs/make_screenshots.py` (or `make screenshots`).
It starts its own Xvfb (Debian package xvfb) unless DISPLAY is already set.
Traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import tkinter as tk
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import Image, ImageDraw, ImageGrab  # noqa: E402

from gui.admin_window import AdminWindow  # noqa: E402
from gui.app import new_root  # noqa: E402
from gui.chat_layout import MIN_HEIGHT, MIN_WIDTH  # noqa: E402
from gui.chat_window import ChatWindow  # noqa: E402
from gui.launcher import Launcher  # noqa: E402
from mmchat.server import ChatServer  # noqa: E402

OUT = ROOT / "docs" / "screenshots"


def pump(root: tk.Misc, seconds: float = 0.0, until=None, timeout: float = 30.0) -> None:
    """Run Tk's loop for `seconds`, or until `until()` is true."""
    deadline = time.monotonic() + (timeout if until else seconds)
    while time.monotonic() < deadline:
        root.update()
        if until and until():
            return
        time.sleep(0.01)
    if until:
        raise RuntimeError("the windows did not reach the expected state in time")


def grab(window: tk.Misc, name: str) -> None:
    """Save a PNG of one window (its frame on the virtual screen)."""
    window.update()
    x, y = window.winfo_rootx(), window.winfo_rooty()
    w, h = window.winfo_width(), window.winfo_height()
    image = ImageGrab.grab(bbox=(x, y, x + w, y + h), xdisplay=os.environ["DISPLAY"])
    OUT.mkdir(parents=True, exist_ok=True)
    image.save(OUT / name)
    print(f"wrote {OUT / name} ({w}x{h})")


def sample_picture(path: Path) -> None:
    img = Image.new("RGB", (800, 500), "#dbeafe")
    draw = ImageDraw.Draw(img)
    draw.ellipse((300, 170, 500, 370), fill="#fbbf24")  # the sun, half below the sea
    draw.rectangle((0, 330, 800, 500), fill="#1d4ed8")
    img.save(path)


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="mmchat-shots-"))
    os.environ["MMCHAT_CONFIG_DIR"] = str(tmp / "config")
    os.environ["MMCHAT_AUDIO_BACKEND"] = "null"  # voice messages and players work, silently
    server = ChatServer(tmp / "share", "127.0.0.1", 0)
    host, port = server.start()
    root = new_root("mmchat")
    root.withdraw()
    windows = {}
    try:
        # The admin window first, so its logs show everything that follows.
        admin_top = tk.Toplevel(root)
        admin_top.geometry("1040x680+60+60")
        AdminWindow(admin_top, server)
        for name in ("bob", "carol", "alice"):
            top = tk.Toplevel(root)
            windows[name] = ChatWindow(top, host, port, name=name, downloads=tmp / name, fingerprint=server.fingerprint)
            pump(root, until=lambda n=name: n in server.online())
        alice = windows["alice"]
        alice.master.geometry("1040x700+20+20")

        def say(who: str, text: str) -> None:
            windows[who].input.insert("1.0", text)
            windows[who].send_typed()
            pump(root, 0.2)

        say("bob", "Morning all! Did anyone get the slides from yesterday?")
        say("carol", "Yes, uploading them now 📎")
        say("alice", "Thanks Carol 🙌\nI'll review them after lunch.")
        sample_picture(tmp / "sunrise.png")
        windows["carol"].upload(tmp / "sunrise.png")
        pump(root, until=lambda: any(f.filename == "sunrise.png" for f in server.storage.list_files()))
        alice.preview("sunrise.png")
        pump(root, until=lambda: alice.view.text.image_names())
        say("bob", "Looks great 👍")
        voice = windows["bob"].media.voice  # a voice message, recorded with the microphone button
        pump(root, until=lambda: voice.available)
        voice.press()
        pump(root, 3.2)
        voice.press()
        pump(root, until=lambda: alice.media.players and alice.media.players[-1].player.duration > 0)
        big = tmp / "recording.mp4"
        with open(big, "wb") as f:
            f.truncate(4_000_000_000)  # sparse: a long transfer without using the disk
        transfer = alice.upload(big)
        pump(root, until=lambda: 0.15 * transfer.size < transfer.bytes_done)
        alice.input.insert("1.0", "Sending the recording too, it's big")
        alice.media.players[-1].toggle()  # bob's voice message playing, in place under his announcement
        pump(root, 1.2)
        grab(alice.master, "chat-window.png")

        # The smallest window the chat allows, after alice was away: an unread count in the title
        # and a "New messages" divider where she left off, the side panel narrower, the upload going on.
        alice.attention.went_away()
        say("bob", "@alice the slides are in the shared files, page 12 has the chart")
        say("carol", "Coffee in ten minutes? ☕")
        alice.master.geometry(f"{MIN_WIDTH}x{MIN_HEIGHT}")
        pump(root, 1.0)
        alice.view.scroll_to_end()
        pump(root, 0.3)
        grab(alice.master, "chat-window-small.png")
        transfer.cancel()
        pump(root, 0.5)
        alice.attention.came_back()
        alice.master.geometry("1040x700")

        admin_top.lift()
        windows["bob"].input.insert("1.0", "!cmd cat /etc/passwd")
        windows["bob"].send_typed()
        windows["carol"].input.insert("1.0", "!cmd rm -rf /")
        windows["carol"].send_typed()
        pump(root, 2.5)
        grab(admin_top, "admin-window.png")
        admin_top.destroy()

        launcher_top = tk.Toplevel(root)
        launcher_top.geometry("+20+20")
        Launcher(launcher_top)
        pump(root, 0.8)
        grab(launcher_top, "launcher.png")
        launcher_top.destroy()
        for window in windows.values():
            window.close()
    finally:
        root.destroy()
        server.stop()


if __name__ == "__main__":
    if not os.environ.get("DISPLAY"):
        from pyvirtualdisplay import Display

        with Display(backend="xvfb", size=(1280, 800), color_depth=24):
            main()
    else:
        main()
