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
import redis

from launch.services import ServerProcess, ServiceError, start_postgres, start_redis

__all__ = [
    "PG_ENV",
    "REDIS_ENV",
    "ServerProcess",
    "redis_contents",
    "service_url",
    "start_postgres",
    "start_redis",
]

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


def redis_contents(url: str, prefix: str) -> dict[bytes, bytes]:
    """Every key under ``prefix`` with all it holds as bytes (a string's value; a hash's fields
    and values; a list's items), for scans that nothing personal was kept (C08)."""
    client = redis.Redis.from_url(url)
    contents: dict[bytes, bytes] = {}
    for key in client.scan_iter(f"{prefix}*"):
        kind = client.type(key)
        if kind == b"hash":
            value = b"\n".join(f + b"=" + v for f, v in client.hgetall(key).items())
        elif kind == b"list":
            value = b"\n".join(client.lrange(key, 0, -1))
        elif kind == b"string":
            value = client.get(key) or b""
        else:
            raise AssertionError(f"{key!r}: a {kind!r} the scan does not read")
        contents[key] = value
    return contents
