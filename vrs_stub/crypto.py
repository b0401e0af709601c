"""Encryption at rest for the VRS stub (C13).

Key hierarchy: one 32-byte master key from configuration wraps, per municipality and key version,
a data key (AES-256-GCM for personal columns) and a blind-index key (HMAC-SHA-256 for My Number
lookups). Each ciphertext is bound by its associated data to the municipality, the column and the
record, so a value copied into another row or another partition does not decrypt (C12).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import secrets
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from vaxcert.config import Settings
from vaxcert.errors import ConfigError
from vaxcert.pki import write_private

log = logging.getLogger(__name__)

KEY_BYTES = 32
_NONCE_BYTES = 12
_CHECK_LABEL = b"vaxcert-vrs master key check v1"
DEV_MASTER_KEY_FILE = "vrs-master.key"


class DecryptionError(Exception):
    """A ciphertext did not authenticate: wrong key, wrong row or tampering."""


def _decode_key(text: str, setting: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(setting, "is not base64") from None
    if len(key) != KEY_BYTES:
        raise ConfigError(setting, f"must decode to {KEY_BYTES} bytes, not {len(key)}")
    return key


def new_master_key_text() -> str:
    """A fresh random master key, base64, for configuration or a key file."""
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()


def load_master_key(settings: Settings) -> bytes:
    """The configured master key; outside production a missing one is generated (mode 0600).

    Production refuses to start without ``VAXCERT_VRS__MASTER_KEY`` or ``..._FILE``: there is no
    built-in key anywhere in the code (C13).
    """
    vrs = settings.vrs
    if vrs.master_key is not None:
        return _decode_key(vrs.master_key.get_secret_value(), "VAXCERT_VRS__MASTER_KEY")
    if vrs.master_key_file is not None:
        return read_key_file(vrs.master_key_file, strict=settings.environment == "production")
    if settings.environment == "production":
        raise ConfigError(
            "VAXCERT_VRS__MASTER_KEY",
            "production needs a master key (this setting or VAXCERT_VRS__MASTER_KEY_FILE)",
        )
    path = data_dir(settings) / DEV_MASTER_KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_private(path, (new_master_key_text() + "\n").encode())
        log.warning("generated a development VRS master key", extra={"path": str(path)})
    return read_key_file(path, strict=True)


def read_key_file(path: Path, strict: bool = True) -> bytes:
    """Read a base64 key file; with ``strict`` a file readable by group or others is refused."""
    setting = "VAXCERT_VRS__MASTER_KEY_FILE"
    if not path.is_file():
        raise ConfigError(setting, f"file {path} does not exist")
    if strict and path.stat().st_mode & 0o077:
        raise ConfigError(setting, f"file {path} must not be readable by others (chmod 600)")
    return _decode_key(path.read_text(), setting)


def data_dir(settings: Settings) -> Path:
    """The VRS data directory, absolute."""
    return settings.vrs.data_dir.resolve()


def master_key_check(master: bytes) -> str:
    """A value that identifies the master key without revealing it (stored with the data)."""
    return hmac.new(master, _CHECK_LABEL, hashlib.sha256).hexdigest()[:32]


def _wrap_aad(municipality: str, version: int, purpose: str) -> bytes:
    return f"vrs-key|{purpose}|{municipality}|v{version}".encode()


def wrap(master: bytes, municipality: str, version: int, purpose: str, key: bytes) -> bytes:
    """Encrypt a data or index key under the master key (nonce ‖ ciphertext ‖ tag)."""
    nonce = os.urandom(_NONCE_BYTES)
    return nonce + AESGCM(master).encrypt(nonce, key, _wrap_aad(municipality, version, purpose))


def unwrap(master: bytes, municipality: str, version: int, purpose: str, blob: bytes) -> bytes:
    """Decrypt a wrapped key; a wrong master key raises :class:`DecryptionError`."""
    try:
        return AESGCM(master).decrypt(
            blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], _wrap_aad(municipality, version, purpose)
        )
    except InvalidTag:
        raise DecryptionError("wrapped key does not open with this master key") from None


def normalise_my_number(my_number: str) -> bytes:
    """The 12 ASCII digits of a My Number (full-width digits folded), as bytes."""
    return unicodedata.normalize("NFKC", my_number).strip().encode("ascii")


@dataclass(frozen=True)
class PartitionKeys:
    """The unwrapped keys of one municipality at one key version."""

    municipality: str
    version: int
    aead: AESGCM
    index_key: bytes

    @classmethod
    def from_raw(
        cls, municipality: str, version: int, data_key: bytes, index_key: bytes
    ) -> PartitionKeys:
        """Build from raw key bytes."""
        return cls(municipality, version, AESGCM(data_key), index_key)

    def blind_index(self, my_number: str) -> bytes:
        """Keyed blind index of a My Number: HMAC-SHA-256 under this municipality's key (C13)."""
        return hmac.new(
            self.index_key, b"my_number|" + normalise_my_number(my_number), hashlib.sha256
        ).digest()

    def _aad(self, column: str, record_id: str, part: str) -> bytes:
        return f"vrs|{column}|{self.municipality}|{record_id}|{part}".encode()

    def seal(self, plaintext: bytes, column: str, record_id: str, part: str = "") -> bytes:
        """Encrypt one column value of one row (nonce ‖ ciphertext ‖ tag)."""
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self.aead.encrypt(nonce, plaintext, self._aad(column, record_id, part))

    def open(self, blob: bytes, column: str, record_id: str, part: str = "") -> bytes:
        """Decrypt one column value; a value from another row or partition fails (C12)."""
        try:
            return self.aead.decrypt(
                blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], self._aad(column, record_id, part)
            )
        except InvalidTag:
            raise DecryptionError(f"{column} does not authenticate for this row") from None


def new_partition_keys() -> tuple[bytes, bytes]:
    """Fresh random (data key, index key)."""
    return secrets.token_bytes(KEY_BYTES), secrets.token_bytes(KEY_BYTES)
