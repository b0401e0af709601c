"""C03: verify the Kenhojo files as the center does (card.md §6), without pyscard.

The chain, each step with its own reason code: the CVC (EF0004) under a configured CA key found by
its full 16-byte issuer key id (``card_ca_unknown`` / ``card_cvc_signature_invalid``), then the
EF0003 signature over the 70 digest bytes under the CVC's key (``card_data_signature_invalid``),
then both digests (``card_digest_mismatch``), and only then the My Number and the basic 4
information are parsed and trusted. Any layout fault is ``card_data_malformed``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from vaxcert.card import layout
from vaxcert.card.errors import (
    CvcSignatureError,
    DataSignatureError,
    DigestMismatchError,
    UnknownCardCaError,
)
from vaxcert.card.models import CardFiles, CardRead
from vaxcert.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CaKeyTable:
    """Trusted CVC issuers: 16-byte issuer key id → RSA public key (configuration, C03).

    ``development`` names the ids of the table that are development CAs (accepted outside
    production only): every card they verify logs a warning.
    """

    keys: Mapping[bytes, rsa.RSAPublicKey]
    development: frozenset[bytes] = field(default=frozenset())

    def __post_init__(self) -> None:
        for key_id, key in self.keys.items():
            if len(key_id) != layout.KEY_ID_SIZE:
                raise ValueError("CA key ids are 16 bytes")
            if key.key_size < 2048:
                raise ValueError(f"CA key {layout.key_id_label(key_id)} is shorter than 2048 bits")

    @classmethod
    def from_pem_files(
        cls, entries: Iterable[tuple[bytes, Path]], development: Iterable[bytes] = ()
    ) -> CaKeyTable:
        """Load each (key id, PEM SubjectPublicKeyInfo file); a bad file raises ConfigError."""
        keys: dict[bytes, rsa.RSAPublicKey] = {}
        for key_id, path in entries:
            label = layout.key_id_label(key_id)
            try:
                key = serialization.load_pem_public_key(path.read_bytes())
            except (OSError, ValueError) as exc:
                raise ConfigError(
                    "VAXCERT_CARD__CA_KEYS", f"{label}: cannot load {path}: {exc}"
                ) from None
            if not isinstance(key, rsa.RSAPublicKey):
                raise ConfigError("VAXCERT_CARD__CA_KEYS", f"{label}: {path} is not an RSA key")
            keys[key_id] = key
        return cls(keys, frozenset(development))

    def labels(self) -> list[str]:
        """The configured issuer key ids, readable."""
        return sorted(layout.key_id_label(key_id) for key_id in self.keys)


def parse_card_files(files: CardFiles) -> CardRead:
    """Parse the files without checking any signature (``verified_by`` is None)."""
    my_number = layout.parse_my_number(files.ef0001)
    info = layout.parse_basic_info(files.ef0002)
    return CardRead(
        files=files,
        my_number=my_number,
        name=info.name,
        address=info.address,
        birth_date=info.birth_date,
        sex=info.sex,
    )


def _verify_pkcs1_sha256(key: rsa.RSAPublicKey, signature: bytes, data: bytes) -> bool:
    try:
        key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def verify_card_files(files: CardFiles, ca_keys: CaKeyTable) -> CardRead:
    """Run the C03 chain over ``files``; returns the trusted :class:`CardRead` or raises."""
    # Structure first: a malformed file is its own failure (card_data_malformed), never a crash.
    cvc = layout.parse_cvc(files.ef0004)
    integrity = layout.parse_integrity(files.ef0003)
    basic_info_source = layout.basic_info_digest_source(files.ef0002)

    # C03 step 1: the CVC under the CA named by its full issuer key id.
    ca_key = ca_keys.keys.get(cvc.issuer_key_id)
    if ca_key is None:
        raise UnknownCardCaError(
            f"CVC issuer {layout.key_id_label(cvc.issuer_key_id)} is not a configured CA"
        )
    if not _verify_pkcs1_sha256(ca_key, cvc.signature, cvc.body):
        raise CvcSignatureError(
            f"CVC signature does not verify under {layout.key_id_label(cvc.issuer_key_id)}"
        )
    # C03 step 2: EF0003's signature over DF31-TLV ‖ DF32-TLV under the certified AP key.
    if not _verify_pkcs1_sha256(cvc.public_key(), integrity.signature, integrity.signed_data):
        raise DataSignatureError()
    # C03 steps 3 and 4: the digests over EF0001 (17 physical bytes) and DF22..DF25.
    if not hmac.compare_digest(hashlib.sha256(files.ef0001).digest(), integrity.my_number_digest):
        raise DigestMismatchError("EF0001 does not match its signed digest")
    if not hmac.compare_digest(
        hashlib.sha256(basic_info_source).digest(), integrity.basic_info_digest
    ):
        raise DigestMismatchError("EF0002 does not match its signed digest")
    if cvc.issuer_key_id in ca_keys.development:
        # C03: a card of the development CA is only a demo card; say so at every read.
        log.warning(
            "UNSAFE development trust: card verified by the development CA %s; never in production",
            layout.key_id_label(cvc.issuer_key_id),
        )
    # C03 step 5: only now are the contents parsed and trusted.
    read = parse_card_files(files)
    return dataclasses.replace(read, verified_by=layout.key_id_label(cvc.issuer_key_id))
