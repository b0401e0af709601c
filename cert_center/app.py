"""App factory of the certificate-issuance center: kiosk API, app API and ops console surfaces."""

from __future__ import annotations

from typing import Literal

from flask import Flask

from vaxcert import web
from vaxcert.config import Settings, load_settings

Surface = Literal["kiosk_api", "app_api", "ops"]


def create_app(config: Settings | None = None, surface: Surface = "kiosk_api") -> Flask:
    """The center app for one surface; the kiosk API accepts only dedicated-line kiosk certs."""
    settings = config or load_settings()
    app = web.new_app(__name__, "cert_center")
    web.install(app, settings, f"center-{surface.replace('_', '-')}")
    if surface == "kiosk_api":
        web.require_client_certificate(app)  # C09
    return app
