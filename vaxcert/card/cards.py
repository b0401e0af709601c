"""Virtual cards for the synthetic residents, plus card-level edge cases with their own keys.

A card is issued like a real one (card.md §5, §8): a per-card AP key signs EF0003, and the dev
"J-LIS" test CA (``9000033/001``, from the dev PKI) certifies that key in the EF0004 CVC. The edge
cases derive from the canary: ``locked-card``, ``one-try-left``, ``tampered-card``,
``unknown-ca-card`` and ``foreign-card`` (a contact card without the Kenhojo AP).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import rsa

from vaxcert import pki, residents
from vaxcert.card import layout
from vaxcert.card.models import CardFiles
from vaxcert.card.virtual import PIN_MAX_TRIES, VirtualKenhojoCard
from vaxcert.residents import SyntheticResident

# Key ids of the virtual card's AP key (CVC subject) and of EF0005; dev-only values.
AP_KEY_ID = pki.jlis_key_id_bytes("9000033/101")
AP_INFO_KEY_ID = pki.jlis_key_id_bytes("9000034/001")
# An issuer no configuration trusts (unknown-ca-card).
ROGUE_CA_KEY_ID = pki.jlis_key_id_bytes("9999033/001")
# 照合番号B = era-year YYMMDD + card expiry year + security code (card.md §2); synthetic parts.
CARD_EXPIRY_YEAR = 2031
CARD_SECURITY_CODE = "0000"


@dataclass(frozen=True)
class EdgeCase:
    """A card-level edge case derived from a base resident."""

    key: str
    base: str
    description: str


EDGE_CASES: dict[str, EdgeCase] = {
    case.key: case
    for case in (
        EdgeCase("locked-card", "canary", "the canary's card with the PIN already blocked"),
        EdgeCase("one-try-left", "canary", "the canary's card after two wrong PIN entries"),
        EdgeCase(
            "tampered-card",
            "canary",
            "EF0002 changed after issuance: the signed digest no longer matches",
        ),
        EdgeCase(
            "unknown-ca-card", "canary", "CVC issued by a CA no configuration trusts (9999033/001)"
        ),
        EdgeCase("foreign-card", "canary", "a contact card without the Kenhojo AP"),
    )
}


@dataclass(frozen=True)
class CardIssuer:
    """A CVC-issuing CA: its 16-byte key id and RSA private key."""

    key_id: bytes
    key: rsa.RSAPrivateKey

    @classmethod
    def from_pki(cls, pki_dir: Path) -> CardIssuer:
        """The dev "J-LIS" test CA of the dev PKI (``vaxcert certs init`` makes it)."""
        meta = json.loads((pki_dir / "jlis-ca.json").read_text())
        key = pki.load_key(pki.key_path(pki_dir, "jlis-ca"))
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("jlis-ca is not an RSA key")
        return cls(bytes.fromhex(meta["issuer_key_id_hex"]), key)


_key_lock = threading.Lock()


@functools.lru_cache(maxsize=64)
def _cached_key(name: str) -> rsa.RSAPrivateKey:
    # One RSA-2048 key per card key and process: generation costs ~50 ms (card.md §8).
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def ap_key(card_key: str) -> rsa.RSAPrivateKey:
    """The AP signing key of ``card_key``'s card (per card; stable within a process)."""
    with _key_lock:
        return _cached_key(f"ap:{card_key}")


def rogue_issuer() -> CardIssuer:
    """A CA that no CA key table contains."""
    with _key_lock:
        return CardIssuer(ROGUE_CA_KEY_ID, _cached_key("rogue-ca"))


def card_keys() -> list[str]:
    """Every key ``make_card`` accepts: the synthetic residents and the edge cases."""
    return sorted([*residents.RESIDENTS, *EDGE_CASES])


def resident_for(card_key: str) -> SyntheticResident:
    """The resident whose data the card ``card_key`` carries."""
    case = EDGE_CASES.get(card_key)
    return residents.get(case.base if case else card_key)


def _era_yymmdd(date: dt.date) -> str:
    # Japanese era year for 照合番号B (Taishō..Reiwa).
    for start, first_year in (
        (dt.date(2019, 5, 1), 2019),
        (dt.date(1989, 1, 8), 1989),
        (dt.date(1926, 12, 25), 1926),
        (dt.date(1912, 7, 30), 1912),
    ):
        if date >= start:
            return f"{date.year - first_year + 1:02d}{date:%m%d}"
    raise ValueError("birth dates before 1912-07-30 are not modelled")


def passcode_b(resident: SyntheticResident) -> str:
    """The 14-digit 照合番号B of the resident's virtual card."""
    return _era_yymmdd(resident.birth_date) + str(CARD_EXPIRY_YEAR) + CARD_SECURITY_CODE


def issue_files(
    resident: SyntheticResident, issuer: CardIssuer, key: rsa.RSAPrivateKey
) -> CardFiles:
    """Genuine Kenhojo files for ``resident``, signed by ``key`` certified by ``issuer``."""
    ef0001 = layout.build_my_number_file(resident.my_number)
    ef0002 = layout.build_basic_info_file(
        resident.name_kanji, resident.address, resident.birth_date, resident.sex
    )
    return CardFiles(
        ef0001=ef0001,
        ef0002=ef0002,
        ef0003=layout.build_integrity_file(ef0001, ef0002, key),
        ef0004=layout.build_cvc(issuer.key_id, AP_KEY_ID, key.public_key(), issuer.key),
        ef0005=layout.build_ap_info(AP_INFO_KEY_ID),
    )


def card_files(card_key: str, issuer: CardIssuer) -> CardFiles:
    """The files of the card ``card_key`` (edge cases applied)."""
    resident = resident_for(card_key)
    if card_key == "unknown-ca-card":
        return issue_files(resident, rogue_issuer(), ap_key(card_key))
    files = issue_files(resident, issuer, ap_key(card_key))
    if card_key == "tampered-card":
        # Given name altered after issuance; EF0003 still carries the genuine digest.
        altered = layout.build_basic_info_file(
            f"{resident.family_kanji}\u3000{resident.given_kanji}美",
            resident.address,
            resident.birth_date,
            resident.sex,
        )
        files = CardFiles(files.ef0001, altered, files.ef0003, files.ef0004, files.ef0005)
    return files


def make_card(
    card_key: str, issuer: CardIssuer, *, pin: str | None = None, locked: bool = False
) -> VirtualKenhojoCard:
    """A virtual card for a resident key or edge-case key; ``pin`` overrides the resident's."""
    if card_key not in EDGE_CASES and card_key not in residents.RESIDENTS:
        raise KeyError(f"unknown card {card_key!r}; known: {', '.join(card_keys())}")
    resident = resident_for(card_key)
    tries = PIN_MAX_TRIES
    if locked or card_key == "locked-card":
        tries = 0
    elif card_key == "one-try-left":
        tries = 1
    return VirtualKenhojoCard(
        card_files(card_key, issuer),
        pin=pin if pin is not None else resident.pin,
        passcode_a=resident.my_number,
        passcode_b=passcode_b(resident),
        pin_tries_left=tries,
        has_kenhojo=card_key != "foreign-card",
    )
