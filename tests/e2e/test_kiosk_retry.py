"""Refusals that are not dead ends, and money returned said aloud on screen (kiosk.services, over
the real center with an in-process reader and simulated devices)."""

from __future__ import annotations

import pytest

from kiosk.services import RETRY_SCREEN
from tests.e2e.conftest import MakeRig
from tests.e2e.test_kiosk_flow import _read, _take_card, _to_insert_card
from vaxcert.residents import CANARY, RESIDENTS


def test_no_record_in_the_chosen_municipality_retries_with_another(make_rig: MakeRig) -> None:
    rig = make_rig()
    elder = RESIDENTS["elder"]
    session = _read(rig, "elder", elder.pin, municipality="462187")
    _take_card(rig, session)
    assert session.screen == "refused" and session.reason == "no_vaccination_record"
    assert rig.kiosk.retry_screen(session) == "municipality"
    consent = session.consented_terms
    rig.kiosk.retry(session)
    # Consent and choices kept, the failed attempt forgotten (C08); the card is read again.
    assert session.screen == "municipality" and session.reason is None
    assert session.consented_terms == consent and session.issued is None
    rig.kiosk.choose_municipality(session, "462012")
    rig.kiosk.choose_kind(session, "domestic")
    rig.kiosk.choose_copies(session, 1)
    rig.insert("elder")
    rig.kiosk.poll(session)
    rig.kiosk.submit_pin(session, elder.pin)
    _take_card(rig, session)
    assert session.screen == "confirm" and session.issued is not None


def test_no_passport_retries_with_the_domestic_certificate(make_rig: MakeRig) -> None:
    rig = make_rig()
    session = _read(rig, "no-passport", RESIDENTS["no-passport"].pin, kind="overseas")
    _take_card(rig, session)
    assert session.reason == "passport_not_on_file"
    rig.kiosk.retry(session)
    assert session.screen == "kind" and session.municipality is not None


@pytest.mark.parametrize("card", ["support-measure", "deceased", "tampered-card"])
def test_sensitive_refusals_offer_no_retry(make_rig: MakeRig, card: str) -> None:
    rig = make_rig()
    pin = RESIDENTS[card].pin if card in RESIDENTS else CANARY.pin
    session = _read(rig, card, pin)
    _take_card(rig, session)
    assert session.screen == "refused"
    assert session.reason is not None and session.reason not in RETRY_SCREEN
    assert rig.kiosk.retry_screen(session) is None
    rig.kiosk.retry(session)
    assert session.screen == "refused"  # a forged POST /retry changes nothing


def test_counter_required_is_never_retried() -> None:
    assert "counter_required" not in RETRY_SCREEN
    assert not any(code.startswith("card_") and "digest" in code for code in RETRY_SCREEN)


def test_a_busy_kiosk_retries_from_start(make_rig: MakeRig) -> None:
    rig = make_rig()
    resident = _to_insert_card(rig)
    visitor = rig.kiosk.new_session()
    rig.kiosk.keep(visitor)
    rig.kiosk.start(visitor)
    assert visitor.screen == "refused" and visitor.reason == "kiosk_busy"
    assert rig.kiosk.retry_screen(visitor) == "welcome"
    rig.kiosk.cancel(resident)
    rig.kiosk.retry(visitor)
    assert visitor.screen == "terms"


def test_cancelled_payment_says_how_much_came_back_until_the_next_start(
    make_rig: MakeRig,
) -> None:
    rig = make_rig()
    now = [1000.0]
    rig.kiosk.clock = lambda: now[0]
    session = _read(rig, "elder", RESIDENTS["elder"].pin)
    _take_card(rig, session)
    rig.kiosk.confirm(session)
    assert rig.cash.insert(100) and rig.cash.insert(50)
    rig.kiosk.cancel(session)
    assert session.wiped  # C08: the resident's session is gone; only the amount is said
    assert rig.kiosk.money_returned() == 150
    now[0] += rig.kiosk.options.take_certificate_seconds + 1
    assert rig.kiosk.money_returned() == 0
    # A newcomer's Start clears it at once.
    session = _read(rig, "elder", RESIDENTS["elder"].pin)
    _take_card(rig, session)
    rig.kiosk.confirm(session)
    assert rig.cash.insert(100)
    rig.kiosk.cancel(session)
    assert rig.kiosk.money_returned() == 100
    _to_insert_card(rig)
    assert rig.kiosk.money_returned() == 0


def test_a_cancel_without_money_says_nothing(make_rig: MakeRig) -> None:
    rig = make_rig()
    session = _to_insert_card(rig)
    rig.kiosk.cancel(session)
    assert rig.kiosk.money_returned() == 0
