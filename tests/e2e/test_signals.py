"""The console's signals end to end, over real processes: a kiosk process beats its heartbeat to the
center kiosk API, which keeps it in Redis for the fleet view and in the metrics the ops process
serves; PIN lockouts a kiosk saw reach the center's tallies and fire the C21 alert, which is
POSTed to a webhook and counted in /metrics."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import ClassVar, TypeVar

import pytest
import requests
from cryptography import x509
from prometheus_client.parser import text_string_to_metric_families

from cert_center.alerts import Alerts
from cert_center.fleet import DeviceStates, Fleet, KioskStatus
from cert_center.tallies import Tallies
from launch.stack import CENTER_PROCESSES, Stack, remove, start_stack
from tests.e2e.conftest import MakeRig, to_insert_card
from vaxcert import pki
from vaxcert.kvstore import RedisStore
from vaxcert.residents import CANARY

PATIENCE = 60.0  # far above what any step needs on a busy machine; never a speed claim
T = TypeVar("T")


class _Receiver(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, object]]] = []
    arrived: ClassVar[threading.Event] = threading.Event()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append(json.loads(body))
        self.arrived.set()
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


@dataclass
class Webhook:
    url: str
    received: list[dict[str, object]] = field(default_factory=list)


@pytest.fixture(scope="module")
def webhook() -> Iterator[Webhook]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Receiver.received = []
    try:
        yield Webhook(f"http://127.0.0.1:{server.server_address[1]}/alerts", _Receiver.received)
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, redis_url: str, webhook: Webhook
) -> Iterator[Stack]:
    """Center kiosk API and ops surface, VRS, signer (gunicorn), Redis, and a kiosk process
    beating every second; make_rig's in-process kiosks use it too (this overrides conftest's)."""
    started = start_stack(
        tmp_path_factory.mktemp("signals-e2e"),
        processes=(*CENTER_PROCESSES, "center-ops"),
        redis_url=redis_url,
        extra_env={
            "VAXCERT_CENTER__ALERTS__PIN_LOCKOUTS__THRESHOLD": "2",
            "VAXCERT_CENTER__ALERTS__PIN_LOCKOUTS__WINDOW_SECONDS": "600",
            "VAXCERT_CENTER__ALERTS__WEBHOOK_URL": webhook.url,
        },
    )
    try:
        started.start_kiosk({"VAXCERT_KIOSK__HEARTBEAT_SECONDS": "1"})
        yield started
    finally:
        remove(started)


def _store(stack: Stack) -> RedisStore:
    """The center's shared store, as the ops surface (and the console) reads it."""
    return RedisStore(stack.env["VAXCERT_REDIS_URL"], f"{stack.redis_prefix}center:")


def _eventually(check: Callable[[], T | None], what: str) -> T:
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        found = check()
        if found is not None:
            return found
        time.sleep(0.2)
    raise AssertionError(f"never happened: {what}")


def _samples(stack: Stack) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The ops surface's /metrics as {(sample name, sorted labels): value}."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(_metrics(stack))
        for sample in family.samples
    }


def _metrics(stack: Stack) -> str:
    with requests.Session() as session:
        session.trust_env = False
        response = session.get(
            stack.settings.url("center_ops") + "/metrics",
            timeout=10,
            verify=str(pki.cert_path(stack.pki_dir, "public-ca")),
            headers={"Authorization": f"Bearer {stack.env['VAXCERT_CENTER__OPS__METRICS_TOKEN']}"},
        )
    assert response.status_code == 200
    return response.text


def test_the_kiosk_process_heartbeat_reaches_the_fleet_view_and_the_metrics(
    stack: Stack,
) -> None:
    fleet = Fleet(_store(stack), stack.settings.center)

    def beaten() -> KioskStatus | None:
        status = fleet.statuses(["KIOSK-0001"])[0]
        return status if status.last_heartbeat is not None else None

    status = _eventually(beaten, "a heartbeat of KIOSK-0001 in the fleet view")
    assert not status.silent
    # The demo kiosk: virtual reader (empty), simulated printer and cash unit, all ok.
    assert status.devices == DeviceStates("ok", "ok", "ok", "ok")
    kiosk_cert = x509.load_pem_x509_certificate(
        pki.cert_path(stack.pki_dir, "kiosk-KIOSK-0001").read_bytes()
    )
    assert status.certificate_not_after == kiosk_cert.not_valid_after_utc
    # It keeps beating: a later heartbeat replaces the first.
    first = status.last_heartbeat
    _eventually(
        lambda: True if (beaten() or status).last_heartbeat != first else None,
        "a second heartbeat",
    )
    samples = _samples(stack)
    kiosk = (("kiosk", "KIOSK-0001"),)
    assert ("vaxcert_center_kiosk_heartbeat_age_seconds", kiosk) in samples
    expiry = samples[("vaxcert_center_kiosk_certificate_expiry_timestamp_seconds", kiosk)]
    assert expiry == kiosk_cert.not_valid_after_utc.timestamp()
    printer = (("device", "printer"), ("kiosk", "KIOSK-0001"))
    assert samples[("vaxcert_center_kiosk_device_ok", printer)] == 1.0


def test_c21_pin_lockouts_at_a_kiosk_are_tallied_alerted_and_posted_to_the_webhook(
    stack: Stack, make_rig: MakeRig, webhook: Webhook
) -> None:
    store = _store(stack)
    tallies = Tallies(store, stack.settings.center)
    today = tallies.today()
    before = tallies.daily(today, today)[0].municipalities[0].pin_lockouts
    rig = make_rig()
    kiosk = rig.kiosk
    for _ in range(2):
        session = to_insert_card(rig)
        rig.insert("locked-card")
        kiosk.poll(session)
        assert session.screen == "take-card" and session.after_card == "locked"
        rig.reader.remove()
        kiosk.poll(session)
    assert kiosk.heartbeat()
    after = tallies.daily(today, today)[0].municipalities[0]
    assert (after.municipality, after.pin_lockouts) == ("462012", before + 2)
    # Delivered counts are not sent again.
    assert kiosk.heartbeat()
    assert tallies.daily(today, today)[0].municipalities[0].pin_lockouts == before + 2

    alerts = Alerts(store, stack.settings.center.alerts)
    (active,) = [a for a in alerts.active() if a.rule == "pin_lockouts"]
    assert (active.subject, active.count, active.threshold) == ("KIOSK-0001", 2, 2)
    assert _Receiver.arrived.wait(PATIENCE)
    (posted,) = webhook.received
    assert posted["rule"] == "pin_lockouts" and posted["subject"] == "KIOSK-0001"
    assert CANARY.my_number not in json.dumps(posted)
    assert _samples(stack)[("vaxcert_alerts_total", (("rule", "pin_lockouts"),))] == 1.0
