"""The host the command line describes: one builder for the headless host and the admin window alike."""

from __future__ import annotations

import argparse
from pathlib import Path

from .server import ChatServer


def make_server(args: argparse.Namespace) -> ChatServer:
    """Build (not start) the ChatServer the arguments describe."""
    return ChatServer(
        Path(args.share),
        args.bind,
        args.port,
        data_dir=Path(args.data) if args.data else None,
        password=args.password,
    )
