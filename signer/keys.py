"""Key custody: key files (development) and a PKCS#11 token (keys generated on it, never exported).

SoftHSM 2.6 offers only the bare ``CKM_ECDSA`` mechanism: we hash with SHA-256 ourselves and the
token returns the raw 64-byte r‖s that ES256 and VDS-NC ``sigvl`` need (platform.md).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import threading
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from signer.interfaces import KeySigner
from vaxcert import pki
from vaxcert.errors import VaxcertError
from vaxcert.formats import jose

_ES256 = ec.ECDSA(hashes.SHA256())


class FileKeySigner(KeySigner):
    """A private key held in process memory, loaded from a PEM file of the development PKI."""

    def __init__(self, private_key: ec.EllipticCurvePrivateKey) -> None:
        if not isinstance(private_key.curve, ec.SECP256R1):
            raise ValueError("ES256 needs an EC P-256 key")
        self._key = private_key
        self._public = private_key.public_key()

    @classmethod
    def from_file(cls, path: Path) -> FileKeySigner:
        """Load an unencrypted PEM private key."""
        try:
            key = pki.load_key(path)
        except (OSError, ValueError, TypeError):
            raise VaxcertError(
                "signer_key_unavailable", f"cannot load key file {path.name}"
            ) from None
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise VaxcertError("signer_key_unavailable", f"{path.name} is not an EC key")
        return cls(key)

    @classmethod
    def generate(cls, path: Path) -> FileKeySigner:
        """Make a new P-256 key and write it to ``path`` with mode 0600."""
        key = ec.generate_private_key(ec.SECP256R1())
        pki.write_private(
            path,
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )
        return cls(key)

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        """The public half of the key."""
        return self._public

    @property
    def custody(self) -> str:
        """Key files."""
        return "file"

    def sign(self, data: bytes) -> bytes:
        """ES256 over ``data`` as raw r‖s."""
        return jose.der_to_raw(self._key.sign(data, _ES256))


class Pkcs11Token:
    """A PKCS#11 token found by label, logged in once, with one session per thread.

    PKCS#11 sessions are not shared between threads, and a login lasts while one session of the
    process is open: a dedicated login session stays open for the life of this object. After a
    fork (gunicorn workers) everything is opened anew in the child.
    """

    def __init__(self, library: Path, label: str, user_pin: str) -> None:
        self.library = library
        self.label = label
        self._pin = user_pin
        self._lock = threading.Lock()
        self._local = threading.local()
        self._pid = -1
        self._token: Any = None
        self._login_session: Any = None

    def _open(self) -> Any:
        import pkcs11
        from pkcs11 import exceptions as p11e

        if not self._pin:
            raise VaxcertError("signer_key_unavailable", "signer.pkcs11.user_pin is not set")
        try:
            lib = pkcs11.lib(str(self.library))
            if self._pid not in (-1, os.getpid()):
                lib.reinitialize()  # a forked child must initialise the library anew
            token = lib.get_token(token_label=self.label)
        except (p11e.PKCS11Error, RuntimeError, OSError) as exc:
            raise VaxcertError(
                "signer_key_unavailable", f"PKCS#11 token {self.label!r}: {type(exc).__name__}"
            ) from None
        try:
            login = token.open(rw=True, user_pin=self._pin)
        except p11e.UserAlreadyLoggedIn:
            login = token.open(rw=True)
        except p11e.PKCS11Error as exc:
            raise VaxcertError(
                "signer_key_unavailable", f"PKCS#11 login failed: {type(exc).__name__}"
            ) from None
        self._login_session = login
        return token

    def session(self) -> Any:
        """This thread's read-write session on the logged-in token."""
        with self._lock:
            if self._pid != os.getpid():
                self._token = self._open()
                self._local = threading.local()
                self._pid = os.getpid()
            token = self._token
        session = getattr(self._local, "session", None)
        if session is None:
            session = token.open(rw=True)
            self._local.session = session
            self._local.keys = {}
        return session

    def _private_key(self, key_id: bytes) -> Any:
        from pkcs11 import ObjectClass
        from pkcs11 import exceptions as p11e

        session = self.session()
        cache: dict[bytes, Any] = self._local.keys
        key = cache.get(key_id)
        if key is None:
            try:
                key = session.get_key(object_class=ObjectClass.PRIVATE_KEY, id=key_id)
            except p11e.PKCS11Error:
                raise VaxcertError(
                    "signer_key_unavailable", f"no private key with id {key_id.hex()} on the token"
                ) from None
            cache[key_id] = key
        return key

    def generate(self, label: str) -> bytes:
        """Generate a P-256 key pair on the token, sensitive and never extractable; its CKA_ID."""
        from pkcs11 import Attribute, KeyType
        from pkcs11.util.ec import encode_named_curve_parameters

        key_id = secrets.token_bytes(16)
        parameters = self.session().create_domain_parameters(
            KeyType.EC,
            {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")},
            local=True,
        )
        parameters.generate_keypair(
            store=True,
            label=label,
            id=key_id,
            public_template={Attribute.VERIFY: True},
            private_template={
                Attribute.SENSITIVE: True,
                Attribute.EXTRACTABLE: False,
                Attribute.PRIVATE: True,
                Attribute.SIGN: True,
            },
        )
        return key_id

    def public_key(self, key_id: bytes) -> ec.EllipticCurvePublicKey:
        """The public key stored beside the private key ``key_id``."""
        from pkcs11 import ObjectClass
        from pkcs11 import exceptions as p11e
        from pkcs11.util.ec import encode_ec_public_key

        try:
            public = self.session().get_key(object_class=ObjectClass.PUBLIC_KEY, id=key_id)
        except p11e.PKCS11Error:
            raise VaxcertError(
                "signer_key_unavailable", f"no public key with id {key_id.hex()} on the token"
            ) from None
        key = serialization.load_der_public_key(encode_ec_public_key(public))
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise VaxcertError("signer_key_unavailable", "the token key is not an EC key")
        return key

    def sign_digest(self, key_id: bytes, digest: bytes) -> bytes:
        """Raw ECDSA (``CKM_ECDSA``) over a precomputed digest: r‖s from the token."""
        from pkcs11 import Mechanism
        from pkcs11 import exceptions as p11e

        try:
            signature: bytes = self._private_key(key_id).sign(digest, mechanism=Mechanism.ECDSA)
        except p11e.PKCS11Error as exc:
            raise VaxcertError(
                "signer_key_unavailable", f"token refused to sign: {type(exc).__name__}"
            ) from None
        return signature

    def close(self) -> None:
        """Close this thread's session and the login session (tests, CLI)."""
        session = getattr(self._local, "session", None)
        if session is not None:
            session.close()
            self._local.session = None
        if self._login_session is not None and self._pid == os.getpid():
            self._login_session.close()
        self._login_session = None
        self._pid = -1


class Pkcs11KeySigner(KeySigner):
    """A key pair generated on a PKCS#11 token; the private key never leaves it."""

    def __init__(self, token: Pkcs11Token, key_id: bytes) -> None:
        self.token = token
        self.key_id = key_id
        self._public = token.public_key(key_id)

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        """The public half, read from the token's public key object."""
        return self._public

    @property
    def custody(self) -> str:
        """A PKCS#11 token."""
        return "pkcs11"

    def sign(self, data: bytes) -> bytes:
        """SHA-256 here, ECDSA on the token (SoftHSM has no CKM_ECDSA_SHA256)."""
        signature = self.token.sign_digest(self.key_id, hashlib.sha256(data).digest())
        if len(signature) != 64:
            raise VaxcertError("signer_key_unavailable", "token returned a non-P-256 signature")
        return signature
