"""The host's TLS identity (a key and a self-signed certificate in its data folder) and both ends' contexts.

How this works
--------------
On its first start a host makes an ECDSA P-256 key and a self-signed
certificate for it (the `cryptography` package: the `ssl` module can use
certificates but not make them) and keeps both in its data folder, the key
readable by its owner only, so the host's identity, and so its fingerprint,
survives restarts.  Nobody vouches for that certificate: members check it by
its fingerprint (`fingerprints.fingerprint_of` of its DER bytes) against an
invite or their known hosts (`known_hosts.py`), so the client context checks
neither a CA nor a host name.  A damaged or half-missing identity is an
`IdentityError` with a sentence; it is never silently replaced, since a new
key would make every member who knows the host refuse it.

Both contexts speak TLS 1.3, or 1.2 at the least.  The server sends no
session tickets: nobody resumes, and each would cost every connection memory.
"""

from __future__ import annotations

import datetime
import os
import secrets
import socket
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path

from .fingerprints import fingerprint_of

KEY_FILE = "tls-key.pem"
CERT_FILE = "tls-cert.pem"
VALID_DAYS = 100 * 365  # the fingerprint is the identity; an expiry would only break it one day


class IdentityError(OSError):
    """The host's key or certificate cannot be used; str() is a sentence for a person."""


@dataclass(frozen=True)
class HostIdentity:
    """Where the host's key and certificate are, and the certificate's fingerprint."""

    key_path: Path
    cert_path: Path
    der: bytes
    fingerprint: str


def load_or_create(data_dir: Path) -> HostIdentity:
    """The identity kept in `data_dir`, made there on first use; IdentityError with a sentence if damaged."""
    key_path, cert_path = data_dir / KEY_FILE, data_dir / CERT_FILE
    if not key_path.exists() and not cert_path.exists():
        _create(key_path, cert_path)
    try:
        cert_pem = cert_path.read_text("ascii")
        der = ssl.PEM_cert_to_DER_cert(cert_pem)
        # Whether key and certificate belong together (and parse at all) is what a context finds out.
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_path, key_path)
    except (OSError, ValueError, UnicodeError, ssl.SSLError) as exc:
        raise IdentityError(
            f"The host's TLS identity in {data_dir} cannot be used ({_why(exc)}). Put {KEY_FILE} and "
            f"{CERT_FILE} back as they were, or move both away to make a new one: members who know this "
            "host will then see a new fingerprint and must accept it."
        ) from None
    return HostIdentity(key_path, cert_path, der, fingerprint_of(der))


def _why(exc: Exception) -> str:
    if isinstance(exc, FileNotFoundError):
        return f"{Path(exc.filename or '').name} is missing"
    if isinstance(exc, OSError) and not isinstance(exc, ssl.SSLError):
        return exc.strerror or str(exc)
    return "the key or the certificate is damaged, or they do not belong together"


def _create(key_path: Path, cert_path: Path) -> None:
    """A new P-256 key (mode 0600) and its self-signed certificate, each written whole or not at all."""
    from cryptography import x509  # only here: a host that has its identity never loads it
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"mmchat host {socket.gethostname()}"[:64])])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(int.from_bytes(secrets.token_bytes(16), "big") >> 1)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    key_path.parent.mkdir(parents=True, exist_ok=True)
    _write_new(key_path, key_pem, 0o600)
    _write_new(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)


def _write_new(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)  # the key is never readable by others
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def server_context(identity: HostIdentity) -> ssl.SSLContext:
    """The host's context: its certificate, TLS 1.2 at the least, no session tickets."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(identity.cert_path, identity.key_path)
    context.num_tickets = 0
    return context


def client_context() -> ssl.SSLContext:
    """A member's context: no CA and no host name are checked, the fingerprint is (known_hosts.py)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def self_check(folder: Path) -> str:
    """Make an identity in `folder` and shake hands with it over a socket pair; a summary, or RuntimeError."""
    identity = load_or_create(folder)
    host_end, member_end = socket.socketpair()
    echoed: list[bytes] = []

    def serve() -> None:
        with server_context(identity).wrap_socket(host_end, server_side=True) as tls:
            echoed.append(tls.recv(16))
            tls.sendall(echoed[0])

    with host_end, member_end:
        host_end.settimeout(10)
        member_end.settimeout(10)
        thread = threading.Thread(target=serve, name="mmchat-tls-check", daemon=True)
        thread.start()
        with client_context().wrap_socket(member_end) as tls:
            tls.sendall(b"mmchat")
            answer, version, der = tls.recv(16), tls.version(), tls.getpeercert(binary_form=True)
        thread.join(10)
    if answer != b"mmchat" or not der or fingerprint_of(der) != identity.fingerprint:
        raise RuntimeError("the TLS handshake over a socket pair did not show the certificate just made")
    return f"{version}, ECDSA P-256 certificate {identity.fingerprint[:23]}…"
