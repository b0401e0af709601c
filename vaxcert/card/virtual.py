"""A virtual My Number card: the Kenhojo AP behaving exactly per card.md §8.

State: current DF, current EF, the set of verified key references, and per key its value and
retry counter. Power off/on/reset clears the DF, EF and security status but never the counters,
as on a real card. Every command is recorded in :attr:`VirtualKenhojoCard.log` as header, data
length and status word only: never the data, so the PIN never lands in the log (C01, C08).
"""

from __future__ import annotations

import hmac
import threading
from dataclasses import dataclass, field

from vaxcert.card import apdu, layout
from vaxcert.card.apdu import Command
from vaxcert.card.models import CardFiles

# Contact ATR of the card (OpenSC card-jpki.c, card.md §9): T=1, no historical bytes.
ATR = bytes.fromhex("3BE000FF8131FE4514")
PIN_MAX_TRIES = 3  # card.md §3: three consecutive wrong entries lock the Kenhojo PIN
# 照合番号A/B retry limits are [unknown] (card.md §12); the virtual card uses the PIN's.
PASSCODE_MAX_TRIES = 3

# Other APs of the card: selectable, but the virtual card models no files in them.
_OTHER_AIDS = (
    bytes.fromhex("D392F000260100000001"),  # 公的個人認証AP (JPKI)
    bytes.fromhex("D3921000310001010402"),  # 券面事項確認AP
    bytes.fromhex("D3921000310001010100"),  # 共通カードAP
    bytes.fromhex("D3921000310001010401"),  # 住基AP
)


@dataclass
class _Key:
    value: bytearray = field(repr=False)
    tries_left: int
    max_tries: int


@dataclass(frozen=True)
class _DataFile:
    data: bytes = field(repr=False)
    opened_by: frozenset[int]  # key references any one of which opens it; empty: free to read


@dataclass(frozen=True, slots=True)
class CardLogEntry:
    """One event at the card: a control event or an APDU header with data length and SW."""

    event: str  # "apdu", "power_on", "power_off", "reset"
    ins: int = 0
    p1: int = 0
    p2: int = 0
    data_length: int = 0
    sw: int = 0

    def to_json(self) -> dict[str, object]:
        """Plain data for a JSON-lines card log (no command data, C08)."""
        if self.event != "apdu":
            return {"event": self.event}
        return {
            "event": "apdu",
            "ins": f"{self.ins:02X}",
            "p1": f"{self.p1:02X}",
            "p2": f"{self.p2:02X}",
            "data_length": self.data_length,
            "sw": f"{self.sw:04X}",
        }

    @property
    def is_pin_attempt(self) -> bool:
        """True for a VERIFY that carried data (a try, as opposed to a query)."""
        return self.event == "apdu" and self.ins == apdu.INS_VERIFY and self.data_length > 0


def _sw(sw: int, data: bytes = b"") -> bytes:
    return data + sw.to_bytes(2, "big")


class VirtualKenhojoCard:
    """The card model. ``has_kenhojo=False`` makes a card without the AP (not a My Number card)."""

    def __init__(
        self,
        files: CardFiles,
        *,
        pin: str,
        passcode_a: str,
        passcode_b: str,
        pin_tries_left: int = PIN_MAX_TRIES,
        has_kenhojo: bool = True,
    ) -> None:
        if not 0 <= pin_tries_left <= PIN_MAX_TRIES:
            raise ValueError("pin_tries_left is 0..3")
        self._lock = threading.Lock()
        self._keys: dict[int, _Key] = {
            layout.FID_PIN: _Key(bytearray(pin.encode("ascii")), pin_tries_left, PIN_MAX_TRIES),
            layout.FID_PIN_A: _Key(
                bytearray(passcode_a.encode("ascii")), PASSCODE_MAX_TRIES, PASSCODE_MAX_TRIES
            ),
            layout.FID_PIN_B: _Key(
                bytearray(passcode_b.encode("ascii")), PASSCODE_MAX_TRIES, PASSCODE_MAX_TRIES
            ),
        }
        pin_or_a = frozenset((layout.FID_PIN, layout.FID_PIN_A))
        pin_or_b = frozenset((layout.FID_PIN, layout.FID_PIN_B))
        any_key = frozenset((layout.FID_PIN, layout.FID_PIN_A, layout.FID_PIN_B))
        self._files: dict[int, _DataFile] = {
            layout.FID_MY_NUMBER: _DataFile(files.ef0001, pin_or_a),
            layout.FID_BASIC_INFO: _DataFile(files.ef0002, pin_or_b),
            layout.FID_INTEGRITY: _DataFile(files.ef0003, any_key),
            layout.FID_CVC: _DataFile(files.ef0004, frozenset()),
            layout.FID_AP_INFO: _DataFile(files.ef0005, frozenset()),
        }
        self._dfs: dict[bytes, bool] = {aid: False for aid in _OTHER_AIDS} if has_kenhojo else {}
        if has_kenhojo:
            self._dfs[layout.KENHOJO_AID] = True
        self.files = files
        self.log: list[CardLogEntry] = []
        self._current_df: bytes | None = None
        self._current_ef: int | None = None
        self._verified: set[int] = set()

    # --- what the tests and the CLI look at -----------------------------------------------

    @property
    def atr(self) -> bytes:
        """The answer-to-reset."""
        return ATR

    @property
    def pin_tries_left(self) -> int:
        """The PIN retry counter (0: blocked)."""
        return self._keys[layout.FID_PIN].tries_left

    def pin_attempts(self) -> int:
        """How many VERIFY commands with data the card has received for any key."""
        return sum(1 for entry in self.log if entry.is_pin_attempt)

    # --- power ---------------------------------------------------------------------------

    def power_on(self) -> None:
        """Contact power-up: fresh security status."""
        with self._lock:
            self._clear_session("power_on")

    def power_off(self) -> None:
        """Power-down: the security status is gone (card.md §3)."""
        with self._lock:
            self._clear_session("power_off")

    def reset(self) -> None:
        """Warm reset: the same as a power cycle for the security status."""
        with self._lock:
            self._clear_session("reset")

    def _clear_session(self, event: str) -> None:
        self._current_df = None
        self._current_ef = None
        self._verified.clear()
        self.log.append(CardLogEntry(event))

    # --- commands ------------------------------------------------------------------------

    def execute(self, raw: bytes) -> bytes:
        """Process one C-APDU and return the R-APDU (data ‖ SW1 SW2)."""
        with self._lock:
            try:
                command = apdu.parse(raw)
            except apdu.MalformedApdu:
                response = _sw(apdu.SW_WRONG_LENGTH)
                header = (raw + bytes(4))[:4]
                self._record(header[1], header[2], header[3], 0, response)
                return response
            response = self._dispatch(command)
            self._record(command.ins, command.p1, command.p2, len(command.data), response)
            return response

    def _record(self, ins: int, p1: int, p2: int, data_length: int, response: bytes) -> None:
        sw = int.from_bytes(response[-2:], "big")
        self.log.append(CardLogEntry("apdu", ins, p1, p2, data_length, sw))

    def _dispatch(self, command: Command) -> bytes:
        if command.cla in (0x01, 0x02, 0x03):
            return _sw(apdu.SW_LOGICAL_CHANNEL_NOT_SUPPORTED)  # only channel 0 (card.md §1)
        if command.cla != 0x00:
            return _sw(apdu.SW_CLA_NOT_SUPPORTED)
        if command.ins == apdu.INS_SELECT:
            return self._select(command)
        if command.ins == apdu.INS_VERIFY:
            return self._verify(command)
        if command.ins == apdu.INS_CHANGE_REFERENCE_DATA:
            return self._change(command)
        if command.ins == apdu.INS_READ_BINARY:
            return self._read_binary(command)
        return _sw(apdu.SW_INS_NOT_SUPPORTED)

    def _in_kenhojo(self) -> bool:
        return self._current_df is not None and self._dfs.get(self._current_df, False)

    def _select(self, command: Command) -> bytes:
        if command.p1 == 0x04:
            if command.p2 not in (0x0C, 0x00):
                return _sw(apdu.SW_WRONG_P1P2)
            if not command.data:
                return _sw(apdu.SW_WRONG_LENGTH)
            if command.data not in self._dfs:  # full AID only, never a prefix
                return _sw(apdu.SW_FILE_NOT_FOUND)
            # A DF change clears the EF and the security status (choice for an [unknown]).
            self._current_df = command.data
            self._current_ef = None
            self._verified.clear()
            return _sw(apdu.SW_OK)  # P2=00 would return an FCI; its content is [unknown]
        if command.p1 == 0x02:
            if command.p2 not in (0x0C, 0x00):
                return _sw(apdu.SW_WRONG_P1P2)
            if len(command.data) != 2:
                return _sw(apdu.SW_WRONG_LENGTH)
            fid = int.from_bytes(command.data, "big")
            if not self._in_kenhojo() or (fid not in self._files and fid not in self._keys):
                return _sw(apdu.SW_FILE_NOT_FOUND)
            self._current_ef = fid
            return _sw(apdu.SW_OK)
        if command.p1 == 0x00:
            # SELECT MF: 6A86 after a cold reset, a no-op inside a DF (card.md §1).
            return _sw(apdu.SW_WRONG_P1P2 if self._current_df is None else apdu.SW_OK)
        return _sw(apdu.SW_WRONG_P1P2)

    def _key_reference(self, p2: int) -> int | bytes:
        """The key EF named by P2 (80 = current EF, 80|SFI), or an error R-APDU."""
        if not p2 & 0x80 or p2 & 0x60:
            return _sw(apdu.SW_WRONG_P1P2)
        sfi = p2 & 0x1F
        if sfi:
            if not self._in_kenhojo() or (sfi not in self._keys and sfi not in self._files):
                return _sw(apdu.SW_FILE_NOT_FOUND)
            fid = sfi
        else:
            if self._current_ef is None:
                return _sw(apdu.SW_NO_CURRENT_EF)
            fid = self._current_ef
        if fid not in self._keys:
            return _sw(apdu.SW_INCOMPATIBLE_FILE_STRUCTURE)
        return fid

    def _verify(self, command: Command) -> bytes:
        if command.p1 != 0x00:
            return _sw(apdu.SW_WRONG_P1P2)
        fid = self._key_reference(command.p2)
        if isinstance(fid, bytes):
            return fid
        key = self._keys[fid]
        if not command.data:
            # Query (JICSAP 6.4.9(5)): spends no try.
            if fid in self._verified:
                return _sw(apdu.SW_OK)
            return _sw(0x63C0 | key.tries_left)
        if key.tries_left == 0:
            return _sw(apdu.SW_REFERENCE_DATA_BLOCKED)
        if hmac.compare_digest(bytes(key.value), command.data):
            key.tries_left = key.max_tries
            self._verified.add(fid)
            return _sw(apdu.SW_OK)
        key.tries_left -= 1
        self._verified.discard(fid)
        return _sw(0x63C0 | key.tries_left)

    def _change(self, command: Command) -> bytes:
        if command.p1 != 0x01:
            return _sw(apdu.SW_WRONG_P1P2)
        fid = self._key_reference(command.p2)
        if isinstance(fid, bytes):
            return fid
        if fid not in self._verified:
            return _sw(apdu.SW_SECURITY_STATUS_NOT_SATISFIED)
        key = self._keys[fid]
        if fid == layout.FID_PIN and (
            len(command.data) != 4 or not all(0x30 <= b <= 0x39 for b in command.data)
        ):
            return _sw(apdu.SW_WRONG_DATA)
        key.value[:] = command.data
        return _sw(apdu.SW_OK)

    def _read_binary(self, command: Command) -> bytes:
        if command.data or command.le is None:
            return _sw(apdu.SW_WRONG_LENGTH)
        if command.p1 & 0x80:
            if command.p1 & 0x60:
                return _sw(apdu.SW_WRONG_P1P2)
            sfi = command.p1 & 0x1F
            if not self._in_kenhojo() or (sfi not in self._files and sfi not in self._keys):
                return _sw(apdu.SW_FILE_NOT_FOUND)
            self._current_ef = sfi  # a read by SFI makes that EF current
            offset = command.p2
        else:
            if self._current_ef is None:
                return _sw(apdu.SW_NO_CURRENT_EF)
            offset = ((command.p1 << 8) | command.p2) & 0x7FFF
        ef = self._files.get(self._current_ef)
        if ef is None:
            return _sw(apdu.SW_INCOMPATIBLE_FILE_STRUCTURE)  # a key EF is not readable
        if ef.opened_by and not ef.opened_by & self._verified:
            return _sw(apdu.SW_SECURITY_STATUS_NOT_SATISFIED)
        if offset >= len(ef.data):
            return _sw(apdu.SW_WRONG_OFFSET)
        return _sw(apdu.SW_OK, ef.data[offset : offset + command.le])
