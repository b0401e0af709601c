"""C03: the center's verification chain, each failure with its own reason code (card.md §6)."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import logging
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from vaxcert import reasons, residents
from vaxcert.card import ca_key_table, cards, layout
from vaxcert.card.errors import (
    CardDataError,
    CvcSignatureError,
    DataSignatureError,
    DigestMismatchError,
    MalformedCardDataError,
    UnknownCardCaError,
)
from vaxcert.card.models import CardFiles
from vaxcert.card.verify import CaKeyTable, parse_card_files, verify_card_files
from vaxcert.config import Settings, load_settings
from vaxcert.errors import ConfigError

CANARY = residents.CANARY


@pytest.fixture(scope="module")
def genuine(issuer: cards.CardIssuer) -> CardFiles:
    return cards.card_files("canary", issuer)


def test_c03_genuine_layout_card_verifies(genuine: CardFiles, ca_keys: CaKeyTable) -> None:
    read = verify_card_files(genuine, ca_keys)
    assert read.verified and read.verified_by == "9000033/001"
    assert (read.my_number, read.name, read.address) == (
        CANARY.my_number,
        CANARY.name_kanji,
        CANARY.address,
    )
    assert (read.birth_date, read.sex) == (CANARY.birth_date, CANARY.sex)


def test_c03_every_resident_card_verifies(issuer: cards.CardIssuer, ca_keys: CaKeyTable) -> None:
    for key in residents.RESIDENTS:
        read = verify_card_files(cards.card_files(key, issuer), ca_keys)
        assert read.my_number == residents.get(key).my_number


def test_c03_tampered_ef0002_is_a_digest_mismatch(
    issuer: cards.CardIssuer, ca_keys: CaKeyTable
) -> None:
    with pytest.raises(DigestMismatchError) as raised:
        verify_card_files(cards.card_files("tampered-card", issuer), ca_keys)
    assert raised.value.code == "card_digest_mismatch"
    assert "EF0002" in raised.value.detail


def test_c03_tampered_my_number_is_a_digest_mismatch(
    genuine: CardFiles, ca_keys: CaKeyTable
) -> None:
    other = layout.build_my_number_file(residents.get("elder").my_number)
    with pytest.raises(DigestMismatchError, match="EF0001"):
        verify_card_files(dataclasses.replace(genuine, ef0001=other), ca_keys)


def test_c03_unknown_ca_cvc_is_refused(issuer: cards.CardIssuer, ca_keys: CaKeyTable) -> None:
    with pytest.raises(UnknownCardCaError) as raised:
        verify_card_files(cards.card_files("unknown-ca-card", issuer), ca_keys)
    assert raised.value.code == "card_ca_unknown"
    assert "9999033/001" in raised.value.detail


def test_c03_swapped_ef0003_is_a_bad_data_signature(
    genuine: CardFiles, issuer: cards.CardIssuer, ca_keys: CaKeyTable
) -> None:
    # EF0003 of another genuine card: signed by that card's AP key, not the one in this CVC.
    other = cards.card_files("elder", issuer)
    with pytest.raises(DataSignatureError) as raised:
        verify_card_files(dataclasses.replace(genuine, ef0003=other.ef0003), ca_keys)
    assert raised.value.code == "card_data_signature_invalid"


def test_c03_forged_cvc_signature_is_refused(genuine: CardFiles, ca_keys: CaKeyTable) -> None:
    forged = bytearray(genuine.ef0004)
    forged[-1] ^= 0x01
    with pytest.raises(CvcSignatureError) as raised:
        verify_card_files(dataclasses.replace(genuine, ef0004=bytes(forged)), ca_keys)
    assert raised.value.code == "card_cvc_signature_invalid"


def test_c03_cvc_for_a_different_key_is_refused(genuine: CardFiles, ca_keys: CaKeyTable) -> None:
    # Swap the certified modulus: the CA signature no longer covers the body.
    body_start = genuine.ef0004.index(bytes.fromhex("91820100")) + 4
    forged = bytearray(genuine.ef0004)
    forged[body_start + 100] ^= 0x10
    with pytest.raises(CvcSignatureError):
        verify_card_files(dataclasses.replace(genuine, ef0004=bytes(forged)), ca_keys)


def test_c03_malformed_tlv_is_its_own_code(genuine: CardFiles, ca_keys: CaKeyTable) -> None:
    broken = genuine.ef0003[:100]
    with pytest.raises(MalformedCardDataError) as raised:
        verify_card_files(dataclasses.replace(genuine, ef0003=broken), ca_keys)
    assert raised.value.code == "card_data_malformed"


def test_c03_each_failure_has_a_distinct_catalogued_code() -> None:
    codes = {
        "card_ca_unknown",
        "card_cvc_signature_invalid",
        "card_data_signature_invalid",
        "card_digest_mismatch",
        "card_data_malformed",
    }
    for code in codes:
        reason = reasons.get(code)
        assert reason.status == 422 and reason.ja and reason.en and reason.next_en


def test_no_trust_without_the_chain(genuine: CardFiles) -> None:
    assert parse_card_files(genuine).verified_by is None
    with pytest.raises(UnknownCardCaError):
        verify_card_files(genuine, CaKeyTable({}))


def test_c08_error_text_and_repr_hold_no_personal_data(
    issuer: cards.CardIssuer, ca_keys: CaKeyTable
) -> None:
    read = verify_card_files(cards.card_files("canary", issuer), ca_keys)
    for text in (repr(read), str(read), repr(read.files)):
        for value in CANARY.canary_values:
            assert value not in text
    for key in ("tampered-card", "unknown-ca-card"):
        with pytest.raises(CardDataError) as raised:
            verify_card_files(cards.card_files(key, issuer), ca_keys)
        for value in CANARY.canary_values:
            assert value not in str(raised.value) and value not in repr(raised.value.args)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_fuzz_verification_raises_only_card_data_errors(
    genuine: CardFiles, ca_keys: CaKeyTable, data: st.DataObject
) -> None:
    name = data.draw(st.sampled_from(["ef0001", "ef0002", "ef0003", "ef0004", "ef0005"]))
    if data.draw(st.booleans()):
        value = data.draw(st.binary(max_size=700))
    else:
        value_array = bytearray(getattr(genuine, name))
        position = data.draw(st.integers(0, len(value_array) - 1))
        value_array[position] ^= data.draw(st.integers(1, 255))
        value = bytes(value_array)
    with contextlib.suppress(CardDataError):
        verify_card_files(dataclasses.replace(genuine, **{name: value}), ca_keys)


def test_card_files_json_round_trip(genuine: CardFiles) -> None:
    assert CardFiles.from_json(genuine.to_json()) == genuine


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"ef0001": 1},
        {"ef0001": "not base64!", "ef0002": "", "ef0003": "", "ef0004": "", "ef0005": ""},
        {"my_number": "123456789018"},  # C02: no typed My Number field exists
    ],
)
def test_card_files_from_bad_json_is_a_typed_error(body: dict[str, object]) -> None:
    with pytest.raises(MalformedCardDataError):
        CardFiles.from_json(body)


def test_card_files_from_json_refuses_oversized_files(genuine: CardFiles) -> None:
    body = genuine.to_json()
    body["ef0002"] = base64.b64encode(bytes(5000)).decode()
    with pytest.raises(MalformedCardDataError):
        CardFiles.from_json(body)


# --- the CA key table is configuration ---------------------------------------------------


def test_default_table_is_the_dev_ca(ca_keys: CaKeyTable) -> None:
    assert ca_keys.labels() == ["9000033/001"]


def test_production_id_is_configurable(card_pki: Path, tmp_path: Path) -> None:
    pem = tmp_path / "jlis-5000033.pem"
    pem.write_bytes((card_pki / "jlis-ca.pub.pem").read_bytes())
    settings = load_settings(
        pki_dir=card_pki,
        environment="production",
        card={"ca_keys": [{"key_id": "5000033/001", "public_key": str(pem)}]},
    )
    table = ca_key_table(settings)
    assert table.labels() == ["5000033/001"]


def test_c03_production_refuses_the_dev_ca(card_pki: Path) -> None:
    with pytest.raises(ConfigError, match="VAXCERT_CARD__CA_KEYS"):
        ca_key_table(load_settings(pki_dir=card_pki, environment="production"))


def test_c03_key_id_may_be_given_in_hex_and_all_16_bytes_count(
    card_pki: Path, genuine: CardFiles
) -> None:
    # Same digits as 9000033/001 but a non-zero last padding byte: a different issuer.
    key_id = "39303030303333080530303100000001"
    settings = load_settings(
        pki_dir=card_pki,
        card={"ca_keys": [{"key_id": key_id, "public_key": "jlis-ca.pub.pem"}]},
    )
    table = ca_key_table(settings)
    assert table.labels() == [key_id.upper()]
    with pytest.raises(UnknownCardCaError):
        verify_card_files(genuine, table)


def test_bad_ca_key_settings_name_the_setting(card_pki: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="VAXCERT_CARD__CA_KEYS"):
        load_settings(card={"ca_keys": [{"key_id": "5000033-001", "public_key": "x.pem"}]})
    missing = load_settings(
        pki_dir=card_pki, card={"ca_keys": [{"key_id": "5000033/001", "public_key": "nope.pem"}]}
    )
    with pytest.raises(ConfigError, match="VAXCERT_CARD__CA_KEYS"):
        ca_key_table(missing)
    ec_pem = tmp_path / "ec.pem"
    ec_pem.write_bytes(
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    not_rsa = load_settings(
        pki_dir=card_pki, card={"ca_keys": [{"key_id": "5000033/001", "public_key": str(ec_pem)}]}
    )
    with pytest.raises(ConfigError, match="not an RSA key"):
        ca_key_table(not_rsa)
    empty: Settings = load_settings(pki_dir=card_pki, card={"ca_keys": []})
    with pytest.raises(ConfigError, match="VAXCERT_CARD__CA_KEYS"):
        ca_key_table(empty)


def test_ca_key_table_from_environment(card_pki: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "VAXCERT_CARD__CA_KEYS",
        '[{"key_id": "9000033/001", "public_key": "jlis-ca.pub.pem"}]',
    )
    assert ca_key_table(load_settings(pki_dir=card_pki)).labels() == ["9000033/001"]


def test_c03_the_dev_ca_warns_at_every_card_it_verifies(
    card_settings: Settings, genuine: CardFiles, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    table = ca_key_table(card_settings)
    assert "UNSAFE development trust" in caplog.text  # when the table is configured
    caplog.clear()
    for _ in range(3):
        verify_card_files(genuine, table)
    warned = [r for r in caplog.records if "development CA 9000033/001" in r.getMessage()]
    assert len(warned) == 3


def test_c03_a_production_table_holds_no_dev_ca_and_stays_quiet(
    card_pki: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pem = tmp_path / "jlis-5000033.pem"
    pem.write_bytes((card_pki / "jlis-ca.pub.pem").read_bytes())
    caplog.set_level(logging.WARNING)
    table = ca_key_table(
        load_settings(
            pki_dir=card_pki,
            environment="production",
            card={"ca_keys": [{"key_id": "5000033/001", "public_key": str(pem)}]},
        )
    )
    assert table.development == frozenset()
    assert not caplog.records
    # Production's default table is the dev CA's: refused, naming the way out.
    with pytest.raises(ConfigError, match="refused in production"):
        ca_key_table(load_settings(pki_dir=card_pki, environment="production"))
