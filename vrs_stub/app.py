"""App factory of the VRS stub (mTLS with the LGWAN CA, C09)."""

from __future__ import annotations

from flask import Flask

from vaxcert import web
from vaxcert.config import Settings, load_settings


def create_app(config: Settings | None = None) -> Flask:
    """The VRS stub's Flask app; every request needs the center's LGWAN client certificate."""
    settings = config or load_settings()
    app = web.new_app(__name__, "vrs_stub")
    web.install(app, settings, "vrs")
    web.require_client_certificate(app)  # C09
    return app
