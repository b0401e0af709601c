"""Private Redis and PostgreSQL servers for the tests (started by :mod:`launch.services`).

Tests never fall back to a server on a default port: a shared instance is used only when the
environment names it (``VAXCERT_TEST_REDIS_URL``, ``VAXCERT_TEST_PG_URL``); otherwise the session
starts its own and stops it by PID at the end.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator

import pytest

from launch.services import ServerProcess, ServiceError, start_postgres, start_redis

__all__ = ["PG_ENV", "REDIS_ENV", "ServerProcess", "service_url", "start_postgres", "start_redis"]

REDIS_ENV = "VAXCERT_TEST_REDIS_URL"
PG_ENV = "VAXCERT_TEST_PG_URL"


@contextlib.contextmanager
def service_url(env_name: str, start: Callable[[], ServerProcess]) -> Iterator[str]:
    """The URL named by ``env_name``, or one of a server started here and stopped afterwards."""
    named = os.environ.get(env_name)
    if named:
        yield named
        return
    try:
        server = start()
    except ServiceError as exc:
        pytest.fail(str(exc))
    try:
        yield server.url
    finally:
        server.stop()
