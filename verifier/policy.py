"""Composable verification checks in the style of verification policies.

Each check has one method, ``verify(subject) -> Success | Failure``; :class:`AllOf` runs every
check and collects *every* failure and warning, so a result lists all that is wrong, not just the
first thing. An empty :class:`AllOf` fails: misuse fails closed.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from verifier.models import Finding

T = TypeVar("T")


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


def trust_freshness(
    updated_at: dt.datetime | None, at: dt.datetime, stale_after: dt.timedelta
) -> Success:
    """Warn ``trust_stale`` when trust data was last updated more than ``stale_after`` ago."""
    if updated_at is not None and at - updated_at > stale_after:
        return warn("trust_stale", f"updated {updated_at.date().isoformat()}")
    return Success()


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
