"""App factory of the verifier web page (served over TLS: docs/verifier.md)."""

from __future__ import annotations

import datetime as dt
import io
import logging
import threading
from pathlib import Path
from typing import IO

from flask import Flask, Request, Response, request
from flask_babel import Babel

from vaxcert import web
from vaxcert.config import Settings, load_settings
from vaxcert.errors import ConfigError
from verifier.clients import TrustFetcher
from verifier.dev_trust import check_development_trust, dev_trust_store, warn_development_trust
from verifier.refresh import refresh as refresh_store
from verifier.trust import STATE, TrustStore, TrustStoreError, index_path, load_trust_store

log = logging.getLogger(__name__)

LANGUAGES = ("ja", "en")
_FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")
# Camera frames are posted to the server for decoding; everything else stays same-origin.
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)


class InMemoryRequest(Request):
    """Uploads stay in memory: Werkzeug would spool files over 500 kB to a temporary file, and a
    photo of a certificate must never touch the disk (C08). MAX_CONTENT_LENGTH bounds the size."""

    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        return io.BytesIO()


class TrustHolder:
    """The trust store the page verifies against; a configured store is re-read when
    ``vaxcert trust refresh`` changed it (its trust.toml or state.json is newer)."""

    def __init__(self, settings: Settings, fixed: TrustStore | None = None) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._stamp: tuple[float, ...] = ()
        self._path: Path | None = None
        self._fetcher: TrustFetcher | None = None
        self._stopped = threading.Event()
        if fixed is not None:
            self._store = fixed
        elif settings.verifier.trust is not None:
            self._path = index_path(settings.verifier.trust)
            self._stamp = self._mtimes()
            self._store = load_trust_store(self._path)
        elif settings.environment == "production":
            raise TrustStoreError(
                "no trust store configured (VAXCERT_VERIFIER__TRUST; `vaxcert --dev` trusts the "
                "development PKI)"
            )
        else:
            # Live: the demo's page fetches the signer's published keys and revocation lists.
            self._store = dev_trust_store(settings.pki_dir, settings.issuer_url, live=True)
        # Production refuses development anchors; elsewhere each verification warns.
        self._development = check_development_trust(self._store, settings)

    def _mtimes(self) -> tuple[float, ...]:
        assert self._path is not None
        stamps = []
        for path in (self._path, self._path.parent / STATE):
            try:
                stamps.append(path.stat().st_mtime)
            except OSError:
                stamps.append(0.0)
        return tuple(stamps)

    def get(self) -> TrustStore:
        """The current store (reloaded after a refresh; a broken reload keeps the old one)."""
        if self._path is None:
            return self._store
        stamp = self._mtimes()
        if stamp != self._stamp:
            with self._lock:
                if stamp != self._stamp:
                    try:
                        store = load_trust_store(self._path)
                        development = check_development_trust(store, self._settings)
                    except TrustStoreError as exc:
                        log.warning("trust store reload failed; keeping the previous one: %s", exc)
                    else:
                        self._store, self._development = store, development
                    self._stamp = stamp
        return self._store

    def refresh(self) -> None:
        """Bring the trust data up to date now: a live store fetches its issuers' keys and
        lists; a configured store runs `vaxcert trust refresh` on its directory (the next
        :meth:`get` reloads it). Never raises: failures are logged and results say how old
        the data is."""
        store = self.get()
        if store.live is not None:
            store.live.update(store)
            return
        if self._path is None:
            return
        if self._fetcher is None:
            # One fetcher for the life of the process: its ETags make refreshes conditional.
            self._fetcher = TrustFetcher(store.tls_ca)
        try:
            report = refresh_store(self._path, self._fetcher)
        except (TrustStoreError, OSError) as exc:
            log.warning("background trust refresh failed: %s", exc)
            return
        for failure in report.failed:
            log.warning("background trust refresh: %s", failure)

    def start_refreshing(self, interval: float) -> None:
        """Refresh in a daemon thread every ``interval`` seconds (trust freshness without an
        operator's cron job; docs/verifier.md)."""
        if interval <= 0 or (self._path is None and self.get().live is None):
            return

        def loop() -> None:
            while not self._stopped.wait(interval):
                try:
                    self.refresh()
                except Exception:  # the thread must outlive any one bad refresh
                    log.exception("background trust refresh crashed; trying again later")

        threading.Thread(target=loop, name="trust-refresh", daemon=True).start()

    def stop(self) -> None:
        """Stop the background refresh."""
        self._stopped.set()

    def for_verification(self) -> TrustStore:
        """The current store, to verify with: a development store says so every time."""
        store = self.get()
        if self._development:
            warn_development_trust(self._development)
        return store


def select_locale() -> str:
    """``?lang=`` (or the form's ``lang``), else the browser's preference, else Japanese."""
    chosen = request.args.get("lang")
    if chosen is None and request.mimetype in _FORM_TYPES:
        chosen = request.form.get("lang")
    if chosen in LANGUAGES:
        return str(chosen)
    return request.accept_languages.best_match(LANGUAGES) or "ja"


def create_app(config: Settings | None = None, trust: TrustStore | None = None) -> Flask:
    """The verifier's Flask app; ``trust`` overrides the configured trust store (tests)."""
    settings = config or load_settings()
    try:
        holder = TrustHolder(settings, trust)
    except TrustStoreError as exc:
        raise ConfigError("VAXCERT_VERIFIER__TRUST", exc.detail) from None
    app = web.new_app(__name__, "verifier")
    app.request_class = InMemoryRequest
    app.config["MAX_CONTENT_LENGTH"] = settings.verifier.max_upload_bytes
    app.config["BABEL_DEFAULT_LOCALE"] = "ja"
    app.extensions["vaxcert_trust"] = holder
    holder.start_refreshing(settings.verifier.refresh_interval_seconds)
    app.config["VERIFIER_PAGE"] = {
        "result_seconds": settings.verifier.result_seconds,
        "request_timeout_seconds": settings.verifier.request_timeout_seconds,
    }
    app.extensions["vaxcert_clock_skew"] = dt.timedelta(
        seconds=settings.verifier.clock_skew_seconds
    )

    def health() -> dict[str, object]:
        store = holder.get()
        return {"trusted_shc_issuers": len(store.shc), "trusted_cscas": len(store.cscas)}

    web.install(app, settings, "verifier", health=health)
    Babel(app, locale_selector=select_locale)

    from verifier import views

    app.register_blueprint(views.bp)

    @app.after_request
    def _no_store(response: Response) -> Response:
        # Scanned certificates are personal data: no cache anywhere, static files included.
        response.headers["Cache-Control"] = "no-store"
        response.headers["Pragma"] = "no-cache"
        response.headers["Content-Security-Policy"] = _CSP
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Permissions-Policy"] = "camera=(self), microphone=()"
        response.headers["X-Frame-Options"] = "DENY"
        return response

    return app
