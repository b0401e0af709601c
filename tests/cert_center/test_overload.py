"""Overload and slow peers at the center's kiosk API: every request gets its right answer or a
fast, honest refusal, never a wrong or empty record. The center app in process over a real VRS
and a real signer on mTLS loopback, each behind a switch (tests/support/center.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from werkzeug.test import TestResponse

from cert_center.clients import breaker_for, guarded
from tests.support.center import PATIENCE, CenterRig, center_rig
from vaxcert import lgcode
from vaxcert.config import load_settings
from vaxcert.contracts.kiosk_api import CertificateIssued
from vaxcert.contracts.vrs_relay import Flags, QueryMatch
from vaxcert.errors import VaxcertError
from vaxcert.relay import NoTimeLeftError
from vaxcert.residents import CANARY
from vrs_stub import seed

RETRY_AFTER = 3
# Long enough that no step of a test on a busy machine runs into them by accident: the stalls
# below end when the test says so.
LONG = {"relay_timeout_seconds": 40.0}
KIOSK = {"center_timeout_seconds": 60.0}


def _canary_doses() -> list[tuple[int, str, str]]:
    """The canary's doses in Kagoshima City as VRS holds them: what a right answer shows."""
    record = next(
        r
        for r in seed.edge_case_records()
        if r.identity.my_number == CANARY.my_number and r.municipality_code == lgcode.KAGOSHIMA_CITY
    )
    return sorted(
        (v.dose_number, v.vaccinated_on.isoformat(), v.lot_number or "")
        for v in record.vaccinations
        if v.vaccinated_on is not None
    )


def _shown(response: TestResponse) -> list[tuple[int, str, str]]:
    return sorted((d["dose_number"], d["date"], d["lot"]) for d in response.json["doses"])


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CenterRig]:
    """One request at work at a time and no queue: the second one at once is refused."""
    with center_rig(
        tmp_path_factory.mktemp("overload"),
        kiosk=KIOSK,
        admission={
            "concurrency": 1,
            "queue": 0,
            "retry_after_seconds": RETRY_AFTER,
            "deadline_seconds": 50.0,
        },
        **LONG,
    ) as made:
        yield made


@pytest.fixture
def up(rig: CenterRig) -> Iterator[CenterRig]:
    rig.vrs.mode = rig.signer.mode = "up"
    rig.vrs.entered.clear()
    rig.signer.entered.clear()
    rig.vrs.released.clear()
    rig.signer.released.clear()
    yield rig
    rig.vrs.released.set()
    rig.signer.released.set()
    rig.vrs.mode = rig.signer.mode = "up"


def _in_thread(rig: CenterRig, body: dict[str, Any]) -> tuple[threading.Thread, list[Any]]:
    answers: list[Any] = []
    thread = threading.Thread(target=lambda: answers.append(rig.post(body)), daemon=True)
    thread.start()
    return thread, answers


def test_beyond_the_limit_each_request_is_refused_fast_and_the_admitted_one_is_right(
    up: CenterRig,
) -> None:
    rig = up
    rig.signer.mode = "stalled"
    admitted, admitted_answer = _in_thread(rig, rig.body("canary"))
    assert rig.signer.entered.wait(PATIENCE), "the admitted request never reached the signer"
    vrs_calls, provisions, issuances = rig.vrs.calls, rig.provisions(), rig.issuances()

    bodies = [rig.body("canary") for _ in range(6)]
    others = [_in_thread(rig, body) for body in bodies]
    for thread, _ in others:
        thread.join(PATIENCE)
    # Every one answered while the admitted request is still held at the signer: none waited.
    assert admitted.is_alive()
    for _, (refused,) in others:
        assert refused.status_code == 503
        assert refused.headers["Retry-After"] == str(RETRY_AFTER)
        assert refused.json["error"]["code"] == "overloaded"
        assert "not been charged" in refused.json["error"]["next_step"]
    # Refused before anything of theirs ran: no VRS call, no provision record, no issuance.
    assert rig.vrs.calls == vrs_calls
    assert rig.provisions() == provisions and rig.issuances() == issuances

    rig.signer.released.set()
    admitted.join(PATIENCE)
    (answer,) = admitted_answer
    assert answer.status_code == 200, answer.json
    assert _shown(answer) == _canary_doses()
    assert answer.json["holder"]["birth_date"] == CANARY.birth_date.isoformat()
    assert rig.issuances() == issuances + 1

    # A refused request left nothing behind, not even its nonce: sent again, it is served.
    rig.signer.mode = "up"
    again = rig.post(bodies[0])
    assert again.status_code == 200, again.json
    assert _shown(again) == _canary_doses()


def test_a_reply_without_doses_is_refused_by_the_kiosks_contract(up: CenterRig) -> None:
    answer = up.post()
    assert answer.status_code == 200
    emptied = dict(answer.json, doses=[])
    with pytest.raises(ValidationError):
        CertificateIssued.model_validate(emptied)
    CertificateIssued.model_validate(answer.json)


def test_a_vrs_match_without_doses_never_becomes_a_certificate(up: CenterRig) -> None:
    rig = up
    empty = QueryMatch(
        record_id="0123456789abcdef",
        provision_id=1,
        flags=Flags(
            support_measure=False,
            alias_notation=False,
            moved_out=False,
            deceased=False,
            passport_on_file=False,
        ),
        doses=[],
        passport=None,
    )
    rig.vrs.answer = (200, empty.model_dump_json().encode())
    rig.vrs.mode = "answer"
    signer_calls, issuances = rig.signer.calls, rig.issuances()
    refused = rig.post()
    assert refused.status_code != 200
    assert refused.json["error"]["code"] == "no_vaccination_record"
    assert rig.signer.calls == signer_calls and rig.issuances() == issuances


@pytest.mark.parametrize(
    "answer",
    [
        (200, b'{"result": "match", "record_id": "0123456789abcdef", "provision_id": 1, "fl'),
        (200, b"{}"),
        (200, b'{"result": "match"}'),
        (503, b'{"error": {"code": "overloaded"}}'),
    ],
    ids=["cut-off", "empty-object", "no-fields", "vrs-overloaded"],
)
def test_a_partial_or_empty_vrs_answer_is_an_outage_never_a_record(
    up: CenterRig, answer: tuple[int, bytes]
) -> None:
    rig = up
    rig.vrs.answer = answer
    rig.vrs.mode = "answer"
    signer_calls, issuances = rig.signer.calls, rig.issuances()
    refused = rig.post()
    assert refused.status_code == 503
    assert refused.json["error"]["code"] == "service_unavailable"
    assert rig.signer.calls == signer_calls and rig.issuances() == issuances


def test_a_stalled_vrs_is_answered_by_the_deadline_with_nothing_issued(tmp_path: Path) -> None:
    with center_rig(tmp_path, kiosk=KIOSK, admission={"deadline_seconds": 1.0}, **LONG) as rig:
        issuances = rig.issuances()
        rig.vrs.mode = "stalled"
        started = time.monotonic()
        answer = rig.post()
        waited = time.monotonic() - started
        assert answer.status_code == 503
        assert answer.json["error"]["code"] == "service_unavailable"
        # VRS is still stalled: the center gave up at its deadline, far before the relay
        # timeout (40 s) or the kiosk's (60 s) would have ended the wait.
        assert not rig.vrs.released.is_set() and waited < 20
        assert rig.signer.calls == 0 and rig.issuances() == issuances


def test_a_call_never_sent_for_want_of_time_does_not_count_against_the_peer() -> None:
    settings = load_settings(center={"breaker_failures": 1})

    def no_time_left() -> None:
        raise NoTimeLeftError("signer")

    def outage() -> None:
        raise VaxcertError("service_unavailable", "signer: TimeoutError")

    breaker = breaker_for("signer", settings)
    for _ in range(3):
        with pytest.raises(VaxcertError, match="no time left"):
            guarded(breaker, "signer", no_time_left)
    assert breaker.state == "closed"
    with pytest.raises(VaxcertError, match="TimeoutError"):
        guarded(breaker, "signer", outage)
    assert breaker.state == "open"
