"""The protocol's two error kinds, as in h11: the peer misbehaved, or we did."""


class ProtocolError(Exception):
    """The peer sent something that breaks the protocol: tell it, and hang up."""


class LocalProtocolError(Exception):
    """We tried to send something the protocol does not allow (a bug here)."""
