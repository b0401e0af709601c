"""A reader with a virtual card in the same process: `make demo` and fast tests, no pcscd needed."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

from vaxcert.card.errors import CardRemovedError, CardTimeoutError, NoCardError
from vaxcert.card.interfaces import DEFAULT_TIMEOUT, SessionCardReader
from vaxcert.card.session import Deadline, Transmit
from vaxcert.card.virtual import VirtualKenhojoCard


class InProcessCardReader(SessionCardReader):
    """A reader slot holding at most one :class:`VirtualKenhojoCard`; one session at a time."""

    def __init__(
        self,
        card: VirtualKenhojoCard | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        super().__init__(timeout=timeout)
        self._card = card
        self._changed = threading.Condition()
        self._session_lock = threading.Lock()  # like SCARD_SHARE_EXCLUSIVE

    @property
    def card(self) -> VirtualKenhojoCard | None:
        """The card on the reader, if any."""
        return self._card

    def insert(self, card: VirtualKenhojoCard) -> None:
        """Place a card on the reader."""
        with self._changed:
            self._card = card
            self._changed.notify_all()

    def remove(self) -> None:
        """Take the card away (a running session fails with CardRemovedError)."""
        with self._changed:
            self._card = None
            self._changed.notify_all()

    def _wait(self, present: bool, timeout: float) -> bool:
        end = time.monotonic() + timeout
        with self._changed:
            while (self._card is not None) != present:
                remaining = end - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
            return True

    def wait_for_card(self, timeout: float) -> bool:
        """See :meth:`CardReader.wait_for_card`."""
        return self._wait(True, timeout)

    def wait_for_removal(self, timeout: float) -> bool:
        """See :meth:`CardReader.wait_for_removal`."""
        return self._wait(False, timeout)

    @contextlib.contextmanager
    def _connect(self, deadline: Deadline) -> Iterator[Transmit]:
        if not self._session_lock.acquire(timeout=deadline.remaining()):
            raise CardTimeoutError("another session held the reader until the deadline")
        try:
            card = self._card
            if card is None:
                raise NoCardError("the reader is empty")
            card.power_on()

            def transmit(command: bytearray) -> bytes:
                if self._card is not card:
                    raise CardRemovedError("the card left the reader")
                return card.execute(bytes(command))

            try:
                yield transmit
            finally:
                card.power_off()  # the verified state ends with the session (C01)
        finally:
            self._session_lock.release()
