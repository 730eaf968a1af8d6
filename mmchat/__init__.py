"""mmchat: a multimedia group chat for a local network (no Tk in this package)."""

__version__ = "0.1.0"
