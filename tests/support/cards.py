"""Fixtures of the card layer: a dev PKI with the J-LIS test CA, virtual cards, pcscd + vpcd.

A pytest plugin (tests/conftest.py loads it): the card-layer tests and the end-to-end PC/SC
tests in tests/e2e share these fixtures.

The PC/SC fixtures start pcscd in the foreground (no --auto-exit) with a private vpcd slot on a
free port, or reuse a pcscd that already offers one; cards run as `vaxcert card serve` processes.
Everything started here is stopped by PID.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from vaxcert import pki
from vaxcert.card import ca_key_table, cards
from vaxcert.card.harness import (
    READER_SLOT0,
    Pcscd,
    VirtualCardProcess,
)
from vaxcert.card.verify import CaKeyTable
from vaxcert.config import Settings, load_settings


@pytest.fixture(scope="session")
def card_pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dev PKI (with jlis-ca, the dev "J-LIS" CA 9000033/001) in a temp dir."""
    directory = tmp_path_factory.mktemp("card-pki")
    pki.init(directory, "https://127.0.0.1:8446/issuer", ["KIOSK-0001"])
    return directory


@pytest.fixture(scope="session")
def card_settings(card_pki: Path) -> Settings:
    """Settings pointing at the test PKI (CA key table: the dev CA by default)."""
    return load_settings(pki_dir=card_pki, environment="test")


@pytest.fixture(scope="session")
def ca_keys(card_settings: Settings) -> CaKeyTable:
    """The configured CA key table (dev J-LIS CA only)."""
    return ca_key_table(card_settings)


@pytest.fixture(scope="session")
def issuer(card_pki: Path) -> cards.CardIssuer:
    """The dev J-LIS CA as a card issuer."""
    return cards.CardIssuer.from_pki(card_pki)


# The session's pcscd comes from tests/conftest.py (one per test run, shared with the kiosk).


@pytest.fixture
def pcsc_reader(pcscd: Pcscd) -> Any:
    """A PC/SC reader on vpcd slot 0."""
    from vaxcert.card.pcsc import PcscCardReader

    return PcscCardReader(READER_SLOT0, timeout=5.0)


StartCard = Callable[..., VirtualCardProcess]


@pytest.fixture
def virtual_card(
    pcscd: Pcscd, card_pki: Path, tmp_path: Path, pcsc_reader: Any
) -> Iterator[StartCard]:
    """Start `vaxcert card serve` for a card key; waits until pcscd reports the card present."""
    started: list[VirtualCardProcess] = []

    def start(card_key: str, **options: Any) -> VirtualCardProcess:
        if pcsc_reader.wait_for_card(0.0):
            # vpcd would silently ignore a second card on the slot (card.md §10.3 pitfall 3).
            pytest.fail(
                f"a card is already in {READER_SLOT0}: is an old `vaxcert card serve` alive?"
            )
        card = VirtualCardProcess(card_key, pcscd.port, card_pki, tmp_path / "cards", **options)
        started.append(card.start())
        card.wait_powered()
        assert pcsc_reader.wait_for_card(5.0), "pcscd did not report the card present"
        return card

    yield start
    for card in started:
        card.stop()
    # The next test must not see this card: wait until pcscd notices it is gone.
    assert pcsc_reader.wait_for_removal(5.0), "pcscd still reports a card after its process ended"
