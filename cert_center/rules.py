"""Refusal rules applied to a VRS match, as small policy objects (conventions.md, sigstore style).

Every rule runs and every failure is counted by its internal category; the resident sees one public
reason. Sensitive causes (support measure, e.g. DV protection) share the public code
``counter_required`` with the other "apply at your counter" causes, so they cannot be told apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from vaxcert.config import CenterSettings


@dataclass(frozen=True, slots=True)
class RecordFacts:
    """What the rules look at: the VRS flags and what is being asked."""

    kind: str
    support_measure: bool
    alias_notation: bool
    moved_out: bool
    deceased: bool
    passport_on_file: bool
    dose_count: int


@dataclass(frozen=True, slots=True)
class Refusal:
    """A failed rule: the internal category (metrics only) and the public reason code."""

    category: str
    public_code: str


class Rule(Protocol):
    """One refusal rule."""

    def check(self, facts: RecordFacts) -> Refusal | None:
        """None when the rule is satisfied."""
        ...


class _Flag:
    def __init__(self, attribute: str, category: str, public_code: str) -> None:
        self.attribute = attribute
        self.category = category
        self.public_code = public_code

    def check(self, facts: RecordFacts) -> Refusal | None:
        if getattr(facts, self.attribute):
            return Refusal(self.category, self.public_code)
        return None


class _PassportForOverseas:
    def check(self, facts: RecordFacts) -> Refusal | None:
        if facts.kind == "overseas" and not facts.passport_on_file:
            return Refusal("no_passport", "passport_not_on_file")
        return None


class _HasDoses:
    def check(self, facts: RecordFacts) -> Refusal | None:
        if facts.dose_count == 0:
            return Refusal("no_doses", "no_vaccination_record")
        return None


def kiosk_rules(settings: CenterSettings) -> list[Rule]:
    """The rules for kiosk issuance under ``settings``."""
    rules: list[Rule] = [
        _Flag("support_measure", "support_measure", "counter_required"),
        _Flag("alias_notation", "alias_notation", "counter_required"),
    ]
    if not settings.kiosk_allows_moved_out:
        rules.append(_Flag("moved_out", "moved_out", "counter_required"))
    if not settings.kiosk_allows_deceased:
        rules.append(_Flag("deceased", "deceased", "counter_required"))
    rules += [_HasDoses(), _PassportForOverseas()]
    return rules


# When several rules fail, the resident is sent to the counter first: it resolves all of them.
_PRECEDENCE = ("counter_required", "no_vaccination_record", "passport_not_on_file")


def evaluate(rules: Sequence[Rule], facts: RecordFacts) -> list[Refusal]:
    """Every failed rule (an empty rule list is a misconfiguration and fails closed)."""
    if not rules:
        return [Refusal("no_rules", "internal_error")]
    return [refusal for rule in rules if (refusal := rule.check(facts)) is not None]


def public_code(refusals: Sequence[Refusal]) -> str:
    """The one reason the resident is shown."""
    codes = {refusal.public_code for refusal in refusals}
    for code in _PRECEDENCE:
        if code in codes:
            return code
    return sorted(codes)[0]
