"""Prometheus metrics of the center. Labels carry ids and public codes only, never personal data
(C08): kiosk id, municipality code, certificate kind, outcome, public reason code.

The center's surfaces run as separate gunicorn processes, so metric values go through
prometheus-client's multiprocess mode when ``PROMETHEUS_MULTIPROC_DIR`` is set (the ops surface
serves them all).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable

from flask import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

REQUESTS = Counter(
    "vaxcert_center_requests",
    "Kiosk and app API requests by endpoint (app_…: the app API), outcome and reason code",
    ["endpoint", "outcome", "reason"],
)
ISSUANCES = Counter(
    "vaxcert_center_issuances", "Certificates issued", ["municipality", "kind", "channel"]
)
# By public reason code only: the internal category of a counter_required refusal (support
# measure, ...) is never a live label (C08); see cert_center/refusal_days.py.
REFUSALS = Counter(
    "vaxcert_center_refusals",
    "Refused applications by public reason code",
    ["reason"],
)
RELAY_SECONDS = Histogram(
    "vaxcert_center_relay_seconds",
    "Latency of calls to VRS and the signer",
    ["target"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
BREAKER_OPEN = Gauge(
    "vaxcert_center_breaker_open",
    "1 while the circuit breaker to a target is open or half-open",
    ["target"],
    # live: a worker that exits while its breaker is open must not leave a stale alarm behind.
    multiprocess_mode="livemax",
)
HEARTBEAT = Gauge(
    "vaxcert_center_kiosk_heartbeat_timestamp_seconds",
    "Unix time of each kiosk's last heartbeat",
    ["kiosk"],
    multiprocess_mode="max",
)
DEVICE = Gauge(
    "vaxcert_center_kiosk_device_ok",
    "1 when the kiosk reported the device as ok",
    ["kiosk", "device"],
    multiprocess_mode="mostrecent",
)
RECEIPTS = Counter(
    "vaxcert_center_receipts",
    "Kiosk receipts for fee settlement",
    ["municipality", "outcome"],
)
FEES = Counter("vaxcert_center_fees_yen", "Fees collected (yen) for settlement", ["municipality"])
# C21: one card's data used past a daily limit (threat-model §6.7). No tag, no card data.
CARD_USE_ANOMALIES = Counter(
    "vaxcert_center_card_use_anomalies",
    "Card data used past a daily limit (kiosks, municipalities, attempts, issuances)",
    ["kind"],
)
SHED = Counter(
    "vaxcert_center_shed",
    "Requests refused by admission control (overloaded), by cause",
    ["cause"],
)
CLIENT_REFUSALS = Counter(
    "vaxcert_center_client_refusals",
    "Kiosk connections refused (deny-list, unknown, disabled)",
    ["reason"],
)

KIOSK_CERTIFICATE_EXPIRY = Gauge(
    "vaxcert_center_kiosk_certificate_expiry_timestamp_seconds",
    "Unix time at which each kiosk's client certificate (seen on its last heartbeat) expires",
    ["kiosk"],
    multiprocess_mode="mostrecent",
)
# C15: the audit trail's newest sequence number leaves the database (Prometheus keeps its
# history): a removed newest entry shows as a head the table no longer reaches.
AUDIT_HEAD = Gauge(
    "vaxcert_center_audit_head_seq",
    "Sequence number of the newest audit entry this process appended",
    multiprocess_mode="max",
)
PIN_LOCKOUTS = Counter("vaxcert_center_pin_lockouts", "PIN lockouts reported by kiosks", ["kiosk"])
# C21: rule names only (cert_center/alerts.py RULES); never a card, a person or a category.
ALERTS = Counter("vaxcert_alerts", "Alerts raised, by rule", ["rule"])
WEBHOOK = Counter(
    "vaxcert_alert_webhook",
    "Alert webhook deliveries by outcome (delivered, failed, dropped when the queue is full)",
    ["outcome"],
)


class _HeartbeatAge:
    """Derives ``..._heartbeat_age_seconds`` per kiosk from the last-heartbeat timestamps."""

    def __init__(self, source: CollectorRegistry) -> None:
        self.source = source

    def collect(self) -> Iterable[Metric]:
        age = GaugeMetricFamily(
            "vaxcert_center_kiosk_heartbeat_age_seconds",
            "Seconds since each kiosk's heartbeat",
            labels=["kiosk"],
        )
        now = time.time()
        for metric in self.source.collect():
            if metric.name != "vaxcert_center_kiosk_heartbeat_timestamp_seconds":
                continue
            for sample in metric.samples:
                if sample.value > 0:
                    age.add_metric([sample.labels["kiosk"]], round(now - sample.value, 3))
        yield age


def count_request(endpoint: str, response: Response) -> Response:
    """Count one answered request under ``endpoint``: ok, or refused with its reason code."""
    outcome = "ok" if response.status_code < 400 else "refused"
    body = response.get_json(silent=True) if outcome == "refused" and response.is_json else None
    reason = body.get("error", {}).get("code", "") if isinstance(body, dict) else ""
    REQUESTS.labels(endpoint, outcome, reason).inc()
    return response


def exposition() -> tuple[bytes, str]:
    """The text exposition of every center process's metrics, for ``GET /metrics``."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        source = CollectorRegistry()
        MultiProcessCollector(source)  # type: ignore[no-untyped-call]
    else:
        source = REGISTRY
    registry = CollectorRegistry()
    registry.register(_Merged(source))
    registry.register(_HeartbeatAge(source))
    return generate_latest(registry), CONTENT_TYPE_LATEST


class _Merged:
    def __init__(self, source: CollectorRegistry) -> None:
        self.source = source

    def collect(self) -> Iterable[Metric]:
        return self.source.collect()
