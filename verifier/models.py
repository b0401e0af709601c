"""What a verification returns: one :class:`Result` per certificate found in the input."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

from vaxcert.policy import Finding

Format = Literal["shc", "vdsnc", "unknown"]


@dataclass(frozen=True, slots=True)
class Dose:
    """One vaccination event as the certificate states it."""

    date: str | None
    vaccine: str | None  # product name (VDS-NC nam, or our display name for a CVX code)
    vaccine_code: str | None  # "CVX 207" or the ICD-11 code
    vaccine_ja: str | None = None
    lot: str | None = None
    performer: str | None = None  # SHC performer / VDS-NC adm
    country: str | None = None
    number: int | None = None  # VDS-NC seq (SHC carries no dose numbers)

    def to_json(self) -> dict[str, Any]:
        """Plain data."""
        return {
            "date": self.date,
            "vaccine": self.vaccine,
            "vaccine_ja": self.vaccine_ja,
            "vaccine_code": self.vaccine_code,
            "lot": self.lot,
            "performer": self.performer,
            "country": self.country,
            "number": self.number,
        }


@dataclass(frozen=True, slots=True)
class Result:
    """The outcome for one certificate: valid or not, why, and what it says.

    ``valid`` is True only when every check passed *and* a signature was verified against a trust
    anchor (fail closed). Holder data is what the certificate states; a page shows it as
    verified only when ``valid``.
    """

    valid: bool
    format: Format
    source: str  # where in the input it came from, e.g. "text", "image QR 2/2", "PDF p1 QR 1"
    checked_at: dt.datetime
    reasons: tuple[Finding, ...] = ()
    warnings: tuple[Finding, ...] = ()
    issuer: str | None = None  # display name from the trust store
    issuer_id: str | None = None  # iss URL, or the CSCA's subject
    names: tuple[str, ...] = ()
    birth_date: str | None = None
    doses: tuple[Dose, ...] = ()
    certificate_id: str | None = None
    trust_updated_at: dt.datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def outcome(self) -> str:
        """The one code that may be logged: ``valid`` or the first reason."""
        if self.valid:
            return "valid"
        return self.reasons[0].code if self.reasons else "invalid"

    @property
    def trust_age_seconds(self) -> float | None:
        """How old the trust data for this issuer was at ``checked_at``."""
        if self.trust_updated_at is None:
            return None
        return (self.checked_at - self.trust_updated_at).total_seconds()

    @property
    def codes(self) -> list[str]:
        """The failure codes, in order."""
        return [finding.code for finding in self.reasons]

    @property
    def warning_codes(self) -> list[str]:
        """The warning codes, in order."""
        return [finding.code for finding in self.warnings]

    def to_json(self) -> dict[str, Any]:
        """Plain data for ``--json`` and the web API."""
        return {
            "valid": self.valid,
            "format": self.format,
            "source": self.source,
            "checked_at": self.checked_at.isoformat(),
            "reasons": [finding.to_json() for finding in self.reasons],
            "warnings": [finding.to_json() for finding in self.warnings],
            "issuer": self.issuer,
            "issuer_id": self.issuer_id,
            "names": list(self.names),
            "birth_date": self.birth_date,
            "doses": [dose.to_json() for dose in self.doses],
            "certificate_id": self.certificate_id,
            "trust_updated_at": (
                self.trust_updated_at.isoformat() if self.trust_updated_at else None
            ),
            "trust_age_seconds": self.trust_age_seconds,
        }
