"""JOSE building blocks: base64url, RFC 7638 EC thumbprints and ECDSA signature encodings."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from vaxcert.formats.errors import FormatError

# A regular expression rather than a per-character loop: JWS parts are verified on a hot path.
_B64URL = re.compile(r"[A-Za-z0-9_-]+")


def b64url_encode(data: bytes) -> str:
    """base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str, allow_padding: bool = False, what: str = "value") -> bytes:
    """Decode base64url; padding is accepted only when ``allow_padding`` (VDS-NC readers must)."""
    body = text.rstrip("=") if allow_padding else text
    if not _B64URL.fullmatch(body) or len(body) % 4 == 1:
        raise FormatError("b64url_invalid", f"{what} is not base64url")
    try:
        return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        raise FormatError("b64url_invalid", f"{what} is not base64url") from None


def ec_thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638 thumbprint of an EC JWK: SHA-256 over ``{"crv","kty","x","y"}``, base64url."""
    try:
        members = {name: jwk[name] for name in ("crv", "kty", "x", "y")}
    except KeyError as missing:
        raise FormatError("jwk_invalid", f"EC JWK lacks {missing}") from None
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True)
    return b64url_encode(hashlib.sha256(canonical.encode("utf-8")).digest())


_CURVES: dict[str, tuple[ec.EllipticCurve, int]] = {
    "P-256": (ec.SECP256R1(), 32),
    "P-384": (ec.SECP384R1(), 48),
    "P-521": (ec.SECP521R1(), 66),
}


def public_jwk(key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    """The public members ``kty, crv, x, y`` of an EC key (never ``d``)."""
    numbers = key.public_numbers()
    crv = {256: "P-256", 384: "P-384", 521: "P-521"}[key.curve.key_size]
    size = _CURVES[crv][1]
    return {
        "kty": "EC",
        "crv": crv,
        "x": b64url_encode(numbers.x.to_bytes(size, "big")),
        "y": b64url_encode(numbers.y.to_bytes(size, "big")),
    }


def jwk_public_key(jwk: Mapping[str, Any]) -> ec.EllipticCurvePublicKey:
    """The EC public key of a JWK; a malformed or off-curve key raises ``jwk_invalid``."""
    if jwk.get("kty") != "EC" or jwk.get("crv") not in _CURVES:
        raise FormatError("jwk_invalid", "only EC P-256/384/521 keys are supported")
    curve, size = _CURVES[str(jwk["crv"])]
    x = b64url_decode(str(jwk.get("x", "")), what="x")
    y = b64url_decode(str(jwk.get("y", "")), what="y")
    if len(x) != size or len(y) != size:
        raise FormatError("jwk_invalid", "coordinate length does not match the curve")
    try:
        return ec.EllipticCurvePublicNumbers(
            int.from_bytes(x, "big"), int.from_bytes(y, "big"), curve
        ).public_key()
    except ValueError:
        raise FormatError("jwk_invalid", "point is not on the curve") from None


def raw_to_der(signature: bytes) -> bytes:
    """r‖s (as JWS and VDS-NC carry it) to the DER form ``cryptography`` verifies."""
    if len(signature) % 2 or not signature:
        raise FormatError("signature_malformed", "r‖s signature has an odd length")
    half = len(signature) // 2
    r = int.from_bytes(signature[:half], "big")
    s = int.from_bytes(signature[half:], "big")
    return encode_dss_signature(r, s)


def der_to_raw(der: bytes, size: int = 32) -> bytes:
    """DER ECDSA signature to r‖s, each left-padded to ``size`` bytes."""
    r, s = decode_dss_signature(der)
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")
