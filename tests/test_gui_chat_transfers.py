"""ChatTransfers: sharing, downloading and previews in the chat window (fake client, no network)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from gui import chat_format
from gui.chat_transfers import DROPPED_AT_ONCE
from mmchat.client import Transfer, TransferFinished
from tests import gui_helpers
from tests.gui_fakes import connected_window
from tests.gui_helpers import pump_until

tk_root = gui_helpers.tk_root  # the fixtures, used by name below
tk_errors = gui_helpers.tk_errors


@pytest.fixture
def chat(tk_root, tmp_path):
    window, client = connected_window(tk_root, tmp_path)
    yield window, client
    window.close()


def _finish(t: Transfer, ok: bool = True, path: Path | None = None, error: str = "") -> Transfer:
    t.ok, t.path, t.error = ok, path, error
    t._done.set()
    return t


def test_attach_shares_the_picked_file_with_a_row(tk_root, tk_errors, chat, tmp_path, monkeypatch) -> None:
    window, client = chat
    source = tmp_path / "report.bin"
    source.write_bytes(b"x" * 100)
    monkeypatch.setattr(window, "_ask_open_path", lambda: str(source))
    window.attach_button.state(["!disabled"])
    window.attach_button.invoke()
    assert client.calls[-1] == ("send_file", source)
    [t] = window.transfers.rows
    assert t.direction == "upload"


def test_a_cancelled_dialog_does_nothing(tk_root, tk_errors, chat, monkeypatch) -> None:
    window, client = chat
    monkeypatch.setattr(window, "_ask_open_path", lambda: "")
    monkeypatch.setattr(window, "_ask_save_path", lambda name: "")
    window.attach()
    assert window.download("notes.txt") is None
    assert len(client.calls) == 2 and not window.transfers.rows


def test_a_missing_file_is_a_sentence(tk_root, tk_errors, chat, tmp_path) -> None:
    window, _ = chat
    assert window.upload(tmp_path / "nope.txt") is None
    assert f"No such file here: {tmp_path / 'nope.txt'}" in window.view.content()


def test_download_saves_where_the_person_chose(tk_root, tk_errors, chat, tmp_path, monkeypatch) -> None:
    window, client = chat
    target = tmp_path / "saved.txt"
    monkeypatch.setattr(window, "_ask_save_path", lambda name: str(target))
    t = window.download("notes.txt")
    assert client.calls[-1] == ("request_file", "notes.txt", target, None)
    window.events.handle(TransferFinished(_finish(t, path=target)))
    assert f"File received successfully: {target}" in window.view.content()
    assert window.transfers.rows[t].finished


def test_download_menu_without_a_choice_says_what_to_do(tk_root, tk_errors, chat) -> None:
    window, client = chat
    window.sharing.download_selected()
    assert "Choose a file in the Shared files list first" in window.view.content()
    assert len(client.calls) == 2


def test_preview_downloads_once_then_shows_the_copy(tk_root, tk_errors, chat, tmp_path) -> None:
    window, client = chat
    t = window.preview("sunset.png")
    folder = chat_format.preview_folder(window.downloads)
    assert client.calls[-1] == ("request_file", "sunset.png", None, folder)
    folder.mkdir(parents=True)
    copy = folder / "sunset.png"
    Image.new("RGB", (640, 480), "#ff8800").save(copy)
    window.events.handle(TransferFinished(_finish(t, path=copy)))
    assert "File received" not in window.view.content()  # a preview is not a download to report
    pump_until(tk_root, lambda: window.view.text.image_names(), what="the inline picture")
    calls = len(client.calls)
    assert window.preview("sunset.png") is None  # shown from the copy
    pump_until(tk_root, lambda: len(window.view.text.image_names()) == 2, what="the second picture")
    assert len(client.calls) == calls
    window.close()
    assert not copy.exists() and not folder.exists()  # preview copies go with the window


def test_removing_previews_never_touches_files_outside_the_preview_folder(tk_root, tk_errors, chat, tmp_path) -> None:
    window, _ = chat
    mine = tmp_path / "mine.png"
    mine.write_bytes(b"keep me")
    window.sharing.preview_paths["mine.png"] = mine
    window.sharing.remove_previews()
    assert mine.read_bytes() == b"keep me"


def test_a_shared_picture_is_shown_after_the_upload(tk_root, tk_errors, chat, tmp_path) -> None:
    window, _ = chat
    picture = tmp_path / "cat.png"
    Image.new("RGB", (50, 40), "#123456").save(picture)
    t = window.upload(picture)
    t.remote_name = "cat.png"
    window.events.handle(TransferFinished(_finish(t)))
    assert "File sent successfully: cat.png" in window.view.content()
    pump_until(tk_root, lambda: window.view.text.image_names(), what="the picture just shared")


def test_many_dropped_files_upload_a_few_at_a_time_and_all_in_turn(tk_root, tk_errors, chat, tmp_path) -> None:
    window, client = chat
    paths = [tmp_path / f"photo-{i}.jpg" for i in range(DROPPED_AT_ONCE + 3)]
    for path in paths:
        path.write_bytes(b"jpeg")

    def sent() -> list[Path]:
        return [call[1] for call in client.calls if call[0] == "send_file"]

    window.sharing.dropped(paths)
    assert sent() == paths[:DROPPED_AT_ONCE]  # in the order dropped, no more than that at once
    assert "3 more files wait their turn: each starts when an upload before it ends." in window.view.content()
    first = client.transfers[0]
    window.events.handle(TransferFinished(_finish(first, ok=False, error="The host has no room")))
    assert sent() == paths[: DROPPED_AT_ONCE + 1]  # one ended (even badly): the next starts
    client.connected = False  # the connection is lost: the running ones fail, what waits, waits for the next one
    for t in client.transfers[1:]:
        window.events.handle(TransferFinished(_finish(t, ok=False, error="Disconnected")))
    assert len(sent()) == DROPPED_AT_ONCE + 1
    client.connected = True
    window.sharing.reconnected()
    assert sent() == paths  # every file went, none twice (the failed ones have their Resume buttons)
