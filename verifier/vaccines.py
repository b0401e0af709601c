"""Display names of vaccine codes, for showing doses (shared/docs/vaccines.md).

Only for display: verification never depends on these. The issuing side keeps its own
configurable per-product table; the CVX codes here cover every product Japan's programme used.
"""

from __future__ import annotations

from dataclasses import dataclass

CVX_SYSTEM = "http://hl7.org/fhir/sid/cvx"


@dataclass(frozen=True, slots=True)
class Product:
    """A product's English and Japanese display names."""

    en: str
    ja: str


_COMIRNATY = Product("COMIRNATY (Pfizer)", "コミナティ(ファイザー)")
_SPIKEVAX = Product("Spikevax (Moderna)", "スパイクバックス(モデルナ)")

_BY_CVX: dict[str, Product] = {
    "207": _SPIKEVAX,
    "208": _COMIRNATY,
    "217": _COMIRNATY,
    "218": Product("COMIRNATY 5-11 (Pfizer)", "コミナティ 5~11歳用(ファイザー)"),
    "219": Product("COMIRNATY 6m-4y (Pfizer)", "コミナティ 6ヵ月~4歳用(ファイザー)"),
    "520": Product("COMIRNATY BA.1 (Pfizer)", "コミナティ BA.1(ファイザー)"),
    "300": Product("COMIRNATY BA.4-5 (Pfizer)", "コミナティ BA.4-5(ファイザー)"),
    "301": Product("COMIRNATY 5-11 BA.4-5 (Pfizer)", "コミナティ 5~11歳用 BA.4-5(ファイザー)"),
    "308": Product(
        "COMIRNATY 6m-4y XBB.1.5 (Pfizer)", "コミナティ 6ヵ月~4歳用 XBB.1.5(ファイザー)"
    ),
    "309": Product("COMIRNATY XBB.1.5 (Pfizer)", "コミナティ XBB.1.5(ファイザー)"),
    "310": Product("COMIRNATY 5-11 XBB.1.5 (Pfizer)", "コミナティ 5~11歳用 XBB.1.5(ファイザー)"),
    "519": Product("Spikevax BA.1 (Moderna)", "スパイクバックス BA.1(モデルナ)"),
    "229": Product("Spikevax BA.4-5 (Moderna)", "スパイクバックス BA.4-5(モデルナ)"),
    "311": Product(
        "Spikevax XBB.1.5 (Moderna, paediatric)", "スパイクバックス XBB.1.5 小児用(モデルナ)"
    ),
    "312": Product("Spikevax XBB.1.5 (Moderna)", "スパイクバックス XBB.1.5(モデルナ)"),
    "210": Product("Vaxzevria (AstraZeneca)", "バキスゼブリア(アストラゼネカ)"),
    "211": Product("Nuvaxovid (Takeda/Novavax)", "ヌバキソビッド(武田/ノババックス)"),
    "212": Product("JCOVDEN (Janssen)", "ジェコビデン(ヤンセン)"),
    "500": Product("COVID-19 vaccine (non-US product)", "新型コロナワクチン(その他)"),
    "213": Product("COVID-19 vaccine (unspecified)", "新型コロナワクチン(不明)"),
}


def by_cvx(code: str) -> Product | None:
    """The product of a CVX code, or None for a code we have no name for."""
    return _BY_CVX.get(code)
