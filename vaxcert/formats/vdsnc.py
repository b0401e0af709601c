"""ICAO VDS-NC (``icao.vacc`` v1) document structure and canonical bytes (formats.md §2).

The signature covers the RFC 8785 (JCS) form of ``data`` only, never the bytes as received.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import rfc8785

from vaxcert.formats.errors import FormatError
from vaxcert.formats.jose import b64url_decode

DOCUMENT_TYPE = "icao.vacc"
ALGORITHMS = {"ES256": 32, "ES384": 48, "ES512": 66}


# JCS numbers are IEEE-754 doubles: integers beyond ±2**53 are left to rfc8785 (which refuses them).
_SAFE_INTEGER = 2**53


def canonical(value: Any) -> bytes:
    """RFC 8785 (JCS) canonical UTF-8 bytes; floats are refused (``data`` must not hold any).

    For the shape VDS-NC data has (ASCII keys, strings, safe integers, no floats) JCS equals
    ``json.dumps`` with sorted keys, compact separators and no ASCII escaping: key order by UTF-16
    code units equals code-point order for ASCII keys, and both escape exactly '"', '\\' and
    the control characters, in lower-case hex. That path is ~10x faster than the rfc8785 package
    (the verifier's budget is 4x one ECDSA verify, design.md §5); anything else goes to rfc8785.
    """
    if _plain(value):
        try:
            return json.dumps(
                value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
            ).encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: let rfc8785 refuse it
            pass
    _refuse_floats(value)
    try:
        return bytes(rfc8785.dumps(value))
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise FormatError("vdsnc_structure_invalid", f"cannot canonicalise: {exc}") from None


def _refuse_floats(value: Any) -> None:
    if isinstance(value, float):
        raise FormatError("vdsnc_structure_invalid", "VDS-NC data must not contain floats")
    if isinstance(value, dict):
        for item in value.values():
            _refuse_floats(item)
    elif isinstance(value, list):
        for item in value:
            _refuse_floats(item)


def _plain(value: Any) -> bool:
    """Whether ``value`` has the shape whose JCS form ``json.dumps`` reproduces; floats raise."""
    if isinstance(value, str) or value is None or isinstance(value, bool):
        return True
    if isinstance(value, int):
        return -_SAFE_INTEGER < value < _SAFE_INTEGER
    if isinstance(value, dict):
        return all(
            isinstance(key, str) and key.isascii() and _plain(item) for key, item in value.items()
        )
    if isinstance(value, list):
        return all(_plain(item) for item in value)
    if isinstance(value, float):
        raise FormatError("vdsnc_structure_invalid", "VDS-NC data must not contain floats")
    return False


@dataclass(frozen=True, slots=True)
class VdsDocument:
    """A VDS-NC document, decoded but not verified."""

    data: dict[str, Any]
    alg: str
    certificate_der: bytes
    signature: bytes

    @property
    def signed_bytes(self) -> bytes:
        """What the signature covers: JCS(data)."""
        return canonical(self.data)

    @property
    def header(self) -> dict[str, Any]:
        """``data.hdr``."""
        hdr: dict[str, Any] = self.data["hdr"]
        return hdr

    @property
    def message(self) -> dict[str, Any]:
        """``data.msg``."""
        msg: dict[str, Any] = self.data["msg"]
        return msg


def looks_like_vdsnc(text: str) -> bool:
    """A cheap format sniff: JSON object text that mentions ``data`` and ``sig``."""
    stripped = text.lstrip()
    return stripped.startswith("{") and '"sig"' in stripped and '"data"' in stripped


def parse(text: str | bytes) -> VdsDocument:
    """Parse the QR text of a VDS-NC; structure errors raise :class:`FormatError`."""
    try:
        body = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser's stack
        raise FormatError("vdsnc_not_json", "VDS-NC text is not JSON") from None
    if not isinstance(body, dict):
        raise FormatError("vdsnc_structure_invalid", "VDS-NC is not a JSON object")
    data, sig = body.get("data"), body.get("sig")
    if not isinstance(data, dict) or not isinstance(sig, dict):
        raise FormatError("vdsnc_structure_invalid", "VDS-NC needs data and sig objects")
    hdr, msg = data.get("hdr"), data.get("msg")
    if not isinstance(hdr, dict) or not isinstance(msg, dict):
        raise FormatError("vdsnc_structure_invalid", "data needs hdr and msg objects")
    alg, cer, sigvl = sig.get("alg"), sig.get("cer"), sig.get("sigvl")
    if alg not in ALGORITHMS:
        raise FormatError("vdsnc_structure_invalid", f"unsupported signature algorithm {alg!r}")
    if not isinstance(cer, str) or not isinstance(sigvl, str):
        raise FormatError("vdsnc_structure_invalid", "sig needs cer and sigvl strings")
    signature = b64url_decode(sigvl, allow_padding=True, what="sigvl")
    if len(signature) != 2 * ALGORITHMS[str(alg)]:
        raise FormatError("signature_malformed", f"sigvl is not a raw r‖s for {alg}")
    return VdsDocument(
        data=data,
        alg=str(alg),
        certificate_der=b64url_decode(cer, allow_padding=True, what="cer"),
        signature=signature,
    )


def emit(data: dict[str, Any], alg: str, certificate_der_b64: str, signature_b64: str) -> str:
    """The whole document in JCS form, as issuers put it in the QR code."""
    document = {
        "data": data,
        "sig": {"alg": alg, "cer": certificate_der_b64, "sigvl": signature_b64},
    }
    return canonical(document).decode("utf-8")
