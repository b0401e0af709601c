"""The passport's machine-readable zone (ICAO 9303 TD3), read by the app for 海外用.

Parsing and check digits are the ``mrz`` package's (PyPI); here is only what the product needs
from it: a typed :class:`MrzPassport`, and the synthetic residents' MRZ for the reference client
and the tests. The MRZ holds personal data: nothing here logs it or puts it in an error (C08).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from mrz.checker.td3 import TD3CodeChecker
from mrz.generator.td3 import TD3CodeGenerator

from vaxcert.errors import VaxcertError
from vaxcert.residents import SyntheticResident

# The synthetic passports expire far after any test run.
SYNTHETIC_EXPIRY = dt.date(2035, 12, 31)
_SEX = {"1": "M", "2": "F"}


@dataclass(frozen=True, slots=True)
class MrzPassport:
    """What the certificate and VRS take from a TD3 MRZ whose check digits all hold."""

    family_roman: str  # "SHIKEN", blanks for '<' inside a name
    given_roman: str
    nationality: str  # ICAO alpha-3 (JPN; D for Germany is "D<<" and refused by VRS' format)
    number: str
    birth_date: dt.date
    expiry_date: dt.date


def _name(field: str) -> str:
    return " ".join(part for part in field.replace("<", " ").split())


def _date(yymmdd: str, *, past: bool, today: dt.date) -> dt.date:
    """A 2-digit-year date: birth dates lie in the past, expiry dates within the next 20 years."""
    year = int(yymmdd[:2])
    century = (
        2000 if (2000 + year <= today.year if past else 2000 + year <= today.year + 20) else 1900
    )
    return dt.date(century + year, int(yymmdd[2:4]), int(yymmdd[4:6]))


def parse_td3(text: str, today: dt.date) -> MrzPassport:
    """The passport in a TD3 MRZ (two lines of 44), or ``mrz_invalid`` (C08: nothing quoted).

    Every check digit (number, birth, expiry, optional data, composite) must hold, the document
    must be a passport ('P') and the nationality a known ICAO code.
    """
    lines = text.split("\n")
    if len(lines) != 2 or any(len(line) != 44 for line in lines):
        raise VaxcertError("mrz_invalid", "not two lines of 44 characters")
    try:
        checker = TD3CodeChecker(text)
        valid = bool(checker)
        fields = checker.fields()
    except Exception:  # the library raises assorted errors on garbage; none may quote it
        raise VaxcertError("mrz_invalid", "unreadable") from None
    if not valid:
        raise VaxcertError("mrz_invalid", "check digits or codes do not hold")
    if not fields.document_type.startswith("P"):
        raise VaxcertError("mrz_invalid", "not a passport")
    try:
        birth = _date(fields.birth_date, past=True, today=today)
        expiry = _date(fields.expiry_date, past=False, today=today)
    except ValueError:
        raise VaxcertError("mrz_invalid", "impossible date") from None
    family, given = _name(fields.surname), _name(fields.name)
    if not family or not fields.nationality.isalpha():
        raise VaxcertError("mrz_invalid", "no surname or no nationality")
    return MrzPassport(
        family_roman=family,
        given_roman=given,
        nationality=fields.nationality,
        number=fields.document_number.replace("<", ""),
        birth_date=birth,
        expiry_date=expiry,
    )


def synthetic_td3(resident: SyntheticResident, expiry: dt.date = SYNTHETIC_EXPIRY) -> str:
    """The synthetic resident's passport MRZ (two lines joined by a line feed); the resident must
    have a passport in the fixture."""
    if resident.passport is None:
        raise ValueError(f"resident {resident.key} has no passport in the fixture")
    code = TD3CodeGenerator(
        "P",
        resident.passport.nationality,
        resident.family_roman,
        resident.given_roman,
        resident.passport.number,
        resident.passport.nationality,
        resident.birth_date.strftime("%y%m%d"),
        _SEX.get(resident.sex, "<"),
        expiry.strftime("%y%m%d"),
    )
    return str(code)
