"""BER-TLV decoding (card.md §4, §5): long-form lengths, private tags, typed errors only."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vaxcert.card import tlv
from vaxcert.card.errors import MalformedCardDataError


def test_short_and_long_form_lengths() -> None:
    assert tlv.read_header(bytes.fromhex("FF2065")) == (b"\xff\x20", 0x65, 3)
    assert tlv.read_header(bytes.fromhex("FF208180")) == (b"\xff\x20", 0x80, 4)
    assert tlv.read_header(bytes.fromhex("FF3082014B")) == (b"\xff\x30", 0x14B, 5)
    assert tlv.read_header(bytes.fromhex("7F21820233")) == (b"\x7f\x21", 0x233, 5)
    assert tlv.read_header(bytes.fromhex("9003")) == (b"\x90", 3, 2)


def test_total_length_from_a_prefix() -> None:
    assert tlv.total_length(bytes.fromhex("7F21820233") + bytes(10)) == 568
    assert tlv.total_length(bytes.fromhex("FF3082014B")) == 336


def test_tag_number_ignores_the_constructed_bit() -> None:
    assert tlv.tag_number(b"\xff\x10") == tlv.tag_number(b"\xdf\x10") == 16


def test_encode_round_trip_across_length_forms() -> None:
    for size in (0, 1, 127, 128, 255, 256, 1000):
        encoded = tlv.encode(b"\xdf\x22", bytes(size))
        item = tlv.decode_one(encoded)
        assert (item.tag, len(item.value), item.end) == (b"\xdf\x22", size, len(encoded))


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xff",  # tag cut short
        b"\xff\x10",  # no length
        b"\xff\x10\x80",  # indefinite length
        b"\xff\x10\x84\x00\x00\x00\x01",  # length of length too large
        b"\xff\x10\x82\x01",  # length cut short
        b"\xff\x10\x05abc",  # value cut short
        b"\xff\xff\xff\xff\x01\x00",  # tag too long
    ],
)
def test_malformed_headers_raise_the_typed_error(data: bytes) -> None:
    with pytest.raises(MalformedCardDataError):
        tlv.decode_one(data)
    if data:
        with pytest.raises(MalformedCardDataError):
            tlv.decode_all(data)


@given(st.binary(max_size=600))
def test_fuzz_decoders_raise_only_typed_errors(data: bytes) -> None:
    for decoder in (tlv.decode_all, tlv.decode_one, tlv.total_length, tlv.read_header):
        with contextlib.suppress(MalformedCardDataError):
            decoder(data)
