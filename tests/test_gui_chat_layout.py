"""ChatLayout: the chat window's widgets, built and clicked with no connection at all."""

from __future__ import annotations

import tkinter as tk
import tkinter.font
import tkinter.ttk
from collections.abc import Callable

import pytest

from gui import chat_layout, theme
from gui.chat_layout import ChatActions, ChatLayout
from tests import gui_helpers
from tests.gui_helpers import pump_for

tk_root = gui_helpers.tk_root  # the fixtures, used by name below
tk_errors = gui_helpers.tk_errors

COOL = "😎"


class Recorder:
    """ChatActions whose every action is written down."""

    def __init__(self) -> None:
        self.done: list[tuple[str, ...]] = []

    def action(self, name: str) -> Callable[..., None]:
        return lambda *args: self.done.append((name, *args))

    def actions(self) -> ChatActions:
        names = ("send", "attach", "download", "download_selected", "request_qr", "run_command", "show_help", "leave")
        return ChatActions(**{name: self.action(name) for name in names})


@pytest.fixture
def built(tk_root) -> tuple[ChatLayout, Recorder]:
    recorder = Recorder()
    layout = ChatLayout(tk.Toplevel(tk_root), recorder.actions())
    tk_root.update()
    return layout, recorder


def test_buttons_and_keys_run_their_actions(tk_root, tk_errors, built) -> None:
    layout, recorder = built
    layout.set_status("Connected", theme.SUCCESS, connected=True)
    layout.send_button.invoke()
    layout.attach_button.invoke()
    layout.input.focus_force()
    layout.input.insert("end", "hello")
    tk_root.update()
    layout.input.event_generate("<Return>")
    tk_root.update()
    assert recorder.done == [("send",), ("attach",), ("send",)]
    assert layout.typed() == "hello"  # Enter sends; it does not put a newline in the box


def test_shift_enter_is_a_new_line(tk_root, tk_errors, built) -> None:
    layout, recorder = built
    layout.input.focus_force()
    layout.input.insert("end", "one")
    tk_root.update()
    layout.input.event_generate("<Shift-Return>")
    layout.input.insert("end", "two")
    tk_root.update()
    assert layout.typed() == "one\ntwo"
    assert recorder.done == []


def test_the_menu_entries_run_their_actions(tk_root, tk_errors, built) -> None:
    layout, recorder = built
    chat = layout.master.nametowidget(layout.menu.entrycget("Chat", "menu"))
    helpmenu = layout.master.nametowidget(layout.menu.entrycget("Help", "menu"))
    for label in ("Send file…", "Download…", "Get QR code", "Leave"):
        chat.invoke(chat.index(label))
    helpmenu.invoke(helpmenu.index("Commands"))
    assert recorder.done == [("attach",), ("download_selected",), ("request_qr",), ("leave",), ("show_help",)]


def test_the_side_panel_is_wired_to_download_and_run(tk_root, tk_errors, built) -> None:
    layout, recorder = built
    layout.side.command.insert(0, "  ls -l ")
    layout.side.run_button.invoke()
    assert recorder.done == [("run_command", "ls -l")]


def test_send_and_attach_work_only_while_connected(tk_root, tk_errors, built) -> None:
    layout, _ = built
    assert layout.send_button.instate(["disabled"]) and layout.attach_button.instate(["disabled"])
    assert layout.status["text"] == "●  Not connected"
    layout.set_status("Connected", theme.SUCCESS, connected=True)
    assert not layout.send_button.instate(["disabled"]) and not layout.attach_button.instate(["disabled"])
    assert str(layout.status["foreground"]) == theme.SUCCESS
    layout.set_status("Disconnected", theme.ERROR, connected=False)
    assert layout.send_button.instate(["disabled"])


def test_banner_with_and_without_a_button(tk_root, tk_errors, built) -> None:
    layout, _ = built
    pressed: list[str] = []
    layout.show_banner("The host stopped the chat.", "Error.TLabel", "Reconnect", lambda: pressed.append("x"))
    tk_root.update()
    assert layout.banner.winfo_ismapped()
    assert layout.banner_label is not None and layout.banner_label["text"] == "The host stopped the chat."
    assert layout.banner_button is not None and layout.banner_button["text"] == "Reconnect"
    layout.banner_button.invoke()
    assert pressed == ["x"]
    layout.show_banner("Connecting…", "Muted.TLabel")
    assert layout.banner_button is None
    assert len(layout.banner.winfo_children()) == 1  # the old banner's widgets are gone
    layout.clear_banner()
    tk_root.update()
    assert not layout.banner.winfo_ismapped() and layout.banner_label is None


def test_the_name_form_submits_with_enter_and_the_button(tk_root, tk_errors, built) -> None:
    layout, _ = built
    submitted: list[str] = []
    layout.ask_name(lambda: submitted.append(layout.name_entry.get() if layout.name_entry else "?"))
    assert layout.name_entry is not None and layout.name_error is not None
    layout.name_entry.insert(0, "erin")
    tk_root.update()
    layout.name_entry.event_generate("<Return>")
    [join] = [w for w in layout.banner.winfo_children() if w.winfo_class() == "TButton"]
    join.invoke()
    assert submitted == ["erin", "erin"]


def test_identity_in_the_title_and_header(tk_root, tk_errors, built) -> None:
    layout, _ = built
    layout.show_identity("alice", "::1", 12002, joined=False)
    assert layout.master.title() == "alice — mmchat at [::1]:12002"
    assert layout.where["text"] == "[::1]:12002"  # brackets kept, as in the title
    layout.show_identity(f"alice {COOL}", "10.0.0.5", 12002, joined=True)
    assert layout.where["text"] == f"10.0.0.5:12002  ·  you are alice {COOL}"


def test_the_input_box_keeps_a_long_message_and_says_it_is_too_long(tk_root, tk_errors, built) -> None:
    layout, _ = built
    layout.input.insert("1.0", "x" * 3999 + COOL + COOL + "tail")
    tk_root.update()
    assert layout.typed() == "x" * 3999 + COOL + COOL + "tail"  # never cut
    assert layout.counter["text"] == "4,005 / 4,000  ·  too long"
    assert str(layout.counter["style"]) == "Error.TLabel"
    layout.offer_as_file(4005, lambda: None)
    assert layout.over_limit_shown and layout.banner_label is not None
    layout.input.delete("1.0", "end")  # back under the limit: the offer goes
    layout.input.insert("1.0", "z" * 3997)
    tk_root.update()
    assert not layout.over_limit_shown and layout.banner_label is None
    assert layout.counter["text"] == "3,997 / 4,000" and str(layout.counter["style"]) == "Muted.TLabel"
    layout.clear_input()
    tk_root.update()
    assert layout.typed() == "" and layout.counter["text"] == ""


def test_the_counter_stays_in_view_in_a_narrow_window(tk_root, tk_errors, built) -> None:
    layout, _ = built
    layout.master.geometry("640x420")
    layout.input.insert("1.0", "y" * 4100)
    pump_for(tk_root, 0.2)
    counter = layout.counter
    right = counter.winfo_rootx() + counter.winfo_width() - layout.master.winfo_rootx()
    assert counter.winfo_ismapped() and counter.winfo_width() >= counter.winfo_reqwidth()
    assert right <= layout.master.winfo_width()


def test_tab_moves_focus_and_ctrl_tab_inserts_one(tk_root, tk_errors, built) -> None:
    layout, _ = built
    layout.set_status("Connected", theme.SUCCESS, connected=True)
    layout.input.focus_force()
    pump_for(tk_root, 0.05)
    layout.input.insert("end", "hi")
    layout.input.event_generate("<Tab>")
    pump_for(tk_root, 0.05)
    assert layout.typed() == "hi"
    assert tk_root.focus_get() is layout.send_button
    assert layout.send_button.instate(["focus"])
    layout.send_button.event_generate("<Shift-Tab>")
    pump_for(tk_root, 0.05)
    assert tk_root.focus_get() is layout.input
    layout.input.event_generate("<Control-Tab>")
    pump_for(tk_root, 0.05)
    assert layout.typed() == "hi\t" and tk_root.focus_get() is layout.input


def test_the_blue_buttons_show_a_focus_ring(tk_root, tk_errors) -> None:
    style = tk.ttk.Style(tk_root)
    ring = style.lookup("Accent.TButton", "focuscolor")
    assert ring and ring != style.lookup("Accent.TButton", "background")  # a blue ring on blue shows nothing
    assert style.lookup("Accent.TButton", "bordercolor", ["focus"]) != style.lookup("Accent.TButton", "bordercolor")


def test_shortcuts(tk_root, tk_errors, built) -> None:
    layout, recorder = built
    layout.input.focus_force()
    pump_for(tk_root, 0.05)
    layout.input.event_generate("<Control-o>")
    layout.side.command.focus_force()
    pump_for(tk_root, 0.05)
    layout.side.command.event_generate("<Control-o>")
    layout.side.command.event_generate("<Control-w>")
    tk_root.update()
    assert recorder.done == [("attach",), ("attach",), ("leave",)]
    assert "\n" not in layout.typed()  # Text's own Ctrl+O would have opened a line
    layout.view.system("copy me please")
    layout.view.text.tag_add("sel", "end-16c", "end-9c")
    layout.view.text.event_generate("<Control-C>")
    tk_root.update()
    assert tk_root.clipboard_get() == "copy me"
    layout.input.insert("end", "draft")
    layout.input.event_generate("<Escape>")
    tk_root.update()
    assert layout.typed() == ""


def test_messages_take_the_extra_space(tk_root, tk_errors, built) -> None:
    layout, _ = built
    pump_for(tk_root, 0.1)
    before = layout.view.text.winfo_height()
    layout.master.geometry("1200x900")
    pump_for(tk_root, 0.2)
    assert layout.view.text.winfo_height() > before + 150
    assert not layout.transfers.winfo_ismapped()  # hidden while there are no transfers


def _usable(layout: ChatLayout) -> None:
    """The message box, Send and a few lines of chat are on screen and wide enough to use."""
    top = layout.master
    line = tk.font.Font(font=layout.view.text["font"]).metrics("linespace")
    assert layout.input.winfo_width() >= 200, layout.input.winfo_width()
    assert layout.view.text.winfo_height() >= 4 * line
    for widget in (layout.input, layout.send_button, layout.counter.master):
        right = widget.winfo_rootx() + widget.winfo_width() - top.winfo_rootx()
        bottom = widget.winfo_rooty() + widget.winfo_height() - top.winfo_rooty()
        assert widget.winfo_ismapped() and right <= top.winfo_width() and bottom <= top.winfo_height()


def _drag_divider(tk_root: tk.Tk, layout: ChatLayout, to_x: int) -> None:
    panes = layout.panes
    x, y = panes.sashpos(0) + 2, panes.winfo_height() // 2
    panes.event_generate("<ButtonPress-1>", x=x, y=y)
    for step in range(1, 6):
        panes.event_generate("<B1-Motion>", x=x + (to_x - x) * step // 5, y=y)
        tk_root.update()
    panes.event_generate("<ButtonRelease-1>", x=to_x, y=y)
    pump_for(tk_root, 0.1)


@pytest.mark.parametrize("size", ["640x420", "700x480", "800x600", "1000x700"])
def test_the_message_box_stays_usable_at_every_size(tk_root, tk_errors, built, size) -> None:
    layout, _ = built
    layout.master.geometry(size)
    pump_for(tk_root, 0.2)
    assert layout.master.winfo_width() == int(size.split("x")[0])
    _usable(layout)
    assert layout.side.winfo_ismapped()  # narrower, but still there


def test_dragging_the_divider_then_narrowing_never_hides_the_box(tk_root, tk_errors, built) -> None:
    layout, _ = built
    layout.master.geometry("1000x700")
    pump_for(tk_root, 0.2)
    _drag_divider(tk_root, layout, 20)  # the side panel as wide as it will go
    assert layout.messages_column.winfo_width() >= chat_layout.MIN_MESSAGES_WIDTH
    layout.master.geometry("640x420")
    pump_for(tk_root, 0.2)
    _usable(layout)
    _drag_divider(tk_root, layout, 635)  # and the other way: the panel keeps a usable width
    assert layout.side.winfo_width() >= chat_layout.MIN_SIDE_WIDTH - 8
    _usable(layout)


def test_the_side_panel_folds_behind_a_button(tk_root, tk_errors, built) -> None:
    layout, _ = built
    layout.master.geometry("640x420")
    pump_for(tk_root, 0.2)
    narrow = layout.input.winfo_width()
    layout.panel_button.invoke()
    pump_for(tk_root, 0.2)
    assert not layout.side.winfo_ismapped() and layout.panel_button["text"] == "Show panel"
    assert layout.input.winfo_width() > narrow + 150
    layout.panel_button.invoke()
    pump_for(tk_root, 0.2)
    assert layout.side.winfo_ismapped()
    _usable(layout)


def test_mention_from_the_members_menu_goes_into_the_message_box(tk_root, tk_errors, built) -> None:
    layout, _ = built
    layout.input.insert("1.0", "hi ")
    layout.side.set_online(["bob"])
    layout.side.member_entries("bob")
    layout.side.member_menu.invoke(0)  # "Mention @bob"
    tk_root.update()
    assert layout.input.get("1.0", "end-1c") == "hi @bob "
    assert layout.input.focus_get() is layout.input
