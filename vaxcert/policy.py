"""Composable verification checks in the style of verification policies.

Each check has one method, ``verify(subject) -> Success | Failure``; :class:`AllOf` runs every
check and collects *every* failure and warning, so a result lists all that is wrong, not just the
first thing. An empty :class:`AllOf` fails: misuse fails closed.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from vaxcert import reasons

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Finding:
    """One failure or warning: a code from the one catalogue plus an operator detail.

    ``detail`` names the rule that broke (never personal data); the texts come from the catalogue.
    """

    code: str
    detail: str = ""

    @property
    def reason(self) -> reasons.Reason:
        """The catalogue entry of ``code``."""
        return reasons.get(self.code)

    def to_json(self) -> dict[str, str]:
        """Code, ja/en message and next step."""
        reason = self.reason
        body = {"code": self.code, "ja": reason.ja, "en": reason.en}
        if reason.next_en:
            body["next_ja"] = reason.next_ja
            body["next_en"] = reason.next_en
        if self.detail:
            body["detail"] = self.detail
        return body


@dataclass(frozen=True, slots=True)
class Success:
    """The check passed; it may still carry warnings."""

    warnings: tuple[Finding, ...] = ()


@dataclass(frozen=True, slots=True)
class Failure:
    """The check failed for ``reasons`` (never empty)."""

    reasons: tuple[Finding, ...]
    warnings: tuple[Finding, ...] = ()


Outcome = Success | Failure


def fail(code: str, detail: str = "") -> Failure:
    """A failure with one reason."""
    return Failure((Finding(code, detail),))


def warn(code: str, detail: str = "") -> Success:
    """A success with one warning."""
    return Success((Finding(code, detail),))


class Check(ABC, Generic[T]):
    """One rule about a subject; ``verify`` returns Success or a Failure with reason codes."""

    @abstractmethod
    def verify(self, subject: T) -> Outcome:
        """Apply the rule."""


class AllOf(Check[T]):
    """Every check must pass; every failure and warning of every check is collected."""

    def __init__(self, checks: Sequence[Check[T]]) -> None:
        self.checks = tuple(checks)

    def verify(self, subject: T) -> Outcome:
        """Run all checks (none is skipped because another failed)."""
        if not self.checks:
            return fail("policy_empty")
        reasons: list[Finding] = []
        warnings: list[Finding] = []
        for check in self.checks:
            outcome = check.verify(subject)
            warnings.extend(outcome.warnings)
            if isinstance(outcome, Failure):
                reasons.extend(outcome.reasons)
        if reasons:
            return Failure(tuple(reasons), tuple(warnings))
        return Success(tuple(warnings))
