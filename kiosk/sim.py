"""Headless kiosk: the same :class:`kiosk.services.Kiosk` flow as the screens, driven by a script
instead of a browser (support staff, scripted checks, load). Devices are the simulators (the
printer hands the paper out at once, the cash unit gets the exact fee); the card reader is the
in-process virtual card or PC/SC.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

from kiosk.clients import CenterClient
from kiosk.devices import SimulatedCashUnit, SimulatedPrinter
from kiosk.models import KioskSession
from kiosk.services import Devices, Kiosk, Renderer, default_renderer, inline_runner
from vaxcert import reasons
from vaxcert.card import cards, create_reader
from vaxcert.card.slot import card_slot
from vaxcert.config import Settings

Outcome = Literal["issued", "refused", "error"]
_COINS = (1000, 500, 100, 50, 10)


@dataclass(frozen=True)
class SimResult:
    """What `vaxcert kiosk-sim` prints (and the PDF, kept only for ``--out``)."""

    outcome: Outcome
    reason: str | None = None
    certificate_id: str | None = None
    pdf: bytes | None = None

    def to_json(self) -> dict[str, str | None]:
        """The one JSON object of the command's output."""
        return {
            "outcome": self.outcome,
            "reason": self.reason,
            "certificate_id": self.certificate_id,
        }


def _failed(code: str | None) -> SimResult:
    code = code or "internal_error"
    reason = reasons.CATALOGUE.get(code)
    return SimResult("refused" if reason is not None and reason.status < 500 else "error", code)


def _wait(kiosk: Kiosk, session: KioskSession, screen: str, timeout: float) -> None:
    end = time.monotonic() + timeout
    while session.screen == screen and not session.wiped and time.monotonic() < end:
        with kiosk.locked(session):
            kiosk.poll(session)
        if session.screen == screen:
            time.sleep(0.02)


def _screen(session: KioskSession) -> str:
    """The current screen (read afresh: other calls move it)."""
    return session.screen


def _coins(amount: int) -> list[int]:
    paid = []
    for coin in _COINS:
        while amount >= coin:
            paid.append(coin)
            amount -= coin
    return paid


def simulate(
    settings: Settings,
    *,
    resident: str,
    pin: str,
    municipality: str,
    kind: str,
    copies: int = 1,
    reader: Literal["memory", "pcsc"] = "memory",
    render: Renderer = default_renderer,
) -> SimResult:
    """Run one application through the kiosk flow against the configured center."""
    if resident not in cards.card_keys():
        raise KeyError(f"unknown resident {resident!r}; known: {', '.join(cards.card_keys())}")
    card = settings.card.model_copy(update={"reader": "virtual" if reader == "memory" else "pcsc"})
    settings = settings.model_copy(update={"card": card})
    card_reader = create_reader(settings)
    printer = SimulatedPrinter(auto_take_seconds=0.0)
    cash = SimulatedCashUnit()
    kiosk = Kiosk(
        settings,
        CenterClient.from_settings(settings),
        Devices(card_reader, printer, cash),
        render=render,
        run=inline_runner,
    )
    timeout = settings.card.timeout_seconds
    session = kiosk.new_session()
    kiosk.keep(session)
    with card_slot(settings, card_reader, resident, timeout) as (insert, remove):
        with kiosk.locked(session):
            kiosk.start(session)
            kiosk.accept_terms(session)
            kiosk.choose_municipality(session, municipality)
            if session.screen == "municipality":
                return _failed(session.notice)
            kiosk.choose_kind(session, kind)
            if session.screen == "kind":
                return _failed("invalid_field")
            kiosk.choose_copies(session, copies)
            if session.screen == "copies":
                return _failed("invalid_field")
            if session.screen != "insert-card":
                return _failed(session.reason)
        insert()
        _wait(kiosk, session, "insert-card", timeout)
        if _screen(session) == "pin":
            with kiosk.locked(session):
                kiosk.submit_pin(session, pin)
            if _screen(session) == "pin":  # wrong or malformed PIN: the card stays
                return _failed(session.notice)
        if _screen(session) != "take-card":
            return _failed(session.reason or session.notice)
        remove()
        _wait(kiosk, session, "take-card", timeout)
        if _screen(session) != "confirm" or session.issued is None:
            return _failed(session.reason)
        issued, pdf = session.issued, session.pdf
        with kiosk.locked(session):
            kiosk.confirm(session)
        for coin in _coins(session.due_yen):
            cash.insert(coin)
        with kiosk.locked(session):
            kiosk.pay(session)
        if _screen(session) != "take-certificate":
            return _failed(session.reason)
        _wait(kiosk, session, "take-certificate", settings.kiosk.take_certificate_seconds + 1)
    kiosk.flush_receipts()
    return SimResult("issued", None, issued.certificate_id, pdf)
