"""The COVID-19 vaccine products a VRS record may name (shared/docs/vaccines.md).

A vaccination row stores the product key and, as the record items 19/25/26 require, the vaccine
type (ICD-11), the product name and the CVX code current when it was recorded. Which codes a
certificate carries is the signer's configurable choice; these are the record's own values.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Product:
    """One product as the VRS and the certificate name it."""

    key: str
    vrs_name: str  # the name in the VRS product list
    label_ja: str  # the certificate label (Digital Agency FAQ Q6-3)
    name_en: str
    maker_ja: str
    maker_en: str
    cvx: str
    icd11: str  # VDS-NC `des`: the vaccine type
    nam: str  # VDS-NC `nam`
    first_used: dt.date
    last_used: dt.date
    lot_style: str  # how the seed invents plausible lot numbers


_D = dt.date
_END = _D(2024, 3, 31)

PRODUCTS: dict[str, Product] = {
    p.key: p
    for p in (
        Product(
            "pfizer-comirnaty-original",
            "ファイザー",
            "コミナティ",
            "COMIRNATY intramuscular injection",
            "ファイザー社",
            "Pfizer",
            "208",
            "XM0GQ8",
            "COMIRNATY",
            _D(2021, 2, 17),
            _D(2023, 9, 19),
            "pfizer",
        ),
        Product(
            "pfizer-comirnaty-5-11-original",
            "ファイザー（５から１１歳用）",
            "コミナティ(5から11歳用)",
            "COMIRNATY intramuscular injection (5-11 years)",
            "ファイザー社",
            "Pfizer",
            "218",
            "XM0GQ8",
            "COMIRNATY",
            _D(2022, 2, 21),
            _D(2023, 9, 19),
            "pfizer",
        ),
        Product(
            "pfizer-comirnaty-6m-4y-original",
            "コミナティ（６か月から４歳用）",
            "コミナティ(6ヵ月から4歳用)",
            "COMIRNATY intramuscular injection (6 months-4 years)",
            "ファイザー社",
            "Pfizer",
            "219",
            "XM0GQ8",
            "COMIRNATY",
            _D(2022, 10, 24),
            _D(2023, 9, 19),
            "pfizer",
        ),
        Product(
            "pfizer-comirnaty-bivalent-ba1",
            "コミナティ（２価：ＢＡ．１）",
            "コミナティ(BA.1)",
            "COMIRNATY bivalent (original/Omicron BA.1)",
            "ファイザー社",
            "Pfizer",
            "520",
            "XM0GQ8",
            "COMIRNATY",
            _D(2022, 9, 20),
            _D(2023, 9, 19),
            "pfizer",
        ),
        Product(
            "pfizer-comirnaty-bivalent-ba45",
            "コミナティ（２価：ＢＡ．４／５）",
            "コミナティ(BA.4-5)",
            "COMIRNATY bivalent (original/Omicron BA.4-5)",
            "ファイザー社",
            "Pfizer",
            "300",
            "XM0GQ8",
            "COMIRNATY",
            _D(2022, 10, 13),
            _D(2023, 9, 19),
            "pfizer",
        ),
        Product(
            "pfizer-comirnaty-5-11-bivalent-ba45",
            "コミナティ（５から１１歳用ＢＡ．４／５）",
            "コミナティ(5から11歳用BA.4-5)",
            "COMIRNATY bivalent (original/Omicron BA.4-5, 5-11 years)",
            "ファイザー社",
            "Pfizer",
            "301",
            "XM0GQ8",
            "COMIRNATY",
            _D(2023, 3, 8),
            _D(2023, 9, 19),
            "pfizer",
        ),
        Product(
            "pfizer-comirnaty-xbb15",
            "コミナティ（ＸＢＢ．１．５）",
            "コミナティ(XBB.1.5)",
            "COMIRNATY (Omicron XBB.1.5)",
            "ファイザー社",
            "Pfizer",
            "309",
            "XM0GQ8",
            "COMIRNATY",
            _D(2023, 9, 20),
            _END,
            "pfizer",
        ),
        Product(
            "pfizer-comirnaty-5-11-xbb15",
            "コミナティ５から１１歳用ＸＢＢ．１．５",
            "コミナティ(5から11歳用XBB.1.5)",
            "COMIRNATY (Omicron XBB.1.5, 5-11 years)",
            "ファイザー社",
            "Pfizer",
            "310",
            "XM0GQ8",
            "COMIRNATY",
            _D(2023, 9, 20),
            _END,
            "pfizer",
        ),
        Product(
            "pfizer-comirnaty-6m-4y-xbb15",
            "コミナティ６か月から４歳用ＸＢＢ．１．５",
            "コミナティ(6ヵ月から4歳用XBB.1.5)",
            "COMIRNATY (Omicron XBB.1.5, 6 months-4 years)",
            "ファイザー社",
            "Pfizer",
            "308",
            "XM0GQ8",
            "COMIRNATY",
            _D(2023, 9, 20),
            _END,
            "pfizer",
        ),
        Product(
            "moderna-spikevax-original",
            "武田／モデルナ",
            "スパイクバックス",
            "Spikevax intramuscular injection",
            "武田/モデルナ社",
            "Takeda/Moderna",
            "207",
            "XM0GQ8",
            "Spikevax",
            _D(2021, 5, 24),
            _D(2023, 9, 19),
            "moderna",
        ),
        Product(
            "moderna-spikevax-bivalent-ba1",
            "スパイクバックス（２価：ＢＡ．１）",
            "スパイクバックス(BA.1)",
            "Spikevax bivalent (original/Omicron BA.1)",
            "モデルナ社",
            "Moderna",
            "519",
            "XM0GQ8",
            "Spikevax",
            _D(2022, 9, 20),
            _D(2023, 6, 14),
            "moderna-late",
        ),
        Product(
            "moderna-spikevax-bivalent-ba45",
            "スパイクバックス（２価：ＢＡ．４／５）",
            "スパイクバックス(BA.4-5)",
            "Spikevax bivalent (original/Omicron BA.4-5)",
            "モデルナ社",
            "Moderna",
            "229",
            "XM0GQ8",
            "Spikevax",
            _D(2022, 11, 28),
            _D(2023, 9, 19),
            "moderna-late",
        ),
        Product(
            "moderna-spikevax-6-11-bivalent-ba45",
            "モデルナ（６から１１歳用ＢＡ．４／５）",
            "スパイクバックス(6から11歳用BA.4-5)",
            "Spikevax bivalent (original/Omicron BA.4-5, 6-11 years)",
            "モデルナ社",
            "Moderna",
            "229",
            "XM0GQ8",
            "Spikevax",
            _D(2023, 5, 8),
            _D(2023, 9, 19),
            "moderna-late",
        ),
        Product(
            "moderna-spikevax-xbb15",
            "スパイクバックス（ＸＢＢ．１．５）",
            "スパイクバックス(XBB.1.5)",
            "Spikevax (Omicron XBB.1.5)",
            "モデルナ社",
            "Moderna",
            "312",
            "XM0GQ8",
            "Spikevax",
            _D(2023, 10, 2),
            _END,
            "moderna-late",
        ),
        Product(
            "moderna-spikevax-6-11-xbb15",
            "スパイクバックス６～１１歳ＸＢＢ．１．５",
            "スパイクバックス(6から11歳用XBB.1.5)",
            "Spikevax (Omicron XBB.1.5, 6-11 years)",
            "モデルナ社",
            "Moderna",
            "311",
            "XM0GQ8",
            "Spikevax",
            _D(2023, 10, 2),
            _END,
            "moderna-late",
        ),
        Product(
            "moderna-spikevax-6m-5y-xbb15",
            "スパイクバックス６月～５歳ＸＢＢ．１．５",
            "スパイクバックス(6ヵ月から5歳用XBB.1.5)",
            "Spikevax (Omicron XBB.1.5, 6 months-5 years)",
            "モデルナ社",
            "Moderna",
            "311",
            "XM0GQ8",
            "Spikevax",
            _D(2023, 11, 1),
            _END,
            "moderna-late",
        ),
        Product(
            "astrazeneca-vaxzevria",
            "アストラゼネカ",
            "バキスゼブリア",
            "Vaxzevria intramuscular injection",
            "アストラゼネカ社",
            "AstraZeneca",
            "210",
            "XM9QW8",
            "Vaxzevria",
            _D(2021, 8, 3),
            _D(2022, 9, 30),
            "astrazeneca",
        ),
        Product(
            "takeda-nuvaxovid-original",
            "ノババックス",
            "ヌバキソビッド",
            "Nuvaxovid intramuscular injection",
            "武田(ノババックス)社",
            "Takeda (Novavax)",
            "211",
            "XM5JC5",
            "Nuvaxovid",
            _D(2022, 5, 25),
            _D(2023, 12, 25),
            "generic",
        ),
        Product(
            "janssen-jcovden",
            "ジェコビデン",
            "ジェコビデン",
            "JCOVDEN intramuscular injection",
            "ヤンセンファーマ社",
            "Janssen",
            "212",
            "XM9QW8",
            "JCOVDEN",
            _D(2022, 6, 20),
            _END,
            "generic",
        ),
        Product(
            "daiichisankyo-daichirona-xbb15",
            "ダイチロナ",
            "ダイチロナ",
            "DAICHIRONA",
            "第一三共社",
            "Daiichi Sankyo",
            "500",
            "XM0GQ8",
            "DAICHIRONA",
            _D(2023, 12, 4),
            _END,
            "generic",
        ),
    )
}


def get(key: str) -> Product:
    """The product with ``key``; raises KeyError for an unknown one."""
    return PRODUCTS[key]
