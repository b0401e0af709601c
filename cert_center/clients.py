"""The center's calls to other services: VRS over LGWAN mTLS (the signer's client lives in
:mod:`signer.clients`). Each call is wrapped by a circuit breaker and timed (design.md §5)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from pydantic import TypeAdapter

from cert_center import metrics
from vaxcert import pki
from vaxcert.config import Settings
from vaxcert.errors import VaxcertError
from vaxcert.relay import post_json
from vaxcert.resilience import CircuitBreaker, CircuitOpenError
from vaxcert.tls import ThreadLocalSessions
from vrs_stub.models import (
    IssuanceRequest,
    IssuanceResponse,
    QueryIdentityMismatch,
    QueryMatch,
    QueryNoMatch,
    QueryRequest,
)

T = TypeVar("T")
QueryAnswer = QueryMatch | QueryNoMatch | QueryIdentityMismatch
_QUERY_ANSWER: TypeAdapter[QueryAnswer] = TypeAdapter(QueryAnswer)
_ISSUANCE_ANSWER: TypeAdapter[IssuanceResponse] = TypeAdapter(IssuanceResponse)


def guarded(breaker: CircuitBreaker, target: str, call: Callable[[], T]) -> T:
    """Run ``call`` through ``breaker``; outages count, refusals (4xx reasons) do not."""
    started = time.perf_counter()
    try:
        return breaker.call(call, lambda exc: _is_outage(exc))
    except CircuitOpenError:
        raise VaxcertError("service_unavailable", f"{target}: circuit open") from None
    finally:
        metrics.RELAY_SECONDS.labels(target).observe(time.perf_counter() - started)


def _is_outage(exc: BaseException) -> bool:
    return isinstance(exc, VaxcertError) and exc.code == "service_unavailable"


def breaker_for(target: str, settings: Settings) -> CircuitBreaker:
    """A breaker whose state is exported as a metric."""

    def _changed(name: str, state: str) -> None:
        metrics.BREAKER_OPEN.labels(name).set(0 if state == "closed" else 1)

    metrics.BREAKER_OPEN.labels(target).set(0)
    return CircuitBreaker(
        target,
        failure_threshold=settings.center.breaker_failures,
        reset_seconds=settings.center.breaker_reset_seconds,
        on_change=_changed,
    )


class VrsClient:
    """``POST /v1/records/query`` and ``/v1/issuances`` of the VRS, with the center's LGWAN cert."""

    def __init__(self, base_url: str, sessions: ThreadLocalSessions, timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.sessions = sessions
        self.timeout = timeout

    @classmethod
    def from_settings(cls, settings: Settings) -> VrsClient:
        """The configured VRS URL, the LGWAN CA and the center's LGWAN client certificate."""
        directory = settings.pki_dir
        sessions = ThreadLocalSessions(
            pki.cert_path(directory, "lgwan-ca"),
            pki.cert_path(directory, "center-lgwan-client"),
            pki.key_path(directory, "center-lgwan-client"),
        )
        return cls(settings.url("vrs"), sessions, settings.center.relay_timeout_seconds)

    def query(self, request: QueryRequest) -> QueryAnswer:
        """The record and flags, ``no_match`` or ``identity_mismatch``."""
        return post_json(
            self.sessions,
            self.base_url + "/v1/records/query",
            request,
            _QUERY_ANSWER,
            "VRS",
            self.timeout,
        )

    def record_issuance(self, request: IssuanceRequest) -> IssuanceResponse:
        """Record the certificate id and date (C20); idempotent on the certificate id."""
        return post_json(
            self.sessions,
            self.base_url + "/v1/issuances",
            request,
            _ISSUANCE_ANSWER,
            "VRS",
            self.timeout,
        )
