"""How many gunicorn workers a service gets: one wherever state lives in process memory."""

from __future__ import annotations

from launch.surfaces import SERVICES


def test_in_memory_state_means_one_worker() -> None:
    from launch.serve import workers_for
    from vaxcert.config import load_settings

    settings = load_settings(workers=4)
    assert workers_for(SERVICES["kiosk"], settings) == 1
    assert workers_for(SERVICES["center-kiosk-api"], settings) == 1
    assert workers_for(SERVICES["vrs"], settings) == 4
    with_redis = load_settings(workers=4, redis_url="redis://127.0.0.1:6379/0")
    assert workers_for(SERVICES["center-kiosk-api"], with_redis) == 4
