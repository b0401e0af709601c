"""End-to-end tests: each starts real processes (gunicorn services, `vaxcert demo`, virtual cards
on pcscd, Chromium), so every test in this folder is marked ``slow`` and ``pytest -m "not slow"``
leaves them out. Shared here: the center, VRS and signer as real processes (mTLS on loopback),
and kiosk services over them with simulated devices."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kiosk.clients import CenterClient
from kiosk.devices import SimulatedCashUnit, SimulatedPrinter
from kiosk.models import KioskSession
from kiosk.services import Devices, Kiosk, Renderer, inline_runner
from launch.stack import Stack, remove, start_stack
from vaxcert.card import cards, create_reader
from vaxcert.card.inprocess import InProcessCardReader
from vaxcert.contracts.kiosk_api import CertificateIssued

E2E_DIR = Path(__file__).resolve().parent


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test of this folder ``slow`` (this hook sees the whole session's items)."""
    for item in items:
        if E2E_DIR in item.path.parents:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """VRS (seeded), signer and center kiosk API as gunicorn processes on free ports."""
    started = start_stack(tmp_path_factory.mktemp("kiosk-stack"))
    yield started
    remove(started)


def stub_render(issued: CertificateIssued, copies: int) -> bytes:
    """Stands in for the PDF renderer in flow tests (the PDF itself is tested on its own)."""
    pages = b"".join(b"<< /Type /Page >>\n" for _ in range(copies))
    return b"%PDF-1.4\n" + pages + issued.certificate_id.encode()


@dataclass
class Rig:
    """A kiosk service over the real center with an in-process reader and simulated devices."""

    kiosk: Kiosk
    reader: InProcessCardReader
    printer: SimulatedPrinter
    cash: SimulatedCashUnit
    issuer: cards.CardIssuer

    def insert(self, card_key: str) -> None:
        self.reader.insert(cards.make_card(card_key, self.issuer))


MakeRig = Callable[..., Rig]


def to_insert_card(rig: Rig, kind: str = "domestic", municipality: str = "462012") -> KioskSession:
    """A new session of ``rig``'s kiosk walked to the insert-card screen (terms accepted, one
    copy)."""
    kiosk = rig.kiosk
    session = kiosk.new_session()
    kiosk.keep(session)
    kiosk.start(session)
    assert session.screen == "terms", session.reason
    kiosk.accept_terms(session)
    kiosk.choose_municipality(session, municipality)
    kiosk.choose_kind(session, kind)
    kiosk.choose_copies(session, 1)
    assert session.screen == "insert-card"
    return session


@pytest.fixture
def make_rig(stack: Stack, tmp_path: Path) -> Iterator[MakeRig]:
    made: list[Kiosk] = []

    def make(render: Renderer = stub_render, outbox: Path | None = None) -> Rig:
        # Each kiosk its own receipt outbox, unless a test shares one (a restart).
        path = outbox or tmp_path / f"receipts-{len(made)}.json"
        kiosk_options = stack.settings.kiosk.model_copy(update={"outbox_path": path})
        settings = stack.settings.model_copy(update={"kiosk": kiosk_options})
        reader = create_reader(settings)
        assert isinstance(reader, InProcessCardReader)
        reader.remove()
        printer = SimulatedPrinter()
        cash = SimulatedCashUnit()
        kiosk = Kiosk(
            settings,
            CenterClient.from_settings(settings),
            Devices(reader, printer, cash),
            render=render,
            run=inline_runner,
        )
        made.append(kiosk)
        return Rig(kiosk, reader, printer, cash, cards.CardIssuer.from_pki(settings.pki_dir))

    yield make
    for kiosk in made:
        kiosk.stop_background()
