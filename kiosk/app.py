"""App factory of the kiosk terminal UI (served on loopback to the store's Chromium)."""

from __future__ import annotations

from flask import Flask

from vaxcert import web
from vaxcert.config import Settings, load_settings


def create_app(config: Settings | None = None) -> Flask:
    """The kiosk's Flask app."""
    settings = config or load_settings()
    app = web.new_app(__name__, "kiosk")
    web.install(app, settings, "kiosk")
    return app
