"""Why the windows cannot open: the diagnosis fed error texts and system facts, with no screen."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mmchat.display import Cause, Diagnosis, describe, diagnose, fontconfig_file, report_no_windows
from tests.test_e2e import ROOT

# What the one-file executable's `import tkinter` raised on a minimal Debian 12 without libxcb1.
NO_LIBXCB = "libxcb.so.1: cannot open shared object file: No such file or directory"
DISPLAY = {"DISPLAY": ":0"}


def everything_exists(path: str) -> bool:
    return True


def test_missing_libxcb_is_named_with_its_package_not_called_no_display():
    diagnosis = diagnose(NO_LIBXCB, DISPLAY, everything_exists, "linux")
    assert diagnosis == Diagnosis(Cause.MISSING_LIBRARY, "libxcb1", "libxcb.so.1")
    assert describe(diagnosis) == (
        "The windows need the system library libxcb.so.1, which is not installed. "
        "Install it (Debian/Ubuntu: sudo apt-get install libxcb1)."
    )


def test_a_library_error_inside_a_longer_import_message_is_found():
    error = "/tmp/_MEIx1/lib-dynload/_tkinter.so: libXft.so.2: cannot open shared object file: No such file"
    assert diagnose(error, {}, everything_exists, "linux") == Diagnosis(Cause.MISSING_LIBRARY, "libxft2", "libXft.so.2")


def test_an_unknown_library_is_named_without_a_guessed_package():
    diagnosis = diagnose("libfoo.so.3: cannot open shared object file", DISPLAY, everything_exists, "linux")
    assert diagnosis == Diagnosis(Cause.MISSING_LIBRARY, None, "libfoo.so.3")
    assert "libfoo.so.3" in describe(diagnosis) and "apt-get" not in describe(diagnosis)


def test_no_fontconfig_configuration_is_the_cause_when_the_display_is_there():
    seen = []

    def exists(path: str) -> bool:
        seen.append(path)
        return False

    diagnosis = diagnose("some Tk error", DISPLAY, exists, "linux")
    assert seen == ["/etc/fonts/fonts.conf"]
    assert diagnosis == Diagnosis(Cause.NO_FONTCONFIG, "fontconfig-config", "/etc/fonts/fonts.conf")
    assert describe(diagnosis).endswith("Install it (Debian/Ubuntu: sudo apt-get install fontconfig-config).")


def test_with_a_font_configuration_an_unexplained_error_is_shown_as_it_is():
    diagnosis = diagnose("  something odd  ", DISPLAY, everything_exists, "linux")
    assert diagnosis == Diagnosis(Cause.OTHER, None, "something odd")
    assert describe(diagnosis) == "Tk could not open a window: something odd"


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "/etc/fonts/fonts.conf"),
        ({"FONTCONFIG_PATH": "/opt/fc"}, "/opt/fc/fonts.conf"),
        ({"FONTCONFIG_FILE": "/x/my.conf", "FONTCONFIG_PATH": "/opt/fc"}, "/x/my.conf"),
        ({"FONTCONFIG_FILE": "my.conf", "FONTCONFIG_PATH": "/opt/fc"}, "/opt/fc/my.conf"),
    ],
)
def test_fontconfig_file_follows_fontconfigs_own_rules(environ, expected):
    assert fontconfig_file(environ) == expected


def test_no_display_at_all():
    error = "no display name and no $DISPLAY environment variable"
    assert diagnose(error, {}, everything_exists, "linux").cause is Cause.NO_DISPLAY


def test_a_refused_display_is_not_blamed_on_the_fonts():
    diagnosis = diagnose('couldn\'t connect to display ":78"', DISPLAY, lambda path: False, "linux")
    assert diagnosis == Diagnosis(Cause.DISPLAY_REFUSED, None, ":78")
    assert describe(diagnosis).startswith("Tk could not connect to the display :78:")


def test_python_without_tkinter_names_python3_tk():
    diagnosis = diagnose("No module named '_tkinter'", DISPLAY, everything_exists, "linux")
    assert diagnosis == Diagnosis(Cause.NO_TK_MODULE, "python3-tk")


def test_a_noexec_temporary_folder_suggests_tmpdir():
    error = "/tmp/_MEIab12/libtk8.6.so: failed to map segment from shared object"
    diagnosis = diagnose(error, DISPLAY, everything_exists, "linux", temp_dir="/tmp")
    assert diagnosis == Diagnosis(Cause.NOEXEC_TEMP, None, "/tmp")
    assert "noexec" in describe(diagnosis) and "TMPDIR=" in describe(diagnosis)


def test_windows_and_macos_have_no_x_display_or_fontconfig_to_blame():
    assert diagnose("boom", {}, lambda path: False, "win32") == Diagnosis(Cause.OTHER, None, "boom")


def test_report_prints_the_cause_as_one_line_on_stderr(monkeypatch, capsys):
    monkeypatch.setenv("DISPLAY", ":0")
    diagnosis = report_no_windows(ImportError(NO_LIBXCB))
    assert diagnosis.cause is Cause.MISSING_LIBRARY
    err = capsys.readouterr().err
    assert err.startswith("mmchat: The windows need the system library libxcb.so.1")
    assert err.count("\n") == 1


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the DISPLAY rule is Linux's")
def test_report_stays_quiet_without_a_display(monkeypatch, capsys):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert report_no_windows(ImportError(NO_LIBXCB)).cause is Cause.NO_DISPLAY
    assert capsys.readouterr().err == ""


@pytest.mark.slow
def test_a_refused_display_is_explained_by_mmchat_py_before_it_goes_headless():
    # A display that is set but not there: Tk fails, and the person reads why, then gets the terminal.
    result = subprocess.run(
        [sys.executable, str(ROOT / "mmchat.py"), "--join", "127.0.0.1:1"],
        env={"PATH": "/usr/bin:/bin", "DISPLAY": ":9999", "HOME": "/nonexistent"},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert result.stderr.splitlines()[0].startswith("mmchat: Tk could not connect to the display :9999:"), result.stderr
    assert "Traceback" not in result.stderr


# What Tk said in the one-file executable on Debian 12 minbase with libxcb1 but no fontconfig-config.
FONT_ENGINE = "failed to allocate font due to internal system font engine problem"


def test_tk_failing_at_its_first_font_without_a_configuration_names_fontconfig_config():
    diagnosis = diagnose(FONT_ENGINE, DISPLAY, lambda path: path != "/etc/fonts/fonts.conf", "linux")
    assert diagnosis == Diagnosis(Cause.NO_FONTCONFIG, "fontconfig-config", "/etc/fonts/fonts.conf")


def test_the_font_engine_failing_with_a_configuration_asks_for_a_font():
    diagnosis = diagnose(FONT_ENGINE, DISPLAY, everything_exists, "linux")
    assert diagnosis == Diagnosis(Cause.NO_FONTS, "fonts-dejavu-core")
    assert describe(diagnosis) == (
        "Tk found no font to draw text with. Install it (Debian/Ubuntu: sudo apt-get install fonts-dejavu-core)."
    )
