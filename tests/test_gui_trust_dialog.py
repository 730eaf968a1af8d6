"""The trust dialog, under Xvfb: asked from the connecting thread, answered on the Tk thread.

The dialog tests drive the real TrustDialog.  The chat-window tests join a real host on 127.0.0.1 through
the real window, verifier and known hosts, against real TLS hosts (tests.trust_helpers).
"""

from __future__ import annotations

import argparse
import queue
import socket
import threading
import time
import tkinter as tk
from pathlib import Path

import pytest

from gui import chat_window
from gui.app import run_launcher
from gui.chat_window import ChatWindow
from gui.launcher import LaunchChoice, Launcher
from gui.trust_dialog import ACCEPT_NEW_KEY, TrustBridge, TrustDialog, TrustQuestion
from mmchat.known_hosts import Decision, KnownHosts, Verdict
from mmchat.server import ChatServer
from tests import gui_helpers, trust_helpers
from tests.gui_helpers import pump_for, pump_until, walk
from tests.trust_helpers import NEW, OLD, HookedClient, hook, show

tk_root = gui_helpers.tk_root  # the fixtures, used by name below
tk_errors = gui_helpers.tk_errors
host = trust_helpers.host


def first_use() -> TrustQuestion:
    return TrustQuestion(Decision(Verdict.FIRST_USE, "127.0.0.1:5", OLD))


def changed() -> TrustQuestion:
    return TrustQuestion(Decision(Verdict.CHANGED, "127.0.0.1:5", NEW, OLD))


def labels(top: tk.Misc) -> str:
    return "\n".join(str(w.cget("text")) for w in walk(top) if isinstance(w, tk.Widget) and w.winfo_class() == "TLabel")


def buttons(top: tk.Misc) -> list[str]:
    return [str(w.cget("text")) for w in walk(top) if isinstance(w, tk.Widget) and w.winfo_class() == "TButton"]


# --- the dialog ------------------------------------------------------------------------------------


def test_first_use_shows_the_fingerprint_selectable_and_trust_accepts(tk_root, tk_errors) -> None:
    question = first_use()
    dialog = TrustDialog(tk.Toplevel(tk_root), question)
    pump_until(tk_root, lambda: dialog.top.winfo_viewable(), what="the dialog on screen")
    assert dialog.top.title() == "Trust this host?"
    assert "The host at 127.0.0.1:5 is new to this computer." in labels(dialog.top)
    assert dialog.shown() == [OLD]
    view = dialog.fingerprints[0]
    assert str(view.cget("state")) == "disabled"  # not editable...
    view.tag_add("sel", "1.0", "end-1c")
    assert view.get("sel.first", "sel.last") == OLD  # ...but selectable, whole
    assert int(view.tk.call("font", "metrics", view.cget("font"), "-fixed")) == 1  # monospace
    assert str(view.cget("wrap")) == "char" and int(view.cget("width")) < len(OLD)  # wrapped, not cut
    assert buttons(dialog.top) == ["Cancel", "Trust"]
    pump_until(tk_root, lambda: dialog.top.grab_current() == dialog.top, what="the dialog to be modal")
    dialog.trust_button.invoke()
    assert question.answered and question.trusted
    assert not dialog.exists()


@pytest.mark.parametrize("how", ["cancel", "escape", "return", "close"])
def test_cancel_escape_return_and_closing_refuse(tk_root, tk_errors, how: str) -> None:
    question = first_use()
    dialog = TrustDialog(tk.Toplevel(tk_root), question)
    pump_until(tk_root, lambda: dialog.top.winfo_viewable(), what="the dialog on screen")
    if how == "cancel":
        dialog.cancel_button.invoke()
    elif how == "close":
        dialog.top.tk.call(dialog.top.protocol("WM_DELETE_WINDOW"))
    else:
        dialog.top.focus_force()
        dialog.top.event_generate(f"<{how.capitalize()}>", when="now")
        pump_for(tk_root, 0.05)
    assert question.answered and not question.trusted
    assert not dialog.exists()


def test_a_changed_key_shows_both_and_only_the_deliberate_button_accepts(tk_root, tk_errors) -> None:
    question = changed()
    dialog = TrustDialog(tk.Toplevel(tk_root), question)
    pump_until(tk_root, lambda: dialog.top.winfo_viewable(), what="the dialog on screen")
    assert dialog.top.title() == "The host's key changed"
    assert dialog.shown() == [OLD, NEW]
    text = labels(dialog.top)
    assert "Trusted before" in text and "Shown now" in text
    assert "shows a different key from the one you trusted before" in text
    assert buttons(dialog.top) == ["Cancel", ACCEPT_NEW_KEY]
    assert "Trust" not in buttons(dialog.top)
    assert dialog.top.focus_get() is dialog.cancel_button  # refusing is the default
    assert str(dialog.cancel_button.cget("style")) == "Accent.TButton"
    dialog.top.event_generate("<Return>", when="now")
    pump_for(tk_root, 0.05)
    assert question.answered and not question.trusted

    again = changed()
    dialog = TrustDialog(tk.Toplevel(tk_root), again)
    dialog.trust_button.invoke()
    assert again.answered and again.trusted


def test_the_dialog_going_away_is_a_no(tk_root, tk_errors) -> None:
    question = first_use()
    parent = tk.Toplevel(tk_root)
    TrustDialog(parent, question)
    parent.destroy()  # e.g. the chat window closed
    assert question.answered and not question.trusted


# --- the bridge between the connecting thread and Tk ------------------------------------------------------


def ask_on_a_thread(bridge: TrustBridge, decision: Decision) -> tuple[threading.Thread, list[bool]]:
    answers: list[bool] = []
    thread = threading.Thread(target=lambda: answers.append(bridge.ask(decision)), daemon=True)
    thread.start()
    return thread, answers


def test_the_connecting_thread_waits_for_the_answer_given_on_the_tk_side() -> None:
    events: queue.Queue[object] = queue.Queue()
    bridge = TrustBridge(events)
    thread, answers = ask_on_a_thread(bridge, first_use().decision)
    question = events.get(timeout=10)
    assert isinstance(question, TrustQuestion) and question.decision.presented == OLD
    time.sleep(0.05)
    assert answers == []  # still waiting for a person
    question.answer(True)
    question.answer(False)  # a second answer is ignored
    thread.join(10)
    assert answers == [True]


def test_closing_answers_no_to_a_waiting_thread_and_to_later_questions() -> None:
    events: queue.Queue[object] = queue.Queue()
    bridge = TrustBridge(events)
    thread, answers = ask_on_a_thread(bridge, first_use().decision)
    events.get(timeout=10)
    bridge.close()
    thread.join(10)
    assert answers == [False]
    assert bridge.ask(first_use().decision) is False
    assert events.empty()  # no question is put once the window is gone


def test_no_answer_in_time_is_a_no() -> None:
    events: queue.Queue[object] = queue.Queue()
    bridge = TrustBridge(events, timeout=0.1)
    assert bridge.ask(first_use().decision) is False
    question = events.get_nowait()
    assert question.answered and not question.trusted


# --- through the chat window, against a real host --------------------------------------------------------


@pytest.fixture
def hooked(monkeypatch, host: ChatServer) -> type[HookedClient]:
    """The chat window's ChatClient made a HookedClient joining `host`; its `key` is the one `host` shows."""
    return hook(monkeypatch, chat_window, host)


def open_window(root: tk.Tk, host: ChatServer, tmp_path: Path, **options) -> ChatWindow:
    return ChatWindow(tk.Toplevel(root), *host.address, name="alice", downloads=tmp_path / "dl", **options)


def dialog_of(root: tk.Tk, window: ChatWindow) -> TrustDialog:
    def open_dialog() -> TrustDialog | None:
        dialog = window.trust.dialog
        return dialog if dialog is not None and dialog.exists() else None

    dialog = pump_until(root, open_dialog, what="the dialog")
    assert isinstance(dialog, TrustDialog)
    return dialog


def test_trust_in_the_window_joins_and_saves(tk_root, tk_errors, hooked, host: ChatServer, tmp_path: Path) -> None:
    where = f"127.0.0.1:{host.address[1]}"
    window = open_window(tk_root, host, tmp_path)
    dialog = dialog_of(tk_root, window)
    assert hooked.threads == ["mmchat-connect"]  # asked from the connecting thread, never the Tk one
    assert host.online() == []  # nothing was sent before the answer
    assert dialog.shown() == [hooked.key]
    dialog.trust_button.invoke()
    pump_until(tk_root, lambda: window.client is not None, what="connected")
    assert KnownHosts().get(where) == hooked.key
    window.close()
    # The next join knows the host: no dialog.
    again = open_window(tk_root, host, tmp_path)
    pump_until(tk_root, lambda: again.client is not None, what="connected again")
    assert again.trust.dialog is None
    again.close()


def test_cancel_in_the_window_does_not_join(tk_root, tk_errors, hooked, host: ChatServer, tmp_path: Path) -> None:
    where = f"127.0.0.1:{host.address[1]}"
    window = open_window(tk_root, host, tmp_path)
    dialog_of(tk_root, window).cancel_button.invoke()
    pump_until(tk_root, lambda: window.banner_label is not None and "did not trust" in window.banner_label["text"])
    assert window.banner_label["text"] == f"You did not trust the host at {where}, so mmchat did not connect."
    assert window.client is None and host.online() == []
    assert KnownHosts().get(where) is None
    window.close()


def test_a_changed_key_is_refused_then_accepted_only_by_the_deliberate_button(
    tk_root, tk_errors, hooked, host: ChatServer, tmp_path: Path
) -> None:
    where = f"127.0.0.1:{host.address[1]}"
    KnownHosts().remember(where, NEW)  # trusted before: not the key this host shows
    window = open_window(tk_root, host, tmp_path)
    dialog = dialog_of(tk_root, window)
    assert dialog.shown() == [NEW, hooked.key]
    dialog.cancel_button.invoke()
    pump_until(tk_root, lambda: window.banner_button is not None, what="the refusal")
    refusal = window.banner_label["text"]
    assert NEW in refusal and hooked.key in refusal
    assert refusal.endswith("choose Retry and then “Accept the new key”.")
    assert KnownHosts().get(where) == NEW and window.client is None
    window.banner_button.invoke()  # Retry
    dialog = dialog_of(tk_root, window)
    assert dialog.trust_button["text"] == ACCEPT_NEW_KEY
    dialog.trust_button.invoke()
    pump_until(tk_root, lambda: window.client is not None, what="connected with the new key")
    assert KnownHosts().get(where) == hooked.key
    pump_until(tk_root, lambda: "replaces the one you trusted before" in window.view.content(), what="the note")
    window.close()


def test_a_forged_invite_is_refused_without_a_dialog(tk_root, tk_errors, hooked, host: ChatServer, tmp_path) -> None:
    where = f"127.0.0.1:{host.address[1]}"
    window = open_window(tk_root, host, tmp_path, fingerprint=NEW)
    pump_until(tk_root, lambda: window.banner_button is not None, what="the refusal")
    assert window.banner_label["text"].startswith(f"The host at {where} is not the one the invite names")
    assert window.trust.dialog is None and window.client is None
    window.close()


def test_a_matching_invite_joins_without_a_dialog(tk_root, tk_errors, hooked, host: ChatServer, tmp_path) -> None:
    window = open_window(tk_root, host, tmp_path, fingerprint=hooked.key.lower())
    pump_until(tk_root, lambda: window.client is not None, what="connected")
    assert window.trust.dialog is None
    assert KnownHosts().get(f"127.0.0.1:{host.address[1]}") == hooked.key
    window.close()


def test_closing_the_window_while_the_dialog_is_open_frees_the_connecting_thread(
    tk_root, tk_errors, hooked, host: ChatServer, tmp_path: Path
) -> None:
    window = open_window(tk_root, host, tmp_path)
    dialog = dialog_of(tk_root, window)
    connecting = [t for t in threading.enumerate() if t.name == "mmchat-connect"]
    window.close()
    assert dialog.question.answered and not dialog.question.trusted
    for thread in connecting:
        thread.join(10)
        assert not thread.is_alive()
    assert host.online() == []


def test_a_pasted_invite_reaches_the_chat_window(monkeypatch, host: ChatServer) -> None:
    # The launcher keeps the host in its field; the invite's fingerprint goes on to --join as a link.
    joined: list[str] = []
    monkeypatch.setattr("gui.app.run_join", lambda args: joined.append(args.join) or 0)

    class PastingLauncher(Launcher):
        def __init__(self, master: tk.Tk | tk.Toplevel) -> None:
            super().__init__(master)
            self.address.delete(0, "end")
            self.address.insert(0, f"mmchat://127.0.0.1:{host.address[1]}/#{OLD}")
            self.name.delete(0, "end")
            self.name.insert(0, "bob")
            self.choose_join()

    monkeypatch.setattr("gui.launcher.Launcher", PastingLauncher)
    assert run_launcher(argparse.Namespace(password="")) == 0
    assert joined == [f"mmchat://127.0.0.1:{host.address[1]}/#{OLD}"]


def test_a_changed_key_met_while_reconnecting_by_itself_stops_the_automatic_tries(
    tk_root, tk_errors, monkeypatch, tmp_path: Path
) -> None:
    first = ChatServer(tmp_path / "share", "127.0.0.1", 0)
    port = first.start()[1]
    hooked = hook(monkeypatch, chat_window, first)
    where = f"127.0.0.1:{port}"
    KnownHosts().remember(where, hooked.key)
    window = ChatWindow(tk.Toplevel(tk_root), "127.0.0.1", port, name="alice", downloads=tmp_path / "dl")
    pump_until(tk_root, lambda: window.client is not None, what="connected")
    first.stop()  # the host goes away...
    pump_until(tk_root, lambda: window.ended and window.retry_delay, what="an automatic try planned")
    second = ChatServer(tmp_path / "other share", "127.0.0.1", port)  # another data folder: another key
    second.start()  # ...and another comes back at the same address
    old, new = hooked.key, show(hooked, second)
    try:
        dialog = dialog_of(tk_root, window)
        assert dialog.shown() == [old, new]
        dialog.cancel_button.invoke()
        pump_until(tk_root, lambda: window.banner_button is not None and window.banner_button["text"] == "Retry")
        assert window._retry_id is None  # no automatic try: no dialog pops up again by itself
        pump_for(tk_root, 1.5)
        assert window.trust.dialog is None or not window.trust.dialog.exists()
        assert KnownHosts().get(where) == old
        window.close()
    finally:
        second.stop()


def test_the_launcher_keeps_a_pasted_invite_through_a_second_join(tk_root, tk_errors, tmp_path: Path) -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nobody hosts there yet
    launcher = Launcher(tk.Toplevel(tk_root))
    launcher.address.delete(0, "end")
    launcher.address.insert(0, f"mmchat://127.0.0.1:{port}/#{OLD}")
    launcher.name.delete(0, "end")
    launcher.name.insert(0, "bob")
    launcher.choose_join()
    pump_until(tk_root, lambda: "Nobody is hosting" in launcher.error_text(launcher.address), what="nobody there")
    assert launcher.address.get() == "127.0.0.1"  # the field keeps the host alone
    server = ChatServer(tmp_path / "share", "127.0.0.1", port)
    server.start()
    try:
        launcher.choose_join()  # again, once the host is up: the invite still holds
        choice = pump_until(tk_root, lambda: launcher.choice, what="joining chosen")
    finally:
        server.stop()
    assert isinstance(choice, LaunchChoice) and choice.fingerprint == OLD


def test_the_launcher_forgets_the_invite_for_another_address(tk_root, tk_errors, host: ChatServer) -> None:
    launcher = Launcher(tk.Toplevel(tk_root))
    launcher.invite = ("127.0.0.1", host.address[1] + 1, OLD)  # an invite pasted for another port
    launcher.address.delete(0, "end")
    launcher.address.insert(0, f"127.0.0.1:{host.address[1]}")
    launcher.name.delete(0, "end")
    launcher.name.insert(0, "bob")
    launcher.choose_join()
    choice = pump_until(tk_root, lambda: launcher.choice, what="joining chosen")
    assert isinstance(choice, LaunchChoice) and choice.fingerprint == ""
