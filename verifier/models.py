"""What a verification returns: one :class:`Result` per certificate found in the input."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

from vaxcert.policy import Finding

Format = Literal["shc", "vdsnc", "unknown"]
# What a person at a gate is told: a plain "valid" only when revocation was checked with data
# inside the trust store's limit (or the issuer publishes none for this card), "valid, revocation
# not checked" when the certificate is sound but nobody can say it was not revoked.
Verdict = Literal["valid", "valid_revocation_unchecked", "invalid"]
RevocationStatus = Literal["checked", "not_offered", "not_checked", "revoked"]
# SHC revokes one card (its rid); ICAO VDS-NC has no per-document revocation, only its
# document signer can be revoked (CSCA CRL).
RevocationScope = Literal["certificate", "signer"]


def age_seconds(updated_at: dt.datetime | None, at: dt.datetime) -> float | None:
    """How old data updated at ``updated_at`` was at ``at`` (None: never updated)."""
    return None if updated_at is None else (at - updated_at).total_seconds()


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
    # The dose number the certificate states (VDS-NC seq; SHC protocolApplied when an issuer
    # adds it: ours does not, the QR profile has none). Never counted by the verifier: doses 3, 4
    # and 5 given in one municipality must not read 1, 2, 3.
    number: int | None = None

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
class Revocation:
    """What revocation checking could say about one certificate, and on what data."""

    status: RevocationStatus
    scope: RevocationScope
    # When the revocation data used was current: when it was fetched, or a CSCA CRL's thisUpdate
    # when later; None when the verifier never had any.
    as_of: dt.datetime | None = None
    # Why it was not checked (not_checked only): crl_missing, crl_stale or trust_stale.
    problem: Finding | None = None

    def to_json(self) -> dict[str, Any]:
        """Plain data."""
        return {
            "status": self.status,
            "scope": self.scope,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "problem": self.problem.to_json() if self.problem else None,
        }


@dataclass(frozen=True, slots=True)
class Result:
    """The outcome for one certificate: valid or not, why, and what it says.

    ``valid`` is True only when every check passed *and* a signature was verified against a trust
    anchor (fail closed). Holder data is what the certificate states; a page shows it as
    verified only when ``valid``. What a person is told is :attr:`verdict`: ``valid`` says
    nothing about revocation, which ``revocation`` reports.
    """

    valid: bool
    format: Format
    source: str  # where in the input it came from, e.g. "text", "image QR 2/2", "PDF p1 QR 1"
    checked_at: dt.datetime
    reasons: tuple[Finding, ...] = ()
    warnings: tuple[Finding, ...] = ()
    # SHC: the issuer's name from the trust store; VDS-NC: the document signer (BSC subject),
    # who signed it (the CSCA only vouches for the signer: trust_anchor).
    issuer: str | None = None
    issuer_id: str | None = None  # SHC iss URL, or the VDS-NC issuing country (hdr.is)
    names: tuple[str, ...] = ()
    birth_date: str | None = None
    doses: tuple[Dose, ...] = ()
    certificate_id: str | None = None
    trust_updated_at: dt.datetime | None = None
    # 海外用: what the certificate states to compare with the passport (SHC Patient.identifier,
    # VDS-NC pid.i); shown to the person checking, never stored or logged (C08).
    nationality: str | None = None
    passport_number: str | None = None
    signer: str | None = None  # VDS-NC: the document signer certificate's subject
    signer_country: str | None = None  # VDS-NC: the document signer's country (subject C)
    trust_anchor: str | None = None  # the trust store entry that vouched: SHC issuer or CSCA
    revocation: Revocation | None = None  # None when checking stopped before it
    # What the certificate states about its own validity (SHC nbf / exp); VDS-NC states none.
    issued_at: dt.datetime | None = None
    expires_at: dt.datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def outcome(self) -> str:
        """The one code that may be logged: ``valid`` or the first reason."""
        if self.valid:
            return "valid"
        return self.reasons[0].code if self.reasons else "invalid"

    @property
    def verdict(self) -> Verdict:
        """``valid`` only when revocation was checked (or the issuer offers none for this card);
        a sound certificate whose revocation could not be checked is never a plain valid."""
        if not self.valid:
            return "invalid"
        if self.revocation is None or self.revocation.status not in ("checked", "not_offered"):
            return "valid_revocation_unchecked"
        return "valid"

    @property
    def trust_age_seconds(self) -> float | None:
        """How old the trust data for this issuer was at ``checked_at``."""
        return age_seconds(self.trust_updated_at, self.checked_at)

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
            "verdict": self.verdict,
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
            "nationality": self.nationality,
            "passport_number": self.passport_number,
            "signer": self.signer,
            "signer_country": self.signer_country,
            "trust_anchor": self.trust_anchor,
            "revocation": self.revocation.to_json() if self.revocation else None,
            "trust_updated_at": (
                self.trust_updated_at.isoformat() if self.trust_updated_at else None
            ),
            "trust_age_seconds": self.trust_age_seconds,
            "issued_at": self.issued_at.isoformat() if self.issued_at else None,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
        }
