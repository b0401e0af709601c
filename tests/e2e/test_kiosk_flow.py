"""The kiosk flow (kiosk.services) over the real center, VRS and signer processes, with the
in-process virtual card and the device simulators; the PDF step is stubbed here (the PDF and the
browser have their own tests)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kiosk.clients import CenterClient
from kiosk.models import KioskSession
from launch.demo import free_port
from tests.e2e.conftest import MakeRig, Rig
from tests.e2e.conftest import to_insert_card as _to_insert_card
from vaxcert.card.virtual import VirtualKenhojoCard
from vaxcert.contracts.kiosk_api import Receipt
from vaxcert.residents import CANARY


def _read(rig: Rig, card_key: str, pin: str, **kwargs: Any) -> KioskSession:
    session = _to_insert_card(rig, **kwargs)
    rig.insert(card_key)
    rig.kiosk.poll(session)
    if session.screen == "pin":
        rig.kiosk.submit_pin(session, pin)
    return session


def _take_card(rig: Rig, session: KioskSession) -> None:
    assert session.screen == "take-card"
    rig.reader.remove()
    rig.kiosk.poll(session)


def _card(rig: Rig) -> VirtualKenhojoCard:
    card = rig.reader.card
    assert card is not None
    return card


def _receipts(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> list[Receipt]:
    sent: list[Receipt] = []
    real = rig.kiosk.center.receipt

    def record(receipt: Receipt) -> None:
        sent.append(receipt)
        real(receipt)

    monkeypatch.setattr(rig.kiosk.center, "receipt", record)
    return sent


def _pay_and_print(rig: Rig, session: KioskSession) -> None:
    rig.kiosk.confirm(session)
    assert session.screen == "payment"
    assert rig.cash.insert(100) and rig.cash.insert(100)
    rig.kiosk.poll(session)
    assert session.inserted_yen == 200
    rig.kiosk.pay(session)


def test_c08_domestic_flow_prints_and_wipes_the_session(
    make_rig: MakeRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig = make_rig()
    receipts = _receipts(rig, monkeypatch)
    session = _read(rig, "canary", CANARY.pin)
    assert session.after_card == "confirm"
    _take_card(rig, session)
    assert session.screen == "confirm"
    assert session.issued is not None and session.issued.holder.name == CANARY.name_kanji
    assert session.pdf is not None
    assert CANARY.my_number not in session.issued.model_dump_json()  # C22
    _pay_and_print(rig, session)
    assert session.screen == "take-certificate"
    assert session.change_yen == 80 and rig.cash.payouts == [("change", 80)]
    assert session.pdf is None  # printed: the bytes are dropped at once
    assert [r.outcome for r in receipts] == ["printed"] and receipts[0].amount_yen == 120
    rig.printer.take_paper()
    rig.kiosk.poll(session)
    assert session.wiped and session.issued is None and session.screen == "welcome"
    assert rig.kiosk.sessions.get(session.id) is None
    assert CANARY.name_kanji not in repr(session)


def test_c07_the_card_is_not_read_before_consent(make_rig: MakeRig) -> None:
    rig = make_rig()
    rig.insert("canary")
    session = rig.kiosk.new_session()
    rig.kiosk.keep(session)
    rig.kiosk.poll(session)
    rig.kiosk.start(session)
    rig.kiosk.poll(session)
    assert session.screen == "terms"
    assert _card(rig).log == [], "the card was touched before the terms were accepted"
    rig.kiosk.accept_terms(session)
    rig.kiosk.choose_municipality(session, "462012")
    rig.kiosk.choose_kind(session, "domestic")
    rig.kiosk.choose_copies(session, 1)
    rig.kiosk.poll(session)
    assert session.screen == "pin" and session.tries_left == 3
    assert session.consented_terms == rig.kiosk.settings.center.terms_version


def test_c05_only_the_centers_municipalities_are_accepted(make_rig: MakeRig) -> None:
    rig = make_rig()
    session = rig.kiosk.new_session()
    rig.kiosk.start(session)
    rig.kiosk.accept_terms(session)
    assert session.config is not None
    codes = [m.code for m in session.config.municipalities]
    assert codes == ["462012", "462187"]
    rig.kiosk.choose_municipality(session, "462039")  # real, but not participating
    assert session.screen == "municipality"
    assert session.notice == "municipality_not_participating"


def test_c01_wrong_pin_then_right_pin(make_rig: MakeRig) -> None:
    rig = make_rig()
    session = _read(rig, "canary", "0000")
    assert session.screen == "pin" and session.notice == "pin_incorrect"
    assert session.tries_left == 2
    rig.kiosk.submit_pin(session, CANARY.pin)
    assert session.screen == "take-card" and session.after_card == "confirm"
    assert _card(rig).pin_tries_left == 3  # a right PIN resets the counter


def test_c01_malformed_pin_never_reaches_the_card(make_rig: MakeRig) -> None:
    rig = make_rig()
    session = _read(rig, "canary", "12a4")
    assert session.screen == "pin" and session.notice == "pin_format_invalid"
    assert not any(entry.is_pin_attempt for entry in _card(rig).log)


def test_c01_third_wrong_pin_locks_and_shows_guidance(make_rig: MakeRig) -> None:
    rig = make_rig()
    session = _read(rig, "one-try-left", "0000")
    assert session.screen == "take-card" and session.after_card == "locked"
    _take_card(rig, session)
    assert session.screen == "locked" and session.reason == "pin_locked"


def test_c01_a_locked_card_is_never_tried(make_rig: MakeRig) -> None:
    rig = make_rig()
    session = _read(rig, "locked-card", CANARY.pin)
    assert session.screen == "take-card" and session.after_card == "locked"
    assert not any(entry.is_pin_attempt for entry in _card(rig).log)
    _take_card(rig, session)
    assert session.screen == "locked"


@pytest.mark.parametrize(
    ("card_key", "municipality", "kind", "code"),
    [
        ("support-measure", "462012", "domestic", "counter_required"),
        ("no-records", "462012", "domestic", "no_vaccination_record"),
        ("no-passport", "462012", "overseas", "passport_not_on_file"),
        ("kirishima", "462012", "domestic", "no_vaccination_record"),
        ("tampered-card", "462012", "domestic", "card_digest_mismatch"),
        ("unknown-ca-card", "462012", "domestic", "card_ca_unknown"),
    ],
)
def test_each_refusal_shows_its_reason_after_the_card_is_taken(
    make_rig: MakeRig, card_key: str, municipality: str, kind: str, code: str
) -> None:
    rig = make_rig()
    from vaxcert.residents import RESIDENTS

    pin = RESIDENTS[card_key].pin if card_key in RESIDENTS else CANARY.pin
    session = _read(rig, card_key, pin, kind=kind, municipality=municipality)
    assert session.screen == "take-card", session.reason
    _take_card(rig, session)
    assert session.screen == "refused" and session.reason == code
    assert session.issued is None


def test_a_foreign_card_is_refused_without_a_pin(make_rig: MakeRig) -> None:
    rig = make_rig()
    session = _to_insert_card(rig)
    rig.insert("foreign-card")
    rig.kiosk.poll(session)
    _take_card(rig, session)
    assert session.screen == "refused" and session.reason == "card_not_my_number"


def test_overseas_confirmation_carries_the_passport_holder(make_rig: MakeRig) -> None:
    rig = make_rig()
    session = _read(rig, "canary", CANARY.pin, kind="overseas")
    _take_card(rig, session)
    assert session.issued is not None and session.issued.vdsnc is not None
    assert session.issued.holder.name_roman == CANARY.name_roman


def test_printer_jam_is_reprinted_from_memory(
    make_rig: MakeRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig = make_rig()
    receipts = _receipts(rig, monkeypatch)
    session = _read(rig, "elder", "5678")
    _take_card(rig, session)
    rig.printer.jam_next(1)
    _pay_and_print(rig, session)
    assert session.screen == "take-certificate"
    assert rig.printer.jobs_submitted == 2 and rig.printer.tray() == 1
    assert [r.outcome for r in receipts] == ["printed"]


def test_printer_jam_twice_refunds_and_shows_an_incident(
    make_rig: MakeRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig = make_rig()
    receipts = _receipts(rig, monkeypatch)
    session = _read(rig, "elder", "5678")
    _take_card(rig, session)
    rig.printer.jam_next(2)
    _pay_and_print(rig, session)
    assert session.screen == "error" and session.reason == "misprint_refunded"
    assert session.incident and session.incident.startswith("KIOSK-0001-")
    assert rig.cash.payouts == [("refund", 200)] and session.refunded_yen == 200
    assert session.issued is None and session.pdf is None
    assert [(r.outcome, r.incident_id) for r in receipts] == [
        ("misprint_refunded", session.incident)
    ]
    assert rig.printer.tray() == 0


def test_cancelled_payment_is_refunded_and_reported(
    make_rig: MakeRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig = make_rig()
    receipts = _receipts(rig, monkeypatch)
    session = _read(rig, "elder", "5678")
    _take_card(rig, session)
    rig.kiosk.confirm(session)
    assert rig.cash.insert(100) and rig.cash.insert(10)
    rig.kiosk.cancel(session)
    assert rig.cash.payouts == [("refund", 110)]
    assert session.wiped and session.issued is None
    assert [r.outcome for r in receipts] == ["cancelled"] and receipts[0].amount_yen == 0


def test_paying_too_little_keeps_the_payment_screen(make_rig: MakeRig) -> None:
    rig = make_rig()
    session = _read(rig, "elder", "5678")
    _take_card(rig, session)
    rig.kiosk.confirm(session)
    rig.cash.insert(100)
    rig.kiosk.pay(session)
    assert session.screen == "payment" and session.notice == "payment_incomplete"
    assert rig.printer.jobs_submitted == 0


def test_c08_inactivity_wipes_on_the_server_too(make_rig: MakeRig) -> None:
    rig = make_rig()
    now = [1000.0]
    rig.kiosk.clock = lambda: now[0]
    session = _read(rig, "elder", "5678")
    _take_card(rig, session)
    assert session.screen == "confirm"
    options = rig.kiosk.options
    now[0] += options.idle_seconds + options.warning_seconds + 1
    rig.kiosk.sweep()
    assert not session.wiped  # the browser's countdown has a grace before the server acts
    now[0] += 30
    rig.kiosk.sweep()
    assert session.wiped and session.issued is None and session.pdf is None


def test_the_pin_screen_allows_longer(make_rig: MakeRig) -> None:
    rig = make_rig()
    session = _to_insert_card(rig)
    rig.insert("canary")
    rig.kiosk.poll(session)
    assert rig.kiosk.idle_limit(session) == 120
    session.show("confirm")
    assert rig.kiosk.idle_limit(session) == 60


def test_removing_the_card_on_the_pin_pad_goes_back(make_rig: MakeRig) -> None:
    rig = make_rig()
    session = _to_insert_card(rig)
    rig.insert("canary")
    rig.kiosk.poll(session)
    rig.reader.remove()
    rig.kiosk.poll(session)
    assert session.screen == "insert-card" and session.notice == "card_removed"


def test_starting_anew_ends_a_session_forgotten_before_the_card(make_rig: MakeRig) -> None:
    rig = make_rig()
    old = _to_insert_card(rig)
    rig.kiosk.back(old)
    assert old.screen == "copies"
    fresh = rig.kiosk.new_session()
    rig.kiosk.keep(fresh)
    rig.kiosk.start(fresh)
    assert old.wiped and fresh.screen == "terms"


def test_another_start_never_ends_the_resident_the_terminal_serves(
    make_rig: MakeRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig = make_rig()
    receipts = _receipts(rig, monkeypatch)
    resident = _read(rig, "elder", "5678")
    _take_card(rig, resident)
    rig.kiosk.confirm(resident)
    assert rig.cash.insert(100)
    fresh = rig.kiosk.new_session()
    rig.kiosk.keep(fresh)
    rig.kiosk.start(fresh)
    assert (fresh.screen, fresh.reason) == ("refused", "kiosk_busy")
    assert not resident.wiped and resident.screen == "payment"
    assert rig.cash.insert(100)
    rig.kiosk.poll(resident)
    rig.kiosk.pay(resident)
    assert resident.screen == "take-certificate"
    assert [(r.outcome, r.amount_yen) for r in receipts] == [("printed", 120)]


def test_visitors_beyond_the_session_bound_evict_only_idle_welcome_sessions(
    make_rig: MakeRig,
) -> None:
    rig = make_rig()
    resident = _to_insert_card(rig)
    visitors = []
    for _ in range(100):
        visitor = rig.kiosk.new_session()
        rig.kiosk.keep(visitor)
        visitors.append(visitor)
    assert rig.kiosk.sessions.get(resident.id) is resident and not resident.wiped
    assert len(rig.kiosk.sessions.all()) == 32
    assert visitors[0].wiped and not visitors[-1].wiped


def test_an_inactivity_wipe_with_coins_in_escrow_refunds_and_reports(
    make_rig: MakeRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig = make_rig()
    receipts = _receipts(rig, monkeypatch)
    now = [1000.0]
    rig.kiosk.clock = lambda: now[0]
    session = _read(rig, "elder", "5678")
    _take_card(rig, session)
    rig.kiosk.confirm(session)
    assert rig.cash.insert(100) and rig.cash.insert(10)
    rig.kiosk.poll(session)
    options = rig.kiosk.options
    now[0] += options.idle_seconds + options.warning_seconds + 16
    rig.kiosk.sweep()
    assert session.wiped and session.refunded_yen == 110
    assert rig.cash.payouts == [("refund", 110)] and not rig.cash.is_open()
    assert [(r.outcome, r.amount_yen) for r in receipts] == [("cancelled", 0)]
    assert rig.kiosk.device_status().cash_unit == "ok"
    # The next resident can pay.
    nxt = _read(rig, "elder", "5678")
    _take_card(rig, nxt)
    rig.kiosk.confirm(nxt)
    assert nxt.screen == "payment"


def test_money_in_escrow_that_no_session_accounts_for_is_a_cash_unit_error(
    make_rig: MakeRig,
) -> None:
    rig = make_rig()
    rig.cash.open(120)
    assert rig.cash.insert(100)
    assert rig.kiosk.device_status().cash_unit == "error"
    rig.cash.refund()
    assert rig.kiosk.device_status().cash_unit == "ok"


def test_c08_the_receipt_outbox_holds_no_certificate_or_personal_data(
    make_rig: MakeRig, tmp_path: Path
) -> None:
    outbox = tmp_path / "receipts.json"
    rig = make_rig(outbox=outbox)
    printed = _read(rig, "canary", CANARY.pin, kind="overseas")
    _take_card(rig, printed)
    assert printed.issued is not None
    certificate_id = printed.issued.certificate_id
    # The dedicated line goes down after issuance: the receipts wait in the outbox on disk.
    settings = rig.kiosk.settings
    dead = settings.model_copy(
        update={
            "kiosk": settings.kiosk.model_copy(
                update={"center_url": f"https://127.0.0.1:{free_port()}"}
            )
        }
    )
    rig.kiosk.center = CenterClient.from_settings(dead)
    _pay_and_print(rig, printed)
    assert printed.screen == "take-certificate"
    rig.printer.take_paper()
    rig.kiosk.poll(printed)
    raw = outbox.read_text(encoding="utf-8")
    entries = json.loads(raw)
    assert [(e["outcome"], e["amount_yen"], e["state"]) for e in entries] == [
        ("printed", 120, "pending")
    ]
    assert set(entries[0]) <= {
        "receipt_id",
        "kiosk_id",
        "municipality_code",
        "copies",
        "amount_yen",
        "outcome",
        "incident_id",
        "created_at",
        "state",
        "reason",
        "attempts",
    }
    for value in (*CANARY.canary_values, certificate_id):
        assert value not in raw, "the outbox holds certificate or personal data"


def test_heartbeat_reports_device_status(make_rig: MakeRig) -> None:
    rig = make_rig()
    status = rig.kiosk.device_status()
    assert (status.reader, status.printer, status.paper, status.cash_unit) == (
        "ok",
        "ok",
        "ok",
        "ok",
    )
    assert rig.kiosk.heartbeat()  # the center accepted it
    rig.printer.load_paper(0)
    assert rig.kiosk.device_status().paper == "empty"


def test_c08_cancel_while_reading_discards_the_late_result(
    make_rig: MakeRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig = make_rig()
    receipts = _receipts(rig, monkeypatch)
    session = _to_insert_card(rig)
    rig.insert("canary")
    rig.kiosk.poll(session)
    real = rig.kiosk.center.certificates

    def cancelled_meanwhile(request: Any) -> Any:
        issued = real(request)
        rig.kiosk.cancel(session)  # the resident pressed Cancel while the center worked
        return issued

    monkeypatch.setattr(rig.kiosk.center, "certificates", cancelled_meanwhile)
    rig.kiosk.submit_pin(session, CANARY.pin)
    assert session.wiped
    assert session.issued is None and session.pdf is None and session.screen == "welcome"
    assert [r.outcome for r in receipts] == ["cancelled"]
    assert rig.kiosk.card_left()  # the welcome screen will ask to take the card


def test_c01_cancel_before_the_read_starts_reads_nothing(make_rig: MakeRig) -> None:
    rig = make_rig()
    deferred: list[Any] = []
    session = _to_insert_card(rig)
    rig.insert("canary")
    rig.kiosk.poll(session)
    rig.kiosk.run = deferred.append
    rig.kiosk.submit_pin(session, CANARY.pin)
    assert session.screen == "reading"
    rig.kiosk.cancel(session)
    deferred[0]()
    assert not any(entry.is_pin_attempt for entry in _card(rig).log)


def test_an_unprintable_certificate_is_reported_and_not_charged(
    make_rig: MakeRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vaxcert.errors import VaxcertError

    def unprintable(issued: Any, copies: int) -> bytes:
        raise VaxcertError("certificate_unprintable", "test")

    rig = make_rig(render=unprintable)
    receipts = _receipts(rig, monkeypatch)
    session = _read(rig, "elder", "5678")
    _take_card(rig, session)
    assert session.screen in ("refused", "error") and session.reason == "certificate_unprintable"
    assert [r.outcome for r in receipts] == ["cancelled"] and rig.cash.payouts == []
