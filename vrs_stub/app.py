"""App factory of the VRS stub (mTLS with the LGWAN CA, C09)."""

from __future__ import annotations

import logging

from flask import Flask, Response
from sqlalchemy.exc import OperationalError

from vaxcert import web
from vaxcert.config import Settings, load_settings
from vaxcert.errors import VaxcertError
from vrs_stub import api
from vrs_stub.store import Store

log = logging.getLogger(__name__)


def create_app(config: Settings | None = None, store: Store | None = None) -> Flask:
    """The VRS stub's Flask app; every request needs an LGWAN client certificate (C09).

    The relay API admits only the center's CN; the staff API needs a municipality-scoped token.
    ``store`` lets tests hand in an open store; otherwise the configured one is opened and its
    schema brought up to date.
    """
    settings = config or load_settings()
    if store is None:
        store = Store.from_settings(settings)
        store.migrate()
    app = web.new_app(__name__, "vrs_stub")
    # CSV imports may be large; the relay views cap their own bodies far lower.
    web.install(app, settings, "vrs", health=lambda: api.health(store))
    app.config["MAX_CONTENT_LENGTH"] = settings.vrs.max_import_bytes
    web.require_client_certificate(app)  # C09
    api.register(app, store)

    @app.errorhandler(OperationalError)
    def _database_unavailable(error: OperationalError) -> tuple[Response, int]:
        # The database is down or restarting (not a bug): the caller gets a reason code and
        # retries; the pool reconnects by itself once it is back (docs/operations.md).
        log.warning("database unavailable", extra={"error": type(error.orig).__name__})
        return web.error_response(VaxcertError("service_unavailable", "database unavailable"))

    return app
