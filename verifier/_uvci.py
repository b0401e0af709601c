"""The issuer's signed list of revoked VDS-NC certificate ids (``uvci``), docs/verifier.md.

ICAO's scheme revokes document signers only. Our signer also publishes, beside its SHC CRLs, a
compact JWS by its document signer (``x5c``: the BSC) listing SHA-256 digests of revoked uvci
(docs/signer.md §4). It is trusted exactly as far as a VDS-NC of that signer is: the BSC must
chain to a trusted CSCA, carry the VDS-NC EKU, be valid now and not be in the CSCA's CRL.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from vaxcert.formats import FormatError, jose
from vaxcert.formats.uvci_list import LIST_TYPE, uvci_digest
from verifier import _x509

if TYPE_CHECKING:
    from verifier.trust import TrustedCsca, TrustStore

_DIGEST = re.compile(r"[0-9a-f]{64}")


class UvciListError(Exception):
    """The list cannot be used; the message says why (it never holds certificate data)."""


@dataclass(frozen=True, slots=True)
class UvciRevocations:
    """A verified list: revoked uvci digests, its counter, when it was signed, and by whom."""

    digests: frozenset[str]
    ctr: int
    issued_at: dt.datetime
    signer_serial: int
    text: str  # the JWS as fetched (what `trust refresh` keeps)

    def revokes(self, uvci: str) -> bool:
        """Whether ``uvci`` is in the list."""
        return uvci_digest(uvci) in self.digests


def _json_part(part: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(jose.b64url_decode(part))
    except (FormatError, ValueError, UnicodeDecodeError):
        raise UvciListError(f"{what} is not base64url JSON") from None
    if not isinstance(value, dict):
        raise UvciListError(f"{what} is not a JSON object")
    return value


def parse_uvci_list(
    text: str, store: TrustStore, at: dt.datetime
) -> tuple[UvciRevocations, list[TrustedCsca]]:
    """Verify a published list and say which trusted CSCAs it speaks for (those its document
    signer chains to). Raises :class:`UvciListError`."""
    parts = text.strip().split(".")
    if len(parts) != 3:
        raise UvciListError("not a compact JWS")
    header = _json_part(parts[0], "header")
    payload = _json_part(parts[1], "payload")
    if header.get("alg") != "ES256" or header.get("typ") != LIST_TYPE:
        raise UvciListError("header is not alg ES256, typ " + LIST_TYPE)
    chain = header.get("x5c")
    if not isinstance(chain, list) or not chain or not isinstance(chain[0], str):
        raise UvciListError("x5c names no document signer")
    try:
        bsc = _x509.parse_certificate(base64.b64decode(chain[0], validate=True))
    except (binascii.Error, _x509.X509Error) as exc:
        raise UvciListError(f"document signer unreadable: {exc}") from None
    anchors = [csca for csca in store.cscas_for(bsc) if store.chain_holds(bsc, csca)]
    if not anchors:
        raise UvciListError("its document signer does not chain to a trusted CSCA")
    if _x509.BSC_EKU not in bsc.ekus:
        raise UvciListError("its signer is not a VDS-NC document signer")
    if not bsc.valid_at(at):
        raise UvciListError("its document signer is not valid now")
    if any(bsc.serial in crl.revoked for csca in anchors for crl in csca.crls):
        raise UvciListError("its document signer is revoked")
    key = bsc.public_key
    try:
        signature = jose.b64url_decode(parts[2])
    except FormatError:
        raise UvciListError("signature is not base64url") from None
    signed = f"{parts[0]}.{parts[1]}".encode("ascii")
    if not isinstance(key, ec.EllipticCurvePublicKey) or not _x509.ecdsa_raw_holds(
        key, signature, signed, hashes.SHA256()
    ):
        raise UvciListError("signature does not verify")
    ctr, iat, revoked = payload.get("ctr"), payload.get("iat"), payload.get("revoked")
    if (
        payload.get("hash") != "SHA-256"
        or not isinstance(ctr, int)
        or not isinstance(iat, int)
        or isinstance(ctr, bool)
        or isinstance(iat, bool)
        or not isinstance(revoked, list)
        or not all(isinstance(d, str) and _DIGEST.fullmatch(d) for d in revoked)
    ):
        raise UvciListError("payload is not of the form ctr, iat, hash SHA-256, revoked digests")
    issued = dt.datetime.fromtimestamp(iat, dt.UTC)
    return UvciRevocations(frozenset(revoked), ctr, issued, bsc.serial, text.strip()), anchors
