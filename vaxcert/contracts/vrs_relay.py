"""The VRS relay API's wire models: what the center sends to the VRS and what it gets back.

Both sides import these one definitions. They forbid unknown fields (C04) and validate My Numbers
and municipality codes by their check digits; docs/vrs.md documents each of them.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from vaxcert import lgcode, mynumber
from vaxcert.contracts.dates import IsoDate
from vaxcert.contracts.text import PrintableText
from vaxcert.vaccines import MAX_DOSES

CertificateKind = Literal["domestic", "overseas"]
Channel = Literal["kiosk", "app"]
RECORD_ID = re.compile(r"^[0-9a-f]{16}$")


def _valid_my_number(value: str) -> str:
    if not (value.isascii() and mynumber.is_valid(value)):
        raise ValueError("not a valid My Number (12 ASCII digits with check digit)")
    return value


def _valid_municipality(value: str) -> str:
    if not lgcode.is_valid(value):
        raise ValueError("not a valid municipality code (6 digits with check digit)")
    return value


MyNumber = Annotated[str, Field(min_length=12, max_length=12), AfterValidator(_valid_my_number)]
MunicipalityCode = Annotated[
    str, Field(min_length=6, max_length=6), AfterValidator(_valid_municipality)
]
RecordId = Annotated[str, Field(pattern=RECORD_ID.pattern)]


class _Wire(BaseModel):
    # strict: JSON semantics only (no number taken for a date, no "true" or 1 for a boolean).
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class QueryRequest(_Wire):
    """``POST /v1/records/query``: the card's data as the center read it, and what is asked."""

    municipality_code: MunicipalityCode
    my_number: MyNumber
    # The card's name (kanji, U+3000 between family and given name).
    name: PrintableText = Field(min_length=1, max_length=100)
    birth_date: IsoDate
    certificate_kind: CertificateKind
    channel: Channel


class Flags(_Wire):
    """Certificate-relevant facts of the record; the center's rules decide what they mean."""

    support_measure: bool  # 支援措置 (e.g. DV protection) on the record
    alias_notation: bool  # 旧姓・別姓・別名 on the record
    moved_out: bool
    deceased: bool
    passport_on_file: bool


class Dose(_Wire):
    """One completed dose as the certificate needs it (items 17-19, 22, 25, 26)."""

    dose_number: int = Field(ge=1, le=MAX_DOSES)
    date: IsoDate
    product_key: str
    vaccine_type: str  # ICD-11 (VDS-NC `des`)
    product_name: str  # certificate label (製品名)
    maker: str  # ワクチンの種類 as the QR shows it (e.g. ファイザー社)
    cvx: str
    lot_number: str


class Passport(_Wire):
    """Passport data on file (item 27), returned only for 海外用 (C20)."""

    family_roman: str = Field(pattern=r"^[A-Z][A-Z '\-]{0,38}$")
    given_roman: str = Field(pattern=r"^[A-Z][A-Z '\-]{0,38}$")
    nationality: str = Field(pattern=r"^[A-Z]{3}$")
    number: str = Field(pattern=r"^[A-Z0-9]{1,11}$")


class QueryMatch(_Wire):
    """The record was found and the card's name and birth date agree with it."""

    result: Literal["match"] = "match"
    record_id: str  # opaque internal record id, for /v1/issuances and /v1/passports
    provision_id: int  # the provision record this reply left (C16)
    flags: Flags
    doses: list[Dose]
    passport: Passport | None  # only when certificate_kind is overseas and data is on file


class QueryNoMatch(_Wire):
    """Nothing in that municipality's partition for this number (C12, C14): nothing provided."""

    result: Literal["no_match"] = "no_match"


class QueryIdentityMismatch(_Wire):
    """A record exists but the card's name or birth date differ from it: nothing provided."""

    result: Literal["identity_mismatch"] = "identity_mismatch"


class IssuanceRequest(_Wire):
    """``POST /v1/issuances``: a certificate was issued from a record (C20)."""

    municipality_code: MunicipalityCode
    record_id: RecordId
    certificate_id: str = Field(pattern=r"^[A-Za-z0-9\-]{1,32}$")
    issued_on: IsoDate
    certificate_kind: CertificateKind
    channel: Channel


class IssuanceResponse(_Wire):
    """``recorded`` the first time; ``already_recorded`` for an identical repeat (idempotent)."""

    result: Literal["recorded", "already_recorded"]
    certificate_id: str


class PassportRequest(_Wire):
    """``POST /v1/passports``: passport data read by the app (MRZ) for later 海外用 issuance."""

    municipality_code: MunicipalityCode
    record_id: RecordId
    passport: Passport


class PassportResponse(_Wire):
    """The passport data is on file for this record."""

    result: Literal["stored"] = "stored"
