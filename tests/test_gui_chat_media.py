"""Audio, video and voice messages in real chat windows against a real host on 127.0.0.1, under Xvfb.

Sound goes to miniaudio's null back end (MMCHAT_AUDIO_BACKEND=null): the players really play, at the
sound card's pace, with no speaker; the microphone is the null back end's, which records silence.
Open and Show in folder are recorded instead of started (no player or file manager opens in a test).
"""

from __future__ import annotations

from pathlib import Path

from gui.audio_player import PAUSE, AudioPlayer, VideoCard
from gui.chat_window import ChatWindow
from mmchat.audio import PlayerState
from tests import gui_helpers
from tests.gui_helpers import pump_until
from tests.test_gui_audio_player import launched, no_speaker
from tests.test_gui_chat import find_link, open_chat, server, type_and_enter
from tests.test_media import DATA, box, mvhd, write_wav

tk_root = gui_helpers.tk_root  # the fixtures, used by name below
tk_errors = gui_helpers.tk_errors
__all__ = ["launched", "no_speaker", "server"]  # fixtures, used by name


def embeds(window: ChatWindow, kind: type) -> list:
    text = window.view.text
    return [w for w in (text.nametowidget(name) for name in text.window_names()) if isinstance(w, kind)]


def line_of(window: ChatWindow, index: str) -> int:
    return int(window.view.text.index(index).split(".")[0])


def test_a_shared_audio_file_plays_in_place_for_everyone(tk_root, tk_errors, server, tmp_path) -> None:
    alice = open_chat(tk_root, server, "alice", tmp_path)
    bob = open_chat(tk_root, server, "bob", tmp_path)
    song = tmp_path / "song.ogg"
    song.write_bytes((DATA / "tone.ogg").read_bytes())
    type_and_enter(tk_root, alice, f"!send {song}")
    pump_until(tk_root, lambda: "shared song.ogg" in bob.view.content() and "shared song.ogg" in alice.view.content())
    type_and_enter(tk_root, alice, "did you hear it?")  # said before the player is there: it goes above
    for window in (bob, alice):  # both, the sender too: it came back from the host like anyone's
        [player] = pump_until(tk_root, lambda w=window: embeds(w, AudioPlayer), what=f"{window.name}'s player")
        text = window.view.text
        announced = line_of(window, text.search("shared song.ogg", "1.0"))
        assert line_of(window, str(player)) == announced + 1  # right under its announcement
        pump_until(tk_root, lambda w=window: "did you hear it?" in w.view.content())
        assert line_of(window, text.search("did you hear it?", "1.0")) > announced + 1
        assert "Play" not in window.view.content()  # it came by itself: nothing to click first
    cached = tmp_path / "downloads-bob" / ".mmchat-previews" / "song.ogg"
    assert cached.read_bytes() == song.read_bytes()
    [player] = embeds(bob, AudioPlayer)
    pump_until(tk_root, lambda: player.time["text"] == "0:00 / 0:01", what="the length")
    player.button.invoke()
    pump_until(tk_root, lambda: player.bar.get() > 0.2, what="bob's player to play")
    [alices] = embeds(alice, AudioPlayer)
    assert alices.player.state is PlayerState.STOPPED  # each window plays on its own
    bob.close()
    assert not cached.exists()  # the cache goes with the window
    player.player.join(5)
    assert not player.player._thread.is_alive()


def test_starting_one_player_pauses_the_other(tk_root, tk_errors, server, tmp_path) -> None:
    alice = open_chat(tk_root, server, "alice", tmp_path)
    for name in ("one.wav", "two.wav"):
        type_and_enter(tk_root, alice, f"!send {write_wav(tmp_path / name, 10.0)}")
    first, second = pump_until(tk_root, lambda: len(embeds(alice, AudioPlayer)) == 2 and embeds(alice, AudioPlayer))
    first.button.invoke()
    pump_until(tk_root, lambda: first.player.state is PlayerState.PLAYING)
    second.button.invoke()
    pump_until(tk_root, lambda: first.player.state is PlayerState.PAUSED, what="the first to pause")
    assert second.button["text"] == PAUSE and first.button["text"] != PAUSE


def test_from_the_history_audio_waits_for_a_click_on_play(tk_root, tk_errors, server, tmp_path) -> None:
    alice = open_chat(tk_root, server, "alice", tmp_path)
    type_and_enter(tk_root, alice, f"!send {write_wav(tmp_path / 'earlier.wav', 1.0)}")
    pump_until(tk_root, lambda: embeds(alice, AudioPlayer), what="alice's player")
    carol = open_chat(tk_root, server, "carol", tmp_path)
    pump_until(tk_root, lambda: "shared earlier.wav" in carol.view.content(), what="the history")
    tk_root.update()
    assert embeds(carol, AudioPlayer) == []
    assert not (tmp_path / "downloads-carol" / ".mmchat-previews").exists()  # nothing fetched by itself
    play = carol.view.link_commands[find_link(carol, "Play")]
    play()
    play()  # a second click while it downloads fetches nothing more
    [player] = pump_until(tk_root, lambda: embeds(carol, AudioPlayer), what="the player after Play")
    announced = line_of(carol, carol.view.text.search("shared earlier.wav", "1.0"))
    assert line_of(carol, str(player)) == announced + 1
    assert len(list((tmp_path / "downloads-carol" / ".mmchat-previews").iterdir())) == 1
    pump_until(tk_root, lambda: player.player.state is PlayerState.STOPPED)
    play()  # once it is there, Play plays it, in the same player
    pump_until(tk_root, lambda: player.player.state is PlayerState.PLAYING, what="Play to play it")
    assert embeds(carol, AudioPlayer) == [player]


def test_a_video_opens_in_the_system_player_with_its_length(tk_root, tk_errors, server, tmp_path, launched) -> None:
    alice = open_chat(tk_root, server, "alice", tmp_path)
    bob = open_chat(tk_root, server, "bob", tmp_path)
    film = tmp_path / "film.mp4"
    film.write_bytes(box(b"ftyp", b"isom") + box(b"mdat", bytes(200_000)) + box(b"moov", mvhd(0, 1000, 83_000)))
    type_and_enter(tk_root, alice, f"!send {film}")
    pump_until(tk_root, lambda: "shared film.mp4" in bob.view.content(), what="the announcement")
    tk_root.update()
    assert embeds(bob, VideoCard) == []  # a video is not fetched until asked for
    bob.view.link_commands[find_link(bob, "Open")]()
    [card] = pump_until(tk_root, lambda: embeds(bob, VideoCard), what="the video card")
    assert card.label["text"] == "Video: film.mp4  ·  1:23"
    cached = tmp_path / "downloads-bob" / ".mmchat-previews" / "film.mp4"
    assert launched == [["xdg-open", str(cached)]]  # and the system's player was asked to open it
    card.files.show.invoke()
    assert launched[-1] == ["xdg-open", str(cached.parent)]
    bob.view.link_commands[find_link(bob, "Open")]()  # Open again: the same card, opened again
    assert launched[-1] == ["xdg-open", str(cached)] and embeds(bob, VideoCard) == [card]


def test_a_finished_download_offers_open_and_show_in_folder(
    tk_root, tk_errors, server, tmp_path, launched, monkeypatch
) -> None:
    alice = open_chat(tk_root, server, "alice", tmp_path)
    bob = open_chat(tk_root, server, "bob", tmp_path)
    notes = tmp_path / "notes.txt"
    notes.write_text("minutes of the meeting")
    type_and_enter(tk_root, alice, f"!send {notes}")
    pump_until(tk_root, lambda: "shared notes.txt" in bob.view.content())
    target = tmp_path / "saved" / "notes.txt"
    target.parent.mkdir()
    monkeypatch.setattr(bob, "_ask_save_path", lambda name: str(target))
    pump_until(tk_root, lambda: "notes.txt" in bob.side.files.get_children(), what="the file in the side panel")
    bob.side.file_entries("notes.txt")  # what a right-click on it shows: no copy here yet
    assert [bob.side.file_menu.entrycget(label, "state") for label in ("Open", "Show in folder")] == ["disabled"] * 2
    bob.view.link_commands[find_link(bob, "Download")]()
    pump_until(tk_root, lambda: "File received successfully" in bob.view.content(), what="the download")
    [row] = bob.transfers.rows.values()
    assert row.files is not None
    row.files.open.invoke()
    row.files.show.invoke()
    bob.view.link_commands[find_link(bob, "Open")]()  # the same on the line that says it is saved
    bob.view.link_commands[find_link(bob, "Show in folder")]()
    bob.side.file_entries("notes.txt")  # the side panel's menu opens the copy too, even once offline
    bob.side.set_connected(False)
    bob.side.file_menu.invoke("Open")
    bob.side.file_menu.invoke("Show in folder")
    assert launched == [["xdg-open", str(target)], ["xdg-open", str(target.parent)]] * 3
    target.unlink()  # moved away: nothing to open any more
    bob.side.file_entries("notes.txt")
    assert bob.side.file_menu.entrycget("Open", "state") == "disabled"


def test_a_voice_message_is_recorded_sent_and_plays_for_everyone(tk_root, tk_errors, server, tmp_path) -> None:
    alice = open_chat(tk_root, server, "alice", tmp_path)
    bob = open_chat(tk_root, server, "bob", tmp_path)
    voice = alice.media.voice
    pump_until(tk_root, lambda: voice.available, what="the (null) microphone found")
    assert str(voice.button.master) == str(alice.layout.composer)  # beside the message box
    voice.button.invoke()
    pump_until(tk_root, lambda: voice.recorder is not None and voice.recorder.seconds >= 1.0, what="a second")
    voice.button.invoke()
    [player] = pump_until(tk_root, lambda: embeds(bob, AudioPlayer), what="the voice message at bob's")
    assert player.player.path.name.startswith("voice-") and player.player.path.suffix == ".wav"
    pump_until(tk_root, lambda: player.player.duration >= 1.0, what="its length")
    pump_until(tk_root, lambda: embeds(alice, AudioPlayer), what="and at alice's")
    player.button.invoke()
    pump_until(tk_root, lambda: player.player.position > 0.2, what="bob playing it")


def test_closing_while_recording_and_playing_leaves_nothing_behind(tk_root, tk_errors, server, tmp_path) -> None:
    alice = open_chat(tk_root, server, "alice", tmp_path)
    type_and_enter(tk_root, alice, f"!send {write_wav(tmp_path / 'long.wav', 30.0)}")
    [player] = pump_until(tk_root, lambda: embeds(alice, AudioPlayer))
    player.button.invoke()
    voice = alice.media.voice
    pump_until(tk_root, lambda: voice.available)
    voice.button.invoke()
    recorder = voice.recorder
    assert recorder is not None
    pump_until(tk_root, lambda: player.player.state is PlayerState.PLAYING)
    folder = Path(alice.media._voice_path())
    alice.close()
    assert not folder.exists() and not (tmp_path / "downloads-alice" / ".mmchat-previews").exists()
    assert not player.player._thread.is_alive() and not recorder._thread.is_alive()


def test_a_player_the_view_forgets_is_closed_and_the_others_still_play(
    tk_root, tk_errors, server, tmp_path, monkeypatch
) -> None:
    from gui import message_view

    alice = open_chat(tk_root, server, "alice", tmp_path)
    type_and_enter(tk_root, alice, f"!send {write_wav(tmp_path / 'old.wav', 5.0)}")
    [old] = pump_until(tk_root, lambda: embeds(alice, AudioPlayer))
    monkeypatch.setattr(message_view, "MAX_LINES", 40)
    for n in range(45):
        alice.view.system(f"line {n}")
    pump_until(tk_root, lambda: not old.winfo_exists(), what="the old player forgotten with its lines")
    old.player.join(5)
    assert not old.player._thread.is_alive()
    type_and_enter(tk_root, alice, f"!send {write_wav(tmp_path / 'new.wav', 5.0)}")
    [new] = pump_until(tk_root, lambda: embeds(alice, AudioPlayer))
    new.button.invoke()  # pausing the others skips the one that is gone
    pump_until(tk_root, lambda: new.player.state is PlayerState.PLAYING)
    assert alice.media.players == [new]


def test_at_the_smallest_size_the_player_and_the_message_box_both_fit(tk_root, tk_errors, server, tmp_path) -> None:
    from gui import chat_layout

    alice = open_chat(tk_root, server, "alice", tmp_path)
    alice.master.geometry(f"{chat_layout.MIN_WIDTH}x{chat_layout.MIN_HEIGHT}")
    type_and_enter(tk_root, alice, f"!send {write_wav(tmp_path / 'a-rather-long-voice-message-name.wav', 1.0)}")
    [player] = pump_until(tk_root, lambda: embeds(alice, AudioPlayer))
    pump_until(tk_root, lambda: alice.master.winfo_width() == chat_layout.MIN_WIDTH, what="the smallest size")
    text = alice.view.text
    alice.view.scroll_to_end()
    pump_until(tk_root, player.winfo_ismapped, what="the player in view")
    for widget in (player.button, player.time, player.files.open, player.files.show):
        right = widget.winfo_rootx() + widget.winfo_width() - text.winfo_rootx()
        assert widget.winfo_ismapped() and right <= text.winfo_width(), (widget, right, text.winfo_width())
    assert alice.input.winfo_width() >= 200  # the microphone button leaves the box room to type
    voice = alice.media.voice.button
    assert voice.winfo_rootx() + voice.winfo_width() <= alice.master.winfo_rootx() + alice.master.winfo_width()
