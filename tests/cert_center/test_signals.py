"""The console's signals on real Redis: the kiosk fleet (heartbeats, device states, certificate
expiry), the per-municipality tallies, and the C21 alert rules with their audit events, metric,
banner list and webhook (a dead one never slows issuance)."""

from __future__ import annotations

import datetime as dt
import hashlib
import http.server
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pytest
import redis
from cryptography import x509
from prometheus_client import REGISTRY

from cert_center.alerts import RULES, Alert, Alerts, AuditDetail, Webhook
from cert_center.app import create_app
from cert_center.card_use import CardUseMonitor
from cert_center.fleet import DeviceStates, Fleet
from cert_center.refusal_days import SENSITIVE_CATEGORIES
from cert_center.services import Center
from cert_center.tallies import Incident, Tallies
from tests.support.center import CenterRig, center_rig
from tests.support.services import redis_contents
from vaxcert.card import cards
from vaxcert.config import AlertSettings, CardUseSettings, Settings, TlsSettings, load_settings
from vaxcert.kvstore import RedisStore
from vaxcert.residents import CANARY

HEARTBEAT = {
    "reader": "ok",
    "printer": "warning",
    "paper": "low",
    "cash_unit": "ok",
    "app_version": "0.1.0",
}


@dataclass
class RecordingSink:
    """The audit trail as a list (implements cert_center.alerts.AuditSink)."""

    events: list[tuple[str, str, AuditDetail, str]] = field(default_factory=list)

    def record(self, event: str, actor: str, detail: AuditDetail, source: str) -> None:
        self.events.append((event, actor, dict(detail), source))

    def rules(self) -> list[str]:
        return [str(detail["rule"]) for _, _, detail, _ in self.events]


def _alerts_total(rule: str) -> float:
    return REGISTRY.get_sample_value("vaxcert_alerts_total", {"rule": rule}) or 0.0


def _webhook_total(outcome: str) -> float:
    return REGISTRY.get_sample_value("vaxcert_alert_webhook_total", {"outcome": outcome}) or 0.0


def _settings(center_pki: Path, redis_url: str, prefix: str, **center: Any) -> Settings:
    return load_settings(
        environment="test",
        pki_dir=center_pki,
        redis_url=redis_url,
        redis_prefix=prefix,
        center={"service_hours": "00:00-00:00", **center},
    )


def _leaks_personal_data(redis_url: str, prefix: str) -> list[str]:
    """Keys under ``prefix`` whose name or content carries a canary value (C08)."""
    return [
        key.decode()
        for key, content in redis_contents(redis_url, prefix).items()
        for value in CANARY.canary_values
        if value.encode() in key + content
    ]


# --- fleet --------------------------------------------------------------------------------


def test_a_heartbeat_is_kept_for_every_replica_with_devices_and_certificate_expiry(
    center_pki: Path, kiosk_pem: dict[str, str], redis_url: str, prefix: str
) -> None:
    settings = _settings(center_pki, redis_url, prefix)
    kiosk_api = create_app(settings, surface="kiosk_api").test_client()
    response = kiosk_api.post(
        "/v1/kiosk/heartbeat",
        json=HEARTBEAT,
        environ_base={"SSL_CLIENT_CERT": kiosk_pem["KIOSK-0001"]},
    )
    assert response.status_code == 202
    # The ops surface (another process in production) reads what the kiosk API wrote.
    center: Center = create_app(settings, surface="ops").extensions["vaxcert_center"]
    first, second = center.fleet.statuses()
    assert first.kiosk_id == "KIOSK-0001" and not first.silent
    assert first.devices == DeviceStates("ok", "warning", "low", "ok")
    assert first.devices is not None and not first.devices.healthy()
    assert first.app_version == "0.1.0"
    expected = x509.load_pem_x509_certificate(kiosk_pem["KIOSK-0001"].encode())
    assert first.certificate_not_after == expected.not_valid_after_utc
    now = dt.datetime.now(dt.UTC)
    assert first.last_heartbeat is not None and abs(now - first.last_heartbeat).seconds < 60
    assert (first.certificate_days_left(now) or 0) > 300
    # Never heard from: everything unknown, and silent.
    assert second.kiosk_id == "KIOSK-0002" and second.silent
    assert second.last_heartbeat is None and second.devices is None
    # Silent once the last beat is older than signals.silent_after_seconds.
    later = Fleet(
        center.store,
        settings.center,
        clock=lambda: now + dt.timedelta(seconds=settings.center.signals.silent_after_seconds + 5),
    )
    assert later.statuses(["KIOSK-0001"])[0].silent
    # Kept with a TTL of the retention, and only machine data (C08).
    client = redis.Redis.from_url(redis_url)
    key = f"{prefix}center:fleet:KIOSK-0001"
    assert 0 < client.ttl(key) <= settings.center.signals.heartbeat_retention_days * 86_400
    assert set(json.loads(client.get(key) or b"{}")) == {
        "at",
        "reader",
        "printer",
        "paper",
        "cash_unit",
        "app_version",
        "certificate_not_after",
    }


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"battery": "ok"}, "unknown_field"),
        ({"pin_lockouts": {"4620": 1}}, "invalid_field"),
        ({"pin_lockouts": {"462012": 0}}, "invalid_field"),
        ({"paper": "full"}, "invalid_field"),
    ],
)
def test_a_malformed_heartbeat_is_refused_and_nothing_is_kept(
    center_pki: Path,
    kiosk_pem: dict[str, str],
    redis_url: str,
    prefix: str,
    change: dict[str, Any],
    code: str,
) -> None:
    settings = _settings(center_pki, redis_url, prefix)
    app = create_app(settings, surface="kiosk_api")
    response = app.test_client().post(
        "/v1/kiosk/heartbeat",
        json={**HEARTBEAT, **change},
        environ_base={"SSL_CLIENT_CERT": kiosk_pem["KIOSK-0001"]},
    )
    assert response.status_code == 422
    assert response.json is not None and response.json["error"]["code"] == code
    center: Center = app.extensions["vaxcert_center"]
    assert center.fleet.statuses(["KIOSK-0001"])[0].last_heartbeat is None


# --- tallies ------------------------------------------------------------------------------


def test_c08_tallies_count_per_municipality_per_hour_and_day_by_public_reason_only(
    center_pki: Path, redis_url: str, prefix: str
) -> None:
    settings = _settings(center_pki, redis_url, prefix)
    zone = dt.timezone(dt.timedelta(hours=9))
    now = dt.datetime.now(zone).replace(minute=30, second=0, microsecond=0)
    store = RedisStore(redis_url, prefix)
    tallies = Tallies(store, settings.center, clock=lambda: now)
    for _ in range(3):
        tallies.issued("462012")
    tallies.issued("462187")
    tallies.refused("462012", "no_vaccination_record")
    tallies.refused("462012", "counter_required")
    tallies.refused("999999", "municipality_not_participating")
    # Not a public code (an internal category): never counted under its own name.
    tallies.refused("462012", "support_measure")
    tallies.pin_lockouts({"462012": 2})
    tallies.receipt("KIOSK-0001", "462012", "printed", 2, 240, None)
    tallies.receipt("KIOSK-0001", "462012", "misprint_refunded", 1, 120, "KIOSK-0001-261201-A1B2C3")
    tallies.receipt("KIOSK-0002", "462012", "cancelled", 1, 0, None)

    day = now.date()
    hours = tallies.hourly(day)
    assert len(hours) == 24
    this_hour = hours[now.hour]
    assert this_hour.start.hour == now.hour and this_hour.kind == "hour"
    kagoshima, kirishima, other = this_hour.municipalities
    assert (kagoshima.municipality, kirishima.municipality, other.municipality) == (
        "462012",
        "462187",
        "other",
    )
    assert kagoshima.issued == 3 and kirishima.issued == 1
    assert kagoshima.refused == {"counter_required": 1, "no_vaccination_record": 1, "other": 1}
    assert other.refused == {"municipality_not_participating": 1}
    assert kagoshima.pin_lockouts == 2 and kagoshima.misprints_refunded == 1
    assert all(c.issued == 0 for h in hours if h is not this_hour for c in h.municipalities)
    (today,) = tallies.daily(day, day)
    assert today.municipalities[0] == kagoshima
    assert (
        tallies.daily(day - dt.timedelta(days=1), day - dt.timedelta(days=1))[0]
        .municipalities[0]
        .issued
        == 0
    )

    fee = tallies.fees(day, day, "462012")[0]
    assert (fee.certificates_issued, fee.receipts_printed, fee.copies_printed) == (3, 1, 2)
    assert (fee.collected_yen, fee.expected_yen, fee.fee_yen) == (240, 240, 120)
    assert (fee.misprints_refunded, fee.refunded_yen, fee.cancelled) == (1, 120, 1)
    assert fee.unreconciled == 0
    assert tallies.fees(day, day)[1].municipality == "462187"
    assert tallies.fees(day, day)[1].unreconciled == 1

    (incident,) = tallies.incidents(day, day)
    assert incident == Incident(
        at=now.astimezone(dt.UTC),
        kiosk_id="KIOSK-0001",
        municipality="462012",
        incident_id="KIOSK-0001-261201-A1B2C3",
        copies=1,
        refunded_yen=120,
    )

    client = redis.Redis.from_url(redis_url)
    fields = b" ".join(
        f for key in client.scan_iter(f"{prefix}tally:[hd]:*") for f in client.hkeys(key)
    )
    for category in SENSITIVE_CATEGORIES:
        assert category.encode() not in fields
    retention = settings.center.signals
    hour_key = f"{prefix}tally:h:{now.strftime('%Y-%m-%dT%H')}"
    hour_ttl = client.ttl(hour_key)
    assert (
        retention.hourly_retention_days * 86_400
        < hour_ttl
        <= (retention.hourly_retention_days * 86_400 + 3600)
    )
    day_ttl = client.ttl(f"{prefix}tally:d:{day.isoformat()}")
    assert (
        retention.daily_retention_days * 86_400
        < day_ttl
        <= (retention.daily_retention_days + 1) * 86_400
    )


# --- the issuance pipeline feeds tallies and alerts ----------------------------------------

RIG_ALERTS = {
    "kiosk_refusals": {"threshold": 3, "window_seconds": 600},
    "card_signature_failures": {"threshold": 2, "window_seconds": 600},
    "relay_errors": {"threshold": 2, "window_seconds": 300},
    "client_certificate_refusals": {"threshold": 2, "window_seconds": 600},
    "pin_lockouts": {"threshold": 3, "window_seconds": 600},
}


@dataclass
class SignalRig:
    rig: CenterRig
    center: Center
    sink: RecordingSink
    redis_url: str
    prefix: str


@pytest.fixture(scope="module")
def signal_rig(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[SignalRig]:
    prefix = "vaxcert-test-signals:"
    with center_rig(
        tmp_path_factory.mktemp("signals"), redis=(redis_url, prefix), alerts=RIG_ALERTS
    ) as rig:
        center = rig.issuance.center
        yield SignalRig(rig, center, RecordingSink(), redis_url, prefix)
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)


@pytest.fixture
def signals(signal_rig: SignalRig) -> Iterator[SignalRig]:
    """The module's rig with a fresh audit sink and no alert state left by another test."""
    client = redis.Redis.from_url(signal_rig.redis_url)
    for key in client.scan_iter(f"{signal_rig.prefix}center:alert:*"):
        client.delete(key)
    signal_rig.sink = RecordingSink()
    signal_rig.center.alerts.sink = signal_rig.sink
    yield signal_rig
    signal_rig.rig.vrs.mode = "up"
    signal_rig.center.alerts.webhook = None


def _refuse_consent(rig: CenterRig) -> None:
    body = rig.body(consent={"terms_version": rig.settings.center.terms_version, "accepted": False})
    assert rig.post(body).status_code == 422


def test_c21_refusals_from_one_kiosk_alert_at_the_threshold_and_not_below(
    signals: SignalRig,
) -> None:
    rig, sink = signals.rig, signals.sink
    before = _alerts_total("kiosk_refusals")
    _refuse_consent(rig)
    _refuse_consent(rig)
    assert sink.events == [] and _alerts_total("kiosk_refusals") == before
    assert signals.center.alerts.active() == []
    _refuse_consent(rig)
    assert sink.rules() == ["kiosk_refusals"]
    event, actor, detail, source = sink.events[0]
    assert (event, actor, source) == ("security_alert", "system", "cert-center")
    assert detail == {
        "rule": "kiosk_refusals",
        "subject": "KIOSK-0001",
        "count": 3,
        "threshold": 3,
        "window_seconds": 600,
    }
    assert _alerts_total("kiosk_refusals") == before + 1
    (banner,) = signals.center.alerts.active()
    assert (banner.rule, banner.subject, banner.count) == ("kiosk_refusals", "KIOSK-0001", 3)
    assert banner.severity == "warning"
    assert banner.summary() == "kiosk_refusals KIOSK-0001: 3 in 600 s (threshold 3)"
    # One alert per rule and subject per cool-down.
    _refuse_consent(rig)
    assert sink.rules() == ["kiosk_refusals"] and _alerts_total("kiosk_refusals") == before + 1


def test_c21_card_signature_failures_alert_at_the_threshold_and_not_below(
    signals: SignalRig,
) -> None:
    rig = signals.rig
    tampered = cards.card_files("tampered-card", rig.issuer).to_json()
    first = rig.post(rig.body(card=tampered))
    assert first.status_code in (400, 403, 422), first.json
    assert "card_signature_failures" not in signals.sink.rules()
    assert rig.post(rig.body(card=tampered)).status_code == first.status_code
    assert signals.sink.rules() == ["card_signature_failures"]
    assert signals.sink.events[0][2]["subject"] == "KIOSK-0001"


def test_c21_relay_errors_alert_per_target_and_outages_are_not_kiosk_refusals(
    signals: SignalRig,
) -> None:
    rig = signals.rig
    rig.vrs.mode = "down"
    assert rig.post().status_code == 503
    assert signals.sink.events == []
    assert rig.post().status_code == 503
    assert signals.sink.rules() == ["relay_errors"]
    assert signals.sink.events[0][2]["subject"] == "vrs"
    assert signals.center.alerts.count("kiosk_refusals", "KIOSK-0001") == 0


def test_c21_unknown_or_denied_kiosk_certificates_alert_per_certificate(
    center_pki: Path, kiosk_pem: dict[str, str], redis_url: str, prefix: str
) -> None:
    denied = hashlib.sha256(ssl.PEM_cert_to_DER_cert(kiosk_pem["KIOSK-0002"])).hexdigest()
    settings = _settings(center_pki, redis_url, prefix, alerts=RIG_ALERTS).model_copy(
        update={"tls": TlsSettings(denied_client_fingerprints=[denied])}
    )
    app = create_app(settings, surface="kiosk_api")
    center: Center = app.extensions["vaxcert_center"]
    sink = RecordingSink()
    center.alerts.sink = sink
    client = app.test_client()

    def call(pem: str | None) -> int:
        environ = {"SSL_CLIENT_CERT": pem} if pem else {}
        return client.get("/v1/kiosk/config", environ_base=environ).status_code

    assert call(kiosk_pem["KIOSK-9999"]) == 403  # not in the registry
    assert call(kiosk_pem["KIOSK-0002"]) == 403  # deny-listed
    assert call(None) == 401
    assert sink.events == []
    assert call(kiosk_pem["KIOSK-9999"]) == 403
    assert call(kiosk_pem["KIOSK-0002"]) == 403
    assert sorted(str(d["subject"]) for _, _, d, _ in sink.events) == ["KIOSK-0002", "KIOSK-9999"]
    assert set(sink.rules()) == {"client_certificate_refusals"}
    assert call(kiosk_pem["KIOSK-0001"]) == 200


def test_c21_a_burst_of_pin_lockouts_alerts_and_lockouts_are_tallied(
    signals: SignalRig,
) -> None:
    rig = signals.rig
    client = rig.client.application.test_client()

    def beat(lockouts: dict[str, int]) -> None:
        response = client.post(
            "/v1/kiosk/heartbeat",
            json={**HEARTBEAT, "pin_lockouts": lockouts},
            environ_base={"SSL_CLIENT_CERT": rig.kiosk_pem},
        )
        assert response.status_code == 202

    before = signals.center.tallies.daily(
        signals.center.tallies.today(), signals.center.tallies.today()
    )
    beat({"462012": 2})
    assert signals.sink.events == []
    beat({"462187": 1})
    assert signals.sink.rules() == ["pin_lockouts"]
    assert signals.sink.events[0][2]["count"] == 3
    today = signals.center.tallies.today()
    after = signals.center.tallies.daily(today, today)[0].municipalities
    assert after[0].pin_lockouts - before[0].municipalities[0].pin_lockouts == 2
    assert after[1].pin_lockouts - before[0].municipalities[1].pin_lockouts == 1


def test_c08_issuance_is_tallied_and_no_personal_data_lands_in_the_store(
    signals: SignalRig,
) -> None:
    tallies = signals.center.tallies
    today = tallies.today()
    before = tallies.daily(today, today)[0].municipalities[0]
    response = signals.rig.post()
    assert response.status_code == 200, response.json
    _refuse_consent(signals.rig)
    after = tallies.daily(today, today)[0].municipalities[0]
    assert after.issued == before.issued + 1
    assert after.refused.get("consent_required", 0) == before.refused.get("consent_required", 0) + 1
    assert _leaks_personal_data(signals.redis_url, signals.prefix) == []


def test_c21_one_cards_data_at_many_kiosks_alerts_once_per_cool_down(
    center_pki: Path, redis_url: str, prefix: str
) -> None:
    store = RedisStore(redis_url, prefix)
    sink = RecordingSink()
    alerts = Alerts(store, AlertSettings(), sink)
    monitor = CardUseMonitor(
        store,
        CardUseSettings(max_kiosks=2),
        b"a test secret of enough length",
        "Asia/Tokyo",
        on_alert=alerts.card_data_reuse,
    )
    files = cards.card_files("canary", cards.CardIssuer.from_pki(center_pki))
    monitor.observe("KIOSK-0001", "462012", files.ef0003)
    monitor.observe("KIOSK-0002", "462012", files.ef0003)
    assert sink.events == []
    monitor.observe("KIOSK-0003", "462012", files.ef0003)
    assert sink.rules() == ["card_data_reuse"]
    assert sink.events[0][2] == {
        "rule": "card_data_reuse",
        "subject": "kiosks",
        "count": 3,
        "threshold": 3,
        "window_seconds": 86_400,
    }


# --- windows, cool-down, banner ----------------------------------------------------------


class Clock:
    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def test_c21_the_window_slides_and_each_subject_has_its_own_cool_down(
    redis_url: str, prefix: str
) -> None:
    clock = Clock(1_800_000_000.0)  # a multiple of the cool-down: a period starts here
    settings = AlertSettings(
        kiosk_refusals={"threshold": 2, "window_seconds": 60},  # type: ignore[arg-type]
        cooldown_seconds=300,
        active_seconds=600,
    )
    alerts = Alerts(RedisStore(redis_url, prefix), settings, RecordingSink(), clock=clock)
    assert alerts.observe("kiosk_refusals", "K1") is None
    clock.now += 120  # the first event left the window
    assert alerts.observe("kiosk_refusals", "K1") is None
    clock.now += 1
    fired = alerts.observe("kiosk_refusals", "K1")
    assert isinstance(fired, Alert) and fired.count == 2
    assert alerts.observe("kiosk_refusals", "K1") is None  # cooling down
    assert alerts.observe("kiosk_refusals", "K2") is None
    assert alerts.observe("kiosk_refusals", "K2") is not None  # another subject
    assert [a.subject for a in alerts.active()] == ["K2", "K1"]
    clock.now += 301
    assert alerts.observe("kiosk_refusals", "K1") is None
    assert alerts.observe("kiosk_refusals", "K1") is not None  # cool-down over
    clock.now += 601
    assert alerts.active() == []


def test_c21_rule_names_are_never_a_sensitive_category() -> None:
    for rule in RULES:
        assert not any(category in rule for category in SENSITIVE_CATEGORIES), rule


# --- webhook ------------------------------------------------------------------------------


class _Receiver(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.headers["Content-Type"], body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


def test_c21_an_alert_is_posted_to_the_webhook_without_personal_data(
    redis_url: str, prefix: str
) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Receiver.received = []
    try:
        webhook = Webhook(f"http://127.0.0.1:{server.server_address[1]}/hook", 5.0, 10)
        settings = AlertSettings(pin_lockouts={"threshold": 2, "window_seconds": 60})  # type: ignore[arg-type]
        alerts = Alerts(RedisStore(redis_url, prefix), settings, RecordingSink(), webhook)
        delivered = _webhook_total("delivered")
        alerts.observe("pin_lockouts", "KIOSK-0001", 2)
        webhook.join()
    finally:
        server.shutdown()
        server.server_close()
    ((content_type, body),) = _Receiver.received
    assert content_type == "application/json"
    payload = json.loads(body)
    assert set(payload) == {"rule", "subject", "at", "count", "threshold", "window_seconds"}
    assert (payload["rule"], payload["subject"], payload["count"]) == (
        "pin_lockouts",
        "KIOSK-0001",
        2,
    )
    assert _webhook_total("delivered") == delivered + 1


@pytest.fixture
def dead_webhook() -> Iterator[str]:
    """A URL whose server takes the connection (listen backlog) and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/hook"
    finally:
        listener.close()


def test_c21_a_dead_webhook_never_slows_issuance(signals: SignalRig, dead_webhook: str) -> None:
    # Stalled far beyond the test: if a request waited for it, the test would hang, not pass.
    webhook = Webhook(dead_webhook, 120.0, 1)
    signals.center.alerts.webhook = webhook
    attempted = _webhook_total("delivered") + _webhook_total("failed")
    dropped = _webhook_total("dropped")
    for subject in ("A", "B", "C", "D"):
        assert signals.center.alerts.fire("relay_errors", subject, 9, 9, 60) is not None
    assert _webhook_total("dropped") >= dropped + 2  # one in flight, one queued, the rest dropped
    response = signals.rig.post()
    assert response.status_code == 200, response.json
    # The webhook is still stuck on its first POST while the certificate was issued.
    assert _webhook_total("delivered") + _webhook_total("failed") == attempted
    assert len(signals.sink.events) == 4
