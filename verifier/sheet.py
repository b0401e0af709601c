"""One verdict for what was presented: a certificate sheet (or screen) with one or more codes.

A 海外用 sheet carries an SHC and a VDS-NC of the same certificate. A person at a gate needs one
answer, not a box per code: every code must be valid and all must belong to the same person
and the same certificate, else the sheet is NOT VALID, with the reason in words a gate agent
understands (the ``sheet_*`` reason codes) and the technical reasons per code underneath.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from vaxcert.policy import Finding
from verifier.models import Result, Verdict, age_seconds

# The failure codes each headline stands for; a code not listed means damaged or altered.
_HEADLINES: dict[str, tuple[str, ...]] = {
    "sheet_revoked": ("revoked", "bsc_revoked"),
    "sheet_untrusted": (
        "issuer_untrusted",
        "unknown_trust_anchor",
        "kid_unknown",
        "bsc_chain_invalid",
        "issuing_country_mismatch",
        "x5c_invalid",
        "bsc_eku_missing",
        "bsc_nv_missing",
        "iss_not_https",
        "iss_trailing_slash",
    ),
    "sheet_expired": ("expired", "bsc_expired", "csca_expired", "x5c_expired"),
    "sheet_not_certificate": (
        "input_unrecognised",
        "not_health_card",
        "vdsnc_type_unsupported",
        "shc_prefix_missing",
    ),
    "sheet_unreadable": (
        "no_certificate_found",
        "image_unreadable",
        "image_too_large",
        "pdf_unreadable",
    ),
}
_HEADLINE_OF = {code: headline for headline, codes in _HEADLINES.items() for code in codes}
# When several codes fail, the gravest headline is told.
_PRIORITY = (
    "sheet_revoked",
    "sheet_damaged",
    "sheet_untrusted",
    "sheet_expired",
    "sheet_not_certificate",
    "sheet_unreadable",
)
_SEVERITY: tuple[Verdict, ...] = ("invalid", "valid_revocation_unchecked", "valid")
# Revocation problems and warnings that mean the trust data is out of date.
_STALE = frozenset({"trust_stale", "crl_stale"})


@dataclass(frozen=True, slots=True)
class Sheet:
    """The verdict for everything one input held, with the results it was made from."""

    verdict: Verdict | None  # None: no certificate found at all (an empty camera frame)
    headline: Finding | None  # why NOT VALID, in a gate agent's words (a sheet_* code)
    results: tuple[Result, ...]
    checked_at: dt.datetime
    trust_updated_at: dt.datetime | None  # the oldest trust data any code was checked with
    trust_stale: bool  # some code was checked on out-of-date trust data

    @property
    def valid(self) -> bool:
        """Whether the sheet may be accepted (checked or not)."""
        return self.verdict in ("valid", "valid_revocation_unchecked")

    @property
    def trust_age_seconds(self) -> float | None:
        """How old the oldest trust data used was when the sheet was checked."""
        return age_seconds(self.trust_updated_at, self.checked_at)

    @property
    def about_certificates(self) -> bool:
        """Whether any code was a certificate at all (else trust data played no part)."""
        return any(result.format != "unknown" for result in self.results)

    @property
    def certificate_id(self) -> str | None:
        """The certificate id a valid code states (VDS-NC uvci)."""
        return next((r.certificate_id for r in self.results if r.certificate_id), None)

    @property
    def expires_at(self) -> dt.datetime | None:
        """The earliest expiry a code states."""
        dates = [r.expires_at for r in self.results if r.expires_at is not None]
        return min(dates) if dates else None


def headline_of(result: Result) -> str:
    """The gate agent's headline for an invalid result."""
    codes = result.codes or ["signature_invalid"]
    return min((_HEADLINE_OF.get(code, "sheet_damaged") for code in codes), key=_PRIORITY.index)


def judge(results: Sequence[Result], at: dt.datetime | None = None) -> Sheet:
    """The one verdict for ``results`` (all codes found in one input)."""
    checked_at = at or (results[0].checked_at if results else dt.datetime.now(dt.UTC))
    times = [t for t in (_trust_time(r) for r in results) if t is not None]
    stale = any(_is_stale(r) for r in results)
    oldest = min(times) if times else None
    if not results:
        return Sheet(None, None, (), checked_at, oldest, stale)
    invalid = [r for r in results if not r.valid]
    if invalid:
        headline = min((headline_of(r) for r in invalid), key=_PRIORITY.index)
        detail = f"{len(invalid)} of {len(results)} code(s) not valid"
        return Sheet(
            "invalid", Finding(headline, detail), tuple(results), checked_at, oldest, stale
        )
    mismatch = _mismatch(results)
    if mismatch:
        return Sheet(
            "invalid",
            Finding("sheet_mismatch", mismatch),
            tuple(results),
            checked_at,
            oldest,
            stale,
        )
    verdicts = {r.verdict for r in results}
    verdict = next(v for v in _SEVERITY if v in verdicts)
    return Sheet(verdict, None, tuple(results), checked_at, oldest, stale)


def _trust_time(result: Result) -> dt.datetime | None:
    """When the trust data a code was checked with was current: its issuer's or CSCA's last
    fetch, else the time its revocation data states (a CSCA CRL's thisUpdate, a list's iat)."""
    if result.trust_updated_at is not None:
        return result.trust_updated_at
    return result.revocation.as_of if result.revocation else None


def _is_stale(result: Result) -> bool:
    problem = result.revocation.problem if result.revocation else None
    return bool(_STALE & set(result.warning_codes)) or (
        problem is not None and problem.code in _STALE
    )


def _plain(text: str) -> str:
    """A name or number as compared across formats: width-folded, case-folded, letters and
    digits only (``YAMADA  HANAKO`` = ``Yamada Hanako``)."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(c for c in folded if c.isalnum())


def _differ(values: Iterable[str | None]) -> bool:
    known = {_plain(v) for v in values if v}
    return len(known) > 1


def _mismatch(results: Sequence[Result]) -> str | None:
    """Which statement differs between the codes (no personal data in it), or None."""
    if len(results) < 2:
        return None
    if _differ(r.birth_date for r in results):
        return "birth dates differ"
    if _differ(r.passport_number for r in results):
        return "passport numbers differ"
    if _differ(r.certificate_id for r in results):
        return "certificate ids differ"
    named = [{_plain(n) for n in r.names} for r in results if r.names]
    # 海外用 SHC carries the romanised and the card's name; VDS-NC the romanised one only.
    if named and not set.intersection(*named):
        return "names differ"
    return None
