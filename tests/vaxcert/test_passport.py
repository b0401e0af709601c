"""The passport's MRZ (TD3) through the `mrz` package: check digits, dates, names (C08: errors
never quote it)."""

from __future__ import annotations

import datetime as dt

import pytest

from vaxcert import passport, residents
from vaxcert.errors import VaxcertError
from vaxcert.residents import CANARY

TODAY = dt.date(2026, 12, 1)


def test_the_synthetic_mrz_reads_back() -> None:
    read = passport.parse_td3(passport.synthetic_td3(CANARY), TODAY)
    assert (read.family_roman, read.given_roman) == (CANARY.family_roman, CANARY.given_roman)
    assert (read.nationality, read.number) == ("JPN", "TZ9990001")
    assert read.birth_date == CANARY.birth_date
    assert read.expiry_date == passport.SYNTHETIC_EXPIRY


def test_every_resident_with_a_passport_has_a_valid_mrz() -> None:
    for resident in residents.RESIDENTS.values():
        if resident.passport is not None:
            assert passport.parse_td3(passport.synthetic_td3(resident), TODAY).number


@pytest.mark.parametrize(
    "broken",
    [
        lambda text: text.replace("TZ9990001", "TZ9990002"),  # number check digit
        lambda text: text.replace("8002170", "8002180"),  # birth date check digit
        lambda text: text.replace("JPN", "XQZ"),  # no such country
        lambda text: text.replace("P<", "V<", 1),  # a visa, not a passport
        lambda text: text.replace("\n", ""),  # one line
        lambda text: text + "<",  # 45 characters
        lambda text: "\n".join(["<" * 44, "<" * 44]),
        lambda text: text.replace("SHIKEN", "試験XYZ"),
    ],
)
def test_a_broken_mrz_is_mrz_invalid_without_quoting_it(broken: object) -> None:
    text = broken(passport.synthetic_td3(CANARY))  # type: ignore[operator]
    with pytest.raises(VaxcertError) as refused:
        passport.parse_td3(text, TODAY)
    assert refused.value.code == "mrz_invalid"
    for value in ("SHIKEN", "TZ999", "800217"):
        assert value not in str(refused.value)


def test_two_digit_years_birth_in_the_past_expiry_ahead() -> None:
    young = residents.get("no-records")  # born 2000
    fields = {name: getattr(young, name) for name in young.__dataclass_fields__}
    person = residents.SyntheticResident(**{**fields, "passport": residents.Passport("TZ0000001")})
    read = passport.parse_td3(passport.synthetic_td3(person, dt.date(2030, 1, 1)), TODAY)
    assert read.birth_date.year == 2000 and read.expiry_date.year == 2030
    elder = passport.parse_td3(
        passport.synthetic_td3(
            residents.SyntheticResident(
                **{
                    **{n: getattr(CANARY, n) for n in CANARY.__dataclass_fields__},
                    "birth_date": dt.date(1941, 11, 3),
                }
            )
        ),
        TODAY,
    )
    assert elder.birth_date.year == 1941
