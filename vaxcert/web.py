"""What every Flask app of the product shares: request ids, JSON errors with reason codes, health,
the verified TLS peer (C09) and admission control for expensive endpoints (:func:`admit`).

A view never parses certificates itself: it calls :func:`current_peer`.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import ssl
import time
from collections.abc import Callable, Collection, Iterable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote

from flask import Flask, Response, current_app, g, jsonify, request
from pydantic import BaseModel, ValidationError
from werkzeug.datastructures import LanguageAccept
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.http import parse_accept_header

from vaxcert import reasons, relay
from vaxcert.admission import Admission, OverloadedError, ShedCause
from vaxcert.config import Settings
from vaxcert.errors import VaxcertError
from vaxcert.logging import new_request_id, request_id_var
from vaxcert.tls import PeerIdentity

log = logging.getLogger(__name__)


def _templates_root() -> Path:
    """templates/ (one folder per Flask app, design.md §1): ``vaxcert/templates`` where a wheel
    installed it (setup.py maps it there), else the top-level folder of the checkout."""
    package = Path(__file__).resolve().parent
    installed = package / "templates"
    return installed if installed.is_dir() else package.parent / "templates"


TEMPLATES_ROOT = _templates_root()

_HTTP_REASONS = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class PeerCertMiddleware:
    """Copies gunicorn's verified client certificate into ``SSL_CLIENT_CERT`` (PEM).

    Werkzeug's server already sets that key; gunicorn only exposes the socket (platform.md). With
    this, one code path serves both.
    """

    def __init__(self, app: WsgiApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        sock = environ.get("gunicorn.socket")
        if isinstance(sock, ssl.SSLSocket):
            der = sock.getpeercert(binary_form=True)
            if der:
                environ["SSL_CLIENT_CERT"] = ssl.DER_cert_to_PEM_cert(der)
            environ["wsgi.url_scheme"] = "https"
        return self.app(environ, start_response)


def language_of(accept_language: str | None) -> reasons.Language:
    """The language of an answer for this ``Accept-Language`` header: ja when preferred, else en."""
    accepted = parse_accept_header(accept_language, LanguageAccept)
    return "ja" if accepted.best_match(["ja", "en"]) == "ja" else "en"


def error_body(error: VaxcertError, lang: reasons.Language) -> dict[str, Any]:
    """``{"error": {"code", "message", "next_step", ...}}``: every refusal of the product."""
    body: dict[str, Any] = {
        "error": {
            "code": error.code,
            "message": error.reason.message(lang),
            "next_step": error.reason.next_step(lang),
        }
    }
    if error.detail:
        body["error"]["detail"] = error.detail
    if error.extra:
        body["error"].update(error.extra)
    return body


# A 503 always says when to come back: an outage of a peer (Redis, VRS, the signer) is usually
# over within seconds, and a client that retries at once only adds to the load.
DEFAULT_RETRY_AFTER_SECONDS = 5
# Set on a surface anonymous clients reach (the app API): what failed inside is for the logs.
PUBLIC_SURFACE = "VAXCERT_PUBLIC_SURFACE"


def error_response(error: VaxcertError) -> tuple[Response, int]:
    """The JSON body every service answers a refusal with (and ``Retry-After`` when known; every
    503 has one). On a public surface a 5xx keeps its code and words but not its detail."""
    lang = language_of(request.headers.get("Accept-Language"))
    body = error_body(error, lang)
    if error.status >= 500 and current_app.config.get(PUBLIC_SURFACE):
        body["error"].pop("detail", None)
    response = jsonify(body)
    retry_after = error.retry_after
    if retry_after is None and error.status == 503:
        retry_after = DEFAULT_RETRY_AFTER_SECONDS
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response, error.status


def hsts_value(max_age: int) -> str:
    """The ``Strict-Transport-Security`` value of a TLS listener (C10)."""
    return f"max-age={max_age}"


def add_hsts(app: Flask, max_age: int) -> None:
    """Every response of ``app``, which is served over TLS only, tells browsers to keep to HTTPS.

    Only a TLS surface may say so: the plain-http loopback kiosk page never calls this.
    """
    value = hsts_value(max_age)

    @app.after_request
    def _strict_transport(response: Response) -> Response:
        response.headers.setdefault("Strict-Transport-Security", value)
        return response


def current_peer() -> PeerIdentity | None:
    """The verified client certificate of this request, or None.

    The certificate comes from our own TLS layer; a header is believed only when a trusted TLS
    terminator was configured and the request came from one of its addresses (C09). Then the
    header alone names the peer: a certificate on this hop is the edge's own (launch/topology.py).
    """
    if "vaxcert_peer" in g:
        cached: PeerIdentity | None = g.vaxcert_peer
        return cached
    settings: Settings = g.vaxcert_settings
    pem = request.environ.get("SSL_CLIENT_CERT")
    header = settings.tls.trusted_client_cert_header
    if header and _from_trusted_proxy(settings.tls.trusted_proxies):
        escaped = request.headers.get(header)
        pem = unquote(escaped) if escaped else None
    peer = None
    if pem:
        try:
            peer = PeerIdentity.from_pem(pem)
        except ValueError:
            peer = None
    g.vaxcert_peer = peer
    return peer


def client_address() -> str:
    """The source address of this request: the one a trusted TLS terminator (``tls.trusted_
    proxies``) forwards in ``X-Forwarded-For`` (nginx sets it to the address it was connected
    from), else the connection's own; for limits per source address."""
    settings: Settings = g.vaxcert_settings
    forwarded = request.headers.get("X-Forwarded-For", "")
    if forwarded and _from_trusted_proxy(settings.tls.trusted_proxies):
        return forwarded.rsplit(",", 1)[-1].strip() or "unknown"
    return request.remote_addr or "unknown"


def _from_trusted_proxy(trusted: list[str]) -> bool:
    remote = request.remote_addr
    if not remote or not trusted:
        return False
    try:
        address = ipaddress.ip_address(remote)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(net, strict=False) for net in trusted)


def require_client_certificate(app: Flask, on_refused: Callable[[str], None] | None = None) -> None:
    """Every request of ``app`` needs a verified, not deny-listed client certificate (C09).

    ``on_refused(reason_code)`` lets a service count refusals.
    """

    @app.before_request
    def _check_peer() -> None:
        peer = current_peer()
        settings: Settings = g.vaxcert_settings
        if peer is None:
            code = "client_cert_required"
        elif peer.fingerprint_sha256 in settings.tls.denied_client_fingerprints:
            log.warning(
                "refused deny-listed client certificate",
                extra={"peer_cn": peer.common_name, "serial": str(peer.serial)},
            )
            code = "client_cert_denied"
        else:
            return
        if on_refused is not None:
            on_refused(code)
        raise VaxcertError(code)


# Set by the edge worker (launch/edge.py): when the request was ready to be served, on the
# time.monotonic() clock, before it waited for a thread.
ARRIVED_AT = "vaxcert.arrived_at"


def arrived_at() -> float:
    """When this request arrived (the edge worker's stamp), else now."""
    stamp = request.environ.get(ARRIVED_AT)
    return stamp if isinstance(stamp, float) else time.monotonic()


def admit(
    app: Flask,
    admission: Admission,
    endpoints: Collection[str],
    deadline_seconds: float,
    on_shed: Callable[[ShedCause], None] | None = None,
) -> None:
    """Requests to ``endpoints`` of ``app`` run under ``admission`` (vaxcert/admission.py).

    A refused one is answered 503 ``overloaded`` with ``Retry-After`` before anything else of it
    runs (no rate-limit count, no nonce, no call to another service). An admitted one carries a
    deadline ``deadline_seconds`` after its arrival, which every :class:`vaxcert.relay.Channel`
    call made for it keeps to. ``on_shed(cause)`` lets a service count refusals.
    """
    guarded = frozenset(endpoints)

    @app.before_request
    def _admit() -> None:
        if request.endpoint not in guarded:
            return
        arrival = arrived_at()
        try:
            g.vaxcert_admission_ticket = admission.enter(arrival)
        except OverloadedError as refused:
            if on_shed is not None:
                on_shed(refused.cause)
            raise
        relay.deadline_var.set(arrival + deadline_seconds)

    @app.teardown_request
    def _leave(_exc: BaseException | None) -> None:
        ticket = g.pop("vaxcert_admission_ticket", None)
        if ticket is not None:
            relay.deadline_var.set(None)
            admission.leave(ticket)


_access_log = logging.getLogger("vaxcert.access")


def _log_outcome(response: Response) -> None:
    """One line per request: route, status, reason code, duration and peer CN; never the body
    or the query string (C08)."""
    if request.path == "/healthz":
        return
    reason = ""
    if response.status_code >= 400 and response.is_json:
        body = response.get_json(silent=True)
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            reason = str(body["error"].get("code", ""))
    started = g.get("vaxcert_started")
    peer = g.get("vaxcert_peer")
    _access_log.info(
        "request",
        extra={
            "method": request.method,
            "route": request.url_rule.rule if request.url_rule else "unmatched",
            "status": response.status_code,
            "reason": reason,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1) if started else None,
            "peer_cn": peer.common_name if peer else None,
        },
    )


def new_app(import_name: str, templates: str) -> Flask:
    """A Flask app whose templates live in ``templates/<templates>``."""
    app = Flask(import_name, template_folder=str(TEMPLATES_ROOT / templates))
    app.config["MAX_CONTENT_LENGTH"] = 1 * 1024 * 1024
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    return app


def install(
    app: Flask,
    settings: Settings,
    service: str,
    health: Callable[[], dict[str, Any]] | None = None,
) -> None:
    """Wire request ids, JSON errors and ``GET /healthz`` into ``app``."""
    app.config["VAXCERT_SETTINGS"] = settings
    app.wsgi_app = PeerCertMiddleware(app.wsgi_app)  # type: ignore[method-assign]

    @app.before_request
    def _begin() -> None:
        g.vaxcert_settings = settings
        g.vaxcert_started = time.perf_counter()
        g.request_id = new_request_id(request.headers.get("X-Request-ID"))
        request_id_var.set(g.request_id)

    @app.after_request
    def _finish(response: Response) -> Response:
        response.headers["X-Request-ID"] = g.get("request_id") or ""
        _log_outcome(response)
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response

    @app.teardown_request
    def _forget(_exc: BaseException | None) -> None:
        request_id_var.set(None)

    @app.errorhandler(VaxcertError)
    def _refused(error: VaxcertError) -> tuple[Response, int]:
        return error_response(error)

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> tuple[Response, int] | HTTPException:
        code = _HTTP_REASONS.get(error.code or 500)
        if code is None:
            return error
        return error_response(VaxcertError(code))

    @app.errorhandler(Exception)
    def _bug(error: Exception) -> tuple[Response, int]:
        # A 500 is always a bug; the scrubber drops the trace text, the type stays for operators.
        log.error("unhandled error", exc_info=error)
        return error_response(VaxcertError("internal_error"))

    @app.get("/healthz")
    def healthz() -> Response:
        body: dict[str, Any] = {"status": "ok", "service": service}
        peer = current_peer()
        if peer is not None:
            body["peer"] = peer.common_name
        if health is not None:
            body.update(health())
        return jsonify(body)


ModelT = TypeVar("ModelT", bound=BaseModel)


def _bounded_body(limit: int | None) -> bytes:
    """The body, read at most ``limit`` + 1 bytes far: a chunked body announces no length."""
    if limit is None:
        return request.get_data(cache=False)
    try:
        raw = request.stream.read(limit + 1)
        # The stream may itself stop at the app's cap; one more byte tells a body that ends
        # there from one that goes on.
        if len(raw) > limit or (len(raw) == limit and request.stream.read(1)):
            raise VaxcertError("payload_too_large")
    except RequestEntityTooLarge:
        raise VaxcertError("payload_too_large") from None
    return raw


def _refuse_repeated_keys(raw: bytes) -> None:
    """Refuse an object that names a key twice: parsers disagree on which one wins."""

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _ in items]
        if len(set(keys)) != len(keys):
            raise VaxcertError("bad_request", "the body repeats a key")
        return dict(items)

    try:
        json.loads(raw, object_pairs_hook=pairs)
    except (ValueError, RecursionError):
        return  # not JSON at all: the model's own parse gives the error


def parse_body(model: type[ModelT], max_bytes: int | None = None) -> ModelT:
    """The JSON body validated into ``model`` (C04: unknown fields are refused by the model).

    Errors name the fields, never echo a value: any unknown field → ``unknown_field``, else any
    missing one → ``missing_field``, else ``invalid_field`` (``fields`` lists them all); a body
    over ``max_bytes`` (or the app's ``MAX_CONTENT_LENGTH``), announced or chunked → 413; not
    JSON, or an object that repeats a key → 415/400.
    """
    return validate_body(model, read_body(max_bytes))


def read_body(max_bytes: int | None = None) -> bytes:
    """The raw JSON body, bounded (413) and of a JSON media type (415), as :func:`parse_body`
    reads it; for a view that must see the exact bytes first (a signature over them)."""
    limit = max_bytes if max_bytes is not None else current_app.config.get("MAX_CONTENT_LENGTH")
    if limit is not None and (request.content_length or 0) > limit:
        raise VaxcertError("payload_too_large")
    if not request.is_json:
        raise VaxcertError("unsupported_media_type", "send application/json")
    return _bounded_body(limit)


def validate_body(model: type[ModelT], raw: bytes) -> ModelT:
    """``raw`` (from :func:`read_body`) validated into ``model``, with :func:`parse_body`'s
    errors."""
    _refuse_repeated_keys(raw)
    try:
        # JSON mode, so strict models get JSON semantics (dates from ISO strings only, no number
        # coerced into a date or a string into an integer).
        return model.model_validate_json(raw)
    except ValidationError as exc:
        problems = exc.errors(include_url=False, include_input=False)
        kinds = {problem["type"] for problem in problems}
        if kinds & {"json_invalid", "model_type"}:
            raise VaxcertError("bad_request", "the body must be a JSON object") from None
        fields = sorted({".".join(str(part) for part in p["loc"]) or "body" for p in problems})
        if "extra_forbidden" in kinds:
            code = "unknown_field"
        elif "missing" in kinds:
            code = "missing_field"
        else:
            code = "invalid_field"
        raise VaxcertError(code, "fields: " + ", ".join(fields), fields=fields) from None
