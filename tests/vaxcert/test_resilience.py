"""The circuit breaker opens after consecutive failures, fails fast, and recovers."""

from __future__ import annotations

import pytest

from vaxcert.resilience import CircuitBreaker, CircuitOpenError


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _fail() -> None:
    raise ConnectionError("down")


def test_opens_fails_fast_and_recovers_after_a_good_trial() -> None:
    clock = Clock()
    changes: list[str] = []
    breaker = CircuitBreaker(
        "vrs",
        failure_threshold=2,
        reset_seconds=5,
        clock=clock,
        on_change=lambda _n, s: changes.append(s),
    )
    for _ in range(2):
        with pytest.raises(ConnectionError):
            breaker.call(_fail, lambda e: isinstance(e, ConnectionError))
    assert breaker.state == "open"
    attempted = []
    with pytest.raises(CircuitOpenError):
        breaker.call(lambda: attempted.append(1), lambda e: True)
    assert attempted == []
    clock.now = 6
    assert breaker.state == "half_open"
    assert breaker.call(lambda: "ok", lambda e: True) == "ok"
    assert breaker.state == "closed"
    assert changes == ["open", "half_open", "closed"]


def test_failed_trial_reopens() -> None:
    clock = Clock()
    breaker = CircuitBreaker("signer", failure_threshold=1, reset_seconds=5, clock=clock)
    with pytest.raises(ConnectionError):
        breaker.call(_fail, lambda e: True)
    clock.now = 5
    with pytest.raises(ConnectionError):
        breaker.call(_fail, lambda e: True)
    assert breaker.state == "open"


def test_refusals_that_are_not_failures_do_not_count() -> None:
    breaker = CircuitBreaker("vrs", failure_threshold=1)
    with pytest.raises(ValueError):
        breaker.call(lambda: (_ for _ in ()).throw(ValueError("4xx")), lambda e: False)
    assert breaker.state == "closed"
