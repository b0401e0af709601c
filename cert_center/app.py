"""App factory of the certificate-issuance center: kiosk API, app API and ops console surfaces."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Literal

from flask import Flask

from cert_center import console, limits, metrics
from cert_center.api import kiosk_api
from cert_center.app_api import app_api
from cert_center.app_issuance import AppIssuance
from cert_center.attestation import AppAttestation, load_roots
from cert_center.clients import SignerClient, VrsClient
from cert_center.issuance import IssuanceService
from cert_center.ops import OpsCredentials, ops
from cert_center.refusal_days import DailyRefusals
from cert_center.services import Center
from vaxcert import kvstore, web
from vaxcert.admission import Admission
from vaxcert.card import ca_key_table
from vaxcert.config import AdmissionSettings, Settings, load_settings

Surface = Literal["kiosk_api", "app_api", "ops"]
log = logging.getLogger(__name__)


def create_app(config: Settings | None = None, surface: Surface = "kiosk_api") -> Flask:
    """The center app for one surface; the kiosk API accepts only dedicated-line kiosk certs."""
    settings = config or load_settings()
    app = web.new_app(__name__, "cert_center")
    web.install(app, settings, f"center-{surface.replace('_', '-')}")
    if settings.redis_url is None and surface != "ops":
        log.warning("no VAXCERT_REDIS_URL: nonces and rate limits are kept per process")
    store = kvstore.from_url(settings.redis_url, prefix=f"{settings.redis_prefix}center:")
    # C15: alerts become entries of the console's audit trail (install_audit below).
    center = Center(settings.center, store, audit=console.audit)
    app.extensions["vaxcert_center"] = center
    if surface in ("kiosk_api", "app_api"):
        issuance = IssuanceService(
            settings,
            center,
            ca_key_table(settings),
            VrsClient.from_settings(settings),
            SignerClient.from_settings(settings, timeout=settings.center.relay_timeout_seconds),
        )
        app.extensions["vaxcert_issuance"] = issuance
        console.install_audit(settings)  # C15: security events raised here reach the trail
    if surface == "app_api":
        _install_app_api(app, settings, center, store, issuance)
    elif surface == "kiosk_api":
        web.require_client_certificate(app, on_refused=_client_refused(center))  # C09, C21
        # Issuance is where the time goes (VRS, signer): it runs under admission control
        # (launch/serve.py gives this surface a thread per slot and queue place, and spares).
        # The other calls are cheap and always answered.
        _admit(app, settings.center.admission, "kiosk_api.certificates")
        # An operator's disable reaches every replica at once (cert_center/console/kiosks.py).
        center.kiosk_enabled = console.kiosk_states(settings, store).is_enabled
        app.register_blueprint(kiosk_api)
    elif surface == "ops":
        app.extensions["vaxcert_ops_credentials"] = OpsCredentials(settings.center.ops)
        app.extensions["vaxcert_daily_refusals"] = DailyRefusals(store, settings.center)
        app.register_blueprint(ops)
        console.install(app, settings, store, center)  # C15, C17: the operator console at /ops
    return app


def _client_refused(center: Center) -> Callable[[str], None]:
    """Counts a refused client certificate and feeds the C21 alert, by the certificate's CN."""

    def refused(code: str) -> None:
        metrics.CLIENT_REFUSALS.labels(code).inc()
        peer = web.current_peer()
        center.alerts.client_refused(code, peer.common_name if peer is not None else None)

    return refused


def _install_app_api(
    app: Flask,
    settings: Settings,
    center: Center,
    store: kvstore.KeyValueStore,
    issuance: IssuanceService,
) -> None:
    """The app API (docs/app-api.md): attestation (C06), admission, limits, the blueprint."""
    app.config[web.PUBLIC_SURFACE] = True  # anyone on the internet reaches it
    app_settings = settings.center.app
    app.extensions["vaxcert_app_attestation"] = AppAttestation(
        app_settings, load_roots(settings), store
    )
    app.extensions["vaxcert_app_issuance"] = AppIssuance(issuance, app_settings)
    # An application is where the time goes (VRS, signer, PDF, image): under admission control,
    # so overload answers a fast 503 with Retry-After, never a timeout or an empty record.
    _admit(app, app_settings.admission, "app_api.certificates")
    app.register_blueprint(app_api)
    limits.install(app, settings)


def _admit(app: Flask, admission: AdmissionSettings, endpoint: str) -> None:
    """``endpoint`` of ``app`` runs under admission control (503 ``overloaded`` when full)."""
    web.admit(
        app,
        Admission(
            admission.concurrency,
            admission.queue,
            admission.max_wait_seconds,
            admission.retry_after_seconds,
        ),
        {endpoint},
        admission.deadline_seconds,
        on_shed=lambda cause: metrics.SHED.labels(cause).inc(),
    )
