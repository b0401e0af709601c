"""Signals benchmark: what the console's signals cost the center, per call, on a real Redis.

    .venv/bin/python -P bench/signals.py [--calls 5000] [--redis-url redis://127.0.0.1:6379/0]

Baseline in the same run: ``KeyValueStore.add`` of a fresh nonce, the one Redis round trip every
certificate request already makes (``request_replayed`` guard). Then, per call:

- on the issuance path: ``Tallies.issued`` (what a certificate adds), ``Tallies.refused`` +
  ``Alerts.observe`` (what a refusal adds), ``Fleet.record`` (a heartbeat);
- for a page view: ``Fleet.statuses`` of 100 kiosks, ``Tallies.hourly`` (24 buckets),
  ``Tallies.fees`` over 31 days, ``Alerts.active``.

Prints microseconds per call and the ratio to the baseline. Keys live under a prefix of this
run's own and are deleted at the end. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import secrets
import time
from collections.abc import Callable

import redis

from cert_center.alerts import Alerts
from cert_center.fleet import Fleet
from cert_center.tallies import Tallies
from vaxcert.config import KioskEntry, load_settings
from vaxcert.contracts.kiosk_api import Heartbeat
from vaxcert.kvstore import RedisStore


def _per_call(calls: int, work: Callable[[int], object]) -> float:
    started = time.perf_counter()
    for index in range(calls):
        work(index)
    return (time.perf_counter() - started) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("VAXCERT_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"),
    )
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # every refusal round past the threshold logs an alert
    prefix = f"vaxcert-bench-signals-{secrets.token_hex(4)}:"
    kiosks = [KioskEntry(kiosk_id=f"KIOSK-{n:04d}", store_name="bench") for n in range(100)]
    base = load_settings(environment="test")
    center = base.center.model_copy(update={"kiosks": kiosks})
    store = RedisStore(args.redis_url, prefix)
    tallies = Tallies(store, center)
    fleet = Fleet(store, center)
    alerts = Alerts(store, center.alerts)
    beat = Heartbeat(reader="ok", printer="ok", paper="ok", cash_unit="ok", app_version="1")
    not_after = dt.datetime.now(dt.UTC) + dt.timedelta(days=365)
    today = tallies.today()
    month_ago = today - dt.timedelta(days=30)
    calls = args.calls
    try:
        baseline = _per_call(calls, lambda i: store.add(f"nonce:{i}", 60))
        rows = [
            ("certificate: Tallies.issued", _per_call(calls, lambda i: tallies.issued("462012"))),
            (
                "refusal: Tallies.refused + Alerts.observe",
                _per_call(
                    calls,
                    lambda i: (
                        tallies.refused("462012", "no_vaccination_record"),
                        alerts.observe("kiosk_refusals", f"KIOSK-{i % 100:04d}"),
                    ),
                ),
            ),
            (
                "heartbeat: Fleet.record",
                _per_call(calls, lambda i: fleet.record(f"KIOSK-{i % 100:04d}", beat, not_after)),
            ),
            (
                "page: Fleet.statuses (100 kiosks)",
                _per_call(calls // 10, lambda i: fleet.statuses()),
            ),
            (
                "page: Tallies.hourly (24 h)",
                _per_call(calls // 10, lambda i: tallies.hourly(today)),
            ),
            (
                "page: Tallies.fees (31 days)",
                _per_call(calls // 10, lambda i: tallies.fees(month_ago, today)),
            ),
            ("page: Alerts.active", _per_call(calls // 10, lambda i: alerts.active())),
        ]
    finally:
        client = redis.Redis.from_url(args.redis_url)
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
    print(f"baseline: KeyValueStore.add (a nonce)      {baseline:8.1f} us/call  1.00x")
    for name, micros in rows:
        print(f"{name:42s} {micros:8.1f} us/call  {micros / baseline:.2f}x")


if __name__ == "__main__":
    main()
