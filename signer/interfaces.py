"""The signing interface: format code asks for a signature and never sees key material.

Two implementations live in :mod:`signer.keys`: key files (the development PKI) and a PKCS#11
token where keys are generated on the token and cannot be extracted. Configuration
(``signer.custody``) chooses where new keys are made.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from functools import cached_property

from cryptography.hazmat.primitives.asymmetric import ec

from vaxcert.formats import jose


class KeySigner(ABC):
    """One EC P-256 signing key: ES256 signatures as raw r‖s, its public key and its kid."""

    @property
    @abstractmethod
    def public_key(self) -> ec.EllipticCurvePublicKey:
        """The public half of the key."""

    @abstractmethod
    def sign(self, data: bytes) -> bytes:
        """ES256 over ``data``: SHA-256, ECDSA P-256, the 64-byte r‖s form JWS and VDS-NC use."""

    @property
    @abstractmethod
    def custody(self) -> str:
        """Where the private key lives (``file`` or ``pkcs11``), for status output and logs."""

    @cached_property
    def jwk(self) -> dict[str, str]:
        """The public JWK members ``kty, crv, x, y`` (never ``d``)."""
        return jose.public_jwk(self.public_key)

    @cached_property
    def kid(self) -> str:
        """The RFC 7638 thumbprint of the public key (the SHC ``kid``)."""
        return jose.ec_thumbprint(self.jwk)
