"""The card layer through real pyscard → pcscd → vpcd → virtual card process (card.md §10)."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import time
from typing import Any

import pytest

from vaxcert import residents
from vaxcert.card import CaKeyTable, layout, verify_card_files
from vaxcert.card.errors import (
    CardAccessDeniedError,
    CardDataError,
    CardRemovedError,
    CardTimeoutError,
    NoCardError,
    NoReaderError,
    NotMyNumberCardError,
    PinFormatError,
    PinLockedError,
    WrongPinError,
)
from vaxcert.card.harness import VirtualCardProcess
from vaxcert.card.session import Deadline, KenhojoSession

pytestmark = pytest.mark.pcsc

CANARY = residents.CANARY


def pin_attempts(card: VirtualCardProcess) -> int:
    """VERIFY commands that carried data, from the card's own log."""
    return sum(
        1
        for entry in card.entries()
        if entry["event"] == "apdu" and entry["ins"] == "20" and entry["data_length"] > 0
    )


def test_c01_c03_correct_pin_reads_and_verifies(
    virtual_card: Any, pcsc_reader: Any, ca_keys: CaKeyTable
) -> None:
    virtual_card("canary")
    assert pcsc_reader.pin_tries_left() == 3
    read = verify_card_files(pcsc_reader.read_files(CANARY.pin), ca_keys)
    assert read.verified_by == "9000033/001"
    assert read.my_number == CANARY.my_number
    assert read.name == CANARY.name_kanji
    assert read.address == CANARY.address
    assert read.birth_date == dt.date(1980, 2, 17)
    assert read.sex == "2"
    assert len(read.files.ef0001) == 17
    assert len(read.files.ef0003) == 336
    assert len(read.files.ef0004) == 568
    assert len(read.files.ef0005) == 256


def test_every_resident_card_reads_through_pcscd(
    virtual_card: Any, pcsc_reader: Any, ca_keys: CaKeyTable
) -> None:
    resident = residents.get("elder")
    virtual_card("elder")
    read = verify_card_files(pcsc_reader.read_files(resident.pin), ca_keys)
    assert (read.my_number, read.birth_date) == (resident.my_number, resident.birth_date)


def test_c01_wrong_pins_count_down_then_lock_and_the_right_pin_is_never_sent(
    virtual_card: Any, pcsc_reader: Any
) -> None:
    card = virtual_card("canary")
    with pytest.raises(WrongPinError) as first:
        pcsc_reader.read_files("9999")
    assert first.value.tries_left == 2
    with pytest.raises(WrongPinError) as second:
        pcsc_reader.read_files("0000")
    assert second.value.tries_left == 1
    with pytest.raises(PinLockedError):
        pcsc_reader.read_files("1111")
    assert pin_attempts(card) == 3
    assert pcsc_reader.pin_tries_left() == 0

    with pytest.raises(PinLockedError):
        pcsc_reader.read_files(CANARY.pin)
    # C01: once the query says 0, no further VERIFY reaches the card, not even the right PIN.
    assert pin_attempts(card) == 3
    last = [e for e in card.entries() if e["event"] == "apdu"][-1]
    assert (last["ins"], last["data_length"], last["sw"]) == ("20", 0, "63C0")


def test_c01_a_correct_pin_resets_the_counter(virtual_card: Any, pcsc_reader: Any) -> None:
    virtual_card("canary")
    with pytest.raises(WrongPinError):
        pcsc_reader.read_files("9999")
    assert pcsc_reader.pin_tries_left() == 2
    pcsc_reader.read_files(CANARY.pin)
    assert pcsc_reader.pin_tries_left() == 3


def test_c01_one_try_left_card_locks_on_the_next_wrong_pin(
    virtual_card: Any, pcsc_reader: Any
) -> None:
    card = virtual_card("one-try-left")
    assert pcsc_reader.pin_tries_left() == 1
    with pytest.raises(PinLockedError):
        pcsc_reader.read_files("9999")
    assert pin_attempts(card) == 1


def test_c01_locked_card_is_never_sent_a_verify(virtual_card: Any, pcsc_reader: Any) -> None:
    card = virtual_card("locked-card")
    with pytest.raises(PinLockedError):
        pcsc_reader.read_files(CANARY.pin)
    assert pin_attempts(card) == 0


def test_c01_serve_locked_flag_blocks_the_pin(virtual_card: Any, pcsc_reader: Any) -> None:
    card = virtual_card("kirishima", locked=True)
    assert pcsc_reader.pin_tries_left() == 0
    with pytest.raises(PinLockedError):
        pcsc_reader.read_files(residents.get("kirishima").pin)
    assert pin_attempts(card) == 0


def test_serve_pin_option_overrides_the_resident_pin(
    virtual_card: Any, pcsc_reader: Any, ca_keys: CaKeyTable
) -> None:
    virtual_card("canary", pin="4321")
    with pytest.raises(WrongPinError):
        pcsc_reader.read_files(CANARY.pin)
    assert verify_card_files(pcsc_reader.read_files("4321"), ca_keys).verified


def test_c01_bad_pin_format_sends_nothing(virtual_card: Any, pcsc_reader: Any) -> None:
    card = virtual_card("canary")
    before = len(card.entries())
    for pin in ("123", "12345", "12a4", "１２３４", ""):
        with pytest.raises(PinFormatError):
            pcsc_reader.read_files(pin)
    assert len(card.entries()) == before


def test_card_removed_during_read_gives_the_typed_error(
    virtual_card: Any, pcsc_reader: Any
) -> None:
    # SELECT AP, SELECT 0011, query, VERIFY, SELECT 0001, READ: the card leaves at the 7th APDU.
    card = virtual_card("canary", remove_after=6)
    with pytest.raises(CardRemovedError):
        pcsc_reader.read_files(CANARY.pin)
    assert pcsc_reader.wait_for_removal(5.0)
    assert card.process is not None and card.process.wait(5) == 0
    with pytest.raises(NoCardError):
        pcsc_reader.read_files(CANARY.pin)


def test_reading_before_verify_gets_6982_as_a_typed_error(
    virtual_card: Any, pcsc_reader: Any
) -> None:
    card = virtual_card("canary")
    deadline = Deadline(5.0)
    with pcsc_reader._connect(deadline) as transmit:
        session = KenhojoSession(transmit, deadline)
        session.select_ap()
        # The free files read without a PIN; the protected ones answer 6982.
        assert len(session.read_file(layout.FID_CVC)) == 568
        with pytest.raises(CardAccessDeniedError) as denied:
            session.read_file(layout.FID_MY_NUMBER)
    assert denied.value.code == "card_access_denied"
    reads = [e for e in card.entries() if e["event"] == "apdu" and e["ins"] == "B0"]
    assert reads[-1]["sw"] == "6982"


def test_c01_verified_state_ends_with_the_connection(virtual_card: Any, pcsc_reader: Any) -> None:
    virtual_card("canary")
    pcsc_reader.read_files(CANARY.pin)
    deadline = Deadline(5.0)
    with pcsc_reader._connect(deadline) as transmit:
        session = KenhojoSession(transmit, deadline)
        session.select_ap()
        with pytest.raises(CardAccessDeniedError):
            session.read_file(layout.FID_BASIC_INFO)


def test_not_a_my_number_card(virtual_card: Any, pcsc_reader: Any) -> None:
    virtual_card("foreign-card")
    with pytest.raises(NotMyNumberCardError) as raised:
        pcsc_reader.read_files(CANARY.pin)
    assert raised.value.sw == 0x6A82


@pytest.mark.parametrize(
    ("card_key", "code"),
    [("tampered-card", "card_digest_mismatch"), ("unknown-ca-card", "card_ca_unknown")],
)
def test_c03_bad_cards_fail_verification_after_a_good_read(
    virtual_card: Any, pcsc_reader: Any, ca_keys: CaKeyTable, card_key: str, code: str
) -> None:
    virtual_card(card_key)
    files = pcsc_reader.read_files(CANARY.pin)  # the reader passes any card's files on
    with pytest.raises(CardDataError) as raised:
        verify_card_files(files, ca_keys)  # the center's check refuses them
    assert raised.value.code == code


def test_empty_reader_gives_no_card_and_waits_time_out(pcsc_reader: Any) -> None:
    with pytest.raises(NoCardError):
        pcsc_reader.read_files(CANARY.pin)
    assert pcsc_reader.wait_for_card(0.3) is False
    assert pcsc_reader.wait_for_removal(0.3) is True


def test_insertion_and_removal_are_seen_by_status_change(
    virtual_card: Any, pcsc_reader: Any
) -> None:
    card = virtual_card("canary")
    assert pcsc_reader.wait_for_card(0.1) is True
    assert pcsc_reader.wait_for_removal(0.2) is False
    card.stop()
    assert pcsc_reader.wait_for_removal(5.0) is True


def test_unknown_reader_name_is_no_reader(pcscd: Any) -> None:
    from vaxcert.card.pcsc import PcscCardReader

    reader = PcscCardReader("No Such Reader", timeout=2.0)
    with pytest.raises(NoReaderError):
        reader.read_files(CANARY.pin)
    assert "Virtual PCD 00 00" in reader.readers()


def test_c08_card_log_holds_no_pin_digits(virtual_card: Any, pcsc_reader: Any) -> None:
    card = virtual_card("canary", pin="7531")
    with pytest.raises(WrongPinError):
        pcsc_reader.read_files("8642")
    pcsc_reader.read_files("7531")
    text = card.log_path.read_text()
    assert "7531" not in text and "8642" not in text
    assert "37353331" not in text.upper()  # nor their ASCII hex
    for line in text.splitlines():
        assert set(json.loads(line)) <= {"event", "ins", "p1", "p2", "data_length", "sw"}


def test_a_hung_card_cannot_block_the_caller(
    virtual_card: Any, pcsc_reader: Any, ca_keys: CaKeyTable
) -> None:
    card = virtual_card("canary")
    assert card.process is not None
    # SCardTransmit itself has no timeout: with the card process stopped, vpcd never answers.
    os.kill(card.process.pid, signal.SIGSTOP)
    try:
        with pytest.raises(CardTimeoutError):
            pcsc_reader.read_files(CANARY.pin, timeout=1.0)
        with pytest.raises(CardTimeoutError):  # the stuck session still holds the reader
            pcsc_reader.pin_tries_left(timeout=0.3)
    finally:
        os.kill(card.process.pid, signal.SIGCONT)
    # Once the driver answers again, the reader recovers by itself.
    for _ in range(50):
        try:
            tries = pcsc_reader.pin_tries_left(timeout=2.0)
            break
        except CardTimeoutError:
            time.sleep(0.1)
    else:
        pytest.fail("the reader did not recover after the card resumed")
    assert tries == 3
    assert verify_card_files(pcsc_reader.read_files(CANARY.pin), ca_keys).verified
