"""Rate limits of the app API (Flask-Limiter): per app instance and per source address (behind
the nginx edge, the address it forwards: :func:`vaxcert.web.client_address`).

Counted in Redis when configured, so every worker and replica shares them; in process memory
otherwise. Keys hold the instance id or the address, never personal data (C08). A refusal is the
catalogue's ``rate_limited`` (429) with ``Retry-After``.

No ``X-RateLimit-*`` headers on admitted requests: Flask-Limiter reads them with two more Redis
round trips (GET and TTL of the counter) after every request, they are not in the contract and
the app does not read them (bench/app.py, docs/app-api.md "Performance"). Only a refusal reads
its window, for an exact ``Retry-After``.
"""

from __future__ import annotations

import logging
import time

import redis
from flask import Flask, Response, request
from flask_limiter import Limiter, RateLimitExceeded
from limits.errors import StorageError

from vaxcert import attestation
from vaxcert.config import Settings
from vaxcert.errors import VaxcertError
from vaxcert.web import client_address, error_response

log = logging.getLogger(__name__)

LIMITED_ENDPOINTS = ("app_api.challenges", "app_api.instances", "app_api.certificates")


def _instance_or_address() -> str:
    instance = request.headers.get(attestation.INSTANCE_HEADER, "")
    # Only a well-formed id makes its own bucket: junk values must not each get a fresh one.
    if (
        len(instance) == 43
        and instance.isascii()
        and all(c.isalnum() or c in "-_" for c in instance)
    ):
        return "instance:" + instance
    return "address:" + client_address()


def install(app: Flask, settings: Settings) -> Limiter:
    """Limit the app API's endpoints of ``app`` as ``settings.center.app`` says."""
    app_settings = settings.center.app
    limiter = Limiter(
        client_address,
        app=app,
        storage_uri=settings.redis_url or "memory://",
        storage_options={"socket_timeout": 1, "socket_connect_timeout": 1}
        if settings.redis_url
        else {},
        key_prefix=f"{settings.redis_prefix}center:app-limits",
        strategy="fixed-window",
        headers_enabled=False,  # see the module's docstring
        # Redis down: the limits open rather than every request failing (the challenge store
        # answers service_unavailable on its own).
        swallow_errors=True,
    )
    for endpoint in LIMITED_ENDPOINTS:
        # Flask-Limiter checks decorated limits inside its wrapper: the view is replaced by it.
        per_instance = limiter.limit(app_settings.per_instance_limit, key_func=_instance_or_address)
        per_address = limiter.limit(app_settings.per_address_limit, key_func=client_address)
        wrapped = per_address(per_instance(app.view_functions[endpoint]))
        app.view_functions[endpoint] = wrapped  # type: ignore[assignment]

    @app.errorhandler(RateLimitExceeded)
    def _limited(error: RateLimitExceeded) -> tuple[Response, int]:
        return error_response(
            VaxcertError("rate_limited", retry_after=_wait_seconds(limiter, error))
        )

    return limiter


def _wait_seconds(limiter: Limiter, error: RateLimitExceeded) -> int:
    """Seconds until the breached window ends (one read of it); its whole length when the
    store cannot say, which is never too early."""
    wait = int(error.limit.limit.get_expiry())
    try:
        breached = [limit for limit in limiter.current_limits if limit.breached]
        if breached:
            wait = int(max(limit.reset_at for limit in breached) - time.time())
    except (redis.RedisError, StorageError):
        log.warning("rate-limit window unreadable: Retry-After is the window's length")
    return max(1, wait)
