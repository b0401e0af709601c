"""The ``CardReader`` contract; implementations: in-process virtual card, PC/SC via pyscard.

Callers (the kiosk's Flask views, the app reference client) ask for a reader by this interface
and configuration picks the implementation. Every method is synchronous, bounded by a timeout,
and fails only with the typed errors of :mod:`vaxcert.card.errors`.

A reader is transport only: it hands out the card's files exactly as read. Verifying and parsing
them is the center's job alone (C03, :func:`vaxcert.card.verify_card_files`), so a terminal never
holds a parsed My Number (C08, C22).
"""

from __future__ import annotations

import abc
import contextlib

from vaxcert.card import session
from vaxcert.card.models import CardFiles
from vaxcert.card.session import Deadline, Transmit

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
    def read_files(self, pin: str, *, timeout: float | None = None) -> CardFiles:
        """VERIFY ``pin`` (exactly 4 ASCII digits) and read EF0001-EF0005, unparsed (C01).

        Raises PinFormatError before anything is sent, WrongPinError (with tries left),
        PinLockedError (and then never sends VERIFY), NoReaderError, NoCardError,
        NotMyNumberCardError, CardRemovedError, CardTimeoutError, CardStatusError,
        CardAccessDeniedError, or MalformedCardDataError when a file claims an impossible length.
        Nothing is verified or parsed here: that is the center's C03 check.
        """


class SessionCardReader(CardReader):
    """Shared logic: a subclass only provides :meth:`_connect`, a fresh card connection."""

    def __init__(self, *, timeout: float = DEFAULT_TIMEOUT):
        if timeout <= 0:
            raise ValueError("timeout must be positive")
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
        """See :meth:`CardReader.read_files`."""
        secret = session.pin_bytes(pin)  # C01: validated before any connection is made
        try:
            deadline = Deadline(timeout or self.timeout)
            with self._connect(deadline) as transmit:
                return session.read_card_files(transmit, secret, deadline)
        finally:
            session.wipe(secret)
