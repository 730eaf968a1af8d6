"""The one-time code window: shown from memory, gone after five seconds, timers cancelled."""

from __future__ import annotations

import time
import tkinter as tk
from pathlib import Path

import pytest

from gui import qr_window
from gui.chat_window import ChatWindow
from gui.qr_window import QRWindow
from mmchat.protocol import QRImage
from mmchat.qr import render_png
from mmchat.server import ChatServer
from tests import gui_helpers
from tests.gui_fakes import connected_window
from tests.gui_helpers import pump_for, pump_until, walk

tk_root = gui_helpers.tk_root  # the fixtures, used by name below
tk_errors = gui_helpers.tk_errors


def _after_ids(root: tk.Tk) -> set[str]:
    return set(root.tk.splitlist(root.tk.call("after", "info")))


def test_typed_get_qrcode_opens_the_window_for_five_seconds(tk_root, tk_errors, tmp_path: Path, monkeypatch) -> None:
    server = ChatServer(tmp_path / "share", "127.0.0.1", 0)
    server.start()
    writes: list[str] = []
    real_open = open
    monkeypatch.setattr("builtins.open", lambda f, *a, **k: writes.append(str(f)) or real_open(f, *a, **k))
    try:
        window = ChatWindow(
            tk.Toplevel(tk_root), *server.address, name="alice", downloads=tmp_path / "dl",
            fingerprint=server.fingerprint,
        )  # fmt: skip
        pump_until(tk_root, lambda: window.client is not None, what="connected")
        window.input.insert("1.0", "!get QRcode")
        window.send_typed()
        qr = pump_until(tk_root, lambda: window.qr_window, what="the QR window")
        shown = time.monotonic()
        assert qr.exists()
        assert isinstance(qr.top, tk.Toplevel)
        assert any(str(qr.image) in str(w.cget("image")) for w in walk(qr.top) if "image" in w.keys())
        assert qr.image.width() >= 100
        assert qr.code.startswith("MMC-")
        assert "closes in 5 s" in qr.countdown["text"]
        assert "A one-time code is shown" in window.view.content()
        assert qr.code not in window.view.content()  # the code does not stay behind in the chat
        pump_for(tk_root, 1.3)
        assert qr.exists() and "closes in 4 s" in qr.countdown["text"]  # the seconds left count down
        pump_until(tk_root, lambda: not qr.exists(), timeout=8, what="the QR window to close itself")
        assert 4.5 <= time.monotonic() - shown <= 6.5
        assert qr.after_ids() == []
        assert not [w for w in writes if "png" in w.lower()]  # the picture never touched the disk
        window.close()
    finally:
        server.stop()


def test_closing_early_cancels_the_timers(tk_root, tk_errors) -> None:
    before = _after_ids(tk_root)
    qr = QRWindow(tk_root, render_png("MMC-TESTCODE23"), "MMC-TESTCODE23", 60)
    ids = qr.after_ids()
    assert len(ids) == 2 and set(ids) <= _after_ids(tk_root)
    qr.close()
    assert not qr.exists()
    assert _after_ids(tk_root) - before == set()
    pump_for(tk_root, 0.3)  # nothing fires against the dead window (tk_errors checks)


def test_destroying_the_toplevel_also_cancels_the_timers(tk_root, tk_errors) -> None:
    before = _after_ids(tk_root)
    qr = QRWindow(tk_root, render_png("MMC-TESTCODE23"), "MMC-TESTCODE23", 60, seconds=0.5)
    tk_root.update()
    qr.top.destroy()  # e.g. the chat window closing underneath it
    assert _after_ids(tk_root) - before == set()
    pump_for(tk_root, 0.7)


def test_the_close_button_closes_it(tk_root, tk_errors) -> None:
    qr = QRWindow(tk_root, render_png("MMC-TESTCODE23"), "MMC-TESTCODE23", 60)
    [button] = [w for w in walk(qr.top) if w.winfo_class() == "TButton"]
    button.invoke()
    assert not qr.exists()


def test_a_picture_that_is_not_a_png_opens_nothing(tk_root, tk_errors) -> None:
    before = set(tk_root.winfo_children())
    with pytest.raises(ValueError, match="cannot be shown"):
        QRWindow(tk_root, b"not a png", "MMC-X", 60)
    assert set(tk_root.winfo_children()) == before
    with pytest.raises(ValueError):
        qr_window.decode_png(b"")


def test_closing_the_chat_window_closes_its_qr_window_and_timers(tk_root, tk_errors, tmp_path: Path) -> None:
    window, _ = connected_window(tk_root, tmp_path)
    before = _after_ids(tk_root)
    window.events.handle(QRImage("MMC-TESTCODE23", 60, render_png("MMC-TESTCODE23"), ref=5))
    qr = window.qr_window
    assert qr is not None and qr.exists() and len(_after_ids(tk_root) - before) == 2
    window.events.handle(QRImage("MMC-OTHERCODE4", 60, render_png("MMC-OTHERCODE4"), ref=6))
    assert not qr.exists()  # a new code replaces the old window, timers and all
    newer = window.qr_window
    assert newer is not None and newer.code == "MMC-OTHERCODE4"
    window.close()
    assert not newer.exists() and newer.after_ids() == []
    pump_for(tk_root, 0.3)
    assert not (set(qr.after_ids()) | set(newer.after_ids()))


def test_a_bad_qr_picture_from_the_host_is_a_sentence(tk_root, tk_errors, tmp_path: Path) -> None:
    window, _ = connected_window(tk_root, tmp_path)
    window.events.handle(QRImage("MMC-X", 60, b"not a png", ref=5))
    assert window.qr_window is None
    assert "The host sent a QR image that cannot be shown." in window.view.content()
    window.close()
