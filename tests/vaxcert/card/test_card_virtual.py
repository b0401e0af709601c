"""The virtual card answers every command exactly per card.md §8."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vaxcert import residents
from vaxcert.card import apdu, cards, layout
from vaxcert.card.virtual import ATR, VirtualKenhojoCard

CANARY = residents.CANARY
SELECT_AP = apdu.select_df(layout.KENHOJO_AID)
PIN = CANARY.pin.encode()


@pytest.fixture
def card(issuer: cards.CardIssuer) -> VirtualKenhojoCard:
    made = cards.make_card("canary", issuer)
    made.power_on()
    return made


def sw(response: bytes) -> str:
    return response[-2:].hex().upper()


def run(card: VirtualKenhojoCard, hex_command: str | bytes) -> bytes:
    raw = bytes.fromhex(hex_command) if isinstance(hex_command, str) else hex_command
    return card.execute(raw)


def select_pin(card: VirtualKenhojoCard) -> None:
    assert sw(run(card, SELECT_AP)) == "9000"
    assert sw(run(card, apdu.select_ef(layout.FID_PIN))) == "9000"


def test_atr_is_the_contact_atr() -> None:
    assert ATR.hex().upper() == "3BE000FF8131FE4514"


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("00A4", "6700"),  # shorter than a header
        ("00B0000005FF", "6700"),  # Lc does not match
        ("00A4040C0AD392", "6700"),
        ("01A4040C0AD3921000310001010408", "6881"),  # logical channel 1
        ("80A4040C0AD3921000310001010408", "6E00"),
        ("00CA000000", "6D00"),
        ("00A4040C0AD3921000310001010409", "6A82"),  # unknown AID
        ("00A4040C09D39210003100010104", "6A82"),  # a prefix is not a match
        ("00A4040C", "6700"),
        ("00A4041C0AD3921000310001010408", "6A86"),
        ("00A4080C020001", "6A86"),
        ("00A4020C020001", "6A82"),  # no DF selected yet
        ("00A40000", "6A86"),  # SELECT MF after a cold reset
        ("00B0000000", "6986"),  # no current EF
        ("00200080", "6986"),
    ],
)
def test_errors_before_selecting_the_ap(
    card: VirtualKenhojoCard, command: str, expected: str
) -> None:
    assert sw(run(card, command)) == expected


def test_select_forms(card: VirtualKenhojoCard) -> None:
    assert sw(run(card, SELECT_AP)) == "9000"
    assert run(card, "00A4040C0AD3921000310001010408") == b"\x90\x00"  # no FCI with P2=0C
    assert sw(run(card, "00A404000AD3921000310001010408")) == "9000"  # P2=00
    assert sw(run(card, "00A40000")) == "9000"  # SELECT MF inside a DF: no-op
    assert sw(run(card, "00A4020C023F00")) == "6A82"
    assert sw(run(card, "00A4020C020009")) == "6A82"
    assert sw(run(card, "00A4020C0100")) == "6700"
    assert sw(run(card, "00A4020C020004")) == "9000"
    # Other APs of the card select, but hold none of the Kenhojo files.
    assert sw(run(card, "00A4040C0AD392F000260100000001")) == "9000"
    assert sw(run(card, "00A4020C020004")) == "6A82"


def test_pin_query_verify_and_counter(card: VirtualKenhojoCard) -> None:
    select_pin(card)
    assert sw(run(card, "00200080")) == "63C3"
    assert sw(run(card, apdu.verify(b"0000"))) == "63C2"
    assert sw(run(card, "00200080")) == "63C2"  # the query spends nothing
    assert sw(run(card, apdu.verify(PIN))) == "9000"
    assert sw(run(card, "00200080")) == "9000"  # verified in this session
    assert card.pin_tries_left == 3  # a correct entry resets the counter


def test_three_wrong_pins_lock_for_good(card: VirtualKenhojoCard) -> None:
    select_pin(card)
    assert [sw(run(card, apdu.verify(b"9999"))) for _ in range(3)] == ["63C2", "63C1", "63C0"]
    assert sw(run(card, apdu.verify(PIN))) == "6984"
    assert sw(run(card, "00200080")) == "63C0"
    card.power_off()
    card.power_on()
    select_pin(card)
    assert sw(run(card, apdu.verify(PIN))) == "6984"  # a power cycle does not unblock


def test_wrong_pin_clears_the_verified_state(card: VirtualKenhojoCard) -> None:
    select_pin(card)
    assert sw(run(card, apdu.verify(PIN))) == "9000"
    assert sw(run(card, apdu.verify(b"1111"))) == "63C2"
    assert sw(run(card, apdu.select_ef(layout.FID_MY_NUMBER))) == "9000"
    assert sw(run(card, "00B0000000")) == "6982"


def test_verify_addressing(card: VirtualKenhojoCard) -> None:
    assert sw(run(card, SELECT_AP)) == "9000"
    assert sw(run(card, "00200091")) == "63C3"  # 80 | SFI 11
    assert sw(run(card, "00200011")) == "6A86"  # P2 without bit 8
    assert sw(run(card, "00200180")) == "6A86"
    assert sw(run(card, "00200081")) == "6981"  # SFI of a data EF
    assert sw(run(card, "0020009F")) == "6A82"
    assert sw(run(card, apdu.select_ef(layout.FID_CVC))) == "9000"
    assert sw(run(card, "00200080")) == "6981"  # the current EF is not a key
    assert sw(run(card, bytes.fromhex("00200091 04") + PIN)) == "9000"


def test_read_binary_access_offsets_and_lengths(card: VirtualKenhojoCard) -> None:
    assert sw(run(card, SELECT_AP)) == "9000"
    assert sw(run(card, apdu.select_ef(layout.FID_MY_NUMBER))) == "9000"
    assert sw(run(card, "00B0000000")) == "6982"  # before VERIFY
    assert sw(run(card, "00B0000000")) == "6982"
    cvc = card.files.ef0004
    assert sw(run(card, apdu.select_ef(layout.FID_CVC))) == "9000"
    assert run(card, "00B0000000") == cvc[:256] + b"\x90\x00"
    assert run(card, "00B0020000") == cvc[512:] + b"\x90\x00"  # short: what remains
    assert sw(run(card, "00B0023800")) == "6B00"  # offset 568 = size
    assert run(card, "00B00000000238") == cvc + b"\x90\x00"  # extended Le in one APDU
    assert sw(run(card, "00B00000")) == "6700"  # no Le
    assert sw(run(card, apdu.select_ef(layout.FID_PIN))) == "9000"
    assert sw(run(card, "00B0000000")) == "6981"  # a key is not readable


def test_read_binary_by_sfi(card: VirtualKenhojoCard) -> None:
    select_pin(card)
    assert sw(run(card, apdu.verify(PIN))) == "9000"
    assert run(card, "00B0810000") == card.files.ef0001 + b"\x90\x00"  # 17 bytes, no SELECT
    assert run(card, "00B0000000") == card.files.ef0001 + b"\x90\x00"  # 0001 became current
    assert sw(run(card, "00B0A10000")) == "6A86"
    assert sw(run(card, "00B0890000")) == "6A82"


def test_protected_files_follow_their_keys(card: VirtualKenhojoCard) -> None:
    # A (= the My Number) opens 0001 and 0003, not 0002 (card.md §2).
    assert sw(run(card, SELECT_AP)) == "9000"
    assert sw(run(card, apdu.select_ef(layout.FID_PIN_A))) == "9000"
    assert sw(run(card, bytes.fromhex("002000800C") + CANARY.my_number.encode())) == "9000"
    assert sw(run(card, "00B0810000")) == "9000"
    assert sw(run(card, "00B0830000")) == "9000"
    assert sw(run(card, "00B0820000")) == "6982"
    # B opens 0002.
    assert sw(run(card, apdu.select_ef(layout.FID_PIN_B))) == "9000"
    code_b = cards.passcode_b(CANARY).encode()
    assert len(code_b) == 14 and code_b.startswith(b"550217")  # Shōwa 55 = 1980
    assert sw(run(card, bytes([0, 0x20, 0, 0x80, 14]) + code_b)) == "9000"
    assert sw(run(card, "00B0820000")) == "9000"


def test_change_reference_data(card: VirtualKenhojoCard) -> None:
    select_pin(card)
    assert sw(run(card, apdu.change_reference_data(b"4321"))) == "6982"  # not verified
    assert sw(run(card, apdu.verify(PIN))) == "9000"
    assert sw(run(card, apdu.change_reference_data(b"43a1"))) == "6A80"
    assert sw(run(card, apdu.change_reference_data(b"4321"))) == "9000"
    assert sw(run(card, "0024008004" + b"4321".hex())) == "6A86"
    card.power_off()
    card.power_on()
    select_pin(card)
    assert sw(run(card, apdu.verify(PIN))) == "63C2"
    assert sw(run(card, apdu.verify(b"4321"))) == "9000"


@pytest.mark.parametrize("event", ["power_off", "reset", "reselect"])
def test_power_events_and_df_changes_clear_the_security_status(
    card: VirtualKenhojoCard, event: str
) -> None:
    select_pin(card)
    assert sw(run(card, apdu.verify(PIN))) == "9000"
    if event == "power_off":
        card.power_off()
        card.power_on()
    elif event == "reset":
        card.reset()
    else:
        assert sw(run(card, "00A4040C0AD392F000260100000001")) == "9000"
    assert sw(run(card, SELECT_AP)) == "9000"
    assert sw(run(card, "00B0810000")) == "6982"


def test_foreign_card_has_no_kenhojo(issuer: cards.CardIssuer) -> None:
    foreign = cards.make_card("foreign-card", issuer)
    foreign.power_on()
    assert sw(foreign.execute(SELECT_AP)) == "6A82"


def test_c08_log_never_holds_command_data(card: VirtualKenhojoCard) -> None:
    select_pin(card)
    run(card, apdu.verify(PIN))
    entry = card.log[-1]
    assert entry.is_pin_attempt and entry.data_length == 4
    assert PIN.decode() not in repr(card.log) and PIN.hex() not in repr(card.log)
    assert card.pin_attempts() == 1


def test_every_card_key_builds(issuer: cards.CardIssuer) -> None:
    for key in cards.card_keys():
        assert isinstance(cards.make_card(key, issuer), VirtualKenhojoCard)
    with pytest.raises(KeyError):
        cards.make_card("nobody", issuer)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_the_card_always_answers_with_a_status_word(
    issuer: cards.CardIssuer, raw: bytes
) -> None:
    fuzzed = cards.make_card("canary", issuer)
    fuzzed.power_on()
    fuzzed.execute(SELECT_AP)
    response = fuzzed.execute(raw)
    assert len(response) >= 2
