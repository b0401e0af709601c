"""Certificate contents for synthetic residents (demo, tests, benchmarks): never real people.

The seven doses follow Japan's programme (vaccines.md): primary series 2021, third dose from
2021-12, fourth from 2022-05, bivalent autumn 2022, spring 2023, XBB autumn 2023.
"""

from __future__ import annotations

import datetime as dt

from vaxcert.contracts.signing import (
    CertificateContent,
    Dose,
    Holder,
    Kind,
    Municipality,
    PersonName,
    RomanName,
    Sex,
)
from vaxcert.residents import SyntheticResident

PROGRAMME: tuple[tuple[dt.date, str, str], ...] = (
    (dt.date(2021, 6, 7), "pfizer-comirnaty-original", "FC9880"),
    (dt.date(2021, 6, 28), "pfizer-comirnaty-original", "FE8206"),
    (dt.date(2021, 12, 25), "moderna-spikevax-original", "3004229"),
    (dt.date(2022, 6, 30), "moderna-spikevax-original", "000221A"),
    (dt.date(2022, 11, 15), "pfizer-comirnaty-bivalent-ba45", "GK1234"),
    (dt.date(2023, 5, 20), "moderna-spikevax-bivalent-ba45", "000333B"),
    (dt.date(2023, 10, 10), "pfizer-comirnaty-xbb15", "HA5678"),
)

MUNICIPALITY_NAMES = {
    "462012": ("鹿児島市", "Kagoshima City"),
    "462187": ("霧島市", "Kirishima City"),
}


def example_content(
    resident: SyntheticResident,
    kind: Kind = "domestic",
    doses: int = 3,
    certificate_id: str = "9SAMPLE00001",
    issue_date: dt.date = dt.date(2023, 12, 20),
) -> CertificateContent:
    """A valid content for ``resident`` with the first ``doses`` doses of :data:`PROGRAMME`."""
    if not 1 <= doses <= len(PROGRAMME):
        raise ValueError(f"doses must be 1..{len(PROGRAMME)}")
    name_ja, name_en = MUNICIPALITY_NAMES.get(resident.municipality_code, ("試験市", "Test City"))
    overseas = kind == "overseas"
    if overseas and resident.passport is None:
        raise ValueError(f"resident {resident.key} has no passport on file")
    sexes: dict[str, Sex] = {"1": "male", "2": "female"}
    sex: Sex = sexes.get(resident.sex, "unspecified")
    holder = Holder(
        name=PersonName(family=resident.family_kanji, given=resident.given_kanji),
        name_roman=RomanName(family=resident.family_roman, given=resident.given_roman)
        if overseas
        else None,
        birth_date=resident.birth_date,
        sex=sex if overseas else None,
        nationality=resident.passport.nationality if overseas and resident.passport else None,
        passport_number=resident.passport.number if overseas and resident.passport else None,
    )
    return CertificateContent(
        kind=kind,
        certificate_id=certificate_id,
        issue_date=issue_date,
        municipality=Municipality(
            code=resident.municipality_code, name_ja=name_ja, name_en=name_en
        ),
        holder=holder,
        doses=[
            Dose(date=date, product=product, lot=lot, dose_number=number)
            for number, (date, product, lot) in enumerate(PROGRAMME[:doses], start=1)
        ],
    )
