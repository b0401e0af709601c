"""What the console's pages show, behind small read-only interfaces (no Flask here).

The pages (cert_center/console/views.py) depend only on the four protocols below; the app
factory chooses the implementations (:func:`build_sources`). On the ops surface they are the
center's signals: :class:`SignalsFleet` (heartbeats kept in the store, cert_center/fleet.py),
:class:`SignalsTallies` (hourly and daily tallies, incidents, cert_center/tallies.py),
:class:`SignalsAlerts` (the C21 rules, cert_center/alerts.py) and :class:`LocalHealth` (the shared
Prometheus metrics, Redis, the center database, the PKI directory). Without a center, the
metrics alone stand in (:class:`MetricsFleet`, :class:`MetricsTallies`, :class:`NoAlerts`).

The contract every implementation keeps (C08):

- ids and public codes only: kiosk ids, municipality codes, public reason codes, incident
  numbers, certificate names; never a person, a card tag or an internal refusal category;
- the sensitive refusal categories are not here at all: the auditor's page reads them from
  :class:`cert_center.refusal_days.DailyRefusals` (closed days, small counts suppressed);
- every call is cheap enough for a page view (a wall screen reloads every 30 seconds) and never
  raises for a missing signal: it answers "unknown" (``None``) instead.

Protocols
---------
``FleetSource.kiosks() -> list[KioskStatus]``
    one row per configured kiosk: last heartbeat (aware UTC or None), device states
    (``reader``, ``printer``, ``paper``, ``cash_unit`` → ``"ok" | "fault" | "unknown"``),
    its client certificate's expiry (or None).
``TalliesSource.issuance() -> IssuanceView``
    per municipality, hourly and daily :class:`Bucket` s of certificates issued and refusals by
    public reason code; PIN lockouts per day; misprints and refunds with incident numbers.
``TalliesSource.fees() -> list[FeeDay]``
    per municipality per day: certificates printed, fee, expected and collected yen, refunds,
    and whether receipts reconcile with issuances.
``HealthSource.health() -> HealthView``
    :class:`Check` s (VRS and signer latency and error rate, breakers, admission queue, Redis,
    database) and :class:`Expiry` s (signer key, CSCA, document signer, server certificates,
    trust data).
``AlertsSource.active() -> list[Alert]``
    alerts firing now (the console shows each as a banner on every page).
"""

from __future__ import annotations

import datetime as dt
import os
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol
from zoneinfo import ZoneInfo

from cryptography import x509
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from cert_center.alerts import Alerts
from cert_center.console.db import CenterDb
from cert_center.fleet import Fleet
from cert_center.services import Center
from cert_center.tallies import Period, Tallies
from vaxcert import pki
from vaxcert.config import Settings
from vaxcert.errors import VaxcertError
from vaxcert.kvstore import KeyValueStore

DEVICES = ("reader", "printer", "paper", "cash_unit")
DeviceState = Literal["ok", "warn", "fault", "unknown"]
# What a heartbeat says (kiosk_api.Heartbeat) -> what the fleet page shows.
_DEVICE_STATES: dict[str, DeviceState] = {
    "ok": "ok",
    "warning": "warn",
    "low": "warn",
    "error": "fault",
    "empty": "fault",
}
CheckState = Literal["ok", "warn", "fail", "unknown"]


@dataclass(frozen=True, slots=True)
class KioskStatus:
    kiosk_id: str
    last_heartbeat: dt.datetime | None
    devices: dict[str, DeviceState]
    certificate_expires: dt.datetime | None
    silent: bool | None = None  # None: the page decides from last_heartbeat


@dataclass(frozen=True, slots=True)
class Bucket:
    """Counts of one municipality (or ``"all"``) in one hour or day starting at ``start``."""

    start: dt.datetime
    municipality: str
    issued: int
    refusals: dict[str, int] = field(default_factory=dict)  # public reason code -> count


@dataclass(frozen=True, slots=True)
class Incident:
    """A misprint or refund, by the incident number the kiosk showed the resident."""

    at: dt.datetime | None
    kiosk_id: str
    incident_id: str
    outcome: str
    municipality: str


@dataclass(frozen=True, slots=True)
class IssuanceView:
    hourly: list[Bucket]
    daily: list[Bucket]
    pin_lockouts: dict[str, int]  # ISO day -> count (kiosks report lockouts without a person)
    incidents: list[Incident]
    misprints: dict[str, int]  # municipality -> refunded misprints
    # What the counts cover, for the page to say (e.g. "since the processes started").
    coverage: str = ""


@dataclass(frozen=True, slots=True)
class FeeDay:
    day: dt.date
    municipality: str
    certificates: int
    fee_yen: int
    collected_yen: int
    refunded: int
    issued: int  # certificates the center issued for this municipality that day
    # Issuances no receipt accounts for (yet), when the source knows; None: not known.
    unreconciled: int | None = None

    @property
    def expected_yen(self) -> int:
        return self.certificates * self.fee_yen

    @property
    def reconciled(self) -> bool:
        """Receipts match the fee and account for every certificate issued."""
        if self.unreconciled is not None:
            return self.collected_yen == self.expected_yen and self.unreconciled == 0
        return self.collected_yen == self.expected_yen and self.certificates <= self.issued


@dataclass(frozen=True, slots=True)
class Check:
    name: str  # a stable key; the page translates it
    state: CheckState
    value: str


@dataclass(frozen=True, slots=True)
class Expiry:
    name: str
    not_after: dt.datetime | None
    days_left: int | None

    @property
    def state(self) -> CheckState:
        if self.days_left is None:
            return "unknown"
        return "fail" if self.days_left < 7 else "warn" if self.days_left < 30 else "ok"


@dataclass(frozen=True, slots=True)
class HealthView:
    checks: list[Check]
    expiries: list[Expiry]


@dataclass(frozen=True, slots=True)
class Alert:
    rule: str
    severity: Literal["warning", "critical"]
    since: dt.datetime
    summary: str  # ids and counts only


class FleetSource(Protocol):
    def kiosks(self) -> list[KioskStatus]: ...


class TalliesSource(Protocol):
    def issuance(self) -> IssuanceView: ...

    def fees(self) -> list[FeeDay]: ...


class HealthSource(Protocol):
    def health(self) -> HealthView: ...


class AlertsSource(Protocol):
    def active(self) -> list[Alert]: ...


@dataclass(frozen=True, slots=True)
class Sources:
    fleet: FleetSource
    tallies: TalliesSource
    health: HealthSource
    alerts: AlertsSource


# --- implementations over today's signals ------------------------------------------------


def _metrics() -> list[Metric]:
    """Every center process's metrics (multiprocess files when shared, else this process)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return list(registry.collect())
    return list(REGISTRY.collect())


def _samples(metrics: Iterable[Metric], name: str) -> list[tuple[dict[str, str], float]]:
    found = []
    for metric in metrics:
        for sample in metric.samples:
            if sample.name == name:
                found.append((dict(sample.labels), sample.value))
    return found


def _not_after(path: Path) -> dt.datetime | None:
    try:
        return pki.load_cert(path).not_valid_after_utc
    except (OSError, ValueError):
        return None


def _expiry(name: str, not_after: dt.datetime | None, now: dt.datetime) -> Expiry:
    days = (not_after - now).days if not_after is not None else None
    return Expiry(name, not_after, days)


class MetricsFleet:
    """Heartbeats and device states from the shared metrics; certificate expiry from the PKI."""

    def __init__(self, settings: Settings) -> None:
        self.kiosk_ids = [entry.kiosk_id for entry in settings.center.kiosks]
        self.pki_dir = settings.pki_dir

    def kiosks(self) -> list[KioskStatus]:
        metrics = _metrics()
        beats = {
            labels["kiosk"]: value
            for labels, value in _samples(
                metrics, "vaxcert_center_kiosk_heartbeat_timestamp_seconds"
            )
        }
        devices: dict[str, dict[str, DeviceState]] = defaultdict(dict)
        for labels, value in _samples(metrics, "vaxcert_center_kiosk_device_ok"):
            devices[labels["kiosk"]][labels["device"]] = "ok" if value >= 1 else "fault"
        rows = []
        for kiosk_id in self.kiosk_ids:
            beat = beats.get(kiosk_id)
            rows.append(
                KioskStatus(
                    kiosk_id,
                    dt.datetime.fromtimestamp(beat, dt.UTC) if beat else None,
                    {d: devices[kiosk_id].get(d, "unknown") for d in DEVICES},
                    _not_after(pki.cert_path(self.pki_dir, f"kiosk-{kiosk_id}")),
                )
            )
        return rows


class MetricsTallies:
    """Counts since the center's processes started, as one bucket for now (today's metrics
    keep no history; hourly and daily tallies in the store replace this)."""

    def __init__(self, settings: Settings) -> None:
        self.zone = ZoneInfo(settings.center.timezone)
        self.fees_by_code = {m.code: m.fee_yen for m in settings.center.municipalities}

    def _now(self) -> dt.datetime:
        return dt.datetime.now(self.zone)

    def issuance(self) -> IssuanceView:
        metrics = _metrics()
        issued: dict[str, int] = defaultdict(int)
        for labels, value in _samples(metrics, "vaxcert_center_issuances_total"):
            issued[labels["municipality"]] += int(value)
        refusals = {
            labels["reason"]: int(value)
            for labels, value in _samples(metrics, "vaxcert_center_refusals_total")
            if value
        }
        misprints = {
            labels["municipality"]: int(value)
            for labels, value in _samples(metrics, "vaxcert_center_receipts_total")
            if labels["outcome"] == "misprint_refunded" and value
        }
        now = self._now()
        hour = now.replace(minute=0, second=0, microsecond=0)
        day = hour.replace(hour=0)
        hourly = [Bucket(hour, code, count) for code, count in sorted(issued.items())]
        hourly.append(Bucket(hour, "all", sum(issued.values()), refusals))
        daily = [Bucket(day, b.municipality, b.issued, b.refusals) for b in hourly]
        return IssuanceView(hourly, daily, {}, [], misprints, coverage="since_start")

    def fees(self) -> list[FeeDay]:
        metrics = _metrics()
        printed: dict[str, int] = defaultdict(int)
        refunded: dict[str, int] = defaultdict(int)
        for labels, value in _samples(metrics, "vaxcert_center_receipts_total"):
            if labels["outcome"] == "printed":
                printed[labels["municipality"]] += int(value)
            elif labels["outcome"] == "misprint_refunded":
                refunded[labels["municipality"]] += int(value)
        collected = {
            labels["municipality"]: int(value)
            for labels, value in _samples(metrics, "vaxcert_center_fees_yen_total")
        }
        issued: dict[str, int] = defaultdict(int)
        for labels, value in _samples(metrics, "vaxcert_center_issuances_total"):
            issued[labels["municipality"]] += int(value)
        today = self._now().date()
        rows = []
        for code, fee in sorted(self.fees_by_code.items()):
            fee_per = fee
            # A receipt counts one per transaction: yen / fee gives the certificates paid for.
            yen = collected.get(code, 0)
            certificates = yen // fee_per if fee_per else printed.get(code, 0)
            rows.append(
                FeeDay(today, code, certificates, fee, yen, refunded.get(code, 0), issued[code])
            )
        return rows


class LocalHealth:
    """Relay latency, errors and breakers from the metrics; Redis and database by asking them;
    certificate expiry from the PKI directory."""

    def __init__(self, settings: Settings, store: KeyValueStore, database: CenterDb) -> None:
        self.settings = settings
        self.store = store
        self.db = database

    def health(self) -> HealthView:
        metrics = _metrics()
        checks: list[Check] = []
        counts: dict[str, float] = defaultdict(float)
        sums: dict[str, float] = defaultdict(float)
        for labels, value in _samples(metrics, "vaxcert_center_relay_seconds_count"):
            counts[labels["target"]] += value
        for labels, value in _samples(metrics, "vaxcert_center_relay_seconds_sum"):
            sums[labels["target"]] += value
        breakers = {
            labels["target"]: value
            for labels, value in _samples(metrics, "vaxcert_center_breaker_open")
        }
        for target in ("vrs", "signer"):
            if counts.get(target):
                mean_ms = sums[target] / counts[target] * 1000
                state: CheckState = "ok" if mean_ms < 500 else "warn"
                checks.append(Check(f"{target}_latency", state, f"{mean_ms:.0f} ms"))
            else:
                checks.append(Check(f"{target}_latency", "unknown", "-"))
            is_open = breakers.get(target)
            checks.append(
                Check(
                    f"{target}_breaker",
                    "unknown" if is_open is None else "fail" if is_open else "ok",
                    "-" if is_open is None else "open" if is_open else "closed",
                )
            )
        requests = _samples(metrics, "vaxcert_center_requests_total")
        total = sum(v for labels, v in requests if labels["endpoint"] == "certificates")
        errors = sum(
            v
            for labels, v in requests
            if labels["endpoint"] == "certificates" and labels["reason"] == "service_unavailable"
        )
        rate = errors / total if total else 0.0
        checks.append(
            Check(
                "error_rate",
                "unknown" if not total else "ok" if rate < 0.01 else "warn",
                f"{rate:.1%}" if total else "-",
            )
        )
        shed = sum(v for _labels, v in _samples(metrics, "vaxcert_center_shed_total"))
        checks.append(Check("shed", "ok" if not shed else "warn", f"{int(shed)}"))
        checks.append(
            Check(
                "redis",
                "ok" if self._redis_ok() else "fail",
                "redis" if self.settings.redis_url else "in-process",
            )
        )
        checks.append(Check("database", "ok" if self._db_ok() else "fail", self.db.dialect))
        now = dt.datetime.now(dt.UTC)
        expiries = [
            _expiry(name, _not_after(pki.cert_path(self.settings.pki_dir, name)), now)
            for name in ("shc-issuer", "vdsnc-csca", "vdsnc-bsc", "center-kiosk-api", "center-ops")
        ]
        expiries.append(self._crl_freshness(now))
        return HealthView(checks, expiries)

    def _redis_ok(self) -> bool:
        try:
            return self.store.ping()
        except VaxcertError:
            return False

    def _db_ok(self) -> bool:
        try:
            with self.db.read() as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError:
            return False
        return True

    def _crl_freshness(self, now: dt.datetime) -> Expiry:
        """The CSCA's CRL (trust data verifiers fetch): when its next update is due."""
        path = self.settings.pki_dir / "vdsnc-crl.der"
        try:
            crl = x509.load_der_x509_crl(path.read_bytes())
        except (OSError, ValueError):
            return Expiry("vdsnc-crl", None, None)
        return _expiry("vdsnc-crl", crl.next_update_utc, now)


class NoAlerts:
    """No alert rules yet (the C21 rules plug in here)."""

    def active(self) -> list[Alert]:
        return []


# --- the center's signals (cert_center/fleet.py, tallies.py, alerts.py) ------------------


class SignalsFleet:
    """The fleet view from the heartbeats kept in the shared store."""

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet

    def kiosks(self) -> list[KioskStatus]:
        rows = []
        for status in self.fleet.statuses():
            devices: dict[str, DeviceState] = dict.fromkeys(DEVICES, "unknown")
            if status.devices is not None:
                for device in DEVICES:
                    devices[device] = _DEVICE_STATES.get(getattr(status.devices, device), "unknown")
            rows.append(
                KioskStatus(
                    status.kiosk_id,
                    status.last_heartbeat,
                    devices,
                    status.certificate_not_after,
                    status.silent,
                )
            )
        return rows


class SignalsTallies:
    """Issuance and fee views from the hourly and daily tallies in the shared store."""

    def __init__(self, tallies: Tallies, days: int = 14, fee_days: int = 31) -> None:
        self.tallies = tallies
        self.days = days
        self.fee_days = fee_days

    def issuance(self) -> IssuanceView:
        today = self.tallies.today()
        first = today - dt.timedelta(days=self.days - 1)
        hourly = _buckets(self.tallies.hourly(today))
        periods = self.tallies.daily(first, today)
        daily = _buckets(periods)
        lockouts = {
            period.start.date().isoformat(): total
            for period in periods
            if (total := sum(c.pin_lockouts for c in period.municipalities))
        }
        misprints: dict[str, int] = defaultdict(int)
        for period in periods:
            for counts in period.municipalities:
                if counts.misprints_refunded:
                    misprints[counts.municipality] += counts.misprints_refunded
        incidents = [
            Incident(i.at, i.kiosk_id, i.incident_id, "misprint_refunded", i.municipality)
            for i in self.tallies.incidents(today - dt.timedelta(days=6), today)
        ]
        return IssuanceView(hourly, daily, lockouts, incidents, dict(misprints))

    def fees(self) -> list[FeeDay]:
        today = self.tallies.today()
        rows = self.tallies.fees(today - dt.timedelta(days=self.fee_days - 1), today)
        return [
            FeeDay(
                row.day,
                row.municipality,
                row.copies_printed,
                row.fee_yen,
                row.collected_yen,
                row.misprints_refunded,
                row.certificates_issued,
                row.unreconciled,
            )
            for row in reversed(rows)  # newest first
            # Days without any activity say nothing; today always shows.
            if row.day == today
            or row.certificates_issued
            or row.receipts_printed
            or row.misprints_refunded
            or row.cancelled
        ]


def _buckets(periods: list[Period]) -> list[Bucket]:
    """Each municipality's bucket per period, and ``all`` summed over them."""
    buckets = []
    for period in periods:
        refused_all: dict[str, int] = defaultdict(int)
        for counts in period.municipalities:
            buckets.append(
                Bucket(period.start, counts.municipality, counts.issued, dict(counts.refused))
            )
            for code, count in counts.refused.items():
                refused_all[code] += count
        issued_all = sum(c.issued for c in period.municipalities)
        buckets.append(Bucket(period.start, "all", issued_all, dict(refused_all)))
    return buckets


class SignalsAlerts:
    """The alert rules' active alerts (C21); a store outage shows as one alert of its own."""

    def __init__(self, alerts: Alerts) -> None:
        self.alerts = alerts

    def active(self) -> list[Alert]:
        try:
            raised = self.alerts.active()
        except VaxcertError:
            return [Alert("alerts_unavailable", "critical", dt.datetime.now(dt.UTC), "redis")]
        return [Alert(a.rule, a.severity, a.at, a.summary()) for a in raised]


def build_sources(
    settings: Settings, store: KeyValueStore, database: CenterDb, center: Center | None = None
) -> Sources:
    """The center's signals when given its :class:`Center`; otherwise the metrics alone."""
    health = LocalHealth(settings, store, database)
    if center is None:
        return Sources(MetricsFleet(settings), MetricsTallies(settings), health, NoAlerts())
    return Sources(
        SignalsFleet(center.fleet),
        SignalsTallies(center.tallies, fee_days=settings.center.ops.aggregate_days),
        health,
        SignalsAlerts(center.alerts),
    )
