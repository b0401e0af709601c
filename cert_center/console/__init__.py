"""The operator console (C15, C17): sign-in with a second factor, roles, pages, audit trail.

:func:`install` mounts it on the ops surface's app; :func:`kiosk_states` gives the kiosk API the
enable/disable check. Users, the trail and kiosk states live in the center's database
(:mod:`cert_center.console.db`).
"""

from __future__ import annotations

import datetime as dt
import secrets
import time

from flask import Flask, Response, g, render_template, request, session
from flask_babel import Babel
from flask_wtf.csrf import CSRFError, CSRFProtect

from cert_center.console import audit
from cert_center.console.audit import AuditTrail
from cert_center.console.db import CenterDb
from cert_center.console.kiosks import KioskStates
from cert_center.console.sources import Sources, build_sources
from cert_center.console.users import UserStore
from cert_center.services import Center
from vaxcert import pki
from vaxcert.config import Settings
from vaxcert.kvstore import KeyValueStore

SESSION_KEY_FILE = "console-session.key"
# __Host-: only over HTTPS, for this host and path / only; no subdomain can set or read it.
COOKIE = "__Host-vaxcert-ops"


def install_audit(settings: Settings) -> AuditTrail:
    """This process's audit trail: :func:`audit.record` (the alert rules) appends to it."""
    database = CenterDb.from_settings(settings)
    if database.dialect == "sqlite":
        database.migrate()  # PostgreSQL: `vaxcert ops db setup` as the tables' owner
    trail = AuditTrail(database)
    audit.install(trail)
    return trail


def kiosk_states(settings: Settings, store: KeyValueStore) -> KioskStates:
    """The registry's enabled states over the center database and the shared store."""
    return KioskStates(
        CenterDb.from_settings(settings),
        store,
        settings.center.kiosks,
        settings.center.console.kiosk_state_cache_seconds,
    )


def _session_key(settings: Settings) -> str:
    """The configured secret key, else one kept in the data dir (0600) so that every worker
    and restart signs sessions alike."""
    if "secret_key" in settings.model_fields_set:
        return settings.secret_key.get_secret_value()
    path = settings.center.data_dir / SESSION_KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with path.open("xb"):
                pass
            pki.write_private(path, secrets.token_urlsafe(48).encode())
        except FileExistsError:
            pass  # another worker made it first
    for _attempt in range(50):
        key = path.read_text(encoding="utf-8").strip()
        if key:
            return key
        time.sleep(0.02)
    raise RuntimeError(f"{path} is empty")


def install(
    app: Flask,
    settings: Settings,
    store: KeyValueStore,
    center: Center | None = None,
    sources: Sources | None = None,
) -> None:
    """Mount the console at ``/ops`` (the ops surface) with its database, sessions and pages;
    the pages read ``center``'s signals (fleet, tallies, alerts)."""
    from cert_center.console import views

    trail = install_audit(settings)
    database = trail.db
    policy = settings.center.console
    app.extensions["vaxcert_console_audit"] = trail
    app.extensions["vaxcert_console_users"] = UserStore(
        database, policy.max_failed_logins, policy.lockout_minutes, store
    )
    app.extensions["vaxcert_console_kiosks"] = kiosk_states(settings, store)
    app.extensions["vaxcert_console_sources"] = sources or build_sources(
        settings, store, database, center
    )
    app.config.update(
        SECRET_KEY=_session_key(settings),
        SESSION_COOKIE_NAME=COOKIE,
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_PATH="/",
        SESSION_COOKIE_DOMAIN=None,
        REMEMBER_COOKIE_SECURE=True,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Strict",
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=12),
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        BABEL_DEFAULT_LOCALE="ja",
    )
    CSRFProtect(app)
    views.login_manager.init_app(app)
    app.config.update(
        RATELIMIT_STORAGE_URI=settings.redis_url or "memory://",
        RATELIMIT_KEY_PREFIX=f"{settings.redis_prefix}center:login-limit",
        # Redis down: count in this process instead of failing sign-in with a 500.
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,
        RATELIMIT_SWALLOW_ERRORS=True,
    )
    views.limiter.init_app(app)

    def locale() -> str:
        chosen = session.get("lang") or request.accept_languages.best_match(["ja", "en"]) or "ja"
        g.console_lang = chosen
        return str(chosen)

    Babel(app, locale_selector=locale)
    app.register_blueprint(views.console)

    @app.errorhandler(429)
    def _too_many(_error: Exception) -> tuple[str, int]:
        return render_template("console/too-many.html"), 429

    @app.errorhandler(CSRFError)
    def _stale_form(_error: CSRFError) -> tuple[str, int]:
        return render_template("console/stale.html"), 400

    @app.after_request
    def _page_policy(response: Response) -> Response:
        if request.path.startswith("/ops"):
            response.headers.setdefault(
                "Content-Security-Policy",
                "default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; "
                "form-action 'self'; "
                "frame-ancestors 'none'; base-uri 'none'",
            )
            # same-origin: Flask-WTF checks the Referer of HTTPS form posts; none leaves the site.
            response.headers.setdefault("Referrer-Policy", "same-origin")
        return response


__all__ = ["install", "install_audit", "kiosk_states"]
