#!/usr/bin/env python3
"""mmchat entry point: `python mmchat.py --host`, `--join HOST:PORT`, or no arguments for the launcher."""

import sys

from mmchat.cli import main

if __name__ == "__main__":
    sys.exit(main())
