"""App factory of the certificate-issuance center: kiosk API, app API and ops console surfaces."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Literal

from flask import Flask

from cert_center import metrics
from cert_center.api import kiosk_api
from cert_center.clients import SignerClient, VrsClient
from cert_center.issuance import IssuanceService
from cert_center.ops import OpsCredentials, ops
from cert_center.refusal_days import DailyRefusals
from cert_center.services import Center
from vaxcert import kvstore, web
from vaxcert.admission import Admission
from vaxcert.card import ca_key_table
from vaxcert.config import Settings, load_settings

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
    center = Center(settings.center, store)
    app.extensions["vaxcert_center"] = center
    if surface == "kiosk_api":
        app.extensions["vaxcert_issuance"] = IssuanceService(
            settings,
            center,
            ca_key_table(settings),
            VrsClient.from_settings(settings),
            SignerClient.from_settings(settings, timeout=settings.center.relay_timeout_seconds),
        )
        web.require_client_certificate(app, on_refused=_client_refused(center))  # C09, C21
        # Issuance is where the time goes (VRS, signer): it runs under admission control
        # (launch/serve.py gives this surface a thread per slot and queue place, and spares).
        # The other calls are cheap and always answered.
        admission = settings.center.admission
        web.admit(
            app,
            Admission(
                admission.concurrency,
                admission.queue,
                admission.max_wait_seconds,
                admission.retry_after_seconds,
            ),
            {"kiosk_api.certificates"},
            admission.deadline_seconds,
            on_shed=lambda cause: metrics.SHED.labels(cause).inc(),
        )
        app.register_blueprint(kiosk_api)
    elif surface == "ops":
        app.extensions["vaxcert_ops_credentials"] = OpsCredentials(settings.center.ops)
        app.extensions["vaxcert_daily_refusals"] = DailyRefusals(store, settings.center)
        app.register_blueprint(ops)
    return app


def _client_refused(center: Center) -> Callable[[str], None]:
    """Counts a refused client certificate and feeds the C21 alert, by the certificate's CN."""

    def refused(code: str) -> None:
        metrics.CLIENT_REFUSALS.labels(code).inc()
        peer = web.current_peer()
        center.alerts.client_refused(code, peer.common_name if peer is not None else None)

    return refused
