"""The host the command line describes: one builder for the headless host and the admin window alike."""

from __future__ import annotations

import argparse
from pathlib import Path

from .budget import Limits
from .liveness import KEEPALIVE_TIMEOUT, OPENERS_PER_ADDRESS, PING_AFTER, KeepAlive, Openers
from .server import ChatServer
from .storage import HISTORY_MAX

DEFAULTS = Limits()


def make_server(args: argparse.Namespace) -> ChatServer:
    """Build (not start) the ChatServer the arguments describe."""
    return ChatServer(
        Path(args.share),
        args.bind,
        args.port,
        data_dir=Path(args.data) if args.data else None,
        password=args.password,
        # getattr: a front end may build its own Namespace without the host's limits
        flood=Limits(
            chat=getattr(args, "flood_chat", DEFAULTS.chat),
            requests=getattr(args, "flood_requests", DEFAULTS.requests),
            transfers=getattr(args, "flood_transfers", DEFAULTS.transfers),
            transfers_at_once=getattr(args, "transfers_at_once", DEFAULTS.transfers_at_once),
            transfer_stall=getattr(args, "transfer_stall", DEFAULTS.transfer_stall),
            partial_keep=getattr(args, "keep_partial", DEFAULTS.partial_keep),
        ),
        keepalive=KeepAlive(
            getattr(args, "ping_after", PING_AFTER), getattr(args, "keepalive_timeout", KEEPALIVE_TIMEOUT)
        ),
        openers=Openers(per_address=getattr(args, "openers_per_address", OPENERS_PER_ADDRESS)),
        history_max=getattr(args, "history_max", HISTORY_MAX),
        tls=not getattr(args, "no_tls", False),  # --no-tls: for measuring only, and members must say it too
    )
