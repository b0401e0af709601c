"""The VRS stub's domain records (dataclasses); the relay API's wire models are in
:mod:`vaxcert.contracts.vrs_relay`, shared with the center."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

from vaxcert.vaccines import MAX_DOSES

Residency = Literal["resident", "moved_out", "deceased"]
RESIDENCIES: tuple[Residency, ...] = ("resident", "moved_out", "deceased")
MOVE_REASONS = ("moved_in", "moved_out", "address_change", "birth", "deceased")
SEXES = ("1", "2", "9")
CLASSIFICATIONS = ("一般", "高齢者", "基礎疾患", "医療従事者", "高齢者施設従事者", "小児")
STAFF_ROLES = ("import", "export", "delete", "logs")


def _check_dose_number(number: int) -> None:
    if not 1 <= number <= MAX_DOSES:
        raise ValueError(f"dose number {number} outside 1..{MAX_DOSES}")


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

    def __post_init__(self) -> None:
        _check_dose_number(self.dose_number)


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

    def __post_init__(self) -> None:
        # A record the relay could not answer would fail every later query of it: refuse it here.
        _check_dose_number(self.dose_number)


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
