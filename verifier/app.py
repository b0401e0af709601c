"""App factory of the verifier web page."""

from __future__ import annotations

from flask import Flask

from vaxcert import web
from vaxcert.config import Settings, load_settings


def create_app(config: Settings | None = None) -> Flask:
    """The verifier's Flask app."""
    settings = config or load_settings()
    app = web.new_app(__name__, "verifier")
    web.install(app, settings, "verifier")
    return app
