"""What the launcher remembers between runs, and the checks on what a person types into it.

Settings live in a small JSON file in the user's config folder (never next to
the program: a one-file executable unpacks to a temporary folder).  The checks
are plain functions so they are tested without a display; each returns the
cleaned value or raises ValueError with a sentence to show beside the field.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from .protocol import DEFAULT_PORT, check_member_name


@dataclass
class LauncherSettings:
    """The last values typed into the launcher."""

    host_port: int = DEFAULT_PORT
    share: str = ""
    join_address: str = ""
    join_port: int = DEFAULT_PORT
    name: str = ""


def config_dir() -> Path:
    """The per-user folder for mmchat's settings (XDG on Linux, AppData on Windows, Library on macOS)."""
    override = os.environ.get("MMCHAT_CONFIG_DIR")
    if override:
        return Path(override)
    if sys.platform.startswith("win"):
        base = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "mmchat"


def default_share() -> Path:
    """Where a host shares files unless told otherwise."""
    return Path.home() / "mmchat-share"


def default_downloads() -> Path:
    """Where the chat window saves files unless told otherwise: the user's Downloads folder."""
    downloads = Path.home() / "Downloads"
    return downloads if downloads.is_dir() else Path.home()


def settings_path() -> Path:
    return config_dir() / "launcher.json"


def load_settings(path: Path | None = None) -> LauncherSettings:
    """The saved settings, or defaults when there are none (or they are unreadable)."""
    path = path or settings_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return LauncherSettings()
    if not isinstance(data, dict):
        return LauncherSettings()
    result = LauncherSettings()
    for f in fields(LauncherSettings):
        value = data.get(f.name)
        if isinstance(value, type(getattr(result, f.name))) and not isinstance(value, bool):
            setattr(result, f.name, value)
    return result


def save_settings(settings: LauncherSettings, path: Path | None = None) -> None:
    """Write the settings atomically; a failure to save is not worth bothering anyone about."""
    path = path or settings_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(settings), indent=2), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass


def check_port(text: str, allow_zero: bool = False) -> int:
    """A TCP port typed by a person."""
    text = text.strip()
    if not text:
        raise ValueError("Please enter a port number.")
    if not text.isdigit():
        raise ValueError("The port must be a number, like 12002.")
    port = int(text)
    low = 0 if allow_zero else 1
    if not low <= port <= 65535:
        raise ValueError(f"The port must be between {low} and 65535.")
    return port


def check_address(text: str) -> str:
    """A host name or IP address typed by a person (a port after ':' is not allowed here)."""
    text = text.strip()
    if text.startswith("mmchat://"):
        text = text[len("mmchat://") :].rstrip("/")
    if not text:
        raise ValueError("Please enter the host's address, like 192.168.1.5.")
    if any(ch.isspace() for ch in text):
        raise ValueError("An address has no spaces in it.")
    if text.count(":") == 1:
        raise ValueError("Put the port in its own field.")
    return text.strip("[]")


def check_name(text: str) -> str:
    """A member name typed by a person."""
    return check_member_name(text.strip())


def check_share(text: str) -> Path:
    """A folder to share: it is created if missing, but it must not be a file."""
    text = text.strip()
    if not text:
        raise ValueError("Please choose a folder to share.")
    path = Path(os.path.expanduser(text))
    if path.exists() and not path.is_dir():
        raise ValueError("That is a file, not a folder.")
    return path


def lan_addresses(bound: str, hostname: str | None = None) -> list[str]:
    """The addresses members should use to reach a host bound to `bound` (no network traffic).

    A host bound to one address is reachable there only; one bound to every
    address (0.0.0.0 / ::) is reachable on this machine's own IPv4 addresses,
    found from its name, with loopback last as a fallback.
    """
    import socket

    if bound not in ("", "0.0.0.0", "::"):
        return [bound]
    found: list[str] = []
    try:
        infos = socket.getaddrinfo(hostname or socket.gethostname(), None, socket.AF_INET, socket.SOCK_STREAM)
    except OSError:
        infos = []
    for info in infos:
        address = str(info[4][0])
        if not address.startswith("127.") and address not in found:
            found.append(address)
    return [*found, "127.0.0.1"]
