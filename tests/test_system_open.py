"""Open and Show in folder: the right command for each system, run as an argument list, never a shell.

No real program is started: subprocess.Popen and os.startfile are replaced by recorders, which is
what a test must do here (it would otherwise open a player or a file manager on the machine).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from mmchat import system_open


@pytest.fixture
def launched(monkeypatch) -> list[tuple[str, object, dict]]:
    calls: list[tuple[str, object, dict]] = []

    class Recorder:
        def __init__(self, args, **kwargs) -> None:
            calls.append(("popen", args, kwargs))

    monkeypatch.setattr(subprocess, "Popen", Recorder)
    monkeypatch.setattr(os, "startfile", lambda path: calls.append(("startfile", path, {})), raising=False)
    return calls


def test_commands_for_each_system() -> None:
    path = Path("/music/a b; rm -rf ~.ogg")
    assert system_open.open_command(path, "linux") == ["xdg-open", str(path)]
    assert system_open.show_command(path, "linux") == ["xdg-open", "/music"]  # the folder: no select there
    assert system_open.open_command(path, "freebsd14") == ["xdg-open", str(path)]
    assert system_open.open_command(path, "darwin") == ["open", str(path)]
    assert system_open.show_command(path, "darwin") == ["open", "-R", str(path)]
    assert system_open.open_command(path, "win32") == [system_open.STARTFILE, str(path)]
    assert system_open.show_command(path, "win32") == ["explorer", f"/select,{path}"]


def test_open_and_show_run_an_argument_list_without_a_shell(tmp_path, launched, monkeypatch) -> None:
    song = tmp_path / "odd name; $(echo hi).ogg"
    song.write_bytes(b"x")
    system_open.open_path(song)
    system_open.show_in_folder(song)
    [(kind1, args1, kw1), (kind2, args2, kw2)] = launched
    if os.name == "nt":
        assert (kind1, args1) == ("startfile", str(song))
    else:
        assert kind1 == "popen" and args1 == system_open.open_command(song)
        assert not kw1.get("shell") and kw1["stdin"] is subprocess.DEVNULL
    assert kind2 == "popen" and args2 == system_open.show_command(song) and not kw2.get("shell")


def test_windows_opens_with_startfile(tmp_path, launched, monkeypatch) -> None:
    song = tmp_path / "song.mp3"
    song.write_bytes(b"x")
    monkeypatch.setattr(system_open.sys, "platform", "win32")
    system_open.open_path(song)
    system_open.show_in_folder(song)
    assert launched[0] == ("startfile", str(song), {})
    assert launched[1][:2] == ("popen", ["explorer", f"/select,{song}"])


def test_a_missing_file_or_program_is_a_sentence(tmp_path, monkeypatch) -> None:
    with pytest.raises(OSError, match=r"^Could not open gone\.ogg: it is no longer there\.$"):
        system_open.open_path(tmp_path / "gone.ogg")
    with pytest.raises(OSError, match=r"^Could not show gone\.ogg: it is no longer there\.$"):
        system_open.show_in_folder(tmp_path / "gone.ogg")
    song = tmp_path / "song.ogg"
    song.write_bytes(b"x")

    def no_program(args, **kwargs):
        raise FileNotFoundError(2, "No such file or directory", args[0])

    monkeypatch.setattr(subprocess, "Popen", no_program)
    monkeypatch.setattr(system_open, "open_command", lambda p: ["no-such-opener", str(p)])
    with pytest.raises(OSError, match=r"^Could not open song\.ogg: No such file or directory\.$"):
        system_open.open_path(song)
