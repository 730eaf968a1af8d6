"""Resume in the chat window: real windows against a real host on 127.0.0.1 (through a relay that cuts), under Xvfb."""

from __future__ import annotations

import os
import socket
import tkinter as tk
from collections.abc import Iterator
from pathlib import Path

import pytest

from gui import chat_window
from gui.chat_window import ChatWindow
from mmchat.server import ChatServer
from tests import gui_helpers
from tests.gui_helpers import pump_until
from tests.resume_helpers import CuttingRelay
from tests.tls_helpers import fake_identity
from tests.transfer_helpers import sha256_of

tk_root = gui_helpers.tk_root  # the fixtures, used by name below
tk_errors = gui_helpers.tk_errors

SIZE = 6 << 20
CUT = 2 << 20


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ChatServer]:
    host = ChatServer(tmp_path / "share", "127.0.0.1", 0)
    host.start()
    yield host
    host.stop()


@pytest.fixture
def relay(server: ChatServer) -> Iterator[CuttingRelay]:
    between = CuttingRelay(server.address[1])
    yield between
    between.close()


def open_chat(root: tk.Tk, relay: CuttingRelay, tmp_path: Path) -> ChatWindow:
    window = ChatWindow(
        tk.Toplevel(root), "127.0.0.1", relay.port, name="alice", downloads=tmp_path / "downloads",
        fingerprint=fake_identity().fingerprint,  # as by invite: the relay's key (it reads what passes)
    )  # fmt: skip
    pump_until(root, lambda: window.client is not None and "alice" in window.side.names(), what="alice online")
    return window


def test_a_failed_download_shows_resume_and_the_button_finishes_it(tk_root, tk_errors, server, relay, tmp_path):
    (server.share / "movie.bin").write_bytes(os.urandom(SIZE))
    alice = open_chat(tk_root, relay, tmp_path)
    try:
        relay.cut_down, relay.cuts_left = CUT, 1
        first = alice.sharing.start_download("movie.bin")
        assert first is not None
        row = alice.transfers.rows[first]
        pump_until(tk_root, lambda: row.finished, what="the cut download")
        assert not first.ok and first.resumable
        button = row.resume_button
        assert button is not None and button["text"] == "Resume" and button.winfo_ismapped()
        assert not row.bar.winfo_ismapped()  # the button is where the progress bar was
        assert row.button["text"] == "Dismiss"  # the failure stays until dismissed
        button.invoke()
        assert first not in alice.transfers.rows  # a new row took its place
        [(second, new_row)] = alice.transfers.rows.items()
        pump_until(tk_root, lambda: new_row.finished, what="the resumed download")
        assert second.ok, second.error
        assert 0 < second.offset <= CUT and relay.down[1] <= SIZE - second.offset + 1024  # only the rest came
        assert sha256_of(tmp_path / "downloads" / "movie.bin") == sha256_of(server.share / "movie.bin")
        content = alice.view.content()
        assert "Resuming movie.bin at " in content and "File received successfully" in content
    finally:
        alice.close()


def test_unfinished_transfers_resume_by_themselves_when_the_connection_comes_back(
    tk_root, tk_errors, server, relay, tmp_path, monkeypatch
):
    monkeypatch.setattr(chat_window, "RETRY_FIRST_S", 0.1)
    source = tmp_path / "report.bin"
    source.write_bytes(os.urandom(SIZE))
    alice = open_chat(tk_root, relay, tmp_path)
    try:
        relay.cut_up, relay.cuts_left = CUT, 1
        first = alice.upload(source)
        assert first is not None
        row = alice.transfers.rows[first]
        pump_until(tk_root, lambda: row.finished, what="the cut upload")
        assert not first.ok and first.resumable and row.resume_button is not None
        old_client = alice.client
        assert old_client is not None and old_client._sock is not None
        old_client._sock.shutdown(socket.SHUT_RDWR)  # the network goes away under alice; the host stays
        pump_until(tk_root, lambda: alice.client is not None and alice.client is not old_client and not alice.ended,
                   what="alice back by herself")  # fmt: skip
        pump_until(tk_root, lambda: (server.share / "report.bin").exists(), what="the upload resumed by itself")
        [(second, new_row)] = alice.transfers.rows.items()
        pump_until(tk_root, lambda: new_row.finished, what="its row finished")
        assert second.ok and second.offset > 0
        assert sha256_of(server.share / "report.bin") == sha256_of(source)
        # The panel's poll may finish the row before the TransferFinished event is handled: wait for its line.
        pump_until(tk_root, lambda: "File sent successfully: report.bin" in alice.view.content(), what="its line")
    finally:
        alice.close()


def test_a_cancelled_transfer_offers_to_try_again_from_the_start(tk_root, tk_errors, server, relay, tmp_path):
    (server.share / "big.bin").write_bytes(os.urandom(20_000_000))
    alice = open_chat(tk_root, relay, tmp_path)
    try:
        t = alice.sharing.start_download("big.bin")
        assert t is not None
        row = alice.transfers.rows[t]
        row.button.invoke()  # Cancel, long before 20 MB can arrive
        pump_until(tk_root, lambda: row.finished, what="the cancelled row")
        assert not t.resumable and row.resume_button is not None and row.resume_button["text"] == "Try again"
        assert list((tmp_path / "downloads").iterdir()) == []  # nothing left behind
        row.resume_button.invoke()
        [(again, new_row)] = alice.transfers.rows.items()
        pump_until(tk_root, lambda: new_row.finished, what="the new try")
        assert again.ok and again.offset == 0
    finally:
        alice.close()
