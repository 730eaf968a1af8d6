"""Why the windows cannot open: the real cause behind a failed Tk start, and the package that cures it.

How this works: when Tk fails to start, mmchat falls back to the terminal, and the person
used to read only "No display".  On a minimal Debian or Ubuntu the display is often fine and
the cause is elsewhere: the one-file executable brings its own Tk but loads the system's X
library (libxcb1) and font configuration (fontconfig-config), a Python without Tk lacks
python3-tk, and a temporary folder mounted noexec stops the executable loading what it
unpacked.  `diagnose` turns the error text and a few facts about the system (environment,
which files exist) into a `Diagnosis` (a `Cause` plus its fields), with no Tk import and no
screen, so every case is testable by feeding it text; `describe` words it, and
`report_no_windows` prints it for a real failure.  `gui.app.tk_start_error` is the probe: it opens a
window and measures a font, because without a font configuration Tk starts and fails only
at the first text.
"""

from __future__ import annotations

import enum
import os
import re
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass


class Cause(enum.Enum):
    """What kept the windows from opening."""

    MISSING_LIBRARY = "missing library"
    NO_TK_MODULE = "no tkinter"
    NOEXEC_TEMP = "temporary folder is noexec"
    NO_DISPLAY = "no display"
    DISPLAY_REFUSED = "display refused"
    NO_FONTCONFIG = "no fontconfig configuration"
    NO_FONTS = "no fonts"
    OTHER = "other"


@dataclass(frozen=True)
class Diagnosis:
    """A cause, the Debian/Ubuntu package that cures it (if one does), and its detail."""

    cause: Cause
    package: str | None = None
    detail: str = ""  # the library, display, folder or file concerned, or the error text


# The libraries Tk and the one-file executable load, by their Debian/Ubuntu package.
LIBRARY_PACKAGES = {
    "libxcb.so.1": "libxcb1",
    "libX11.so.6": "libx11-6",
    "libXau.so.6": "libxau6",
    "libXdmcp.so.6": "libxdmcp6",
    "libXext.so.6": "libxext6",
    "libXft.so.2": "libxft2",
    "libXrender.so.1": "libxrender1",
    "libXss.so.1": "libxss1",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libexpat.so.1": "libexpat1",
    "libpng16.so.16": "libpng16-16",
    "libz.so.1": "zlib1g",
    "libbrotlidec.so.1": "libbrotli1",
    "libbsd.so.0": "libbsd0",
    "libtk8.6.so": "libtk8.6",
    "libtcl8.6.so": "libtcl8.6",
}

_MISSING_LIBRARY = re.compile(r"([\w.+-]+\.so(?:\.[\w.]+)?): cannot open shared object file")
_NO_TKINTER = re.compile(r"No module named '?_?tkinter'?")
_NOEXEC = re.compile(r"failed to map segment from shared object")
_DISPLAY_REFUSED = re.compile(r"couldn't connect to display \"?([^\"]*)\"?")
_FONT_ENGINE = re.compile(r"failed to allocate font|font engine")


def fontconfig_file(environ: Mapping[str, str]) -> str:
    """The configuration file fontconfig reads, as its own rules choose it."""
    name = environ.get("FONTCONFIG_FILE") or "fonts.conf"
    if os.path.isabs(name):
        return name
    return os.path.join(environ.get("FONTCONFIG_PATH") or "/etc/fonts", name)


def diagnose(
    error: str,
    environ: Mapping[str, str],
    exists: Callable[[str], bool] = os.path.exists,
    platform: str = sys.platform,
    temp_dir: str = "",
) -> Diagnosis:
    """The most likely cause of a Tk start that failed with `error`, on a system described by the rest."""
    missing = _MISSING_LIBRARY.search(error)
    if missing:
        library = missing.group(1)
        return Diagnosis(Cause.MISSING_LIBRARY, LIBRARY_PACKAGES.get(library), library)
    if _NO_TKINTER.search(error):
        return Diagnosis(Cause.NO_TK_MODULE, "python3-tk")
    if _NOEXEC.search(error):
        return Diagnosis(Cause.NOEXEC_TEMP, None, temp_dir or environ.get("TMPDIR") or "/tmp")
    if platform.startswith("linux") or platform.startswith("freebsd"):
        display = environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY")
        if not display:
            return Diagnosis(Cause.NO_DISPLAY)
        refused = _DISPLAY_REFUSED.search(error)
        if refused:
            return Diagnosis(Cause.DISPLAY_REFUSED, None, refused.group(1) or display)
        config = fontconfig_file(environ)
        if not exists(config):
            return Diagnosis(Cause.NO_FONTCONFIG, "fontconfig-config", config)
        if _FONT_ENGINE.search(error):
            return Diagnosis(Cause.NO_FONTS, "fonts-dejavu-core")
    return Diagnosis(Cause.OTHER, None, error.strip())


def describe(diagnosis: Diagnosis) -> str:
    """One or two sentences for a person: the cause and what to do about it."""
    install = f" Install it (Debian/Ubuntu: sudo apt-get install {diagnosis.package})." if diagnosis.package else ""
    match diagnosis.cause:
        case Cause.MISSING_LIBRARY:
            if diagnosis.package:
                return f"The windows need the system library {diagnosis.detail}, which is not installed.{install}"
            return (
                f"The windows need the system library {diagnosis.detail}, which is not installed; "
                "install the package that provides it."
            )
        case Cause.NO_TK_MODULE:
            return f"This Python has no Tk (the tkinter module), which the windows need.{install}"
        case Cause.NOEXEC_TEMP:
            return (
                f"The program could not load the libraries it unpacked into {diagnosis.detail}, which is "
                "probably mounted noexec. Start it with TMPDIR set to a folder that allows programs, "
                "e.g. TMPDIR=$HOME/.cache."
            )
        case Cause.NO_DISPLAY:
            return "There is no display here (neither DISPLAY nor WAYLAND_DISPLAY is set)."
        case Cause.DISPLAY_REFUSED:
            return (
                f"Tk could not connect to the display {diagnosis.detail}: check that it is running "
                "and that this user may use it."
            )
        case Cause.NO_FONTCONFIG:
            return f"There is no font configuration ({diagnosis.detail}), which Tk needs to draw text.{install}"
        case Cause.NO_FONTS:
            return f"Tk found no font to draw text with.{install}"
    return f"Tk could not open a window: {diagnosis.detail}"


def report_no_windows(exc: BaseException) -> Diagnosis:
    """Print why the windows cannot open (to standard error) for a Tk start that raised `exc`.

    With no display at all it prints nothing: the caller says so and falls back to the terminal,
    which is what a headless server wants, whatever else is missing.
    """
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return Diagnosis(Cause.NO_DISPLAY)
    unpacked = getattr(sys, "_MEIPASS", "")  # the one-file executable's folder under TMPDIR
    diagnosis = diagnose(
        str(exc), os.environ, temp_dir=os.path.dirname(unpacked) if unpacked else tempfile.gettempdir()
    )
    print(f"mmchat: {describe(diagnosis)}", file=sys.stderr, flush=True)
    return diagnosis
