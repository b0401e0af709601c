"""The reader sequence over the in-process virtual card and over scripted card answers."""

from __future__ import annotations

import datetime as dt
import logging
import subprocess
import sys
import threading
import time
from collections.abc import Callable

import pytest

from vaxcert import residents
from vaxcert.card import apdu, cards, create_reader, layout, verify_card_files
from vaxcert.card.errors import (
    CardRemovedError,
    CardStatusError,
    CardTimeoutError,
    MalformedCardDataError,
    NoCardError,
    NotMyNumberCardError,
    PinFormatError,
    PinLockedError,
    WrongPinError,
)
from vaxcert.card.inprocess import InProcessCardReader
from vaxcert.card.session import Deadline, KenhojoSession, pin_bytes, read_card_files
from vaxcert.card.verify import CaKeyTable
from vaxcert.card.virtual import VirtualKenhojoCard
from vaxcert.config import Settings

CANARY = residents.CANARY


@pytest.fixture
def reader(issuer: cards.CardIssuer) -> InProcessCardReader:
    return InProcessCardReader(cards.make_card("canary", issuer), timeout=5.0)


def card_of(reader: InProcessCardReader) -> VirtualKenhojoCard:
    assert reader.card is not None
    return reader.card


def test_c01_c03_read_verifies(reader: InProcessCardReader, ca_keys: CaKeyTable) -> None:
    assert reader.pin_tries_left() == 3
    read = verify_card_files(reader.read_files(CANARY.pin), ca_keys)
    assert read.verified_by == "9000033/001"
    assert (read.my_number, read.birth_date) == (CANARY.my_number, dt.date(1980, 2, 17))


def test_c03_a_reader_hands_out_the_files_as_read_and_parses_nothing(
    reader: InProcessCardReader, issuer: cards.CardIssuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_parsing(_: bytes) -> str:
        raise AssertionError("a reader parsed the My Number")

    monkeypatch.setattr(layout, "parse_my_number", no_parsing)
    assert reader.read_files(CANARY.pin) == cards.card_files("canary", issuer)
    assert not hasattr(reader, "read")  # raw files are the only read a reader offers


def test_apdu_sequence_follows_card_md_section_7(reader: InProcessCardReader) -> None:
    reader.read_files(CANARY.pin)
    headers = [(e.ins, e.p1, e.p2, e.data_length) for e in card_of(reader).log if e.event == "apdu"]
    assert headers[:4] == [
        (0xA4, 0x04, 0x0C, 10),  # SELECT Kenhojo AP
        (0xA4, 0x02, 0x0C, 2),  # SELECT 0011
        (0x20, 0x00, 0x80, 0),  # query: spends no try
        (0x20, 0x00, 0x80, 4),  # VERIFY
    ]
    reads = [(e.p1, e.p2) for e in card_of(reader).log if e.event == "apdu" and e.ins == 0xB0]
    # 0001: 1 read; 0002: 1; 0003: 256 + 80; 0004: 256 + 256 + 56; 0005: 1.
    assert reads == [(0, 0), (0, 0), (0, 0), (1, 0), (0, 0), (1, 0), (2, 0), (0, 0)]
    answers = [e.sw for e in card_of(reader).log if e.event == "apdu"]
    assert answers[2] == 0x63C3 and all(sw == apdu.SW_OK for sw in answers[3:])


def test_c01_wrong_pin_counts_down_and_locks_without_another_verify(
    reader: InProcessCardReader,
) -> None:
    tries = []
    for wrong in ("0000", "1111"):
        with pytest.raises(WrongPinError) as raised:
            reader.read_files(wrong)
        tries.append(raised.value.tries_left)
    assert tries == [2, 1]
    with pytest.raises(PinLockedError):
        reader.read_files("2222")
    with pytest.raises(PinLockedError):
        reader.read_files(CANARY.pin)
    assert card_of(reader).pin_attempts() == 3
    assert reader.pin_tries_left() == 0


def test_c01_pin_is_validated_before_anything_is_sent(reader: InProcessCardReader) -> None:
    for pin in ("123", "12345", " 123", "１２３４", "٣٤٥٦", "12.4"):
        with pytest.raises(PinFormatError):
            reader.read_files(pin)
    with pytest.raises(PinFormatError):
        reader.read_files(1234)  # type: ignore[arg-type]
    assert card_of(reader).log == []


def test_c01_c08_pin_digits_never_reach_logs_or_errors(
    reader: InProcessCardReader, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(WrongPinError) as wrong:
        reader.read_files("8642")
    with pytest.raises(PinFormatError) as bad_format:
        reader.read_files("864")
    for error in (wrong.value, bad_format.value):
        text = f"{error} {error!r} {error.args} {error.detail} {error.extra}"
        assert "8642" not in text and "864" not in text
    assert "8642" not in caplog.text and "864" not in caplog.text
    masked = apdu.describe(apdu.verify(b"8642"))
    assert masked == "00 20 00 80 <4 bytes masked>"


def test_empty_reader_and_waits(issuer: cards.CardIssuer) -> None:
    reader = InProcessCardReader(timeout=2.0)
    with pytest.raises(NoCardError):
        reader.read_files(CANARY.pin)
    assert reader.wait_for_card(0.05) is False
    threading.Timer(0.05, reader.insert, [cards.make_card("canary", issuer)]).start()
    assert reader.wait_for_card(2.0) is True
    assert reader.wait_for_removal(0.05) is False
    threading.Timer(0.05, reader.remove).start()
    assert reader.wait_for_removal(2.0) is True


class _LeavingCard(VirtualKenhojoCard):
    """A card that a resident pulls away after ``after`` commands."""

    reader: InProcessCardReader
    after = 6

    def execute(self, raw: bytes) -> bytes:
        if sum(1 for e in self.log if e.event == "apdu") >= self.after:
            self.reader.remove()
        return super().execute(raw)


def test_card_removed_mid_read_in_process(issuer: cards.CardIssuer) -> None:
    card = _LeavingCard(
        cards.card_files("canary", issuer),
        pin=CANARY.pin,
        passcode_a=CANARY.my_number,
        passcode_b=cards.passcode_b(CANARY),
    )
    reader = InProcessCardReader(card)
    card.reader = reader
    with pytest.raises(CardRemovedError):
        reader.read_files(CANARY.pin)


class _SlowCard(VirtualKenhojoCard):
    def execute(self, raw: bytes) -> bytes:
        time.sleep(0.05)
        return super().execute(raw)


def test_read_is_bounded_by_its_timeout(issuer: cards.CardIssuer) -> None:
    card = _SlowCard(
        cards.card_files("canary", issuer),
        pin=CANARY.pin,
        passcode_a=CANARY.my_number,
        passcode_b=cards.passcode_b(CANARY),
    )
    reader = InProcessCardReader(card)
    with pytest.raises(CardTimeoutError):
        reader.read_files(CANARY.pin, timeout=0.2)


def test_foreign_card_is_not_a_my_number_card(issuer: cards.CardIssuer) -> None:
    reader = InProcessCardReader(cards.make_card("foreign-card", issuer))
    with pytest.raises(NotMyNumberCardError):
        reader.read_files(CANARY.pin)


def test_concurrent_reads_are_serialised(
    reader: InProcessCardReader, issuer: cards.CardIssuer
) -> None:
    results: list[object] = []

    def read() -> None:
        results.append(reader.read_files(CANARY.pin))

    threads = [threading.Thread(target=read) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [cards.card_files("canary", issuer)] * 4


# --- the sequence against scripted answers (real-reader variations) ------------------------


def scripted(answers: dict[bytes, list[bytes]]) -> Callable[[bytearray], bytes]:
    """A transmit that answers each command from a per-command queue (the last one repeats)."""

    def transmit(command: bytearray) -> bytes:
        queue = answers[bytes(command)]
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return transmit


def test_get_response_and_wrong_le_are_followed() -> None:
    data = layout.build_my_number_file("123456789018")
    transmit = scripted(
        {
            apdu.select_ef(1): [b"\x90\x00"],
            apdu.read_binary(0, 256): [b"\x6c\x11"],  # T=0: "use Le=0x11"
            apdu.read_binary(0, 17): [data[:10] + b"\x61\x07"],  # 7 more bytes to fetch
            apdu.get_response(7): [data[10:] + b"\x90\x00"],
        }
    )
    assert KenhojoSession(transmit, Deadline(1)).read_file(1) == data


def test_end_of_file_warning_is_accepted() -> None:
    data = layout.build_my_number_file("123456789018")
    transmit = scripted(
        {apdu.select_ef(1): [b"\x90\x00"], apdu.read_binary(0, 256): [data + b"\x62\x82"]}
    )
    assert KenhojoSession(transmit, Deadline(1)).read_file(1) == data


def test_long_file_is_read_in_chunks_from_its_ber_length() -> None:
    address = "鹿児島県" * 25  # EF0002 above 256 bytes: long-form length 82 xx xx
    data = layout.build_basic_info_file("試験\u3000花子", address, dt.date(1980, 2, 17), "2")
    assert len(data) > 256 and data[2] == 0x82
    transmit = scripted(
        {
            apdu.select_ef(2): [b"\x90\x00"],
            apdu.read_binary(0, 256): [data[:256] + b"\x90\x00"],
            apdu.read_binary(256, len(data) - 256): [data[256:] + b"\x90\x00"],
        }
    )
    assert KenhojoSession(transmit, Deadline(1)).read_file(2) == data


def test_file_shorter_than_its_tlv_is_malformed() -> None:
    data = bytes.fromhex("FF30820200") + bytes(251)
    transmit = scripted(
        {
            apdu.select_ef(3): [b"\x90\x00"],
            apdu.read_binary(0, 256): [data + b"\x90\x00"],
            apdu.read_binary(256, 256): [b"\x6b\x00"],
        }
    )
    with pytest.raises(MalformedCardDataError):
        KenhojoSession(transmit, Deadline(1)).read_file(3)


@pytest.mark.parametrize(
    ("query_answer", "outcome"),
    [(b"\x90\x00", None), (b"\x69\x84", 0), (b"\x63\xc2", 2), (b"\x6a\x88", CardStatusError)],
)
def test_query_answers(query_answer: bytes, outcome: object) -> None:
    transmit = scripted(
        {apdu.select_ef(layout.FID_PIN): [b"\x90\x00"], apdu.verify_query(): [query_answer]}
    )
    session = KenhojoSession(transmit, Deadline(1))
    if isinstance(outcome, type):
        with pytest.raises(outcome):
            session.pin_tries_left()
    else:
        assert session.pin_tries_left() == outcome


def test_locked_by_6984_on_verify_and_unexpected_status() -> None:
    pin = pin_bytes("1234")
    base: dict[bytes, list[bytes]] = {
        apdu.select_df(layout.KENHOJO_AID): [b"\x90\x00"],
        apdu.select_ef(layout.FID_PIN): [b"\x90\x00"],
        apdu.verify_query(): [b"\x63\xc3"],
    }
    with pytest.raises(PinLockedError):
        read_card_files(scripted({**base, apdu.verify(pin): [b"\x69\x84"]}), pin, Deadline(1))
    with pytest.raises(CardStatusError) as raised:
        read_card_files(scripted({**base, apdu.verify(pin): [b"\x6f\x00"]}), pin, Deadline(1))
    assert raised.value.sw == 0x6F00


# --- configuration picks the implementation ------------------------------------------------


def test_create_reader_follows_configuration(card_settings: Settings, ca_keys: CaKeyTable) -> None:
    virtual = create_reader(card_settings)
    assert isinstance(virtual, InProcessCardReader)
    assert verify_card_files(virtual.read_files(CANARY.pin), ca_keys).verified
    pcsc_settings = card_settings.model_copy(
        update={"card": card_settings.card.model_copy(update={"reader": "pcsc"})}
    )
    from vaxcert.card.pcsc import PcscCardReader

    assert isinstance(create_reader(pcsc_settings), PcscCardReader)


def test_center_side_imports_never_load_pyscard() -> None:
    code = (
        "import sys, vaxcert.card, vaxcert.card.verify, vaxcert.card.cards; "
        "import vaxcert.card.inprocess; "
        "assert not any(m.startswith('smartcard') for m in sys.modules), 'pyscard loaded'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
