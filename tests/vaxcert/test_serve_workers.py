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
    # The app API's instances and single-use challenges (C06) likewise.
    assert workers_for(SERVICES["center-app-api"], settings) == 1
    assert workers_for(SERVICES["center-app-api"], with_redis) == 4


def test_an_admitted_surface_has_a_thread_for_every_slot_and_queue_place_and_spares() -> None:
    from launch.serve import threads_for
    from vaxcert.config import load_settings

    settings = load_settings(
        threads=8, center={"admission": {"concurrency": 5, "queue": 7, "spare_threads": 2}}
    )
    assert threads_for(SERVICES["center-kiosk-api"], settings) == 5 + 7 + 2
    assert threads_for(SERVICES["vrs"], settings) == 8
    assert threads_for(SERVICES["signer-api"], settings) == 8
    app = load_settings(center={"app": {"admission": {"concurrency": 3, "queue": 2}}})
    assert threads_for(SERVICES["center-app-api"], app) == 3 + 2 + 8
