"""A PC/SC reader over pyscard's low-level ``smartcard.scard`` API (pcscd on Linux).

pyscard is imported only when a method runs, so the center and `make demo` never need
libpcsclite. Each operation establishes its own PC/SC context (safe from any Flask thread),
connects exclusively, and disconnects with SCARD_UNPOWER_CARD so the verified PIN state dies with
the connection (C01). Waiting for insertion/removal uses SCardGetStatusChange with a timeout.

SCardTransmit has no timeout of its own, and a reader driver that never answers (vpcd with a hung
card, measured here: blocked until the card resumed) would block the caller for good. So a card
session runs in a worker thread and the caller waits at most its timeout: it then gets
CardTimeoutError, and the reader stays busy (CardTimeoutError again) until the driver returns.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from vaxcert.card import session
from vaxcert.card.errors import (
    CardCommunicationError,
    CardError,
    CardRemovedError,
    CardTimeoutError,
    NoCardError,
    NoReaderError,
)
from vaxcert.card.interfaces import DEFAULT_TIMEOUT, SessionCardReader
from vaxcert.card.models import CardFiles
from vaxcert.card.session import Deadline, Transmit

# PC/SC return codes we tell apart (winscard.h), as unsigned 32-bit values.
_SUCCESS = 0x00000000
_E_TIMEOUT = 0x8010000A
_E_SHARING_VIOLATION = 0x8010000B
_E_NO_SMARTCARD = 0x8010000C
_E_UNKNOWN_READER = 0x80100009
_E_READER_UNAVAILABLE = 0x80100017
_E_NO_SERVICE = 0x8010001D
_E_SERVICE_STOPPED = 0x8010001E
_E_NO_READERS_AVAILABLE = 0x8010002E
_W_REMOVED_CARD = 0x80100069
_W_RESET_CARD = 0x80100068
_NO_SERVICE = frozenset((_E_NO_SERVICE, _E_SERVICE_STOPPED))
_NO_READER = frozenset((_E_UNKNOWN_READER, _E_READER_UNAVAILABLE, _E_NO_READERS_AVAILABLE))
_NO_CARD = frozenset((_E_NO_SMARTCARD, _W_REMOVED_CARD))
# How long a failed transmit may wait for pcscd to notice a removal (it polls the reader).
_REMOVAL_GRACE_MS = 1500
_SHARING_RETRY_S = 0.02
# How much longer than its own deadline a session may take to report before the caller gives up.
_SESSION_GRACE_S = 0.5

T = TypeVar("T")


def _scard() -> Any:
    """pyscard's low-level module, imported on first use (needs libpcsclite)."""
    try:
        return importlib.import_module("smartcard.scard")
    except ImportError as exc:  # pyscard missing, or libpcsclite not installed
        raise NoReaderError(f"pyscard is not available: {exc.__class__.__name__}") from None


def _code(hresult: int) -> int:
    return hresult & 0xFFFFFFFF


def _message(hresult: int) -> str:
    try:
        text = str(_scard().SCardGetErrorMessage(hresult))
    except (NoReaderError, TypeError, ValueError):
        text = "PC/SC error"
    return f"{text} (0x{_code(hresult):08X})"


class PcscCardReader(SessionCardReader):
    """The card in one PC/SC reader, named exactly or by prefix (None: the first reader)."""

    def __init__(
        self,
        reader: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        super().__init__(timeout=timeout)
        self.reader = reader
        self._lock = threading.Lock()  # one session per reader from this process

    # --- context and reader selection ---------------------------------------------------

    @contextlib.contextmanager
    def _context(self) -> Iterator[Any]:
        scard = _scard()
        hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        if _code(hresult) != _SUCCESS:
            raise NoReaderError(f"PC/SC service unavailable: {_message(hresult)}")
        try:
            yield context
        finally:
            scard.SCardReleaseContext(context)

    def _list(self, context: Any) -> list[str]:
        hresult, names = _scard().SCardListReaders(context, [])
        code = _code(hresult)
        if code == _E_NO_READERS_AVAILABLE:
            return []
        if code in _NO_SERVICE:
            raise NoReaderError(f"PC/SC service unavailable: {_message(hresult)}")
        if code != _SUCCESS:
            raise NoReaderError(f"cannot list readers: {_message(hresult)}")
        return [str(name) for name in names]

    def readers(self) -> list[str]:
        """Names of the attached readers."""
        with self._context() as context:
            return self._list(context)

    def _pick(self, context: Any) -> str:
        names = self._list(context)
        if not names:
            raise NoReaderError("no card reader attached")
        if self.reader is None:
            return names[0]
        for name in names:
            if name == self.reader:
                return name
        for name in names:
            if name.startswith(self.reader):
                return name
        raise NoReaderError(f"reader {self.reader!r} is not attached")

    # --- insertion and removal ----------------------------------------------------------

    def _state(self, context: Any, name: str, known: int, timeout_ms: int) -> int | None:
        """The reader's event state after a change from ``known``; None on timeout."""
        scard = _scard()
        hresult, states = scard.SCardGetStatusChange(context, timeout_ms, [(name, known)])
        code = _code(hresult)
        if code == _E_TIMEOUT:
            return None
        if code in _NO_READER or code in _NO_SERVICE:
            raise NoReaderError(f"reader {name!r} went away: {_message(hresult)}")
        if code != _SUCCESS:
            raise CardCommunicationError(f"status change failed: {_message(hresult)}")
        changed: int = scard.SCARD_STATE_CHANGED
        return int(states[0][1]) & ~changed

    def _wait(self, want_present: bool, timeout: float) -> bool:
        scard = _scard()
        end = time.monotonic() + timeout
        with self._context() as context:
            name = self._pick(context)
            state = self._state(context, name, scard.SCARD_STATE_UNAWARE, 0)
            while True:
                if state is not None:
                    present = bool(state & scard.SCARD_STATE_PRESENT) and not (
                        state & scard.SCARD_STATE_MUTE
                    )
                    if present == want_present and (present or state & scard.SCARD_STATE_EMPTY):
                        return True
                remaining_ms = int((end - time.monotonic()) * 1000)
                if remaining_ms <= 0:
                    return False
                known = state if state is not None else scard.SCARD_STATE_UNAWARE
                new_state = self._state(context, name, known, remaining_ms)
                if new_state is None:
                    return False
                state = new_state

    def wait_for_card(self, timeout: float) -> bool:
        """See :meth:`CardReader.wait_for_card`."""
        return self._wait(True, timeout)

    def wait_for_removal(self, timeout: float) -> bool:
        """See :meth:`CardReader.wait_for_removal`."""
        return self._wait(False, timeout)

    # --- a card session -----------------------------------------------------------------

    def _bounded(self, operation: Callable[[], T], timeout: float) -> T:
        """Run ``operation`` in a worker thread; give up after ``timeout`` plus a grace."""
        outcome: list[T] = []
        failure: list[BaseException] = []

        def work() -> None:
            try:
                outcome.append(operation())
            except BaseException as exc:  # re-raised in the caller's thread
                failure.append(exc)

        worker = threading.Thread(target=work, name="pcsc-session", daemon=True)
        worker.start()
        worker.join(timeout + _SESSION_GRACE_S)
        if worker.is_alive():
            raise CardTimeoutError(f"the reader did not answer within {timeout:g} s")
        if failure:
            raise failure[0]
        return outcome[0]

    def pin_tries_left(self, *, timeout: float | None = None) -> int | None:
        """See :meth:`CardReader.pin_tries_left`; bounded even if the driver hangs."""
        limit = timeout or self.timeout
        return self._bounded(
            lambda: super(PcscCardReader, self).pin_tries_left(timeout=limit), limit
        )

    def read_files(self, pin: str, *, timeout: float | None = None) -> CardFiles:
        """See :meth:`SessionCardReader.read_files`; bounded even if the driver hangs."""
        limit = timeout or self.timeout
        session.pin_bytes(pin)  # C01: a malformed PIN fails here, before any thread or connection
        return self._bounded(
            lambda: super(PcscCardReader, self).read_files(pin, timeout=limit), limit
        )

    def _connect_error(self, hresult: int) -> CardError:
        code = _code(hresult)
        if code in _NO_CARD:
            return NoCardError("the reader is empty")
        if code in _NO_READER or code in _NO_SERVICE:
            return NoReaderError(_message(hresult))
        return CardCommunicationError(f"connect failed: {_message(hresult)}")

    def _transmit_error(
        self, context: Any, name: str, hresult: int | None, deadline: Deadline
    ) -> CardError:
        """Classify a failed transmit; ``hresult`` None means an answer without a status word."""
        code = _SUCCESS if hresult is None else _code(hresult)
        what = "empty answer" if hresult is None else _message(hresult)
        if code in _NO_CARD:
            return CardRemovedError(what)
        if code in _NO_SERVICE or code in _NO_READER:
            return NoReaderError(what)
        # vpcd answers an empty R-APDU when its card vanishes, and pcscd learns of a removal only
        # at its next poll: wait briefly for the reader state to tell removal from a fault.
        scard = _scard()
        grace = min(_REMOVAL_GRACE_MS, int(deadline.remaining() * 1000))
        end = time.monotonic() + grace / 1000
        state = self._state(context, name, scard.SCARD_STATE_UNAWARE, 0)
        while state is not None and state & scard.SCARD_STATE_PRESENT:
            remaining_ms = int((end - time.monotonic()) * 1000)
            if remaining_ms <= 0:
                break
            state = self._state(context, name, state, remaining_ms)
        if state is None or not state & scard.SCARD_STATE_PRESENT:
            return CardRemovedError(f"card left the reader ({what})")
        if code == _W_RESET_CARD:
            return CardCommunicationError("another application reset the card")
        return CardCommunicationError(f"transmit failed: {what}")

    @contextlib.contextmanager
    def _connect(self, deadline: Deadline) -> Iterator[Transmit]:
        scard = _scard()
        if not self._lock.acquire(timeout=deadline.remaining()):
            raise CardTimeoutError("another session held the reader until the deadline")
        try:
            with self._context() as context:
                name = self._pick(context)
                while True:
                    deadline.check("connect")
                    # Exclusive: no other application may interleave commands or ride on the
                    # verified state of this session (C01).
                    hresult, card, protocol = scard.SCardConnect(
                        context,
                        name,
                        scard.SCARD_SHARE_EXCLUSIVE,
                        scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1,
                    )
                    if _code(hresult) != _E_SHARING_VIOLATION:
                        break
                    time.sleep(_SHARING_RETRY_S)  # another process holds the card: retry
                if _code(hresult) != _SUCCESS:
                    raise self._connect_error(hresult)
                pci = (
                    scard.SCARD_PCI_T1
                    if protocol == scard.SCARD_PROTOCOL_T1
                    else scard.SCARD_PCI_T0
                )

                def transmit(command: bytearray) -> bytes:
                    buffer = list(command)
                    try:
                        hresult, response = scard.SCardTransmit(card, pci, buffer)
                    finally:
                        buffer.clear()  # the VERIFY data lives no longer than needed (C01)
                    if _code(hresult) != _SUCCESS:
                        raise self._transmit_error(context, name, hresult, deadline)
                    if len(response) < 2:
                        raise self._transmit_error(context, name, None, deadline)
                    return bytes(response)

                try:
                    yield transmit
                finally:
                    scard.SCardDisconnect(card, scard.SCARD_UNPOWER_CARD)
        finally:
            self._lock.release()
