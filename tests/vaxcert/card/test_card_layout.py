"""EF layouts (card.md §5): built byte-exact for the virtual card, parsed strictly from the card."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vaxcert import pki, residents
from vaxcert.card import cards, layout, tlv
from vaxcert.card.errors import MalformedCardDataError
from vaxcert.card.models import CardFiles

CANARY = residents.CANARY


@pytest.fixture(scope="module")
def canary_files(issuer: cards.CardIssuer) -> CardFiles:
    return cards.card_files("canary", issuer)


def test_ef0001_is_17_bytes_with_filler() -> None:
    data = layout.build_my_number_file("123456789018")
    assert data == bytes.fromhex("FF100C") + b"123456789018" + b"\xff\xff"
    assert layout.parse_my_number(data) == "123456789018"


def test_ef0001_tag_match_ignores_the_constructed_bit() -> None:
    # card.md §5: readers match the tag number, not the primitive/constructed bit.
    assert layout.parse_my_number(bytes.fromhex("DF100C") + b"123456789018") == "123456789018"


@pytest.mark.parametrize(
    "data",
    [
        bytes.fromhex("FF100C") + b"123456789019\xff\xff",  # wrong check digit
        bytes.fromhex("FF100C") + b"12345678901A\xff\xff",
        bytes.fromhex("FF100B") + b"12345678901\xff\xff",
        bytes.fromhex("FF110C") + b"123456789018\xff\xff",
        bytes.fromhex("FF100C") + b"123456789018\xff\x01",  # garbage after the TLV
    ],
)
def test_ef0001_rejects_bad_contents(data: bytes) -> None:
    with pytest.raises(MalformedCardDataError):
        layout.parse_my_number(data)


def test_ef0002_offsets_match_the_card_md_example_positions() -> None:
    data = layout.build_basic_info_file(CANARY.name_kanji, CANARY.address, CANARY.birth_date, "2")
    assert data[:2] == b"\xff\x20" and data[2] < 0x80  # 1-byte outer length
    offsets = [int.from_bytes(data[6 + i : 8 + i], "big") for i in range(0, 8, 2)]
    assert offsets[0] == 0x0E  # name right after FF20 xx + DF21 08 <8>, as on the test card
    for offset, tag in zip(
        offsets, (b"\xdf\x22", b"\xdf\x23", b"\xdf\x24", b"\xdf\x25"), strict=True
    ):
        assert data[offset : offset + 2] == tag
    info = layout.parse_basic_info(data)
    assert (info.name, info.address, info.birth_date, info.sex) == (
        CANARY.name_kanji,
        CANARY.address,
        CANARY.birth_date,
        "2",
    )
    assert info.digest_source == data[3 + 11 :]


def test_ef0002_long_form_length_moves_every_offset_by_one() -> None:
    address = "鹿児島県" * 12  # pushes the value past 127 bytes
    data = layout.build_basic_info_file("長い\u3000名前", address, dt.date(2000, 1, 2), "9")
    assert data[2] == 0x81
    assert int.from_bytes(data[7:9], "big") == 0x0F
    assert layout.parse_basic_info(data).address == address


def test_ef0002_offset_table_is_checked_not_trusted() -> None:
    data = bytearray(
        layout.build_basic_info_file("試験\u3000花子", "住所", dt.date(1980, 2, 17), "2")
    )
    data[7] += 1  # name offset off by one
    with pytest.raises(MalformedCardDataError, match="offset table"):
        layout.parse_basic_info(bytes(data))


@pytest.mark.parametrize(
    ("birth", "sex"),
    [(b"1980021", b"2"), (b"19800230", b"2"), (b"1980O217", b"2"), (b"19800217", b"3")],
)
def test_ef0002_rejects_bad_birth_dates_and_sex_codes(birth: bytes, sex: bytes) -> None:
    content = [
        tlv.encode(b"\xdf\x22", "試験".encode()),
        tlv.encode(b"\xdf\x23", "住所".encode()),
        tlv.encode(b"\xdf\x24", birth),
        tlv.encode(b"\xdf\x25", sex),
    ]
    table, position = bytearray(), 3 + 11
    for item in content:
        table += position.to_bytes(2, "big")
        position += len(item)
    data = tlv.encode(b"\xff\x20", tlv.encode(b"\xdf\x21", bytes(table)) + b"".join(content))
    with pytest.raises(MalformedCardDataError):
        layout.parse_basic_info(data)


def test_ef0002_rejects_non_utf8_names() -> None:
    data = layout.build_basic_info_file("X", "住所", dt.date(1980, 2, 17), "2")
    broken = data.replace(b"\xdf\x22\x01X", b"\xdf\x22\x01\xff")
    with pytest.raises(MalformedCardDataError, match="UTF-8"):
        layout.parse_basic_info(broken)


def test_ef0003_layout_and_digest_rules(canary_files: CardFiles) -> None:
    ef0003 = canary_files.ef0003
    assert len(ef0003) == layout.INTEGRITY_FILE_SIZE
    assert ef0003[:5] == bytes.fromhex("FF3082014B")
    record = layout.parse_integrity(ef0003)
    # DF31 over all 17 physical bytes of EF0001, filler included (not the 15-byte TLV).
    assert record.my_number_digest == hashlib.sha256(canary_files.ef0001).digest()
    assert record.my_number_digest != hashlib.sha256(canary_files.ef0001[:15]).digest()
    # DF32 over the FF20 value without the offset table (neither the whole file nor file[3:]).
    source = layout.parse_basic_info(canary_files.ef0002).digest_source
    assert record.basic_info_digest == hashlib.sha256(source).digest()
    assert record.basic_info_digest != hashlib.sha256(canary_files.ef0002).digest()
    assert record.basic_info_digest != hashlib.sha256(canary_files.ef0002[3:]).digest()
    assert record.signed_data == ef0003[5 : 5 + 70]


def test_ef0004_cvc_layout(canary_files: CardFiles) -> None:
    ef0004 = canary_files.ef0004
    assert len(ef0004) == layout.CVC_FILE_SIZE
    assert ef0004[:10] == bytes.fromhex("7F21820233 5F4E820129")
    cvc = layout.parse_cvc(ef0004)
    assert cvc.issuer_key_id == pki.jlis_key_id_bytes("9000033/001")
    assert layout.key_id_label(cvc.issuer_key_id) == "9000033/001"
    assert len(cvc.body) == 297 and cvc.exponent == 65537
    assert cvc.body[32:37] == bytes.fromhex("9003010001")


def test_ef0005_is_padded_to_256(canary_files: CardFiles) -> None:
    assert len(canary_files.ef0005) == 256
    info = layout.parse_ap_info(canary_files.ef0005)
    assert info.version == bytes.fromhex("01030E01")
    assert layout.key_id_label(info.key_id) == "9000034/001"


def test_key_id_label_falls_back_to_hex() -> None:
    assert layout.key_id_label(b"\x01" * 16) == "01" * 16


_PARSERS = (
    layout.parse_my_number,
    layout.parse_basic_info,
    layout.basic_info_digest_source,
    layout.parse_integrity,
    layout.parse_cvc,
    layout.parse_ap_info,
)


@given(st.binary(max_size=700))
def test_fuzz_ef_parsers_raise_only_typed_errors(data: bytes) -> None:
    for parse in _PARSERS:
        with contextlib.suppress(MalformedCardDataError):
            parse(data)


@settings(max_examples=300)
@given(st.data())
def test_fuzz_mutated_genuine_files_raise_only_typed_errors(
    canary_files: CardFiles, data: st.DataObject
) -> None:
    for parse, original in zip(
        _PARSERS,
        (
            canary_files.ef0001,
            canary_files.ef0002,
            canary_files.ef0002,
            canary_files.ef0003,
            canary_files.ef0004,
            canary_files.ef0005,
        ),
        strict=True,
    ):
        mutated = bytearray(original)
        for _ in range(data.draw(st.integers(1, 4))):
            position = data.draw(st.integers(0, len(mutated) - 1))
            mutated[position] = data.draw(st.integers(0, 255))
        cut = data.draw(st.integers(0, len(mutated)))
        with contextlib.suppress(MalformedCardDataError):
            parse(bytes(mutated[:cut]))
