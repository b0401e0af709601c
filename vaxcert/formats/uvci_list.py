"""The issuer's signed list of revoked VDS-NC certificate ids, shared by the signer (which makes
it) and the verifier (which reads it); docs/signer.md §4 describes the format.

A compact JWS ``{"alg":"ES256","typ":LIST_TYPE,"x5c":[BSC]}`` over
``{"iss","ctr","iat","hash":"SHA-256","revoked":[hex SHA-256 of each uvci]}``, signed by a
document signer (barcode signer certificate) of the issuer.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Iterable
from typing import Any

from vaxcert.formats import jose

LIST_TYPE = "vaxcert-uvci-revocations+jws"


def uvci_digest(uvci: str) -> str:
    """How a revoked uvci appears in the list: SHA-256 hex of its UTF-8 (the list does not tell
    anyone which certificate ids exist)."""
    return hashlib.sha256(uvci.encode("utf-8")).hexdigest()


def _compact(value: dict[str, Any]) -> str:
    return jose.b64url_encode(json.dumps(value, separators=(",", ":"), sort_keys=True).encode())


def signed_list(
    iss: str,
    ctr: int,
    iat: int,
    revoked_ids: Iterable[str],
    bsc_der: bytes,
    sign: Callable[[bytes], bytes],
) -> str:
    """The compact JWS; ``sign`` makes the ES256 raw r‖s signature with the BSC's key."""
    header = {"alg": "ES256", "typ": LIST_TYPE, "x5c": [base64.b64encode(bsc_der).decode()]}
    payload = {
        "iss": iss,
        "ctr": ctr,
        "iat": iat,
        "hash": "SHA-256",
        "revoked": sorted(uvci_digest(uvci) for uvci in revoked_ids),
    }
    signing_input = f"{_compact(header)}.{_compact(payload)}"
    return f"{signing_input}.{jose.b64url_encode(sign(signing_input.encode('ascii')))}"
