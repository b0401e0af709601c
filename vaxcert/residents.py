"""Synthetic residents: the only identities tests and the demo use.

Each has a short key for command lines (``--resident canary``). The canary's values are searched for
after test runs to prove nothing was kept (C08, C22). Later issues add edge-case residents here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from vaxcert import mynumber


@dataclass(frozen=True, slots=True)
class Passport:
    """Passport data on file for 海外用 certificates."""

    number: str
    nationality: str = "JPN"


@dataclass(frozen=True, slots=True)
class SyntheticResident:
    """One synthetic person: what the card holds, the PIN, and where they were vaccinated."""

    key: str
    family_kanji: str
    given_kanji: str
    family_kana: str
    given_kana: str
    family_roman: str
    given_roman: str
    my_number: str
    birth_date: dt.date
    sex: str  # JIS X 0303: 1 male, 2 female, 9 not applicable
    municipality_code: str
    address: str
    pin: str
    passport: Passport | None
    description: str

    @property
    def name_kanji(self) -> str:
        """The name as the card writes it: family and given name joined by U+3000."""
        return f"{self.family_kanji}\u3000{self.given_kanji}"

    @property
    def name_roman(self) -> str:
        """The romanised name as VDS-NC writes it: "FAMILY GIVEN"."""
        return f"{self.family_roman} {self.given_roman}"

    @property
    def canary_values(self) -> tuple[str, ...]:
        """Strings that must never appear in any log, file, key or label (C08)."""
        values = [
            self.my_number,
            self.family_kanji + self.given_kanji,
            self.name_kanji,
            self.name_roman,
            self.birth_date.isoformat(),
            self.birth_date.strftime("%Y%m%d"),
        ]
        if self.passport is not None:
            values.append(self.passport.number)
        return tuple(values)


def _number(first_eleven: str) -> str:
    return first_eleven + str(mynumber.check_digit(first_eleven))


KAGOSHIMA_CITY = "462012"
KIRISHIMA_CITY = "462187"

CANARY = SyntheticResident(
    key="canary",
    family_kanji="試験",
    given_kanji="花子",
    family_kana="シケン",
    given_kana="ハナコ",
    family_roman="SHIKEN",
    given_roman="HANAKO",
    my_number="123456789018",
    birth_date=dt.date(1980, 2, 17),
    sex="2",
    municipality_code=KAGOSHIMA_CITY,
    address="鹿児島県鹿児島市試験町１－２－３",
    pin="1234",
    passport=Passport("TZ9990001"),
    description="the canary: tests search for her values to prove nothing was kept",
)

RESIDENTS: dict[str, SyntheticResident] = {
    r.key: r
    for r in (
        CANARY,
        SyntheticResident(
            key="elder",
            family_kanji="見本",
            given_kanji="太郎",
            family_kana="ミホン",
            given_kana="タロウ",
            family_roman="MIHON",
            given_roman="TARO",
            my_number=_number("98765432101"),
            birth_date=dt.date(1941, 11, 3),
            sex="1",
            municipality_code=KAGOSHIMA_CITY,
            address="鹿児島県鹿児島市見本町４－５－６",
            pin="5678",
            passport=None,
            description="an elderly resident, domestic certificates only (no passport on file)",
        ),
        SyntheticResident(
            key="kirishima",
            family_kanji="模擬",
            given_kanji="一郎",
            family_kana="モギ",
            given_kana="イチロウ",
            family_roman="MOGI",
            given_roman="ICHIRO",
            my_number=_number("55500011122"),
            birth_date=dt.date(1972, 7, 30),
            sex="1",
            municipality_code=KIRISHIMA_CITY,
            address="鹿児島県霧島市模擬町７－８",
            pin="2468",
            passport=Passport("TZ9990002"),
            description="a Kirishima City resident with passport data on file",
        ),
        # Edge cases. Their record-level facts (flags, doses, moves) live in
        # vrs_stub/seed.py; here is only what the card holds.
        SyntheticResident(
            key="support-measure",
            family_kanji="支援",
            given_kanji="美咲",
            family_kana="シエン",
            given_kana="ミサキ",
            family_roman="SHIEN",
            given_roman="MISAKI",
            my_number=_number("20000000011"),
            birth_date=dt.date(1988, 5, 12),
            sex="2",
            municipality_code=KAGOSHIMA_CITY,
            address="鹿児島県鹿児島市試験町２－３－４",
            pin="1111",
            passport=None,
            description="support-measure flag (支援措置) on her record: kiosks must not issue",
        ),
        SyntheticResident(
            key="old-surname",
            family_kanji="改姓",
            given_kanji="由美",
            family_kana="カイセイ",
            given_kana="ユミ",
            family_roman="KAISEI",
            given_roman="YUMI",
            my_number=_number("20000000022"),
            birth_date=dt.date(1975, 9, 1),
            sex="2",
            municipality_code=KAGOSHIMA_CITY,
            address="鹿児島県鹿児島市見本町１－１０",
            pin="2222",
            passport=Passport("TZ9990003"),
            description="旧姓 notation (旧田) on her record, passport data on file",
        ),
        SyntheticResident(
            key="moved-out",
            family_kanji="転出",
            given_kanji="健太",
            family_kana="テンシュツ",
            given_kana="ケンタ",
            family_roman="TENSHUTSU",
            given_roman="KENTA",
            my_number=_number("20000000033"),
            birth_date=dt.date(1990, 1, 20),
            sex="1",
            municipality_code=KAGOSHIMA_CITY,
            address="福岡県福岡市中央区見本１－２－３",
            pin="3333",
            passport=None,
            description="vaccinated in Kagoshima City, then moved to Fukuoka (card: new address)",
        ),
        SyntheticResident(
            key="deceased",
            family_kanji="故人",
            given_kanji="正雄",
            family_kana="コジン",
            given_kana="マサオ",
            family_roman="KOJIN",
            given_roman="MASAO",
            my_number=_number("20000000044"),
            birth_date=dt.date(1935, 4, 4),
            sex="1",
            municipality_code=KAGOSHIMA_CITY,
            address="鹿児島県鹿児島市見本町８－９",
            pin="4444",
            passport=None,
            description="his record is flagged deceased",
        ),
        SyntheticResident(
            key="no-records",
            family_kanji="未接種",
            given_kanji="翔",
            family_kana="ミセッシュ",
            given_kana="ショウ",
            family_roman="MISESSHU",
            given_roman="SHO",
            my_number=_number("20000000055"),
            birth_date=dt.date(2000, 12, 12),
            sex="1",
            municipality_code=KAGOSHIMA_CITY,
            address="鹿児島県鹿児島市試験町５－６",
            pin="5555",
            passport=None,
            description="ticket issued but never vaccinated: no dose to certify",
        ),
        SyntheticResident(
            key="no-passport",
            family_kanji="国内",
            given_kanji="愛",
            family_kana="コクナイ",
            given_kana="アイ",
            family_roman="KOKUNAI",
            given_roman="AI",
            my_number=_number("20000000066"),
            birth_date=dt.date(1995, 6, 30),
            sex="2",
            municipality_code=KAGOSHIMA_CITY,
            address="鹿児島県鹿児島市試験町７－８－９",
            pin="6666",
            passport=None,
            description="never issued 海外用: no passport data on file (domestic only at kiosks)",
        ),
        SyntheticResident(
            key="two-municipalities",
            family_kanji="二市",
            given_kanji="次郎",
            family_kana="ニシ",
            given_kana="ジロウ",
            family_roman="NISHI",
            given_roman="JIRO",
            my_number=_number("20000000077"),
            birth_date=dt.date(1968, 3, 3),
            sex="1",
            municipality_code=KIRISHIMA_CITY,
            address="鹿児島県霧島市模擬町３－４",
            pin="7777",
            passport=None,
            description="doses 1-2 in Kagoshima City 462012, then moved: doses 3-5 in Kirishima",
        ),
    )
}


def get(key: str) -> SyntheticResident:
    """The synthetic resident with ``key``; raises KeyError naming the known keys."""
    try:
        return RESIDENTS[key]
    except KeyError:
        raise KeyError(f"unknown resident {key!r}; known: {', '.join(sorted(RESIDENTS))}") from None
