"""Whether to trust a host's key: invites, trust on first use (as SSH does), and the known hosts file.

How this works
--------------
Once TLS shows the host's certificate, ChatClient calls `verify_host` with its
fingerprint.  `decide` is the rule, with no I/O: given where we connect, the
fingerprint shown, the one an invite link carried ('' for a bare HOST:PORT),
the one remembered for that address (None when it is new) and whether the
person said `--accept-new-key`, it returns a Decision:

    invite given, same key       TRUSTED, remembered (the invite is the proof)
    invite given, other key      INVITE_MISMATCH: refused, never asked (forged or mistyped)
    no invite, new address       FIRST_USE: the person is asked
    no invite, same as known     TRUSTED
    no invite, key changed       CHANGED: refused with both fingerprints, unless
                                 --accept-new-key (TRUSTED, the entry replaced)

`make_verifier` turns that into the callable ChatClient wants: it asks the
front end's `ask(decision)` for FIRST_USE and CHANGED (the terminal asks only
on first use; the window offers a deliberately labelled button for a changed
key), remembers what was accepted, and raises ConnectError with a sentence
otherwise.  `connect_verified` joins once more when a person was asked: the
host does not wait long for a new connection's hello, and a person comparing
fingerprints may take longer (their answer is saved by then).

`KnownHosts` is the file: one `HOST:PORT FINGERPRINT` a line in the member's
config folder, written to a temporary name and renamed, so a crash never
leaves half a file.  Lines it cannot read are kept as they are and
reported as a sentence; they never stop anyone from joining.
"""

from __future__ import annotations

import enum
import ipaddress
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from .address import Address, format_address, split_address
from .client_socket import ConnectError
from .fingerprints import normalize, same
from .protocol import RefusalKind
from .settings import config_dir

FILE_NAME = "known_hosts"
HEADER = "# mmchat known hosts: HOST:PORT FINGERPRINT (the SHA-256 of each host's certificate)"
MAX_FILE_BYTES = 1_000_000  # thousands of hosts; a bigger file is not ours to read
ACCEPT_BUTTON = "Accept the new key"  # the chat window's button for a changed key
FLAG_HINT = "join again with --accept-new-key"
BUTTON_HINT = f"choose Retry and then “{ACCEPT_BUTTON}”"


class Verdict(enum.Enum):
    """What the key a host shows means, given what we know about that address."""

    TRUSTED = "trusted"
    FIRST_USE = "first use"
    CHANGED = "changed"
    INVITE_MISMATCH = "invite mismatch"


@dataclass(frozen=True)
class Decision:
    """The verdict on one host's key, and the fingerprints it was made from (canonical spelling)."""

    verdict: Verdict
    address: str  # 'HOST:PORT', as the known hosts file writes it
    presented: str  # the fingerprint the host showed
    known: str = ""  # the one remembered for the address ('' when new)
    invite: str = ""  # the one the invite link carried ('' for a bare HOST:PORT)
    remember: bool = False  # TRUSTED, and the file should now say `presented` for the address


def host_key(host: str, port: int) -> str:
    """The file's spelling of an address: a lower-case name, an IP address in its shortest form."""
    host = host.strip().strip("[]").lower()
    literal, percent, zone = host.partition("%")
    try:
        host = str(ipaddress.ip_address(literal)) + percent + zone
    except ValueError:
        pass  # a host name
    return format_address(host, port)


def decide(address: str, presented: str, invite: str, known: str | None, accept_new_key: bool) -> Decision:
    """The verdict on the key `presented` by the host at `address` (fingerprints in any spelling)."""
    presented = normalize(presented)  # ValueError: not a fingerprint at all
    known = _canonical(known or "")
    if invite:
        if not same(invite, presented):
            return Decision(Verdict.INVITE_MISMATCH, address, presented, known, _canonical(invite) or invite)
        return Decision(Verdict.TRUSTED, address, presented, known, presented, remember=known != presented)
    if not known:
        return Decision(Verdict.FIRST_USE, address, presented)
    if same(known, presented):
        return Decision(Verdict.TRUSTED, address, presented, known)
    if accept_new_key:
        return Decision(Verdict.TRUSTED, address, presented, known, remember=True)
    return Decision(Verdict.CHANGED, address, presented, known)


def _canonical(fingerprint: str) -> str:
    try:
        return normalize(fingerprint)
    except ValueError:
        return ""


# --- what a person reads ------------------------------------------------------------------------


def first_use_text(decision: Decision) -> str:
    """What to show before asking whether to trust a host seen for the first time."""
    return (
        f"The host at {decision.address} is new to this computer. Its fingerprint is:\n"
        f"    {decision.presented}\n"
        "Compare it with the fingerprint the host shows (in its admin window, or the 'Fingerprint:' line "
        "of a headless host) before you trust it."
    )


def refusal(decision: Decision, how_to_accept: str = FLAG_HINT) -> str:
    """Why we did not connect, as sentences (`how_to_accept`: the deliberate way to accept a changed key)."""
    if decision.verdict is Verdict.CHANGED:
        return (
            f"The host at {decision.address} shows a different key from the one you trusted before, "
            "so mmchat did not connect. Someone may be pretending to be the host, or the host has a new key.\n"
            f"    Trusted before: {decision.known}\n"
            f"    Shown now:      {decision.presented}\n"
            f"If the person running the host confirms the new fingerprint, {how_to_accept}."
        )
    if decision.verdict is Verdict.INVITE_MISMATCH:
        return (
            f"The host at {decision.address} is not the one the invite names, so mmchat did not connect: "
            "the invite may be forged or mistyped. Ask the host for a new invite.\n"
            f"    In the invite: {decision.invite}\n"
            f"    Shown now:     {decision.presented}"
        )
    return f"You did not trust the host at {decision.address}, so mmchat did not connect."


def remembered_text(decision: Decision, path: Path) -> str:
    """The line that says a key was written to the known hosts file, and why."""
    if decision.invite and decision.known:
        why = "the invite's fingerprint matches its new key, which replaces the one you trusted before"
    elif decision.invite:
        why = "the invite's fingerprint matches its key"
    elif decision.known:
        why = "you accepted its new key, which replaces the one you trusted before"
    else:
        why = "you trusted it on first use"
    return f"Trusted the host at {decision.address} ({why}); its fingerprint is saved in {path}."


# --- the file -------------------------------------------------------------------------------------


def known_hosts_path() -> Path:
    """Where the member's known hosts live: beside the launcher's settings, in the config folder."""
    return config_dir() / FILE_NAME


class KnownHosts:
    """The known hosts file: read afresh on each look-up, rewritten whole (temporary name, then rename)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or known_hosts_path()
        self.problems: list[str] = []  # sentences about the last read (damaged lines, an unreadable file)

    def get(self, address: str) -> str | None:
        """The fingerprint remembered for `address` ('HOST:PORT' as host_key spells it), or None."""
        return self.entries().get(address)

    def entries(self) -> dict[str, str]:
        """Every address the file remembers, with its fingerprint (the first line for an address wins)."""
        found: dict[str, str] = {}
        for line in self._read() or []:
            entry = _parse_line(line)
            if entry is not None:
                found.setdefault(*entry)
        return found

    def remember(self, address: str, fingerprint: str) -> None:
        """Make the file say `fingerprint` for `address`; OSError (with a sentence) if it cannot be written."""
        lines = self._read()
        if lines is None:
            raise OSError(f"The known hosts file {self.path} cannot be read, so it is left as it is.")
        line = f"{address} {normalize(fingerprint)}"
        kept = [old for old in lines if _address_of(old) != address] or [HEADER]
        self._write([*kept, line])

    def _read(self) -> list[str] | None:
        """The file's lines (none when it does not exist yet), or None when it cannot be read."""
        self.problems = []
        try:
            with open(self.path, "rb") as file:
                data = file.read(MAX_FILE_BYTES + 1)
        except FileNotFoundError:
            return []
        except OSError as exc:
            self.problems.append(f"The known hosts file {self.path} cannot be read: {exc.strerror or exc}.")
            return None
        if len(data) > MAX_FILE_BYTES:
            self.problems.append(f"The known hosts file {self.path} is far too large to be one; it was not read.")
            return None
        # surrogateescape: bytes that are not UTF-8 survive a rewrite unchanged.
        lines = data.decode("utf-8", "surrogateescape").splitlines()
        for number, line in enumerate(lines, 1):
            if line.strip() and not line.lstrip().startswith("#") and _parse_line(line) is None:
                self.problems.append(
                    f"Line {number} of the known hosts file {self.path} is damaged (it should read "
                    "HOST:PORT FINGERPRINT), so it was ignored."
                )
        return lines

    def _write(self, lines: list[str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{FILE_NAME}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(("\n".join(lines) + "\n").encode("utf-8", "surrogateescape"))
                file.flush()
                os.fsync(file.fileno())
            os.replace(temp, self.path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise


def _address_of(line: str) -> str:
    entry = _parse_line(line)
    return entry[0] if entry else ""


def _parse_line(line: str) -> tuple[str, str] | None:
    """(address, fingerprint) from one line of the file, or None for a comment or a damaged line."""
    parts = line.split()
    if len(parts) != 2 or parts[0].startswith("#"):
        return None
    try:
        host, port, fingerprint = split_address(parts[0])
        if port is None or fingerprint:
            return None
        return host_key(host, port), normalize(parts[1])
    except ValueError:
        return None


# --- the verifier ChatClient calls ----------------------------------------------------------------


class HostVerifier:
    """`verify_host` for ChatClient: returns to accept the host's key, raises ConnectError to refuse."""

    def __init__(
        self,
        address: Address,
        store: KnownHosts,
        ask: Callable[[Decision], bool],
        accept_new_key: bool = False,
        *,
        how_to_accept: str = FLAG_HINT,
        tell: Callable[[str], None] = lambda line: None,
    ) -> None:
        self.key = host_key(address.host, address.port)
        self.invite = address.fingerprint
        self.store = store
        self.ask = ask
        self.accept_new_key = accept_new_key
        self.how_to_accept = how_to_accept
        self.tell = tell  # lines worth showing that are no reason to refuse (a damaged file, a save that failed)
        self.asked = False  # a person was asked, and trusted the host (their thinking time may have cost the join)
        self.refused: Decision | None = None  # why the host's key was refused, once it was

    def __call__(self, fingerprint: str) -> None:
        known = self.store.get(self.key)
        for problem in self.store.problems:
            self.tell(problem)
        try:
            decision = decide(self.key, fingerprint, self.invite, known, self.accept_new_key)
        except ValueError:
            raise ConnectError("The host's certificate has no fingerprint mmchat can read.") from None
        if decision.verdict is not Verdict.TRUSTED:
            if decision.verdict is Verdict.INVITE_MISMATCH or not self.ask(decision):
                self.refused = decision
                raise ConnectError(refusal(decision, self.how_to_accept))
            self.asked = True
        elif not decision.remember:
            return
        try:
            self.store.remember(self.key, decision.presented)
        except OSError as exc:
            self.tell(f"The host's key could not be saved ({exc.strerror or exc}); you will be asked again next time.")
            return
        if decision.verdict is not Verdict.FIRST_USE:  # on first use, the front end has said what it did
            self.tell(remembered_text(decision, self.store.path))


# The factory the front ends call: make_verifier(address, store, ask, accept_new_key, how_to_accept=, tell=).
make_verifier = HostVerifier


class _Joining(Protocol):
    def connect(self) -> str: ...


Client = TypeVar("Client", bound=_Joining)


def connect_verified(make_client: Callable[[], Client], verifier: HostVerifier) -> Client:
    """A client from `make_client()`, connected; tried once more when the person was asked about the key.

    The host waits only so long for a new connection to introduce itself, and a
    person comparing fingerprints may take longer.  Their answer is saved by
    then, so the second try goes through without asking again.  A host that
    refused (a password, a ban) is not asked twice: a wrong password would count twice.
    """
    client = make_client()
    try:
        client.connect()
    except ConnectError as exc:
        if not verifier.asked or exc.refusal is not RefusalKind.OTHER:
            raise
        verifier.asked = False
        client = make_client()
        client.connect()
    return client
