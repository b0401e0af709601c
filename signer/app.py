"""App factory of the signer: the center-only API (mTLS, internal CA) and the public surface."""

from __future__ import annotations

from typing import Literal

from flask import Flask, Response

from signer import api
from signer.services import SignerService
from vaxcert import web
from vaxcert.config import Settings, load_settings

Surface = Literal["api", "public"]


def create_app(
    config: Settings | None = None, surface: Surface = "api", service: SignerService | None = None
) -> Flask:
    """The signer app for one surface: ``api`` (only the center may call it) or ``public``.

    The key state is created on first start (idempotent, see ``vaxcert signer init``).
    """
    settings = config or load_settings()
    signer = service or SignerService(settings)
    signer.init()
    app = web.new_app(__name__, "signer")
    app.extensions["vaxcert_signer"] = signer
    web.install(app, settings, f"signer-{surface}")
    if surface == "api":
        web.require_client_certificate(app)  # C09
        app.register_blueprint(api.signing_blueprint(settings.signer.allowed_clients))
    else:
        app.register_blueprint(api.public_blueprint(settings.issuer_url))

        @app.after_request
        def _cors(response: Response) -> Response:
            # Verifier web apps fetch issuer keys cross-origin (SHC spec: JWKS with CORS).
            response.headers["Access-Control-Allow-Origin"] = "*"
            return response

    return app
