"""The C08 canary scan of a running stack: nothing of a synthetic resident may be found in its
Redis keys and values, its processes' logs, or the files they could have written."""

from __future__ import annotations

import base64
from collections.abc import Iterable

from launch.stack import Stack
from tests.support.services import redis_contents
from vaxcert.residents import CANARY, SyntheticResident


def canary_values(resident: SyntheticResident = CANARY) -> list[str]:
    """What to search for: the resident's values (4 characters or more) and the My Number as
    base64 (as it travels inside the card files)."""
    values = [value for value in resident.canary_values if len(value) >= 4]
    values.append(base64.b64encode(resident.my_number.encode()).decode())
    return values


def redis_keys_scanned(stack: Stack, canaries: Iterable[str]) -> list[bytes]:
    """Every Redis key of this stack (its prefix anywhere in the key: Flask-Limiter puts its own
    in front) and all it holds, searched; returns the keys."""
    values = [value.encode() for value in canaries]
    stored = redis_contents(stack.env["VAXCERT_REDIS_URL"], f"*{stack.redis_prefix}")
    for key, content in stored.items():
        for value in values:
            assert value not in key + content, "canary value in Redis"
    return list(stored)


def assert_nothing_kept(stack: Stack, canaries: Iterable[str]) -> list[bytes]:
    """Search Redis, every process log and the processes' temp and working files; returns the
    Redis keys scanned (so a test can check the scan looked where the service writes)."""
    wanted = list(canaries)
    keys = redis_keys_scanned(stack, wanted)
    for log in stack.logs.iterdir():
        text = log.read_text(errors="replace")
        for value in wanted:
            assert value not in text, f"canary value in {log.name}"
    for root in stack.temp_dirs:
        for path in root.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                for value in wanted:
                    assert value.encode() not in data, f"canary value in {path}"
    return keys
