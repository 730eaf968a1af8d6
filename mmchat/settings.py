"""What the launcher remembers between runs, and the checks on what a person types into it.

Settings live in a small JSON file in the user's config folder (never next to
the program: a one-file executable unpacks to a temporary folder).  The checks
are plain functions so they are tested without a display; each returns the
cleaned value or raises ValueError with a sentence to show beside the field.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import sys
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from . import address
from .protocol import DEFAULT_PORT, MAX_PASSWORD_CHARS, check_member_name


@dataclass
class LauncherSettings:
    """The last values typed into the launcher, and the chat window's switches."""

    host_port: int = DEFAULT_PORT
    share: str = ""
    join_address: str = ""
    join_port: int = DEFAULT_PORT
    name: str = ""
    notifications: bool = True  # the chat window's Chat → Desktop notifications switch


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
        if type(value) is type(getattr(result, f.name)):  # exactly: a true is no port, a 1 no switch
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


def remember_host_port(port: int, path: Path | None = None) -> None:
    """Save the port a host really got (it was asked for port 0, any free one), for the launcher to offer."""
    saved = load_settings(path)
    saved.host_port = port
    save_settings(saved, path)


def check_port(text: str, allow_zero: bool = False) -> int:
    """A TCP port typed by a person."""
    return address.parse_port(text, allow_zero)


def check_address(text: str) -> str:
    """A host name or IP address typed by a person (a port after ':' is not allowed here)."""
    host, port = split_host_port(text)
    if port is not None:
        raise ValueError("Put the port in its own field.")
    return host


def split_host_port(text: str) -> tuple[str, int | None]:
    """An address typed or pasted as ADDR, ADDR:PORT, [IPv6]:PORT or mmchat://ADDR:PORT; the port may be None."""
    if not text.strip():
        raise ValueError("Please enter the host's address, like 192.168.1.5.")
    host, port, _ = address.split_address(text)
    return host, port


def check_name(text: str) -> str:
    """A member name typed by a person."""
    return check_member_name(text.strip())


def check_password(text: str) -> str:
    """A chat password typed by a person ('' for none); it is never saved with the settings."""
    if len(text) > MAX_PASSWORD_CHARS:
        raise ValueError(f"A password may have at most {MAX_PASSWORD_CHARS} characters.")
    if not text.isprintable():
        raise ValueError("A password may not contain tabs, new lines or other control characters.")
    return text


def check_share(text: str) -> Path:
    """A folder to share: it is created if missing, but it must not be a file."""
    text = text.strip()
    if not text:
        raise ValueError("Please choose a folder to share.")
    path = Path(os.path.expanduser(text))
    if path.exists() and not path.is_dir():
        raise ValueError("That is a file, not a folder.")
    return path


def interface_addresses() -> list[str]:
    """This computer's IPv4 interface addresses, asked of the kernel (Linux; elsewhere none).

    The ioctl reads the kernel's table through a UDP socket that is never
    connected or used, so nothing is sent.
    """
    if not sys.platform.startswith("linux"):
        return []
    try:
        import fcntl
        import struct

        names = [name for _, name in socket.if_nameindex()]
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    except (ImportError, OSError):
        return []
    found = []
    with probe:
        for name in names:
            try:
                request = struct.pack("256s", name.encode("utf-8", "replace")[:15])
                reply = fcntl.ioctl(probe.fileno(), 0x8915, request)  # SIOCGIFADDR
            except OSError:  # an interface without an IPv4 address
                continue
            found.append(socket.inet_ntoa(reply[20:24]))
    return found


def name_addresses(hostname: str) -> list[str]:
    """What this computer's own name resolves to (hosts file or the system resolver)."""
    try:
        infos = socket.getaddrinfo(hostname, None, socket.AF_UNSPEC, socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    return [str(info[4][0]) for info in infos]


def lan_addresses(bound: str, candidates: list[str] | None = None, hostname: str | None = None) -> list[str]:
    """The addresses members should type to reach a host listening on `bound`, best first.

    A host bound to one address (loopback included) is reachable there only.
    One bound to every address (0.0.0.0, or :: for IPv6 too) is reachable on
    this computer's own addresses, `candidates` (found without any network
    traffic when not given): loopback and link-local ones are left out and
    private LAN addresses come first.  When none is left, the computer's name
    is the best guess; without one, 127.0.0.1 (this computer only).
    """
    bound = bound.strip().strip("[]")
    if bound not in ("", "0.0.0.0", "::"):
        return [bound]
    if hostname is None:
        hostname = socket.gethostname()
    if candidates is None:
        candidates = interface_addresses() + (name_addresses(hostname) if hostname else [])
    found: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = []
    for text in candidates:
        try:
            ip = ipaddress.ip_address(text.split("%")[0])
        except ValueError:
            continue
        if bound != "::" and ip.version != 4:
            continue
        if ip.is_loopback or ip.is_link_local or ip.is_unspecified or ip.is_multicast:
            continue
        if ip not in found:
            found.append(ip)
    # Private IPv4 first (what people on a LAN type), then other IPv4, then IPv6; stable otherwise.
    found.sort(key=lambda a: (a.version, not a.is_private))
    if found:
        return [str(a) for a in found]
    if hostname and hostname.lower() != "localhost":
        return [hostname]
    return ["127.0.0.1"]
