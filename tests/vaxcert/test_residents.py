"""Synthetic residents: valid-looking, obviously fake, the canary exactly as specified."""

from __future__ import annotations

import datetime as dt

import pytest

from vaxcert import mynumber, residents


def test_canary_is_exactly_as_specified() -> None:
    canary = residents.get("canary")
    assert canary.name_kanji == "試験\u3000花子"
    assert canary.name_roman == "SHIKEN HANAKO"
    assert canary.my_number == "123456789018"
    assert canary.birth_date == dt.date(1980, 2, 17)
    assert canary.municipality_code == "462012"
    assert canary.pin == "1234"
    assert canary.passport is not None


@pytest.mark.parametrize("key", sorted(residents.RESIDENTS))
def test_every_resident_is_well_formed(key: str) -> None:
    resident = residents.get(key)
    assert mynumber.is_valid(resident.my_number)
    assert len(resident.pin) == 4 and resident.pin.isdigit()
    assert len(resident.municipality_code) == 6
    assert resident.sex in {"1", "2", "9"}


def test_unknown_key_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="canary"):
        residents.get("nobody")


def test_check_digit_matches_the_official_formula() -> None:
    assert mynumber.check_digit("12345678901") == 8
    assert not mynumber.is_valid("123456789012")
    assert not mynumber.is_valid("12345678901")
