#!/usr/bin/env python3
"""mmchat entry point: `python mmchat.py --host`, `--join HOST:PORT`, or no arguments for the launcher."""

import sys

from mmchat.cli import FrontEnd, main


def windows() -> dict[str, FrontEnd]:
    """The Tk front ends, or none when Tk or a display is missing."""
    try:
        from gui.app import front_ends
    except ImportError:  # a Python built without tkinter: the terminal modes still work
        return {}
    return front_ends()


if __name__ == "__main__":
    sys.exit(main(windows=windows))
