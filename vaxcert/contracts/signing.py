"""The certificate-content model: what the center builds, the signer signs and the kiosk prints.

One model for both kinds: 日本国内用 (``domestic``, SHC only) and 海外用及び日本国内用
(``overseas``, SHC + VDS-NC). Every model forbids unknown fields and is strict about types (C04);
docs/signer.md documents each field.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

Kind = Literal["domestic", "overseas"]
Sex = Literal["male", "female", "unspecified"]

# The earliest COVID-19 vaccination anywhere was in December 2020.
EARLIEST_DOSE = dt.date(2020, 12, 1)

_STRICT = ConfigDict(extra="forbid", strict=True, frozen=True)

# A name as the My Number card writes it: any printable characters, no control characters and no
# leading or trailing blanks (U+3000 included).
NameText = Annotated[
    str,
    StringConstraints(
        min_length=1,
        max_length=20,
        pattern=r"^[^\s\x00-\x1f\x7f](?:[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f])?$",
    ),
]
# Romanised like the passport's MRZ: upper-case Latin letters, single inner blanks, '-' or "'".
RomanText = Annotated[
    str, StringConstraints(min_length=1, max_length=38, pattern=r"^[A-Z]+(?:[ '-][A-Z]+)*$")
]
Alpha3 = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
# VDS-NC values: printable ASCII without '/' (formats.md §2).
VdsText = Annotated[
    str, StringConstraints(min_length=1, max_length=20, pattern=r"^[\x20-\x2e\x30-\x7e]+$")
]


class PersonName(BaseModel):
    """A name as written on the My Number card (kanji, kana or Latin for foreign residents)."""

    model_config = _STRICT

    family: NameText
    given: NameText | None = None

    def joined(self, separator: str = "\u3000") -> str:
        """Family and given name joined the way the card writes them."""
        return self.family if self.given is None else f"{self.family}{separator}{self.given}"


class RomanName(BaseModel):
    """The romanised name as in the passport; VDS-NC writes it ``"FAMILY GIVEN"`` (≤ 39)."""

    model_config = _STRICT

    family: RomanText
    given: RomanText | None = None

    def joined(self) -> str:
        """``"FAMILY GIVEN"``."""
        return self.family if self.given is None else f"{self.family} {self.given}"

    @model_validator(mode="after")
    def _fits_vdsnc(self) -> RomanName:
        if len(self.joined()) > 39:
            raise ValueError("the romanised name is longer than 39 characters (VDS-NC pid.n)")
        return self


class Holder(BaseModel):
    """The person the certificate is about."""

    model_config = _STRICT

    name: PersonName
    name_roman: RomanName | None = None
    birth_date: dt.date
    # The last three only on 海外用 certificates (C04: no more data than the certificate needs).
    sex: Sex | None = None
    nationality: Alpha3 | None = None
    passport_number: Annotated[str, StringConstraints(pattern=r"^[0-9A-Z]{1,11}$")] | None = None


class Dose(BaseModel):
    """One vaccination as recorded by the issuing municipality."""

    model_config = _STRICT

    date: dt.date
    # A key of the vaccine table (vaxcert/vaccines.py); names and codes come from there.
    product: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]
    # Left out, they are taken from the table; given, they must agree with it.
    cvx: Annotated[str, StringConstraints(pattern=r"^[0-9]{1,3}$")] | None = None
    icd11: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{2,8}$")] | None = None
    lot: Annotated[str, StringConstraints(pattern=r"^[0-9A-Z-]{1,20}$")]
    # Cumulative over all COVID-19 doses of the person (通算); never renumbered, may start above 1.
    dose_number: int = Field(ge=1, le=20)
    country: Alpha3 = "JPN"
    administering_authority: VdsText = "MHLW_Gov_of_JAPAN"


class Municipality(BaseModel):
    """The issuing municipality (its mayor signs the printed certificate)."""

    model_config = _STRICT

    code: Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")]
    name_ja: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    name_en: Annotated[str, StringConstraints(pattern=r"^[\x20-\x7e]{1,60}$")] | None = None


class CertificateContent(BaseModel):
    """Everything a vaccination certificate states; the input of both signing formats."""

    model_config = _STRICT

    kind: Kind
    certificate_id: Annotated[str, StringConstraints(pattern=r"^[0-9A-Z]{1,12}$")]
    issue_date: dt.date
    municipality: Municipality
    holder: Holder
    doses: list[Dose] = Field(min_length=1, max_length=10)

    @model_validator(mode="after")
    def _consistent(self) -> CertificateContent:
        holder = self.holder
        if self.kind == "overseas":
            missing = [
                name
                for name in ("name_roman", "nationality", "passport_number")
                if getattr(holder, name) is None
            ]
            if missing:
                raise ValueError(
                    f"an overseas certificate needs holder.{', holder.'.join(missing)}"
                )
        else:
            extra = [
                name
                for name in ("sex", "nationality", "passport_number")
                if getattr(holder, name) is not None
            ]
            if extra:
                # C04: only what the certificate states is sent.
                raise ValueError(
                    f"a domestic certificate carries no holder.{', holder.'.join(extra)}"
                )
        numbers = [dose.dose_number for dose in self.doses]
        if len(set(numbers)) != len(numbers):
            raise ValueError("two doses have the same dose_number")
        for dose in self.doses:
            if not EARLIEST_DOSE <= dose.date <= self.issue_date:
                raise ValueError("a dose date is before 2020-12-01 or after the issue date")
            if dose.date < holder.birth_date:
                raise ValueError("a dose date is before the birth date")
        return self

    def doses_in_order(self) -> list[Dose]:
        """The doses by date, then dose number (the order both formats list them in)."""
        return sorted(self.doses, key=lambda dose: (dose.date, dose.dose_number))


class ShcResult(BaseModel):
    """The signing API's answer for an SMART Health Card."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    jws: str
    qr_text: str  # "shc:/" + digits: the QR content
    kid: str
    nbf: int


class VdsncResult(BaseModel):
    """The signing API's answer for an ICAO VDS-NC: the document in JCS form (the QR content)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    document: str
    bsc_serial: str


class CertificateResult(BaseModel):
    """Both QR payloads of one certificate (``vdsnc`` only for ``overseas``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Kind
    shc: ShcResult
    vdsnc: VdsncResult | None = None
