"""Headless kiosk: the same :class:`kiosk.services.Kiosk` flow as the screens, driven by a script
instead of a browser (support staff, scripted checks, load). Devices are the simulators (the
printer hands the paper out at once, the cash unit gets the exact fee); the card reader is the
in-process virtual card or PC/SC.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from kiosk.clients import CenterClient
from kiosk.devices import SimulatedCashUnit, SimulatedPrinter
from kiosk.models import KioskSession
from kiosk.services import Devices, Kiosk, Renderer, default_renderer, inline_runner
from vaxcert import reasons
from vaxcert.card import CardReader, cards, create_reader
from vaxcert.card.errors import NoReaderError
from vaxcert.card.inprocess import InProcessCardReader
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


class _PcscCard:
    """A virtual card placed on the vpcd slot of a running pcscd, when the reader is empty."""

    def __init__(self, settings: Settings, card_key: str) -> None:
        self.settings = settings
        self.card_key = card_key
        self.workdir: Path | None = None
        self.process: object | None = None
        self.pcscd: object | None = None

    def insert(self, reader: CardReader, timeout: float) -> None:
        from vaxcert.card.harness import HarnessError

        if reader.wait_for_card(0.0):
            return  # a card (real or virtual) is already there
        self.workdir = Path(tempfile.mkdtemp(prefix="vaxcert-kiosk-sim-"))
        for attempt in range(2):  # pcscd is machine-wide: another user may have restarted it
            try:
                self._place(reader, timeout)
                return
            except HarnessError as exc:
                self.remove_card()
                if attempt:
                    raise NoReaderError(f"no virtual card on vpcd: {exc}") from None

    def _place(self, reader: CardReader, timeout: float) -> None:
        from vaxcert.card.harness import VirtualCardProcess, start_pcscd

        assert self.workdir is not None
        pcscd = start_pcscd(self.workdir / "pcscd")
        if pcscd.started_here:
            self.pcscd = pcscd  # stopped at the end only because it was started here
        card = VirtualCardProcess(self.card_key, pcscd.port, self.settings.pki_dir, self.workdir)
        self.process = card.start()
        card.wait_powered(timeout)
        reader.wait_for_card(timeout)

    def remove_card(self) -> None:
        """Take the virtual card away (its process ends; pcscd then sees the slot empty)."""
        from vaxcert.card.harness import VirtualCardProcess

        if isinstance(self.process, VirtualCardProcess):
            self.process.stop()
        self.process = None

    def remove(self) -> None:
        """Take the card away; stop a pcscd started here; delete the temp dir."""
        from vaxcert.card.harness import Pcscd

        self.remove_card()
        if isinstance(self.pcscd, Pcscd):
            self.pcscd.stop()
        self.pcscd = None
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None


@contextlib.contextmanager
def _card_slot(
    settings: Settings, reader: CardReader, card_key: str, timeout: float
) -> Iterator[tuple[Callable[[], None], Callable[[], None]]]:
    """Insert and remove callables for the resident's card on this reader."""
    if isinstance(reader, InProcessCardReader):
        issuer = cards.CardIssuer.from_pki(settings.pki_dir)
        reader.remove()
        yield (lambda: reader.insert(cards.make_card(card_key, issuer)), reader.remove)
        reader.remove()
        return
    pcsc = _PcscCard(settings, card_key)
    try:
        yield (lambda: pcsc.insert(reader, timeout), pcsc.remove)
    finally:
        pcsc.remove()


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
    with _card_slot(settings, card_reader, resident, timeout) as (insert, remove):
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
