"""The center's refusal rules as policy checks: every check runs and every failure is collected,
an empty policy fails closed, and the resident gets ONE public reason by a fixed precedence."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from cert_center import rules
from cert_center.services import ServiceHours
from vaxcert.config import CenterSettings, load_settings
from vaxcert.policy import AllOf, Failure, Finding, Success

TOKYO = dt.timezone(dt.timedelta(hours=9))
OPEN = dt.datetime(2026, 12, 1, 12, 0, tzinfo=TOKYO)
CLOSED = dt.datetime(2026, 12, 1, 23, 30, tzinfo=TOKYO)
CLEAN = rules.RecordFacts(
    kind="domestic",
    support_measure=False,
    alias_notation=False,
    moved_out=False,
    deceased=False,
    passport_on_file=True,
    dose_count=3,
)


@pytest.fixture(scope="module")
def center() -> CenterSettings:
    return load_settings().center.model_copy(update={"service_hours": "06:30-23:00"})


def _request_policy(settings: CenterSettings) -> AllOf[rules.RequestFacts]:
    return rules.request_policy(settings, ServiceHours.parse(settings.service_hours, "Asia/Tokyo"))


def _asked(center: CenterSettings, **changes: object) -> rules.RequestFacts:
    facts = rules.RequestFacts(
        at=OPEN,
        municipality_code=center.municipalities[0].code,
        consent_accepted=True,
        terms_version=center.terms_version,
    )
    return dataclasses.replace(facts, **changes)


def _answer(outcome: object, precedence: tuple[str, ...]) -> Finding:
    assert isinstance(outcome, Failure)
    return rules.one_reason(outcome, precedence)


def test_a_request_inside_the_rules_passes(center: CenterSettings) -> None:
    assert _request_policy(center).verify(_asked(center)) == Success()
    assert rules.record_policy(center).verify(CLEAN) == Success()


@pytest.mark.parametrize(
    ("changes", "code", "detail"),
    [
        ({"at": CLOSED}, "outside_service_hours", ""),
        ({"municipality_code": "462039"}, "municipality_not_participating", ""),  # C05
        ({"consent_accepted": False}, "consent_required", "the terms of use were not accepted"),
        (
            {"terms_version": "2021-01-01"},
            "consent_required",
            "terms version is not the current one",
        ),
    ],
)
def test_each_request_check_has_its_code(
    center: CenterSettings, changes: dict[str, object], code: str, detail: str
) -> None:
    outcome = _request_policy(center).verify(_asked(center, **changes))
    assert _answer(outcome, rules.REQUEST_PRECEDENCE) == Finding(code, detail)


def test_maintenance_refuses_every_request(center: CenterSettings) -> None:
    policy = _request_policy(center.model_copy(update={"maintenance": True}))
    assert _answer(policy.verify(_asked(center)), rules.REQUEST_PRECEDENCE).code == "maintenance"


def test_request_checks_all_run_and_the_first_condition_is_the_answer(
    center: CenterSettings,
) -> None:
    policy = _request_policy(center.model_copy(update={"maintenance": True}))
    everything_wrong = _asked(center, at=CLOSED, municipality_code="462039", consent_accepted=False)
    outcome = policy.verify(everything_wrong)
    assert isinstance(outcome, Failure)
    assert [f.code for f in outcome.reasons] == list(rules.REQUEST_PRECEDENCE)
    assert rules.one_reason(outcome, rules.REQUEST_PRECEDENCE).code == "outside_service_hours"
    outcome = policy.verify(_asked(center, municipality_code="462039", consent_accepted=False))
    assert rules.one_reason(outcome, rules.REQUEST_PRECEDENCE).code == "maintenance"
    open_policy = _request_policy(center)
    outcome = open_policy.verify(_asked(center, municipality_code="462039", terms_version="x"))
    assert _answer(outcome, rules.REQUEST_PRECEDENCE).code == "municipality_not_participating"
    # Neither accepted nor current: the answer says it was not accepted at all.
    outcome = open_policy.verify(_asked(center, consent_accepted=False, terms_version="x"))
    assert _answer(outcome, rules.REQUEST_PRECEDENCE).detail == "the terms of use were not accepted"


@pytest.mark.parametrize(
    ("changes", "code", "category"),
    [
        ({"support_measure": True}, "counter_required", "support_measure"),
        ({"alias_notation": True}, "counter_required", "alias_notation"),
        ({"moved_out": True}, "counter_required", "moved_out"),
        ({"deceased": True}, "counter_required", "deceased"),
        ({"dose_count": 0}, "no_vaccination_record", "no_doses"),
        ({"kind": "overseas", "passport_on_file": False}, "passport_not_on_file", "no_passport"),
    ],
)
def test_each_record_rule_has_its_code_and_category(
    center: CenterSettings, changes: dict[str, object], code: str, category: str
) -> None:
    outcome = rules.record_policy(center).verify(dataclasses.replace(CLEAN, **changes))
    finding = _answer(outcome, rules.RECORD_PRECEDENCE)
    assert (finding.code, rules.category(finding)) == (code, category)


def test_domestic_needs_no_passport(center: CenterSettings) -> None:
    facts = dataclasses.replace(CLEAN, passport_on_file=False)
    assert rules.record_policy(center).verify(facts) == Success()


def test_record_rules_collect_every_failure_and_send_to_the_counter_first(
    center: CenterSettings,
) -> None:
    facts = dataclasses.replace(
        CLEAN, kind="overseas", passport_on_file=False, dose_count=0, support_measure=True
    )
    outcome = rules.record_policy(center).verify(facts)
    assert isinstance(outcome, Failure)
    assert [rules.category(f) for f in outcome.reasons] == [
        "support_measure",
        "no_doses",
        "no_passport",
    ]
    assert rules.one_reason(outcome, rules.RECORD_PRECEDENCE).code == "counter_required"
    without_counter = dataclasses.replace(facts, support_measure=False)
    outcome = rules.record_policy(center).verify(without_counter)
    assert _answer(outcome, rules.RECORD_PRECEDENCE).code == "no_vaccination_record"


def test_a_support_measure_is_answered_like_any_other_counter_case(
    center: CenterSettings,
) -> None:
    codes = {
        _answer(
            rules.record_policy(center).verify(dataclasses.replace(CLEAN, **{flag: True})),
            rules.RECORD_PRECEDENCE,
        ).code
        for flag in ("support_measure", "alias_notation", "moved_out", "deceased")
    }
    assert codes == {"counter_required"}


def test_moved_out_and_deceased_are_configurable(center: CenterSettings) -> None:
    lenient = center.model_copy(
        update={"kiosk_allows_moved_out": True, "kiosk_allows_deceased": True}
    )
    facts = dataclasses.replace(CLEAN, moved_out=True, deceased=True)
    assert rules.record_policy(lenient).verify(facts) == Success()
    assert isinstance(rules.record_policy(center).verify(facts), Failure)


def test_an_empty_policy_fails_closed_as_the_centers_fault() -> None:
    outcome = AllOf[rules.RecordFacts]([]).verify(CLEAN)
    finding = _answer(outcome, rules.RECORD_PRECEDENCE)
    assert finding == Finding("internal_error", "policy_empty")
    assert finding.reason.status == 500
