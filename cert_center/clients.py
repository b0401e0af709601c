"""The center's calls to other services: VRS over LGWAN mTLS and the signer over internal-CA mTLS.

Each VRS call is wrapped by a circuit breaker and timed (design.md §5). Refusals come back as
:class:`vaxcert.errors.VaxcertError` with the callee's reason code; an unreachable or failing
callee is ``service_unavailable``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated, TypeVar

from pydantic import Field, TypeAdapter

from cert_center import metrics
from vaxcert import pki
from vaxcert.config import Settings
from vaxcert.contracts.signing import CertificateContent, CertificateResult, ShcResult, VdsncResult
from vaxcert.contracts.vrs_relay import (
    IssuanceRequest,
    IssuanceResponse,
    PassportRequest,
    PassportResponse,
    QueryIdentityMismatch,
    QueryMatch,
    QueryNoMatch,
    QueryRequest,
)
from vaxcert.errors import VaxcertError
from vaxcert.relay import Channel, NoTimeLeftError
from vaxcert.resilience import CircuitBreaker, CircuitOpenError

T = TypeVar("T")
QueryAnswer = QueryMatch | QueryNoMatch | QueryIdentityMismatch
# The answer must name its kind: the models default ``result`` for VRS's convenience, so without
# the tag an empty object would read as "no match", and an outage as "no vaccination record".
_QUERY_ANSWER: TypeAdapter[QueryAnswer] = TypeAdapter(
    Annotated[QueryAnswer, Field(discriminator="result")]
)
_ISSUANCE_ANSWER: TypeAdapter[IssuanceResponse] = TypeAdapter(IssuanceResponse)
_PASSPORT_ANSWER: TypeAdapter[PassportResponse] = TypeAdapter(PassportResponse)


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
    # A call never sent because the request's deadline had passed says nothing about the peer.
    return (
        isinstance(exc, VaxcertError)
        and exc.code == "service_unavailable"
        and not isinstance(exc, NoTimeLeftError)
    )


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

    def __init__(self, channel: Channel) -> None:
        self.channel = channel

    @classmethod
    def from_settings(cls, settings: Settings) -> VrsClient:
        """The configured VRS URL, the LGWAN CA and the center's LGWAN client certificate."""
        directory = settings.pki_dir
        return cls(
            Channel(
                settings.url("vrs"),
                pki.cert_path(directory, "lgwan-ca"),
                pki.cert_path(directory, "center-lgwan-client"),
                pki.key_path(directory, "center-lgwan-client"),
                settings.center.relay_timeout_seconds,
                "VRS",
            )
        )

    def query(self, request: QueryRequest) -> QueryAnswer:
        """The record and flags, ``no_match`` or ``identity_mismatch``."""
        return self.channel.post_json("/v1/records/query", request, _QUERY_ANSWER)

    def record_issuance(self, request: IssuanceRequest) -> IssuanceResponse:
        """Record the certificate id and date (C20); idempotent on the certificate id."""
        return self.channel.post_json("/v1/issuances", request, _ISSUANCE_ANSWER)

    def store_passport(self, request: PassportRequest) -> PassportResponse:
        """Put the passport the app read on file (items 25-29, C20); repeating it is harmless."""
        return self.channel.post_json("/v1/passports", request, _PASSPORT_ANSWER)


class SignerClient:
    """Calls ``POST /v1/shc``, ``/v1/vdsnc`` and ``/v1/certificates`` of the signer."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel

    @classmethod
    def from_settings(
        cls, settings: Settings, client: str = "center-internal-client", timeout: float = 5.0
    ) -> SignerClient:
        """The client the center uses: the configured signer URL and its internal-CA certificate."""
        directory = settings.pki_dir
        return cls(
            Channel(
                settings.url("signer_api"),
                pki.cert_path(directory, "internal-ca"),
                pki.cert_path(directory, client),
                pki.key_path(directory, client),
                timeout,
                "signer",
            )
        )

    def certificates(self, content: CertificateContent) -> CertificateResult:
        """Both QR payloads the certificate's kind carries."""
        return self.channel.post_json("/v1/certificates", content, _CERTIFICATES, True)

    def shc(self, content: CertificateContent) -> ShcResult:
        """The SMART Health Card only."""
        return self.channel.post_json("/v1/shc", content, _SHC, True)

    def vdsnc(self, content: CertificateContent) -> VdsncResult:
        """The ICAO VDS-NC only (overseas)."""
        return self.channel.post_json("/v1/vdsnc", content, _VDSNC, True)


_CERTIFICATES: TypeAdapter[CertificateResult] = TypeAdapter(CertificateResult)
_SHC: TypeAdapter[ShcResult] = TypeAdapter(ShcResult)
_VDSNC: TypeAdapter[VdsncResult] = TypeAdapter(VdsncResult)
