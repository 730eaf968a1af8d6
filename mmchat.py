#!/usr/bin/env python3
"""mmchat entry point: `python mmchat.py --host`, `--join HOST:PORT`, or no arguments for the launcher."""

import sys

from mmchat.cli import FrontEnd, main


def windows() -> dict[str, FrontEnd]:
    """The Tk front ends, or none when Tk or a display is missing."""
    try:
        from gui.app import front_ends
    except ImportError as exc:  # no tkinter, or a library Tk needs: the terminal modes still work
        from mmchat.display import report_no_windows

        report_no_windows(exc)
        return {}
    return front_ends()


if __name__ == "__main__":
    sys.exit(main(windows=windows))
