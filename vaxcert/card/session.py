"""The Kenhojo command sequence (card.md §7), independent of how APDUs travel.

A :class:`KenhojoSession` runs over any ``transmit`` function (pyscard, the in-process virtual
card): SELECT the AP, query the PIN tries without spending one, VERIFY, then read EF0001-EF0005 in
short chunks sized from each file's BER length. C01: once the query reports 0 tries, no VERIFY is
ever sent; the PIN is validated before anything reaches the card and never logged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from vaxcert.card import apdu, layout, tlv
from vaxcert.card.errors import (
    CardAccessDeniedError,
    CardCommunicationError,
    CardStatusError,
    CardTimeoutError,
    MalformedCardDataError,
    NotMyNumberCardError,
    PinFormatError,
    PinLockedError,
    WrongPinError,
)
from vaxcert.card.models import MAX_FILE_BYTES, CardFiles

# Sends one C-APDU and returns the R-APDU (data ‖ SW1 SW2); raises a CardError on transport
# failure (removal, timeout, no card).
Transmit = Callable[[bytearray], bytes]

_CHUNK = 256
_log = logging.getLogger(__name__)


class Deadline:
    """A monotonic deadline for one reader operation."""

    def __init__(self, seconds: float) -> None:
        if seconds <= 0:
            raise ValueError("a timeout is positive")
        self.seconds = seconds
        self._end = time.monotonic() + seconds

    def remaining(self) -> float:
        """Seconds left (0 when passed)."""
        return max(0.0, self._end - time.monotonic())

    def check(self, step: str) -> None:
        """Raise :class:`CardTimeoutError` once the deadline has passed."""
        if time.monotonic() >= self._end:
            raise CardTimeoutError(f"no answer within {self.seconds:g} s (at {step})")


def pin_bytes(pin: str) -> bytearray:
    """The PIN as 4 ASCII digit bytes, or PinFormatError before anything is sent (C01)."""
    if not isinstance(pin, str) or len(pin) != 4 or not all("0" <= c <= "9" for c in pin):
        # Full-width and other Unicode digits are refused too: the card compares bytes.
        raise PinFormatError()
    return bytearray(pin.encode("ascii"))


def wipe(buffer: bytearray) -> None:
    """Overwrite a secret buffer in place."""
    buffer[:] = bytes(len(buffer))


class KenhojoSession:
    """One connection's worth of Kenhojo commands; re-SELECT and re-VERIFY after every connect."""

    def __init__(self, transmit: Transmit, deadline: Deadline) -> None:
        self._transmit = transmit
        self._deadline = deadline

    def exchange(self, command: bytearray, step: str) -> tuple[bytes, int]:
        """Send ``command``; returns (data, SW). Handles 61xx (GET RESPONSE) and 6Cxx (wrong Le)."""
        self._deadline.check(step)
        response = self._transmit(command)
        if len(response) < 2:
            raise CardCommunicationError(f"{step}: answer without a status word")
        data, sw = response[:-2], int.from_bytes(response[-2:], "big")
        if sw >> 8 == 0x6C and len(command) == 5:
            # T=0 readers: the card names the right Le; repeat once with it.
            retry = bytearray(command[:4]) + bytes([sw & 0xFF])
            self._deadline.check(step)
            response = self._transmit(retry)
            if len(response) < 2:
                raise CardCommunicationError(f"{step}: answer without a status word")
            data, sw = response[:-2], int.from_bytes(response[-2:], "big")
        collected = bytearray(data)
        while sw >> 8 == 0x61:
            self._deadline.check(step)
            response = self._transmit(bytearray(apdu.get_response(sw & 0xFF)))
            if len(response) < 2:
                raise CardCommunicationError(f"{step}: answer without a status word")
            collected += response[:-2]
            sw = int.from_bytes(response[-2:], "big")
            if len(collected) > MAX_FILE_BYTES:
                raise CardCommunicationError(f"{step}: endless GET RESPONSE chain")
        # Headers and sizes only: VERIFY data is masked by describe(), answers are never logged.
        _log.debug("%s: %s -> %04X, %d bytes", step, apdu.describe(command), sw, len(collected))
        return bytes(collected), sw

    def select_ap(self) -> None:
        """SELECT the 券面事項入力補助AP; any refusal means this is not a My Number card."""
        _, sw = self.exchange(bytearray(apdu.select_df(layout.KENHOJO_AID)), "SELECT AP")
        if sw != apdu.SW_OK:
            raise NotMyNumberCardError(sw)

    def select_ef(self, fid: int) -> None:
        """SELECT an EF or key of the AP by its id."""
        step = f"SELECT EF{fid:04X}"
        _, sw = self.exchange(bytearray(apdu.select_ef(fid)), step)
        if sw != apdu.SW_OK:
            raise CardStatusError(step, sw)

    def pin_tries_left(self) -> int | None:
        """Tries left for the PIN without spending one; None when the card does not report it."""
        self.select_ef(layout.FID_PIN)
        _, sw = self.exchange(bytearray(apdu.verify_query()), "VERIFY query")
        if apdu.is_retry_counter(sw):
            return sw & 0x0F
        if sw == apdu.SW_OK:
            return None  # already verified in this session: ISO 7816-4 allows 9000 here
        if sw in (apdu.SW_REFERENCE_DATA_BLOCKED, apdu.SW_AUTH_METHOD_BLOCKED):
            return 0
        raise CardStatusError("VERIFY query", sw)

    def verify_pin(self, pin: bytearray) -> None:
        """Query, then VERIFY ``pin`` unless the PIN is blocked (C01)."""
        tries = self.pin_tries_left()
        if tries == 0:
            # C01: a blocked PIN is never tried again, not even with the right digits.
            raise PinLockedError("the card reports the PIN blocked; no VERIFY sent")
        command = bytearray(apdu.verify_query()) + bytes([len(pin)]) + pin
        try:
            _, sw = self.exchange(command, "VERIFY")
        finally:
            wipe(command)
        if sw == apdu.SW_OK:
            return
        if apdu.is_retry_counter(sw):
            left = sw & 0x0F
            if left == 0:
                raise PinLockedError("that wrong PIN used up the last try")
            raise WrongPinError(left)
        if sw in (apdu.SW_REFERENCE_DATA_BLOCKED, apdu.SW_AUTH_METHOD_BLOCKED):
            raise PinLockedError(f"VERIFY answered {sw:04X}")
        raise CardStatusError("VERIFY", sw)

    def _read_chunk(self, fid: int, offset: int, length: int) -> tuple[bytes, int]:
        step = f"READ BINARY EF{fid:04X}@{offset}"
        data, sw = self.exchange(bytearray(apdu.read_binary(offset, length)), step)
        if sw == apdu.SW_SECURITY_STATUS_NOT_SATISFIED:
            raise CardAccessDeniedError(fid)
        if sw == apdu.SW_WRONG_OFFSET:
            raise MalformedCardDataError(f"EF{fid:04X} ends before its TLV does")
        if sw not in (apdu.SW_OK, apdu.SW_END_OF_FILE_WARNING) or not data:
            raise CardStatusError(step, sw)
        if len(data) > length:
            raise CardCommunicationError(f"{step}: the card sent more than asked")
        return data, sw

    def read_file(self, fid: int) -> bytes:
        """SELECT and read one EF whole: first 256 bytes, then the rest its BER length names."""
        self.select_ef(fid)
        first, sw = self._read_chunk(fid, 0, _CHUNK)
        content = bytearray(first)
        if len(first) < _CHUNK or sw == apdu.SW_END_OF_FILE_WARNING:
            return bytes(content)  # a short answer is the end of the file (EF0001: 17 bytes)
        total = tlv.total_length(bytes(content))
        if total > MAX_FILE_BYTES:
            raise MalformedCardDataError(f"EF{fid:04X} claims {total} bytes")
        while len(content) < total:
            wanted = min(_CHUNK, total - len(content))
            chunk, _ = self._read_chunk(fid, len(content), wanted)
            if len(chunk) < wanted:
                raise MalformedCardDataError(f"EF{fid:04X} ends before its TLV does")
            content += chunk
        return bytes(content)

    def read_files(self) -> CardFiles:
        """EF0001-EF0005 (needs a verified PIN for 0001-0003)."""
        return CardFiles(*(self.read_file(fid) for fid in layout.DATA_FILES))


def read_card_files(transmit: Transmit, pin: bytearray, deadline: Deadline) -> CardFiles:
    """The whole sequence of card.md §7 on a fresh connection."""
    session = KenhojoSession(transmit, deadline)
    session.select_ap()
    session.verify_pin(pin)
    return session.read_files()


def query_pin_tries(transmit: Transmit, deadline: Deadline) -> int | None:
    """SELECT the AP and ask the PIN tries left (spends none)."""
    session = KenhojoSession(transmit, deadline)
    session.select_ap()
    return session.pin_tries_left()
