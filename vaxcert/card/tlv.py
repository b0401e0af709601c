"""BER-TLV as the Kenhojo AP writes it (card.md §5): private-class tags, definite lengths.

Every decoder raises :class:`MalformedCardDataError` and nothing else on bad input, so a card or a
request body can never turn into a 500.
"""

from __future__ import annotations

from dataclasses import dataclass

from vaxcert.card.errors import MalformedCardDataError

# Longest length field we accept: 82 xx xx (the largest Kenhojo file is 568 bytes).
_MAX_LENGTH_BYTES = 2
_MAX_TAG_BYTES = 3


@dataclass(frozen=True, slots=True)
class Tlv:
    """One decoded TLV: its tag bytes, value, and where it sits in the buffer it came from."""

    tag: bytes
    value: bytes
    start: int
    header_length: int

    @property
    def end(self) -> int:
        """Offset just past the value."""
        return self.start + self.header_length + len(self.value)

    @property
    def tag_number(self) -> int:
        """The tag number without class and constructed bits (FF10 and DF10 are both 16)."""
        return tag_number(self.tag)

    @property
    def is_private(self) -> bool:
        """True for private-class tags (DFxx, FFxx)."""
        return self.tag[0] & 0xC0 == 0xC0


def tag_number(tag: bytes) -> int:
    """The number of a BER tag, ignoring class and the constructed bit."""
    if len(tag) == 1:
        return tag[0] & 0x1F
    number = 0
    for byte in tag[1:]:
        number = (number << 7) | (byte & 0x7F)
    return number


def read_header(data: bytes, offset: int = 0) -> tuple[bytes, int, int]:
    """Decode the tag and length at ``offset``; returns (tag, value length, header length)."""
    pos = offset
    if pos >= len(data):
        raise MalformedCardDataError(f"TLV expected at offset {offset}, data ends")
    first = data[pos]
    pos += 1
    if first & 0x1F == 0x1F:
        while True:
            if pos >= len(data):
                raise MalformedCardDataError(f"tag at offset {offset} is cut short")
            byte = data[pos]
            pos += 1
            if pos - offset > _MAX_TAG_BYTES:
                raise MalformedCardDataError(f"tag at offset {offset} is too long")
            if not byte & 0x80:
                break
    tag = bytes(data[offset:pos])
    if pos >= len(data):
        raise MalformedCardDataError(f"length of tag {tag.hex().upper()} is missing")
    first_length = data[pos]
    pos += 1
    if first_length < 0x80:
        length = first_length
    else:
        count = first_length & 0x7F
        if count == 0 or count > _MAX_LENGTH_BYTES:
            raise MalformedCardDataError(
                f"tag {tag.hex().upper()} has an unsupported length form {first_length:02X}"
            )
        if pos + count > len(data):
            raise MalformedCardDataError(f"length of tag {tag.hex().upper()} is cut short")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    return tag, length, pos - offset


def decode_one(data: bytes, offset: int = 0) -> Tlv:
    """Decode exactly one TLV at ``offset``; its value must be complete."""
    tag, length, header_length = read_header(data, offset)
    value_start = offset + header_length
    if value_start + length > len(data):
        raise MalformedCardDataError(
            f"tag {tag.hex().upper()} claims {length} bytes, {len(data) - value_start} present"
        )
    return Tlv(tag, bytes(data[value_start : value_start + length]), offset, header_length)


def decode_all(data: bytes, offset: int = 0) -> list[Tlv]:
    """Decode consecutive TLVs from ``offset`` to the end of ``data``; no trailing garbage."""
    items: list[Tlv] = []
    pos = offset
    while pos < len(data):
        item = decode_one(data, pos)
        items.append(item)
        pos = item.end
    return items


def total_length(prefix: bytes) -> int:
    """Header plus value length of the TLV starting ``prefix`` (enough bytes for the header)."""
    _, length, header_length = read_header(prefix, 0)
    return header_length + length


def encode_length(length: int) -> bytes:
    """BER definite length: one byte below 128, else 81 xx or 82 xx xx."""
    if length < 0x80:
        return bytes([length])
    if length <= 0xFF:
        return bytes([0x81, length])
    if length <= 0xFFFF:
        return bytes([0x82]) + length.to_bytes(2, "big")
    raise ValueError("TLV values above 65535 bytes are not used on this card")


def encode(tag: bytes, value: bytes) -> bytes:
    """One TLV: ``tag`` (already encoded) ‖ BER length ‖ ``value``."""
    return tag + encode_length(len(value)) + value
