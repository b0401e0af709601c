"""The VRS stub's data: domain records (dataclasses) and the relay API's wire models (pydantic).

Wire models forbid unknown fields (C04) and validate My Numbers and municipality codes by their
check digits; docs/vrs.md documents each of them for the center.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from vaxcert import municipality as lgcode
from vaxcert import mynumber

CertificateKind = Literal["domestic", "overseas"]
Channel = Literal["kiosk", "app"]
Residency = Literal["resident", "moved_out", "deceased"]
MOVE_REASONS = ("moved_in", "moved_out", "address_change", "birth", "deceased")
SEXES = ("1", "2", "9")
CLASSIFICATIONS = ("一般", "高齢者", "基礎疾患", "医療従事者", "高齢者施設従事者", "小児")
STAFF_ROLES = ("import", "export", "delete", "logs")
RECORD_ID = re.compile(r"^[0-9a-f]{16}$")


# --- domain records -------------------------------------------------------------------------


@dataclass(slots=True)
class Identity:
    """The personal part of a record, stored only encrypted (C13)."""

    my_number: str
    family_kanji: str
    given_kanji: str
    family_kana: str
    given_kana: str
    birth_date: dt.date
    sex: str
    address: str
    alias_name: str | None = None  # 旧姓・別姓・別名 (item 27)


@dataclass(slots=True)
class Move:
    """One 異動 (items 11, 12)."""

    moved_on: dt.date
    reason: str


@dataclass(slots=True)
class Ticket:
    """One 接種券 (items 4, 16)."""

    dose_number: int
    ticket_number: str
    issued_on: dt.date
    reissued_on: dt.date | None = None


@dataclass(slots=True)
class Vaccination:
    """One dose row (items 15, 17-26)."""

    dose_number: int
    status: Literal["done", "not_done"]
    vaccinated_on: dt.date | None
    product_key: str | None
    vaccine_type: str | None
    product_name: str | None
    maker: str | None
    cvx: str | None
    lot_number: str | None
    place: str | None
    doctor: str | None = None
    note: str | None = None
    adverse_reaction_reported: bool = False


@dataclass(slots=True)
class PassportData:
    """Passport data on file for 海外用 certificates (item 27, C20)."""

    family_roman: str
    given_roman: str
    nationality: str
    number: str


@dataclass(slots=True)
class IssuanceRecord:
    """A certificate issued from this record (items 28, 29, C20)."""

    certificate_id: str
    issued_on: dt.date
    kind: str
    channel: str


@dataclass(slots=True)
class PersonRecord:
    """Everything the VRS holds about one person in one municipality's partition."""

    record_id: str
    municipality_code: str
    address_number: str
    identity: Identity
    classification: str = "一般"
    support_measure: bool = False
    moves: list[Move] = field(default_factory=list)
    tickets: list[Ticket] = field(default_factory=list)
    vaccinations: list[Vaccination] = field(default_factory=list)
    passport: PassportData | None = None
    passport_source: str = "counter"
    issuances: list[IssuanceRecord] = field(default_factory=list)

    @property
    def residency(self) -> Residency:
        """Derived from the last move: moved out or deceased, else resident."""
        last = max(self.moves, key=lambda m: m.moved_on).reason if self.moves else "moved_in"
        if last == "deceased":
            return "deceased"
        if last == "moved_out":
            return "moved_out"
        return "resident"


# --- wire models of the relay API -------------------------------------------------------------


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
    model_config = ConfigDict(extra="forbid", frozen=True)


class QueryRequest(_Wire):
    """``POST /v1/records/query``: the card's data as the center read it, and what is asked."""

    municipality_code: MunicipalityCode
    my_number: MyNumber
    name: str = Field(min_length=1, max_length=100)  # the card's name (kanji, U+3000 between)
    birth_date: dt.date
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

    dose_number: int = Field(ge=1, le=7)
    date: dt.date
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
    issued_on: dt.date
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
