"""Receipts from the kiosk to the center: the kiosk's outbox on disk and the center's kiosk API
over real mTLS on loopback (the center app in-process behind a real TLS server, so the test can
read its counters and its rate-limit window)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from cert_center.app import create_app
from cert_center.services import Center
from kiosk.clients import CenterClient
from kiosk.devices import SimulatedCashUnit, SimulatedPrinter
from kiosk.outbox import Outbox
from kiosk.services import Devices, Kiosk, inline_runner
from launch.demo import free_port
from tests.support.servers import LiveServer, pki_context, serving
from vaxcert import pki
from vaxcert.card import cards, create_reader
from vaxcert.card.inprocess import InProcessCardReader
from vaxcert.config import KioskEntry, Settings, load_settings
from vaxcert.contracts.kiosk_api import MAX_LOCKOUTS_PER_MUNICIPALITY
from vaxcert.errors import VaxcertError

ISSUER = "https://vaxcert.test"
KIOSK_ID = "KIOSK-0001"


@dataclass
class CenterRig:
    settings: Settings
    center: Center
    live: LiveServer


@pytest.fixture(scope="module")
def center(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CenterRig]:
    """The center's kiosk API (5 requests per minute per kiosk) over mTLS on loopback."""
    pki_dir = tmp_path_factory.mktemp("receipts-pki")
    pki.init(pki_dir, ISSUER, [KIOSK_ID])
    base = load_settings(environment="test", pki_dir=pki_dir)
    settings = base.model_copy(
        update={
            "center": base.center.model_copy(
                update={
                    "kiosks": [KioskEntry(kiosk_id=KIOSK_ID, store_name="A")],
                    "kiosk_requests_per_minute": 5,
                    "service_hours": "00:00-00:00",  # open whenever the tests run
                }
            )
        }
    )
    app = create_app(settings, surface="kiosk_api")
    with serving(app, pki_context(pki_dir, "center-kiosk-api", "dedicated-ca")) as live:
        yield CenterRig(settings, app.extensions["vaxcert_center"], live)


@pytest.fixture(autouse=True)
def _fresh_rate_window(center: CenterRig) -> None:
    _open_rate_window(center)


def _open_rate_window(center: CenterRig) -> None:
    """As if the next minute had begun: the kiosk's rate-limit window starts again."""
    window = int(time.time() // 60)
    for minute in (window - 1, window, window + 1):
        center.center.store.delete(f"rate:{KIOSK_ID}:{minute}")


def _kiosk(center: CenterRig, outbox: Path, url: str | None = None) -> Kiosk:
    options = center.settings.kiosk.model_copy(
        update={"center_url": url or center.live.url, "outbox_path": outbox}
    )
    settings = center.settings.model_copy(update={"kiosk": options})
    devices = Devices(create_reader(settings), SimulatedPrinter(), SimulatedCashUnit())
    return Kiosk(settings, CenterClient.from_settings(settings), devices, run=inline_runner)


def _counted(municipality: str = "462012") -> tuple[float, float]:
    """(printed receipts, fees in yen) the center counted so far."""
    labels = {"municipality": municipality}
    printed = REGISTRY.get_sample_value(
        "vaxcert_center_receipts_total", {**labels, "outcome": "printed"}
    )
    fees = REGISTRY.get_sample_value("vaxcert_center_fees_yen_total", labels)
    return printed or 0.0, fees or 0.0


def _until_delivered(kiosk: Kiosk, seconds: float = 15.0) -> float:
    """Let the kiosk retry as it would by itself; the seconds it took."""
    started = time.monotonic()
    while not kiosk.flush_receipts():
        assert time.monotonic() - started < seconds, kiosk.outbox.entries()
        time.sleep(0.05)
    return time.monotonic() - started


def test_a_receipt_answered_429_is_retried_with_backoff_and_counted_once(
    center: CenterRig, tmp_path: Path
) -> None:
    kiosk = _kiosk(center, tmp_path / "receipts.json")
    with pytest.raises(VaxcertError, match="rate_limited"):
        for _ in range(10):
            kiosk.center.config(fresh=True)
    before = _counted()
    kiosk._send_receipt("462012", 1, 120, "printed")
    [pending] = kiosk.outbox.pending()
    assert pending.attempts == 1  # the center answered 429: kept, not dropped
    window_key = f"rate:{KIOSK_ID}:{int(time.time() // 60)}"
    asked = center.center.store.get_int(window_key)
    assert not kiosk.flush_receipts()  # backing off: no request at once
    assert center.center.store.get_int(window_key) == asked
    _open_rate_window(center)
    assert _until_delivered(kiosk) > 0
    assert kiosk.outbox.entries() == []
    printed, fees = _counted()
    assert (printed - before[0], fees - before[1]) == (1, 120)


def test_a_pending_receipt_survives_a_restart_of_the_kiosk(
    center: CenterRig, tmp_path: Path
) -> None:
    outbox = tmp_path / "receipts.json"
    # The center is unreachable (nothing listens on the port): an outage.
    first = _kiosk(center, outbox, url=f"https://127.0.0.1:{free_port()}")
    first._send_receipt("462012", 2, 240, "printed")
    assert [e.amount_yen for e in first.outbox.pending()] == [240]
    first.stop_background()
    del first
    before = _counted()
    restarted = _kiosk(center, outbox)
    [kept] = restarted.outbox.pending()
    assert (kept.copies, kept.amount_yen, kept.outcome) == (2, 240, "printed")
    assert restarted.flush_receipts()
    assert restarted.outbox.entries() == []
    assert json.loads(outbox.read_text()) == []
    printed, fees = _counted()
    assert (printed - before[0], fees - before[1]) == (1, 240)


def test_a_receipt_the_center_refuses_is_kept_for_the_operator_not_retried(
    center: CenterRig, tmp_path: Path
) -> None:
    kiosk = _kiosk(center, tmp_path / "receipts.json")
    before = _counted()
    kiosk._send_receipt("462012", 1, 100, "printed")  # not 1 x 120 yen
    [kept] = kiosk.outbox.entries()
    assert (kept.state, kept.reason) == ("refused", "receipt_amount_mismatch")
    assert kiosk.flush_receipts() and kiosk.outbox.pending() == []
    assert kiosk.outbox.counts() == {"pending": 0, "refused": 1, "expired": 0}
    assert _counted() == before


def test_an_unreadable_outbox_is_set_aside_for_the_operator(tmp_path: Path) -> None:
    outbox = tmp_path / "receipts.json"
    outbox.write_text("{not json")
    box = Outbox(outbox, KIOSK_ID)
    assert box.entries() == []
    [aside] = tmp_path.glob("receipts.json.unreadable-*")
    assert aside.read_text() == "{not json"


def _lockouts_today(center: CenterRig) -> int:
    tallies = center.center.tallies
    today = tallies.today()
    return tallies.daily(today, today)[0].municipalities[0].pin_lockouts


def test_c21_pin_lockouts_reach_the_center_once_and_wait_while_it_is_away(
    center: CenterRig, tmp_path: Path
) -> None:
    kiosk = _kiosk(center, tmp_path / "receipts.json")
    reader = kiosk.devices.reader
    assert isinstance(reader, InProcessCardReader)
    session = kiosk.new_session()
    kiosk.keep(session)
    kiosk.start(session)
    kiosk.accept_terms(session)
    kiosk.choose_municipality(session, "462012")
    kiosk.choose_kind(session, "domestic")
    kiosk.choose_copies(session, 1)
    reader.insert(
        cards.make_card("locked-card", cards.CardIssuer.from_pki(center.settings.pki_dir))
    )
    kiosk.poll(session)
    assert session.after_card == "locked"
    before = _lockouts_today(center)
    live = kiosk.center
    kiosk.center = _kiosk(center, tmp_path / "away.json", f"https://127.0.0.1:{free_port()}").center
    assert not kiosk.heartbeat()  # the center is away: the count waits for the next beat
    kiosk.center = live
    assert kiosk.heartbeat()
    assert _lockouts_today(center) == before + 1
    assert kiosk.heartbeat()  # reported once
    assert _lockouts_today(center) == before + 1


def test_a_heartbeat_reports_at_most_the_contracts_bound_and_the_rest_later(
    center: CenterRig, tmp_path: Path
) -> None:
    kiosk = _kiosk(center, tmp_path / "receipts.json")
    before = _lockouts_today(center)
    kiosk._lockouts["462012"] = MAX_LOCKOUTS_PER_MUNICIPALITY + 5  # a kiosk long offline
    assert kiosk.heartbeat()
    assert _lockouts_today(center) == before + MAX_LOCKOUTS_PER_MUNICIPALITY
    _open_rate_window(center)
    assert kiosk.heartbeat()
    assert _lockouts_today(center) == before + MAX_LOCKOUTS_PER_MUNICIPALITY + 5
