"""Municipality codes (全国地方公共団体コード, JIS X 0402): 5 digits and a check digit.

The VRS partitions every record by this code (C12); kiosks and the center pass it along. The
Kagoshima-prefecture table is the default set of partitions the synthetic VRS is seeded with.
"""

from __future__ import annotations

_WEIGHTS = (6, 5, 4, 3, 2)


def check_digit(first_five: str) -> int:
    """The 6th digit: weights 6..2, sum mod 11, 11 minus that, last digit (JIS X 0402)."""
    if len(first_five) != 5 or not (first_five.isascii() and first_five.isdigit()):
        raise ValueError("a municipality code has 5 ASCII digits before its check digit")
    total = sum(int(c) * w for c, w in zip(first_five, _WEIGHTS, strict=True))
    return (11 - total % 11) % 10


def is_valid(code: str) -> bool:
    """True when ``code`` is 6 ASCII digits with a correct check digit and a real prefecture."""
    if len(code) != 6 or not (code.isascii() and code.isdigit()):
        return False
    if not 1 <= int(code[:2]) <= 47:
        return False
    return check_digit(code[:5]) == int(code[5])


KAGOSHIMA_CITY = "462012"
KIRISHIMA_CITY = "462187"

# Kagoshima prefecture's 43 municipalities with their approximate population in thousands
# (2020 census, rounded), which the synthetic seed uses as weights.
KAGOSHIMA: dict[str, tuple[str, int]] = {
    "462012": ("鹿児島市", 593),
    "462039": ("鹿屋市", 101),
    "462047": ("枕崎市", 20),
    "462063": ("阿久根市", 19),
    "462080": ("出水市", 52),
    "462101": ("指宿市", 39),
    "462136": ("西之表市", 15),
    "462144": ("垂水市", 14),
    "462152": ("薩摩川内市", 92),
    "462161": ("日置市", 47),
    "462179": ("曽於市", 34),
    "462187": ("霧島市", 123),
    "462195": ("いちき串木野市", 27),
    "462209": ("南さつま市", 33),
    "462217": ("志布志市", 30),
    "462225": ("奄美市", 42),
    "462233": ("南九州市", 33),
    "462241": ("伊佐市", 24),
    "462250": ("姶良市", 77),
    "463035": ("三島村", 1),
    "463043": ("十島村", 1),
    "463922": ("さつま町", 20),
    "464040": ("長島町", 10),
    "464520": ("湧水町", 9),
    "464686": ("大崎町", 13),
    "464821": ("東串良町", 6),
    "464902": ("錦江町", 7),
    "464911": ("南大隅町", 7),
    "464929": ("肝付町", 15),
    "465011": ("中種子町", 8),
    "465020": ("南種子町", 5),
    "465054": ("屋久島町", 12),
    "465232": ("大和村", 1),
    "465241": ("宇検村", 2),
    "465259": ("瀬戸内町", 9),
    "465275": ("龍郷町", 6),
    "465291": ("喜界町", 7),
    "465305": ("徳之島町", 10),
    "465313": ("天城町", 6),
    "465321": ("伊仙町", 6),
    "465330": ("和泊町", 6),
    "465348": ("知名町", 6),
    "465356": ("与論町", 5),
}


def name_of(code: str) -> str:
    """The municipality's name when we know it (Kagoshima prefecture), else the code itself."""
    entry = KAGOSHIMA.get(code)
    return entry[0] if entry else code
