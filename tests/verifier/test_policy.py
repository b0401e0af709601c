"""The policy primitives fail closed and collect every failure."""

from __future__ import annotations

from vaxcert.policy import AllOf, Check, Failure, Outcome, Success, fail, warn
from verifier.models import Finding


class _Fixed(Check[None]):
    def __init__(self, outcome: Outcome) -> None:
        self.outcome = outcome

    def verify(self, subject: None) -> Outcome:
        return self.outcome


def test_an_empty_allof_fails_closed() -> None:
    outcome = AllOf[None]([]).verify(None)
    assert isinstance(outcome, Failure)
    assert outcome.reasons == (Finding("policy_empty"),)


def test_allof_collects_every_failure_and_warning_in_order() -> None:
    outcome = AllOf[None](
        [
            _Fixed(fail("expired")),
            _Fixed(warn("crl_stale")),
            _Fixed(Success()),
            _Fixed(Failure((Finding("revoked"),), (Finding("clock_skew"),))),
        ]
    ).verify(None)
    assert isinstance(outcome, Failure)
    assert [f.code for f in outcome.reasons] == ["expired", "revoked"]
    assert [f.code for f in outcome.warnings] == ["crl_stale", "clock_skew"]


def test_allof_passes_with_warnings() -> None:
    outcome = AllOf[None]([_Fixed(warn("trust_stale")), _Fixed(Success())]).verify(None)
    assert isinstance(outcome, Success)
    assert [f.code for f in outcome.warnings] == ["trust_stale"]


def test_findings_carry_catalogue_texts_in_both_languages() -> None:
    body = Finding("unknown_trust_anchor", "UTO").to_json()
    assert body["code"] == "unknown_trust_anchor"
    assert body["ja"] and body["en"].startswith("Unknown trust anchor")
    assert body["detail"] == "UTO"
