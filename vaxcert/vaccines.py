"""The programme's COVID-19 vaccine products: one row per product, and the views services use.

:data:`PRODUCTS` is the product master, transcribed from shared/docs/vaccines.md: each row holds
every fact we keep about one product once (certificate names ja/en, maker, CVX, ICD-11 ``des``,
VDS-NC ``nam``, what a reader shows for its code, and how Japan's programme used it). Rows and
fields marked unconfirmed there are our best mapping. Three views are derived from it:

- :class:`VaccineTable`: what the signer puts in both QR formats and the center prints, with the
  configured replacements applied (``signer.vaccines.<key>.cvx`` etc., see docs/signer.md), so the
  printed label and the signed codes always agree;
- :data:`VRS_PRODUCTS`: the VRS product list, i.e. what a vaccination record of each product
  stores and the days the programme gave it (the VRS stub's records and synthetic data);
- :func:`by_cvx`: what a verifier shows for a dose's CVX code, including codes that several
  products share and codes a configuration may choose instead of a product's own.

Adding a vaccine is adding one row here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType

from vaxcert.config import VaccineOverride
from vaxcert.errors import VaxcertError

CVX_SYSTEM = "http://hl7.org/fhir/sid/cvx"
# WHO ICD-11 vaccine-type codes Japan used (vaccines.md "ICD-11 des").
MRNA = "XM0GQ8"
VIRAL_VECTOR = "XM9QW8"
PROTEIN_SUBUNIT = "XM5JC5"
COVID19_VACCINES = "XM68M6"
# VDS-NC ve[].dis: COVID-19 (always emitted).
DISEASE = "RA01.0"
# The publicly funded programme (特例臨時接種): the first and the last day a dose was given.
PROGRAMME_START = dt.date(2021, 2, 17)
PROGRAMME_END = dt.date(2024, 3, 31)
# The programme gave at most seven doses (the 7th in the autumn 2023 round); the printed
# certificate, the VRS record and the wire contracts all stop there.
MAX_DOSES = 7


@dataclass(frozen=True, slots=True)
class ReaderName:
    """How a reader names a dose from its CVX code alone, in English and Japanese (display only)."""

    en: str
    ja: str


@dataclass(frozen=True, slots=True)
class ProgrammeUse:
    """How Japan's programme gave a product: its name in the VRS product list, first, last day."""

    vrs_name: str
    first_used: dt.date
    last_used: dt.date


@dataclass(frozen=True, slots=True)
class VaccineProduct:
    """One product as a certificate, both QR formats, a reader and the VRS name it."""

    key: str
    name_ja: str  # certificate label (Digital Agency FAQ Q6-3); the VRS records it as 製品名
    name_en: str
    maker_ja: str
    maker_en: str
    cvx: str
    icd11: str  # VDS-NC `des`: the vaccine type
    nam: str | None  # None: no VDS-NC name, so no 海外用 certificate for this product
    issuable: bool = True
    confirmed: bool = False  # seen in a certificate signed by Japan's production keys
    # What a reader shows for `cvx`: products that share a code share this name, because the
    # code cannot tell them apart. None only for products added by configuration.
    reader_name: ReaderName | None = None
    # Codes vaccines.md names as alternatives, which a configuration may emit instead of `cvx`.
    other_cvx: tuple[str, ...] = ()
    programme: ProgrammeUse | None = None  # None: never given in the programme


@dataclass(frozen=True, slots=True)
class VrsProduct:
    """A product of the VRS product list: the values a vaccination record of it stores
    (別添2 items 19/25 and 26, maker, CVX) and the days the programme gave it."""

    key: str
    vrs_name: str
    vaccine_type: str  # ICD-11
    product_name: str  # the certificate label
    maker: str
    cvx: str
    first_used: dt.date
    last_used: dt.date


_PFIZER = ("ファイザー社", "Pfizer")
_MODERNA = ("モデルナ社", "Moderna")

_COMIRNATY = ReaderName("COMIRNATY (Pfizer)", "コミナティ(ファイザー)")
_SPIKEVAX_BA45 = ReaderName("Spikevax BA.4-5 (Moderna)", "スパイクバックス BA.4-5(モデルナ)")
_SPIKEVAX_XBB_CHILD = ReaderName(
    "Spikevax XBB.1.5 (Moderna, paediatric)", "スパイクバックス XBB.1.5 小児用(モデルナ)"
)
# CVX 500 ("Non-US Vaccine, Product Unknown") and 213 ("UNSPECIFIED") name no product.
_NON_US = ReaderName("COVID-19 vaccine (non-US product)", "新型コロナワクチン(その他)")
_UNSPECIFIED = ReaderName("COVID-19 vaccine (unspecified)", "新型コロナワクチン(不明)")


def _p(
    key: str,
    *,
    ja: str,
    en: str,
    maker: tuple[str, str],
    cvx: str,
    icd11: str,
    nam: str | None,
    reader: ReaderName,
    used: tuple[str, dt.date, dt.date] | None,
    other_cvx: tuple[str, ...] = (),
    issuable: bool = True,
    confirmed: bool = False,
) -> VaccineProduct:
    return VaccineProduct(
        key=key,
        name_ja=ja,
        name_en=en,
        maker_ja=maker[0],
        maker_en=maker[1],
        cvx=cvx,
        icd11=icd11,
        nam=nam,
        issuable=issuable,
        confirmed=confirmed,
        reader_name=reader,
        other_cvx=other_cvx,
        programme=ProgrammeUse(*used) if used is not None else None,
    )


_D = dt.date
_END = PROGRAMME_END

PRODUCTS: tuple[VaccineProduct, ...] = (
    _p(
        "pfizer-comirnaty-original",
        ja="コミナティ",
        en="COMIRNATY",
        maker=_PFIZER,
        cvx="208",
        other_cvx=("217",),  # the ready-to-use presentation
        icd11=MRNA,
        nam="COMIRNATY",
        reader=_COMIRNATY,
        used=("ファイザー", PROGRAMME_START, _D(2023, 9, 19)),
        confirmed=True,
    ),
    _p(
        "pfizer-comirnaty-5-11-original",
        ja="コミナティ(5から11歳用)",
        en="COMIRNATY (5 to 11 years)",
        maker=_PFIZER,
        cvx="218",
        icd11=MRNA,
        nam="COMIRNATY",
        reader=ReaderName("COMIRNATY 5-11 (Pfizer)", "コミナティ 5~11歳用(ファイザー)"),
        used=("ファイザー（５から１１歳用）", _D(2022, 2, 21), _D(2023, 9, 19)),
    ),
    _p(
        "pfizer-comirnaty-6m-4y-original",
        ja="コミナティ(6ヵ月から4歳用)",
        en="COMIRNATY (6 months to 4 years)",
        maker=_PFIZER,
        cvx="219",
        icd11=MRNA,
        nam="COMIRNATY",
        reader=ReaderName("COMIRNATY 6m-4y (Pfizer)", "コミナティ 6ヵ月~4歳用(ファイザー)"),
        used=("コミナティ（６か月から４歳用）", _D(2022, 10, 24), _D(2023, 9, 19)),
    ),
    _p(
        "pfizer-comirnaty-bivalent-ba1",
        ja="コミナティ(BA.1)",
        en="COMIRNATY (bivalent BA.1)",
        maker=_PFIZER,
        cvx="520",
        other_cvx=("300",),  # the BA.4-5 code, for verifiers that reject 520
        icd11=MRNA,
        nam="COMIRNATY",
        reader=ReaderName("COMIRNATY BA.1 (Pfizer)", "コミナティ BA.1(ファイザー)"),
        used=("コミナティ（２価：ＢＡ．１）", _D(2022, 9, 20), _D(2023, 9, 19)),
    ),
    _p(
        "pfizer-comirnaty-bivalent-ba45",
        ja="コミナティ(BA.4-5)",
        en="COMIRNATY (bivalent BA.4-5)",
        maker=_PFIZER,
        cvx="300",
        icd11=MRNA,
        nam="COMIRNATY",
        reader=ReaderName("COMIRNATY BA.4-5 (Pfizer)", "コミナティ BA.4-5(ファイザー)"),
        used=("コミナティ（２価：ＢＡ．４／５）", _D(2022, 10, 13), _D(2023, 9, 19)),
    ),
    _p(
        "pfizer-comirnaty-5-11-bivalent-ba45",
        ja="コミナティ(5から11歳用BA.4-5)",
        en="COMIRNATY (5 to 11 years, bivalent BA.4-5)",
        maker=_PFIZER,
        cvx="301",
        icd11=MRNA,
        nam="COMIRNATY",
        reader=ReaderName(
            "COMIRNATY 5-11 BA.4-5 (Pfizer)", "コミナティ 5~11歳用 BA.4-5(ファイザー)"
        ),
        used=("コミナティ（５から１１歳用ＢＡ．４／５）", _D(2023, 3, 8), _D(2023, 9, 19)),
    ),
    _p(
        "pfizer-comirnaty-xbb15",
        ja="コミナティ(XBB.1.5)",
        en="COMIRNATY (XBB.1.5)",
        maker=_PFIZER,
        cvx="309",
        icd11=MRNA,
        nam="COMIRNATY",
        reader=ReaderName("COMIRNATY XBB.1.5 (Pfizer)", "コミナティ XBB.1.5(ファイザー)"),
        used=("コミナティ（ＸＢＢ．１．５）", _D(2023, 9, 20), _END),
    ),
    _p(
        "pfizer-comirnaty-5-11-xbb15",
        ja="コミナティ(5から11歳用XBB.1.5)",
        en="COMIRNATY (5 to 11 years, XBB.1.5)",
        maker=_PFIZER,
        cvx="310",
        icd11=MRNA,
        nam="COMIRNATY",
        reader=ReaderName(
            "COMIRNATY 5-11 XBB.1.5 (Pfizer)", "コミナティ 5~11歳用 XBB.1.5(ファイザー)"
        ),
        used=("コミナティ５から１１歳用ＸＢＢ．１．５", _D(2023, 9, 20), _END),
    ),
    _p(
        "pfizer-comirnaty-6m-4y-xbb15",
        ja="コミナティ(6ヵ月から4歳用XBB.1.5)",
        en="COMIRNATY (6 months to 4 years, XBB.1.5)",
        maker=_PFIZER,
        cvx="308",
        icd11=MRNA,
        nam="COMIRNATY",
        reader=ReaderName(
            "COMIRNATY 6m-4y XBB.1.5 (Pfizer)", "コミナティ 6ヵ月~4歳用 XBB.1.5(ファイザー)"
        ),
        used=("コミナティ６か月から４歳用ＸＢＢ．１．５", _D(2023, 9, 20), _END),
    ),
    _p(
        "moderna-spikevax-original",
        ja="スパイクバックス",
        en="Spikevax",
        maker=_MODERNA,
        cvx="207",
        icd11=MRNA,
        nam="Spikevax",
        reader=ReaderName("Spikevax (Moderna)", "スパイクバックス(モデルナ)"),
        # The VRS list kept the name of the Takeda years (marketing authorisation until 2022-08).
        used=("武田／モデルナ", _D(2021, 5, 24), _D(2023, 9, 19)),
        confirmed=True,
    ),
    _p(
        "moderna-spikevax-bivalent-ba1",
        ja="スパイクバックス(BA.1)",
        en="Spikevax (bivalent BA.1)",
        maker=_MODERNA,
        cvx="519",
        other_cvx=("229",),  # the BA.4-5 code, for verifiers that reject 519
        icd11=MRNA,
        nam="Spikevax",
        reader=ReaderName("Spikevax BA.1 (Moderna)", "スパイクバックス BA.1(モデルナ)"),
        used=("スパイクバックス（２価：ＢＡ．１）", _D(2022, 9, 20), _D(2023, 6, 14)),
    ),
    _p(
        "moderna-spikevax-bivalent-ba45",
        ja="スパイクバックス(BA.4-5)",
        en="Spikevax (bivalent BA.4-5)",
        maker=_MODERNA,
        cvx="229",
        icd11=MRNA,
        nam="Spikevax",
        reader=_SPIKEVAX_BA45,
        used=("スパイクバックス（２価：ＢＡ．４／５）", _D(2022, 11, 28), _D(2023, 9, 19)),
    ),
    _p(
        "moderna-spikevax-6-11-bivalent-ba45",
        ja="スパイクバックス(6から11歳用BA.4-5)",
        en="Spikevax (6 to 11 years, bivalent BA.4-5)",
        maker=_MODERNA,
        cvx="229",
        icd11=MRNA,
        nam="Spikevax",
        reader=_SPIKEVAX_BA45,
        used=("モデルナ（６から１１歳用ＢＡ．４／５）", _D(2023, 5, 8), _D(2023, 9, 19)),
    ),
    _p(
        "moderna-spikevax-xbb15",
        ja="スパイクバックス(XBB.1.5)",
        en="Spikevax (XBB.1.5)",
        maker=_MODERNA,
        cvx="312",
        icd11=MRNA,
        nam="Spikevax",
        reader=ReaderName("Spikevax XBB.1.5 (Moderna)", "スパイクバックス XBB.1.5(モデルナ)"),
        used=("スパイクバックス（ＸＢＢ．１．５）", _D(2023, 10, 2), _END),
    ),
    _p(
        "moderna-spikevax-6-11-xbb15",
        ja="スパイクバックス(6から11歳用XBB.1.5)",
        en="Spikevax (6 to 11 years, XBB.1.5)",
        maker=_MODERNA,
        cvx="311",
        icd11=MRNA,
        nam="Spikevax",
        reader=_SPIKEVAX_XBB_CHILD,
        used=("スパイクバックス６～１１歳ＸＢＢ．１．５", _D(2023, 10, 2), _END),
    ),
    _p(
        "moderna-spikevax-6m-5y-xbb15",
        ja="スパイクバックス(6ヵ月から5歳用XBB.1.5)",
        en="Spikevax (6 months to 5 years, XBB.1.5)",
        maker=_MODERNA,
        cvx="311",
        icd11=MRNA,
        nam="Spikevax",
        reader=_SPIKEVAX_XBB_CHILD,
        used=("スパイクバックス６月～５歳ＸＢＢ．１．５", _D(2023, 11, 1), _END),
    ),
    _p(
        "astrazeneca-vaxzevria",
        ja="バキスゼブリア",
        en="Vaxzevria",
        maker=("アストラゼネカ社", "AstraZeneca"),
        cvx="210",
        icd11=VIRAL_VECTOR,
        nam="Vaxzevria",
        reader=ReaderName("Vaxzevria (AstraZeneca)", "バキスゼブリア(アストラゼネカ)"),
        used=("アストラゼネカ", _D(2021, 8, 3), _D(2022, 9, 30)),
        confirmed=True,
    ),
    _p(
        "takeda-nuvaxovid-original",
        ja="ヌバキソビッド",
        en="Nuvaxovid",
        maker=("武田(ノババックス)社", "Takeda (Novavax)"),
        cvx="211",
        icd11=PROTEIN_SUBUNIT,
        nam="Nuvaxovid",
        reader=ReaderName("Nuvaxovid (Takeda/Novavax)", "ヌバキソビッド(武田/ノババックス)"),
        used=("ノババックス", _D(2022, 5, 25), _D(2023, 12, 25)),
    ),
    _p(
        "janssen-jcovden",
        ja="ジェコビデン",
        en="JCOVDEN",
        maker=("ヤンセンファーマ社", "Janssen"),
        cvx="212",
        icd11=VIRAL_VECTOR,
        nam="JCOVDEN",
        reader=ReaderName("JCOVDEN (Janssen)", "ジェコビデン(ヤンセン)"),
        used=("ジェコビデン", _D(2022, 6, 20), _END),
    ),
    _p(
        "daiichisankyo-daichirona-xbb15",
        ja="ダイチロナ",
        en="DAICHIRONA",
        maker=("第一三共社", "Daiichi Sankyo"),
        cvx="500",  # no product code exists
        other_cvx=("213",),
        icd11=MRNA,
        nam="DAICHIRONA",
        reader=_NON_US,
        used=("ダイチロナ", _D(2023, 12, 4), _END),
    ),
    # vaccines.md: out of the programme (2024-10 routine use) and the unresolved fallback; kept so
    # a record naming them is refused with a reason instead of "unknown product".
    _p(
        "meiji-kostaive",
        ja="コスタイベ",
        en="Kostaive",
        maker=("Meiji Seika ファルマ社", "Meiji Seika Pharma"),
        cvx="500",
        icd11=MRNA,
        nam=None,
        reader=_NON_US,
        used=None,
        issuable=False,
    ),
    _p(
        "covid19-unspecified",
        ja="新型コロナワクチン(製品不明)",
        en="COVID-19 vaccine (product unknown)",
        maker=("—", "—"),
        cvx="213",
        icd11=COVID19_VACCINES,
        nam=None,
        reader=_UNSPECIFIED,
        used=None,
        issuable=False,
    ),
)


class VaccineTable(Mapping[str, VaccineProduct]):
    """The effective product table: the built-in rows with the configured overrides applied."""

    def __init__(self, overrides: Mapping[str, VaccineOverride] | None = None) -> None:
        rows = {product.key: product for product in PRODUCTS}
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


def _vrs_products() -> dict[str, VrsProduct]:
    # The VRS records the built-in values: which codes a certificate carries is the signer's
    # configurable choice, made when it signs.
    return {
        p.key: VrsProduct(
            key=p.key,
            vrs_name=p.programme.vrs_name,
            vaccine_type=p.icd11,
            product_name=p.name_ja,
            maker=p.maker_ja,
            cvx=p.cvx,
            first_used=p.programme.first_used,
            last_used=p.programme.last_used,
        )
        for p in PRODUCTS
        if p.programme is not None
    }


def _reader_names() -> dict[str, ReaderName]:
    names: dict[str, ReaderName] = {}
    # A code's own products name it first; an alternative only names a code no product carries.
    for product in PRODUCTS:
        if product.reader_name is not None:
            names.setdefault(product.cvx, product.reader_name)
    for product in PRODUCTS:
        for code in product.other_cvx:
            if product.reader_name is not None:
                names.setdefault(code, product.reader_name)
    return names


VRS_PRODUCTS: Mapping[str, VrsProduct] = MappingProxyType(_vrs_products())
_BY_CVX: Mapping[str, ReaderName] = MappingProxyType(_reader_names())


def by_cvx(code: str) -> ReaderName | None:
    """What a reader shows for a dose with CVX ``code``, or None for a code no product carries."""
    return _BY_CVX.get(code)


def _japanese_by_nam() -> dict[str, str]:
    names: dict[str, str] = {}
    # Each VDS-NC `nam` is shared by a product's variants; the first row of a name is the base
    # product (コミナティ, スパイクバックス, …), which is what the name alone can tell.
    for product in PRODUCTS:
        if product.nam is not None:
            names.setdefault(product.nam.casefold(), product.name_ja)
    return names


_JA_BY_NAM: Mapping[str, str] = MappingProxyType(_japanese_by_nam())


def japanese_name_of_nam(nam: str) -> str | None:
    """The Japanese name a reader shows for a VDS-NC ``nam`` (display only), or None."""
    return _JA_BY_NAM.get(nam.casefold())
