"""App factory of the kiosk terminal UI (served on loopback to the store's Chromium).

The kiosk is ONE process (one terminal): sessions live in its memory only (C08), so it must run
with a single gunicorn worker (`vaxcert serve kiosk` forces that). The cookie carries nothing but
an opaque random session id; Flask's session data (the CSRF token) is kept server-side with the
kiosk session (:class:`MemorySessionInterface`).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Request, Response, g, redirect, request
from flask.sessions import SecureCookieSession, SessionInterface
from flask_babel import Babel
from flask_wtf.csrf import CSRFError, CSRFProtect

from kiosk.clients import CenterClient
from kiosk.devices import create_cash_unit, create_printer
from kiosk.models import KioskSession
from kiosk.prompts import Playlists
from kiosk.services import Devices, Kiosk
from vaxcert import web
from vaxcert.card import create_reader
from vaxcert.config import Settings, load_settings
from vaxcert.errors import ConfigError

log = logging.getLogger(__name__)

COOKIE = "kiosk_session"
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-src {frames}; frame-ancestors {ancestors}"
)


class KioskFlaskSession(SecureCookieSession):
    """Flask's session view of a :class:`KioskSession` (its data never leaves the process)."""

    def __init__(self, kiosk_session: KioskSession, known: bool) -> None:
        super().__init__(dict(kiosk_session.flask))
        self.kiosk_session = kiosk_session
        self.known = known


class MemorySessionInterface(SessionInterface):
    """Sessions in kiosk memory keyed by the cookie's opaque id; the cookie holds nothing else."""

    def __init__(self, kiosk: Kiosk) -> None:
        self.kiosk = kiosk

    def open_session(self, app: Flask, request: Request) -> KioskFlaskSession:
        kiosk_session = self.kiosk.sessions.get(request.cookies.get(COOKIE))
        if kiosk_session is None:
            return KioskFlaskSession(self.kiosk.new_session(), known=False)
        return KioskFlaskSession(kiosk_session, known=True)

    def save_session(self, app: Flask, session: Any, response: Response) -> None:
        if not isinstance(session, KioskFlaskSession):
            return
        kiosk_session = session.kiosk_session
        if kiosk_session.wiped:
            response.delete_cookie(COOKIE, path="/")
            return
        if session.modified:
            kiosk_session.flask = dict(session)
        # A session is kept once a page with a form was shown (it then holds a CSRF token);
        # polls and static files never create one.
        if not session.known and (session.modified or g.get("kiosk_keep")):
            self.kiosk.keep(kiosk_session)
            response.set_cookie(
                COOKIE,
                kiosk_session.id,  # C08: the opaque id is all the cookie carries
                httponly=True,
                samesite="Strict",
                path="/",
            )


def build_kiosk(settings: Settings, **kwargs: Any) -> Kiosk:
    """The kiosk service with the configured center client and devices."""
    reader = create_reader(settings)
    if settings.kiosk.demo and settings.card.reader == "virtual":
        from vaxcert.card.inprocess import InProcessCardReader

        if isinstance(reader, InProcessCardReader):
            reader.remove()  # demo: the reader starts empty; the demo panel inserts cards
    devices = Devices(reader, create_printer(settings), create_cash_unit(settings))
    return Kiosk(settings, CenterClient.from_settings(settings), devices, **kwargs)


def create_app(
    config: Settings | None = None, *, kiosk: Kiosk | None = None, background: bool = True
) -> Flask:
    """The kiosk's Flask app; ``kiosk`` overrides the configured service (tests)."""
    settings = config or load_settings()
    if settings.kiosk.demo and settings.environment == "production":
        raise ConfigError("VAXCERT_KIOSK__DEMO", "demo mode is refused in production")
    if settings.kiosk.demo:
        log.warning("UNSAFE demo mode: /demo inserts virtual cards and coins; never in production")
    service = kiosk or build_kiosk(settings)
    app = web.new_app(__name__, "kiosk")
    app.config.update(
        SECRET_KEY=settings.secret_key.get_secret_value(),
        BABEL_DEFAULT_LOCALE="ja",
        WTF_CSRF_TIME_LIMIT=None,  # the token dies with the session anyway
        WTF_CSRF_SSL_STRICT=False,  # loopback http
        MAX_CONTENT_LENGTH=16 * 1024,  # the kiosk's forms are tiny
    )
    app.session_interface = MemorySessionInterface(service)
    app.extensions["vaxcert_kiosk"] = service
    playlists = Playlists()
    app.extensions["vaxcert_prompts"] = playlists
    if playlists.problems():
        # C11: a prompt without a current recording is not played (never a wrong text).
        log.warning(
            "spoken prompts missing or stale: run `vaxcert kiosk-prompts build` (make does)",
            extra={"unplayable": playlists.problems()},
        )
        if settings.environment == "production":
            raise ConfigError("kiosk prompts", "spoken prompts are missing or stale")

    def health() -> dict[str, object]:
        status = service.device_status()
        return {
            "kiosk_id": settings.kiosk.kiosk_id,
            "devices": status.model_dump(),
            # Receipts not yet acknowledged, and those the center refused (the operator's).
            "receipts": service.outbox.counts(),
            # Prompts that cannot be spoken (recording missing or stale), over all languages.
            "unplayable_prompts": playlists.problems(),
        }

    web.install(app, settings, "kiosk", health=health)
    csrf = CSRFProtect(app)

    def locale() -> str:
        kiosk_session = getattr(g, "kiosk_session", None)
        return kiosk_session.lang if kiosk_session is not None else "ja"

    Babel(app, locale_selector=locale)

    from kiosk import views

    app.register_blueprint(views.bp)
    if settings.kiosk.demo:
        from kiosk import demo

        csrf.exempt(demo.api)
        app.register_blueprint(demo.page)
        app.register_blueprint(demo.api)

    @app.errorhandler(CSRFError)
    def _stale(_error: CSRFError) -> Response:
        # A page from a wiped or older session: start again at welcome.
        return redirect("/", code=303)  # type: ignore[return-value]

    # Demo mode: /demo frames the kiosk screen and shows the printout (a blob: PDF) in a frame.
    ancestors = "'self'" if settings.kiosk.demo else "'none'"
    frames = "'self' blob:" if settings.kiosk.demo else "'none'"
    policy = _CSP.format(ancestors=ancestors, frames=frames)

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers["Cache-Control"] = "no-store"
        response.headers["Pragma"] = "no-cache"
        response.headers["Content-Security-Policy"] = policy
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "SAMEORIGIN" if settings.kiosk.demo else "DENY"
        response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
        return response

    @app.before_request
    def _session() -> None:
        from flask import session

        g.kiosk_session = getattr(session, "kiosk_session", None)
        if request.path.startswith("/static/"):
            g.kiosk_keep = False

    if background:
        service.start_background()
    return app
