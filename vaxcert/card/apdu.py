"""ISO 7816-4 APDUs of the Kenhojo sequence (card.md §1, §3, §4): builders, a parser, status words.

:func:`describe` renders a command for logs with the data of VERIFY and CHANGE REFERENCE DATA
masked, so PIN digits never reach a log line (C01, C08).
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Status words.
SW_OK = 0x9000
SW_END_OF_FILE_WARNING = 0x6282  # fewer bytes than Le: end of file reached
SW_WRONG_LENGTH = 0x6700
SW_LOGICAL_CHANNEL_NOT_SUPPORTED = 0x6881
SW_INCOMPATIBLE_FILE_STRUCTURE = 0x6981
SW_SECURITY_STATUS_NOT_SATISFIED = 0x6982
SW_AUTH_METHOD_BLOCKED = 0x6983
SW_REFERENCE_DATA_BLOCKED = 0x6984  # "referenced IEF locked"
SW_NO_CURRENT_EF = 0x6986
SW_WRONG_DATA = 0x6A80
SW_FILE_NOT_FOUND = 0x6A82
SW_WRONG_P1P2 = 0x6A86
SW_WRONG_OFFSET = 0x6B00
SW_INS_NOT_SUPPORTED = 0x6D00
SW_CLA_NOT_SUPPORTED = 0x6E00

INS_SELECT = 0xA4
INS_VERIFY = 0x20
INS_CHANGE_REFERENCE_DATA = 0x24
INS_READ_BINARY = 0xB0
INS_GET_RESPONSE = 0xC0

_SECRET_INS = frozenset((INS_VERIFY, INS_CHANGE_REFERENCE_DATA))


def is_retry_counter(sw: int) -> bool:
    """True for ``63Cx``: a wrong PIN (or a query) with x tries left."""
    return sw & 0xFFF0 == 0x63C0


def select_df(aid: bytes) -> bytes:
    """SELECT by DF name, first occurrence, no FCI: ``00 A4 04 0C Lc AID`` (case 3)."""
    return bytes([0x00, INS_SELECT, 0x04, 0x0C, len(aid)]) + aid


def select_ef(fid: int) -> bytes:
    """SELECT an EF of the current DF by its 2-byte id: ``00 A4 02 0C 02 FID``."""
    return bytes([0x00, INS_SELECT, 0x02, 0x0C, 0x02]) + fid.to_bytes(2, "big")


def verify_query() -> bytes:
    """VERIFY without data (case 1): asks the tries left of the current key, spends none."""
    return bytes([0x00, INS_VERIFY, 0x00, 0x80])


def verify(pin: bytes | bytearray) -> bytes:
    """VERIFY the current key with ``pin`` (ASCII digit bytes)."""
    return bytes([0x00, INS_VERIFY, 0x00, 0x80, len(pin)]) + bytes(pin)


def change_reference_data(new_pin: bytes | bytearray) -> bytes:
    """CHANGE REFERENCE DATA of the current key, after a successful VERIFY."""
    return bytes([0x00, INS_CHANGE_REFERENCE_DATA, 0x01, 0x80, len(new_pin)]) + bytes(new_pin)


def read_binary(offset: int, length: int) -> bytes:
    """READ BINARY at a 15-bit offset of the current EF, short Le (``length`` 1..256)."""
    if not 0 <= offset <= 0x7FFF or not 1 <= length <= 256:
        raise ValueError("offset is 15 bits and a short Le is 1..256")
    return bytes([0x00, INS_READ_BINARY, offset >> 8, offset & 0xFF, length & 0xFF])


def get_response(length: int) -> bytes:
    """GET RESPONSE for a ``61xx`` answer (T=0 readers)."""
    return bytes([0x00, INS_GET_RESPONSE, 0x00, 0x00, length & 0xFF])


def describe(command: bytes | bytearray) -> str:
    """Hex of a command for logs; the data of VERIFY/CHANGE is replaced by its length (C01)."""
    if len(command) >= 4 and command[1] in _SECRET_INS and len(command) > 5:
        return f"{command[:4].hex(' ').upper()} <{len(command) - 5} bytes masked>"
    return command.hex(" ").upper()


class MalformedApdu(ValueError):  # noqa: N818 - mirrors the ISO term; maps to SW 6700
    """A command whose length fields do not match its size."""


@dataclass(frozen=True, slots=True)
class Command:
    """A parsed command APDU: header, data and expected length (None when absent)."""

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = field(repr=False)
    le: int | None


def parse(apdu: bytes) -> Command:
    """Parse short and extended cases 1-4 (ISO 7816-3 §12.1); bad lengths raise MalformedApdu."""
    if len(apdu) < 4:
        raise MalformedApdu("shorter than a header")
    cla, ins, p1, p2 = apdu[0], apdu[1], apdu[2], apdu[3]
    body = apdu[4:]
    if not body:
        return Command(cla, ins, p1, p2, b"", None)  # case 1
    if len(body) == 1:
        return Command(cla, ins, p1, p2, b"", body[0] or 256)  # case 2S
    if body[0] != 0:
        lc = body[0]
        if len(body) == 1 + lc:
            return Command(cla, ins, p1, p2, bytes(body[1:]), None)  # case 3S
        if len(body) == 2 + lc:
            return Command(cla, ins, p1, p2, bytes(body[1 : 1 + lc]), body[-1] or 256)  # case 4S
        raise MalformedApdu("short Lc does not match the body")
    # Extended length: body[0] == 0.
    if len(body) == 3:
        value = int.from_bytes(body[1:3], "big")
        return Command(cla, ins, p1, p2, b"", value or 65536)  # case 2E
    if len(body) < 3:
        raise MalformedApdu("extended length is cut short")
    lc = int.from_bytes(body[1:3], "big")
    if lc == 0:
        raise MalformedApdu("extended Lc of zero")
    if len(body) == 3 + lc:
        return Command(cla, ins, p1, p2, bytes(body[3:]), None)  # case 3E
    if len(body) == 5 + lc:
        value = int.from_bytes(body[-2:], "big")
        return Command(cla, ins, p1, p2, bytes(body[3 : 3 + lc]), value or 65536)  # case 4E
    raise MalformedApdu("extended Lc does not match the body")
