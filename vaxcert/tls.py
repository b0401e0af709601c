"""Mutually authenticated channels (C09) and encrypted ones (C10).

Servers: :func:`server_context` builds the one TLS policy every listener uses (TLS >= 1.2, forward
secret AEAD ciphers only, and for mTLS a client certificate from exactly one named CA).
Clients: :func:`client_session` gives a ``requests`` session with a client certificate and a pinned
CA that ignores the machine's ``REQUESTS_CA_BUNDLE`` (platform.md).
Peers: :class:`PeerIdentity` is what a view learns about the verified client certificate.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from cryptography import x509
from cryptography.x509.oid import NameOID
from requests.adapters import HTTPAdapter

# TLS 1.2 suites with forward secrecy and AEAD; TLS 1.3 suites are all acceptable.
_TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL:!MD5:!SHA1:!RC4:!3DES"


def server_context(cert: Path, key: Path, client_ca: Path | None) -> ssl.SSLContext:
    """A server-side context; with ``client_ca`` a certificate chaining to that CA is required."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(_TLS12_CIPHERS)
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
    context.load_cert_chain(str(cert), str(key))
    if client_ca is not None:
        # C09: only the named CA's clients complete the handshake (expired ones don't either).
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cafile=str(client_ca))
    return context


def client_context(ca: Path, cert: Path | None = None, key: Path | None = None) -> ssl.SSLContext:
    """A client-side context that trusts only ``ca`` and presents ``cert`` when given."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(_TLS12_CIPHERS)
    context.load_verify_locations(cafile=str(ca))
    if cert is not None:
        context.load_cert_chain(str(cert), str(key) if key else None)
    return context


class _PinnedAdapter(HTTPAdapter):
    """An adapter whose connections use one prepared SSL context (pinned CA + client cert)."""

    def __init__(self, context: ssl.SSLContext, pool_maxsize: int) -> None:
        self._context = context
        super().__init__(pool_connections=4, pool_maxsize=pool_maxsize, max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["ssl_context"] = self._context
        super().init_poolmanager(*args, **kwargs)

    def proxy_manager_for(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["ssl_context"] = self._context
        return super().proxy_manager_for(*args, **kwargs)


def client_session(
    ca: Path, cert: Path | None = None, key: Path | None = None, pool_maxsize: int = 16
) -> requests.Session:
    """A keep-alive ``requests`` session pinned to ``ca``, presenting ``cert`` when given.

    ``trust_env`` is off so ``REQUESTS_CA_BUNDLE`` and proxies from the environment cannot replace
    the pinned CA (platform.md). Use one session per thread.
    """
    session = requests.Session()
    session.trust_env = False
    session.verify = str(ca)
    if cert is not None:
        session.cert = (str(cert), str(key)) if key else str(cert)
    adapter = _PinnedAdapter(client_context(ca, cert, key), pool_maxsize)
    session.mount("https://", adapter)
    return session


@dataclass(frozen=True, slots=True)
class PeerIdentity:
    """The verified client certificate of the current request."""

    common_name: str
    serial: int
    fingerprint_sha256: str
    issuer_common_name: str
    # notAfter of the certificate (UTC): the console shows when each kiosk's expires.
    not_after: dt.datetime | None = None

    @classmethod
    def from_der(cls, der: bytes) -> PeerIdentity:
        """Parse the identity out of a DER certificate that TLS already verified."""
        certificate = x509.load_der_x509_certificate(der)
        return cls(
            common_name=_common_name(certificate.subject),
            serial=certificate.serial_number,
            fingerprint_sha256=hashlib.sha256(der).hexdigest(),
            issuer_common_name=_common_name(certificate.issuer),
            not_after=certificate.not_valid_after_utc,
        )

    @classmethod
    def from_pem(cls, pem: str) -> PeerIdentity:
        """Parse the identity out of a PEM certificate that TLS already verified."""
        return _identity_of_pem(pem)


@functools.lru_cache(maxsize=1024)
def _identity_of_pem(pem: str) -> PeerIdentity:
    # Kept-alive peers present the same certificate on every request: parse it once.
    return PeerIdentity.from_der(ssl.PEM_cert_to_DER_cert(pem.strip()))


def _common_name(name: x509.Name) -> str:
    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(values[0].value) if values else ""
