"""VRS down, VRS slow, signer down: a clear reason, no issuance record, the breaker opens and
recovers. Real VRS and signer apps over mTLS on loopback, each behind a switch the test flips."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.center import CenterRig, center_rig

Rig = CenterRig


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    with center_rig(
        tmp_path_factory.mktemp("resilience"),
        relay_timeout_seconds=0.5,
        breaker_failures=2,
        breaker_reset_seconds=0.5,
    ) as made:
        yield made


def _post(rig: Rig, card_key: str = "canary") -> Any:
    return rig.post(rig.body(card_key))


def _issuances(rig: Rig) -> int:
    return rig.issuances()


def _recover(rig: Rig) -> None:
    rig.vrs.mode = rig.signer.mode = "up"
    time.sleep(0.6)  # past the breaker's reset time: the next call is the half-open trial
    response = _post(rig)
    assert response.status_code == 200, response.json
    assert rig.issuance.vrs_breaker.state == "closed"
    assert rig.issuance.signer_breaker.state == "closed"


def test_vrs_down_is_a_clear_refusal_and_the_breaker_opens_and_recovers(rig: Rig) -> None:
    _recover(rig)
    before = _issuances(rig)
    rig.vrs.mode = "down"
    for _ in range(2):
        response = _post(rig)
        assert response.status_code == 503
        assert response.json["error"]["code"] == "service_unavailable"
        assert "charged" in response.json["error"]["next_step"]
    assert rig.issuance.vrs_breaker.state == "open"
    calls = rig.vrs.calls
    assert _post(rig).json["error"]["code"] == "service_unavailable"
    assert rig.vrs.calls == calls, "an open breaker must not call VRS"
    assert _issuances(rig) == before
    _recover(rig)
    assert _issuances(rig) == before + 1


def test_vrs_slow_beyond_timeout_is_service_unavailable(rig: Rig) -> None:
    _recover(rig)
    before = _issuances(rig)
    rig.vrs.mode = "slow"
    started = time.monotonic()
    response = _post(rig)
    assert response.status_code == 503
    assert response.json["error"]["code"] == "service_unavailable"
    assert time.monotonic() - started < 1.4  # it gave up at the timeout, not after the sleep
    assert _issuances(rig) == before
    _recover(rig)


def test_signer_down_leaves_no_issuance_record(rig: Rig) -> None:
    _recover(rig)
    before = _issuances(rig)
    rig.signer.mode = "down"
    for _ in range(2):
        response = _post(rig)
        assert response.status_code == 503
        assert response.json["error"]["code"] == "service_unavailable"
    assert rig.issuance.signer_breaker.state == "open"
    assert _issuances(rig) == before
    _recover(rig)


def test_refusals_do_not_open_the_breaker(rig: Rig) -> None:
    _recover(rig)
    for _ in range(4):
        assert _post(rig, "no-records").json["error"]["code"] == "no_vaccination_record"
    assert rig.issuance.vrs_breaker.state == "closed"
