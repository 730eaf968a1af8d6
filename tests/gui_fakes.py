"""A stand-in ChatClient for the chat window's tests: records calls, touches no network."""

from __future__ import annotations

import itertools
import queue
import threading
import time
import tkinter as tk
from pathlib import Path
from typing import cast

from gui.chat_window import ChatWindow
from mmchat.client import ChatClient, Request, Transfer


class FakeClient:
    """Answers like ChatClient's methods do (a Request with a fresh ref) and writes each call down."""

    def __init__(self, name: str = "alice", renamed: bool = False) -> None:
        self.name = name
        self.renamed = renamed
        self.connected = True
        self.events: queue.Queue[object] = queue.Queue()
        self.transfers: list[Transfer] = []
        self.calls: list[tuple[object, ...]] = []
        self.threads: set[threading.Thread] = set()
        self._refs = itertools.count(1)

    def _note(self, *call: object) -> None:
        self.calls.append(call)
        self.threads.add(threading.current_thread())

    def _request(self, *call: object) -> Request:
        self._note(*call)
        return Request(next(self._refs))

    def say(self, text: str) -> None:
        self._note("say", text)

    def online(self) -> Request:
        return self._request("online")

    def list_files(self) -> Request:
        return self._request("files")

    def command(self, line: str) -> Request:
        return self._request("cmd", line)

    def request_qr(self) -> Request:
        return self._request("qr")

    def verify(self, code: str) -> Request:
        return self._request("verify", code)

    def close(self) -> None:
        self._note("close")
        self.connected = False

    def send_file(self, path: Path, progress: object = None) -> Transfer:
        self._note("send_file", Path(path))
        t = Transfer("upload", Path(path).name)
        self.transfers.append(t)
        return t

    def request_file(
        self, filename: str, progress: object = None, *, save_as: Path | None = None, folder: Path | None = None
    ) -> Transfer:
        self._note("request_file", filename, save_as, folder)
        t = Transfer("download", filename)
        self.transfers.append(t)
        return t

    def wait_for_calls(self, n: int, timeout: float = 5.0) -> list[tuple[object, ...]]:
        """The calls once there are `n` of them (the window's worker makes them on its own thread)."""
        deadline = time.monotonic() + timeout
        while len(self.calls) < n:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {n} calls, got {self.calls}")
            time.sleep(0.005)
        return self.calls


def connected_window(root: tk.Tk, tmp_path: Path, client: FakeClient | None = None) -> tuple[ChatWindow, FakeClient]:
    """A ChatWindow that believes `client` has just connected (it asked nobody on the network)."""
    client = client or FakeClient()
    window = ChatWindow(tk.Toplevel(root), "127.0.0.1", 9, name="", downloads=tmp_path / "downloads")
    window._connected(cast(ChatClient, client))  # the fake has every method the window uses
    client.wait_for_calls(2)  # the window's own quiet questions: who is online, which files
    return window, client
