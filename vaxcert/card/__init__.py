"""My Number card layer: the 券面事項入力補助AP reader, virtual cards, and C03 verification.

Public surface: :class:`CardReader` (interface) with :func:`create_reader` picking the
implementation from configuration, :class:`CardFiles` (what a reader returns), the typed errors,
and, for the center alone, :func:`verify_card_files` with :func:`ca_key_table` and the
:class:`CardRead` it yields. A reader never verifies or parses: terminals pass the raw files on and
the center's C03 check is the one authority, so only the center ever holds a parsed My Number (C08,
C22). Importing this package never imports pyscard (only :class:`vaxcert.card.pcsc.PcscCardReader`
does, when used), so the center and `make demo` run without libpcsclite.
"""

from __future__ import annotations

import logging
from pathlib import Path

from vaxcert import pki
from vaxcert.card.errors import (
    CardDataError,
    CardError,
    PinLockedError,
    WrongPinError,
)
from vaxcert.card.interfaces import CardReader
from vaxcert.card.models import CardFiles, CardRead
from vaxcert.card.verify import CaKeyTable, verify_card_files
from vaxcert.config import CardSettings, Settings
from vaxcert.errors import ConfigError

__all__ = [
    "CaKeyTable",
    "CardDataError",
    "CardError",
    "CardFiles",
    "CardRead",
    "CardReader",
    "PinLockedError",
    "WrongPinError",
    "ca_key_table",
    "create_reader",
    "verify_card_files",
]

log = logging.getLogger(__name__)


def _key_id_bytes(key_id: str) -> bytes:
    if "/" in key_id:
        return pki.jlis_key_id_bytes(key_id)
    return bytes.fromhex(key_id)


def ca_key_table(settings: Settings) -> CaKeyTable:
    """The configured CVC issuers (C03); relative key paths are under ``pki_dir``.

    Development CAs (ids 9xxxxxx) are refused in production; elsewhere they are accepted with a
    warning here and at every card they verify.
    """
    card: CardSettings = settings.card
    if not card.ca_keys:
        raise ConfigError("VAXCERT_CARD__CA_KEYS", "at least one CA key is required")
    entries: list[tuple[bytes, Path]] = []
    development: list[bytes] = []
    for entry in card.ca_keys:
        raw = _key_id_bytes(entry.key_id)
        # The 9xxxxxx ids are vaxcert's dev test CA (J-LIS's are 5xxxxxx, card.md §5, §8).
        if raw[:1] == b"9":
            if settings.environment == "production":
                # C03: never trusted in production.
                raise ConfigError(
                    "VAXCERT_CARD__CA_KEYS",
                    f"dev CA {entry.key_id} is refused in production: configure J-LIS's CA "
                    "(5000033/001), or `vaxcert --dev` for development",
                )
            development.append(raw)
            log.warning(
                "UNSAFE development trust: cards of the development CA %s are accepted; "
                "never in production",
                entry.key_id,
            )
        path = entry.public_key
        entries.append((raw, path if path.is_absolute() else settings.pki_dir / path))
    return CaKeyTable.from_pem_files(entries, development)


def create_reader(settings: Settings) -> CardReader:
    """The configured reader (``card.reader``); it needs no CA key table, it verifies nothing."""
    card: CardSettings = settings.card
    if card.reader == "pcsc":
        from vaxcert.card.pcsc import PcscCardReader

        return PcscCardReader(card.pcsc_reader, timeout=card.timeout_seconds)
    from vaxcert.card.cards import CardIssuer, make_card
    from vaxcert.card.inprocess import InProcessCardReader

    try:
        issuer = CardIssuer.from_pki(settings.pki_dir)
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(
            "VAXCERT_PKI_DIR", f"no dev J-LIS CA for the virtual card ({exc.__class__.__name__})"
        ) from None
    try:
        virtual = make_card(card.virtual_card, issuer)
    except KeyError as exc:
        raise ConfigError("VAXCERT_CARD__VIRTUAL_CARD", str(exc)) from None
    return InProcessCardReader(virtual, timeout=card.timeout_seconds)
