"""The app attestation protocol (C06), shared by the center's app API and the reference client.

docs/app-api.md "Attestation" is the normative text; this module is its one implementation of
the wire details: the statement's extensions, the instance id, the challenge digest and the exact
bytes an application request is signed over. :func:`dev_attestation` plays the platform's
attestation service (Play Integrity / App Attest) with the development attestation CA; a real
deployment swaps it for the platform's own statements and roots.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import secrets

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID, ObjectIdentifier

# Private extensions of the development attestation statement (UUID-based OIDs, ITU-T X.667:
# no registration needed). Their values are raw bytes: the app id as UTF-8, the challenge's
# SHA-256.
APP_ID_OID = ObjectIdentifier("2.25.205155311930207066934012461322787401761")
CHALLENGE_OID = ObjectIdentifier("2.25.205155311930207066934012461322787401762")

# Request headers of an application (docs/app-api.md).
INSTANCE_HEADER = "X-App-Instance"
CHALLENGE_HEADER = "X-App-Challenge"
SIGNATURE_HEADER = "X-App-Signature"

SIGNING_CONTEXT = b"vaxcert-app-request-v1"
# A development statement is valid for this long after the platform made it.
DEV_STATEMENT_LIFETIME = dt.timedelta(minutes=10)


def b64url(data: bytes) -> str:
    """base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """The inverse of :func:`b64url`; ValueError on anything else."""
    if not text.isascii():
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_challenge() -> str:
    """32 random bytes, base64url (43 characters)."""
    return b64url(secrets.token_bytes(32))


def challenge_digest(challenge: str) -> bytes:
    """SHA-256 of the challenge's ASCII text: what the statement carries, and the store's key."""
    return hashlib.sha256(challenge.encode("ascii")).digest()


def public_key_der(key: ec.EllipticCurvePublicKey) -> bytes:
    """SubjectPublicKeyInfo DER."""
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def instance_id(key: ec.EllipticCurvePublicKey) -> str:
    """The instance id: base64url of the SHA-256 of the instance key's SubjectPublicKeyInfo."""
    return b64url(hashlib.sha256(public_key_der(key)).digest())


def signing_input(method: str, path: str, challenge: str, body: bytes) -> bytes:
    """The exact bytes an application request is signed over (ECDSA P-256, SHA-256)::

    "vaxcert-app-request-v1" LF METHOD LF path LF challenge LF hex(SHA-256(body))
    """
    digest = hashlib.sha256(body).hexdigest()
    return b"\n".join(
        [
            SIGNING_CONTEXT,
            method.upper().encode(),
            path.encode(),
            challenge.encode(),
            digest.encode(),
        ]
    )


def sign_request(
    key: ec.EllipticCurvePrivateKey, method: str, path: str, challenge: str, body: bytes
) -> str:
    """The ``X-App-Signature`` value: base64url of the DER ECDSA signature."""
    signature = key.sign(signing_input(method, path, challenge, body), ec.ECDSA(hashes.SHA256()))
    return b64url(signature)


def dev_attestation(
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    instance_key: ec.EllipticCurvePublicKey,
    app_id: str,
    challenge: str,
    now: dt.datetime | None = None,
) -> list[str]:
    """The development platform's statement for ``instance_key``: a certificate from the dev
    attestation CA binding the key to ``app_id`` and ``challenge``, as the chain the app sends
    (base64 DER, leaf first)."""
    now = now or dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "app instance")]))
        .issuer_name(ca_cert.subject)
        .public_key(instance_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + DEV_STATEMENT_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.UnrecognizedExtension(APP_ID_OID, app_id.encode()), critical=False)
        .add_extension(
            x509.UnrecognizedExtension(CHALLENGE_OID, challenge_digest(challenge)), critical=False
        )
    )
    leaf = builder.sign(ca_key, hashes.SHA256())
    return [base64.b64encode(leaf.public_bytes(serialization.Encoding.DER)).decode("ascii")]
