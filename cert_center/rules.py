"""The center's refusal rules as policy checks (:mod:`vaxcert.policy`, conventions.md).

Two policies, applied at two points of the kiosk pipeline (docs/center.md):

- :func:`request_policy`, before the card is looked at: service hours, maintenance, participating
  municipality (C05), consent to the current terms (C07);
- :func:`record_policy`, on the VRS match: support measure, alias notation, moved out, deceased,
  doses on record, passport data for 海外用.

Each check answers :class:`~vaxcert.policy.Success` or a :class:`~vaxcert.policy.Failure` whose
findings carry the public reason code and, as ``detail``, the rule that broke. :class:`AllOf`
runs every check and collects every failure (an empty policy fails closed); :func:`one_reason`
then picks the ONE reason the resident is answered with, by a fixed precedence. Sensitive causes
(support measure, e.g. DV protection) share the public code ``counter_required`` with the other
"apply at your counter" causes and carry no detail outwards, so they cannot be told apart.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cert_center.services import ServiceHours
from vaxcert.config import CenterSettings
from vaxcert.policy import AllOf, Check, Failure, Finding, Outcome, Success, fail

# The one public reason of a refused request: the first of these that any check gave. The gate's
# order is the order a person meets the conditions (is it open, does this town take part, were
# the current terms accepted); among the record rules the counter comes first: it resolves all.
REQUEST_PRECEDENCE = (
    "outside_service_hours",
    "maintenance",
    "municipality_not_participating",
    "consent_required",
)
RECORD_PRECEDENCE = ("counter_required", "no_vaccination_record", "passport_not_on_file")


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """What the request checks look at: when, and what the kiosk asked for."""

    at: dt.datetime
    municipality_code: str
    consent_accepted: bool
    terms_version: str


@dataclass(frozen=True, slots=True)
class RecordFacts:
    """What the record checks look at: the VRS flags and what is being asked."""

    kind: str
    support_measure: bool
    alias_notation: bool
    moved_out: bool
    deceased: bool
    passport_on_file: bool
    dose_count: int


class WithinServiceHours(Check[RequestFacts]):
    """The center issues only inside its service hours."""

    def __init__(self, hours: ServiceHours) -> None:
        self.hours = hours

    def verify(self, subject: RequestFacts) -> Outcome:
        """Fails with ``outside_service_hours`` when closed at ``subject.at``."""
        return Success() if self.hours.is_open(subject.at) else fail("outside_service_hours")


class NotInMaintenance(Check[RequestFacts]):
    """Nothing is issued while operators have switched the center to maintenance."""

    def __init__(self, maintenance: bool) -> None:
        self.maintenance = maintenance

    def verify(self, subject: RequestFacts) -> Outcome:
        """Fails with ``maintenance`` while the switch is on."""
        return fail("maintenance") if self.maintenance else Success()


class ParticipatingMunicipality(Check[RequestFacts]):
    """C05: only a configured municipality, whatever a kiosk sends."""

    def __init__(self, codes: Iterable[str]) -> None:
        self.codes = frozenset(codes)

    def verify(self, subject: RequestFacts) -> Outcome:
        """Fails with ``municipality_not_participating`` for any other code."""
        if subject.municipality_code in self.codes:
            return Success()
        return fail("municipality_not_participating")


class ConsentToCurrentTerms(Check[RequestFacts]):
    """C07: the resident accepted the terms, and the terms accepted are the current ones."""

    def __init__(self, terms_version: str) -> None:
        self.terms_version = terms_version

    def verify(self, subject: RequestFacts) -> Outcome:
        """Fails with ``consent_required``, saying which half is missing."""
        if not subject.consent_accepted:
            return fail("consent_required", "the terms of use were not accepted")
        if subject.terms_version != self.terms_version:
            return fail("consent_required", "terms version is not the current one")
        return Success()


class FlagAbsent(Check[RecordFacts]):
    """A VRS flag that sends the resident to the counter; ``category`` names it in the daily
    aggregates for the auditor (cert_center/refusal_days.py), never in live metrics."""

    def __init__(self, attribute: str, category: str, public_code: str) -> None:
        self.attribute = attribute
        self.category = category
        self.public_code = public_code

    def verify(self, subject: RecordFacts) -> Outcome:
        """Fails with ``public_code`` (detail: the category) when the flag is set."""
        if getattr(subject, self.attribute):
            return fail(self.public_code, self.category)
        return Success()


class HasDoses(Check[RecordFacts]):
    """A certificate needs at least one dose on record."""

    def verify(self, subject: RecordFacts) -> Outcome:
        """Fails with ``no_vaccination_record`` when the record has no dose."""
        return fail("no_vaccination_record", "no_doses") if subject.dose_count == 0 else Success()


class PassportForOverseas(Check[RecordFacts]):
    """海外用 needs the passport data on file (name in Roman letters, nationality, number)."""

    def verify(self, subject: RecordFacts) -> Outcome:
        """Fails with ``passport_not_on_file`` for 海外用 without passport data."""
        if subject.kind == "overseas" and not subject.passport_on_file:
            return fail("passport_not_on_file", "no_passport")
        return Success()


def request_policy(settings: CenterSettings, hours: ServiceHours) -> AllOf[RequestFacts]:
    """The checks every kiosk request passes before its card is looked at."""
    return AllOf(
        [
            WithinServiceHours(hours),
            NotInMaintenance(settings.maintenance),
            ParticipatingMunicipality(m.code for m in settings.municipalities),
            ConsentToCurrentTerms(settings.terms_version),
        ]
    )


def record_policy(settings: CenterSettings) -> AllOf[RecordFacts]:
    """The rules for kiosk issuance from a VRS match under ``settings``."""
    checks: list[Check[RecordFacts]] = [
        FlagAbsent("support_measure", "support_measure", "counter_required"),
        FlagAbsent("alias_notation", "alias_notation", "counter_required"),
    ]
    if not settings.kiosk_allows_moved_out:
        checks.append(FlagAbsent("moved_out", "moved_out", "counter_required"))
    if not settings.kiosk_allows_deceased:
        checks.append(FlagAbsent("deceased", "deceased", "counter_required"))
    checks += [HasDoses(), PassportForOverseas()]
    return AllOf(checks)


def one_reason(failure: Failure, precedence: Sequence[str]) -> Finding:
    """The one finding the resident is answered with: the first by ``precedence``.

    A failure with no finding of those codes (an empty policy: ``policy_empty``) is the center's
    own fault, answered as ``internal_error`` (detail: what was found), never as a pass.
    """
    for code in precedence:
        for finding in failure.reasons:
            if finding.code == code:
                return finding
    return Finding("internal_error", ", ".join(f.code for f in failure.reasons))


def category(finding: Finding) -> str:
    """The internal category of a failed check (the rule's name, else its code)."""
    return finding.detail or finding.code
