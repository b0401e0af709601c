"""A synthetic resident's virtual card on a reader, for the scripted terminals (`vaxcert
kiosk-sim`, `vaxcert app-client`): in process, or as a card process on pcscd's vpcd slot."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from vaxcert.card import CardReader, cards
from vaxcert.card.errors import NoReaderError
from vaxcert.card.inprocess import InProcessCardReader
from vaxcert.config import Settings


class PcscVirtualCard:
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
        self.workdir = Path(tempfile.mkdtemp(prefix="vaxcert-card-slot-"))
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
def card_slot(
    settings: Settings, reader: CardReader, card_key: str, timeout: float
) -> Iterator[tuple[Callable[[], None], Callable[[], None]]]:
    """Insert and remove callables for the resident's card on this reader."""
    if isinstance(reader, InProcessCardReader):
        issuer = cards.CardIssuer.from_pki(settings.pki_dir)
        reader.remove()
        yield (lambda: reader.insert(cards.make_card(card_key, issuer)), reader.remove)
        reader.remove()
        return
    pcsc = PcscVirtualCard(settings, card_key)
    try:
        yield (lambda: pcsc.insert(reader, timeout), pcsc.remove)
    finally:
        pcsc.remove()
