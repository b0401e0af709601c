"""The one per-product table: names (ja/en), maker, CVX, ICD-11 ``des`` and VDS-NC ``nam``.

Values come from shared/docs/vaccines.md; rows and fields marked unconfirmed there are our best
mapping, so every value can be replaced per product key in the configuration
(``signer.vaccines.<key>.cvx`` etc., see docs/signer.md). The kiosk and the center read names from
here too, so the printed label and the signed codes always agree.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace

from vaxcert.config import VaccineOverride
from vaxcert.errors import VaxcertError

# WHO ICD-11 vaccine-type codes Japan used (vaccines.md "ICD-11 des").
MRNA = "XM0GQ8"
VIRAL_VECTOR = "XM9QW8"
PROTEIN_SUBUNIT = "XM5JC5"
COVID19_VACCINES = "XM68M6"
# VDS-NC ve[].dis: COVID-19 (always emitted).
DISEASE = "RA01.0"


@dataclass(frozen=True, slots=True)
class VaccineProduct:
    """One product as it appears on a certificate and in both QR formats."""

    key: str
    name_ja: str
    name_en: str
    maker_ja: str
    maker_en: str
    cvx: str
    icd11: str
    nam: str | None  # None: no VDS-NC name, so no 海外用 certificate for this product
    issuable: bool = True
    confirmed: bool = False  # seen in a certificate signed by Japan's production keys


def _p(
    key: str,
    name_ja: str,
    name_en: str,
    maker: tuple[str, str],
    cvx: str,
    icd11: str,
    nam: str | None,
    issuable: bool = True,
    confirmed: bool = False,
) -> VaccineProduct:
    return VaccineProduct(
        key, name_ja, name_en, maker[0], maker[1], cvx, icd11, nam, issuable, confirmed
    )


_PFIZER = ("ファイザー社", "Pfizer")
_MODERNA = ("モデルナ社", "Moderna")

BUILT_IN: tuple[VaccineProduct, ...] = (
    _p(
        "pfizer-comirnaty-original",
        "コミナティ",
        "COMIRNATY",
        _PFIZER,
        "208",
        MRNA,
        "COMIRNATY",
        confirmed=True,
    ),
    _p(
        "pfizer-comirnaty-5-11-original",
        "コミナティ(5から11歳用)",
        "COMIRNATY (5 to 11 years)",
        _PFIZER,
        "218",
        MRNA,
        "COMIRNATY",
    ),
    _p(
        "pfizer-comirnaty-6m-4y-original",
        "コミナティ(6ヵ月から4歳用)",
        "COMIRNATY (6 months to 4 years)",
        _PFIZER,
        "219",
        MRNA,
        "COMIRNATY",
    ),
    _p(
        "pfizer-comirnaty-bivalent-ba1",
        "コミナティ(BA.1)",
        "COMIRNATY (bivalent BA.1)",
        _PFIZER,
        "520",
        MRNA,
        "COMIRNATY",
    ),
    _p(
        "pfizer-comirnaty-bivalent-ba45",
        "コミナティ(BA.4-5)",
        "COMIRNATY (bivalent BA.4-5)",
        _PFIZER,
        "300",
        MRNA,
        "COMIRNATY",
    ),
    _p(
        "pfizer-comirnaty-5-11-bivalent-ba45",
        "コミナティ(5から11歳用BA.4-5)",
        "COMIRNATY (5 to 11 years, bivalent BA.4-5)",
        _PFIZER,
        "301",
        MRNA,
        "COMIRNATY",
    ),
    _p(
        "pfizer-comirnaty-xbb15",
        "コミナティ(XBB.1.5)",
        "COMIRNATY (XBB.1.5)",
        _PFIZER,
        "309",
        MRNA,
        "COMIRNATY",
    ),
    _p(
        "pfizer-comirnaty-5-11-xbb15",
        "コミナティ(5から11歳用XBB.1.5)",
        "COMIRNATY (5 to 11 years, XBB.1.5)",
        _PFIZER,
        "310",
        MRNA,
        "COMIRNATY",
    ),
    _p(
        "pfizer-comirnaty-6m-4y-xbb15",
        "コミナティ(6ヵ月から4歳用XBB.1.5)",
        "COMIRNATY (6 months to 4 years, XBB.1.5)",
        _PFIZER,
        "308",
        MRNA,
        "COMIRNATY",
    ),
    _p(
        "moderna-spikevax-original",
        "スパイクバックス",
        "Spikevax",
        _MODERNA,
        "207",
        MRNA,
        "Spikevax",
        confirmed=True,
    ),
    _p(
        "moderna-spikevax-bivalent-ba1",
        "スパイクバックス(BA.1)",
        "Spikevax (bivalent BA.1)",
        _MODERNA,
        "519",
        MRNA,
        "Spikevax",
    ),
    _p(
        "moderna-spikevax-bivalent-ba45",
        "スパイクバックス(BA.4-5)",
        "Spikevax (bivalent BA.4-5)",
        _MODERNA,
        "229",
        MRNA,
        "Spikevax",
    ),
    _p(
        "moderna-spikevax-6-11-bivalent-ba45",
        "スパイクバックス(6から11歳用BA.4-5)",
        "Spikevax (6 to 11 years, bivalent BA.4-5)",
        _MODERNA,
        "229",
        MRNA,
        "Spikevax",
    ),
    _p(
        "moderna-spikevax-xbb15",
        "スパイクバックス(XBB.1.5)",
        "Spikevax (XBB.1.5)",
        _MODERNA,
        "312",
        MRNA,
        "Spikevax",
    ),
    _p(
        "moderna-spikevax-6-11-xbb15",
        "スパイクバックス(6から11歳用XBB.1.5)",
        "Spikevax (6 to 11 years, XBB.1.5)",
        _MODERNA,
        "311",
        MRNA,
        "Spikevax",
    ),
    _p(
        "moderna-spikevax-6m-5y-xbb15",
        "スパイクバックス(6ヵ月から5歳用XBB.1.5)",
        "Spikevax (6 months to 5 years, XBB.1.5)",
        _MODERNA,
        "311",
        MRNA,
        "Spikevax",
    ),
    _p(
        "astrazeneca-vaxzevria",
        "バキスゼブリア",
        "Vaxzevria",
        ("アストラゼネカ社", "AstraZeneca"),
        "210",
        VIRAL_VECTOR,
        "Vaxzevria",
        confirmed=True,
    ),
    _p(
        "takeda-nuvaxovid-original",
        "ヌバキソビッド",
        "Nuvaxovid",
        ("武田(ノババックス)社", "Takeda (Novavax)"),
        "211",
        PROTEIN_SUBUNIT,
        "Nuvaxovid",
    ),
    _p(
        "janssen-jcovden",
        "ジェコビデン",
        "JCOVDEN",
        ("ヤンセンファーマ社", "Janssen"),
        "212",
        VIRAL_VECTOR,
        "JCOVDEN",
    ),
    _p(
        "daiichisankyo-daichirona-xbb15",
        "ダイチロナ",
        "DAICHIRONA",
        ("第一三共社", "Daiichi Sankyo"),
        "500",
        MRNA,
        "DAICHIRONA",
    ),
    # vaccines.md: out of the programme (2024-10 routine use) and the unresolved fallback; kept so
    # a record naming them is refused with a reason instead of "unknown product".
    _p(
        "meiji-kostaive",
        "コスタイベ",
        "Kostaive",
        ("Meiji Seika ファルマ社", "Meiji Seika Pharma"),
        "500",
        MRNA,
        None,
        issuable=False,
    ),
    _p(
        "covid19-unspecified",
        "新型コロナワクチン(製品不明)",
        "COVID-19 vaccine (product unknown)",
        ("—", "—"),
        "213",
        COVID19_VACCINES,
        None,
        issuable=False,
    ),
)


class VaccineTable(Mapping[str, VaccineProduct]):
    """The effective product table: the built-in rows with the configured overrides applied."""

    def __init__(self, overrides: Mapping[str, VaccineOverride] | None = None) -> None:
        rows = {product.key: product for product in BUILT_IN}
        for key, override in (overrides or {}).items():
            changes = {k: v for k, v in override.model_dump().items() if v is not None}
            if key in rows:
                rows[key] = replace(rows[key], **changes)
                continue
            missing = {"name_ja", "name_en", "maker_ja", "maker_en", "cvx", "icd11"} - set(changes)
            if missing:
                raise ValueError(f"new vaccine product {key!r} lacks {', '.join(sorted(missing))}")
            rows[key] = VaccineProduct(**{"key": key, "nam": None, **changes})
        self._rows = rows

    def __getitem__(self, key: str) -> VaccineProduct:
        return self._rows[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def product(self, key: str) -> VaccineProduct:
        """The issuable product ``key``; unknown or excluded products are typed refusals."""
        found = self._rows.get(key)
        if found is None:
            raise VaxcertError("vaccine_product_unknown", "the dose names an unknown product key")
        if not found.issuable:
            raise VaxcertError("vaccine_not_issuable", f"product {key} is not issued")
        return found
