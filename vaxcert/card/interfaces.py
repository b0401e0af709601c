"""The ``CardReader`` contract; implementations: in-process virtual card, PC/SC via pyscard.

Callers (the kiosk's Flask views, the app reference client) ask for a reader by this interface
and configuration picks the implementation. Every method is synchronous, bounded by a timeout,
and fails only with the typed errors of :mod:`vaxcert.card.errors`.
"""

from __future__ import annotations

import abc
import contextlib

from vaxcert.card import session
from vaxcert.card.models import CardFiles, CardRead
from vaxcert.card.session import Deadline, Transmit
from vaxcert.card.verify import CaKeyTable, parse_card_files, verify_card_files

DEFAULT_TIMEOUT = 10.0


class CardReader(abc.ABC):
    """Reads the 券面事項入力補助AP of the card on one reader."""

    @abc.abstractmethod
    def wait_for_card(self, timeout: float) -> bool:
        """Block until a card is present; False when ``timeout`` seconds pass first."""

    @abc.abstractmethod
    def wait_for_removal(self, timeout: float) -> bool:
        """Block until the reader is empty; False when ``timeout`` seconds pass first."""

    @abc.abstractmethod
    def pin_tries_left(self, *, timeout: float | None = None) -> int | None:
        """PIN tries left (0 = locked) without spending one; None if the card does not say."""

    @abc.abstractmethod
    def read(self, pin: str, *, timeout: float | None = None) -> CardRead:
        """VERIFY ``pin`` (exactly 4 ASCII digits) and read My Number + basic 4 information.

        Raises PinFormatError before anything is sent, WrongPinError (with tries left),
        PinLockedError (and then never sends VERIFY), NoReaderError, NoCardError,
        NotMyNumberCardError, CardRemovedError, CardTimeoutError, CardStatusError, or a
        CardDataError when a CA key table is configured and the files fail C03.
        """


class SessionCardReader(CardReader):
    """Shared logic: a subclass only provides :meth:`_connect`, a fresh card connection."""

    def __init__(self, *, ca_keys: CaKeyTable | None = None, timeout: float = DEFAULT_TIMEOUT):
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.ca_keys = ca_keys
        self.timeout = timeout

    @abc.abstractmethod
    def _connect(self, deadline: Deadline) -> contextlib.AbstractContextManager[Transmit]:
        """Connect exclusively to the card (fresh security status) and disconnect unpowered."""

    def pin_tries_left(self, *, timeout: float | None = None) -> int | None:
        """See :meth:`CardReader.pin_tries_left`."""
        deadline = Deadline(timeout or self.timeout)
        with self._connect(deadline) as transmit:
            return session.query_pin_tries(transmit, deadline)

    def read_files(self, pin: str, *, timeout: float | None = None) -> CardFiles:
        """The raw EF0001-EF0005 after VERIFY, unparsed (what the app sends to the center)."""
        secret = session.pin_bytes(pin)  # C01: validated before any connection is made
        try:
            deadline = Deadline(timeout or self.timeout)
            with self._connect(deadline) as transmit:
                return session.read_card_files(transmit, secret, deadline)
        finally:
            session.wipe(secret)

    def read(self, pin: str, *, timeout: float | None = None) -> CardRead:
        """See :meth:`CardReader.read`; verifies C03 when the reader has a CA key table."""
        files = self.read_files(pin, timeout=timeout)
        if self.ca_keys is not None:
            return verify_card_files(files, self.ca_keys)
        return parse_card_files(files)
