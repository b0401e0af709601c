"""The one product table and the three views derived from it (signer/center, VRS, verifier)."""

from __future__ import annotations

from collections import defaultdict

import pytest

from vaxcert import vaccines
from vaxcert.config import VaccineOverride
from vaxcert.vaccines import PRODUCTS, VRS_PRODUCTS, ReaderName, VaccineTable, by_cvx


def test_one_row_per_product() -> None:
    keys = [product.key for product in PRODUCTS]
    assert len(keys) == len(set(keys))


def test_products_that_share_a_code_share_what_a_reader_shows() -> None:
    # A reader sees only the code, so it must not name one of the products that carry it.
    by_code: dict[str, set[ReaderName | None]] = defaultdict(set)
    for product in PRODUCTS:
        by_code[product.cvx].add(product.reader_name)
    shared = {code: names for code, names in by_code.items() if len(names) > 1}
    assert not shared
    assert by_cvx("229") == ReaderName(
        "Spikevax BA.4-5 (Moderna)", "スパイクバックス BA.4-5(モデルナ)"
    )
    assert by_cvx("311") == ReaderName(
        "Spikevax XBB.1.5 (Moderna, paediatric)", "スパイクバックス XBB.1.5 小児用(モデルナ)"
    )
    # Daichirona and Kostaive share 500, which names no product.
    assert by_cvx("500") == ReaderName(
        "COVID-19 vaccine (non-US product)", "新型コロナワクチン(その他)"
    )


def test_a_reader_names_every_code_a_product_may_carry() -> None:
    for product in PRODUCTS:
        for code in (product.cvx, *product.other_cvx):
            assert by_cvx(code) is not None, (product.key, code)
    # A code's own product names it, not a product that has it as an alternative.
    assert by_cvx("300") == by_cvx(VaccineTable()["pfizer-comirnaty-bivalent-ba45"].cvx)
    assert by_cvx("300") != VaccineTable()["pfizer-comirnaty-bivalent-ba1"].reader_name
    assert by_cvx("207") == ReaderName("Spikevax (Moderna)", "スパイクバックス(モデルナ)")
    assert by_cvx("999") is None


@pytest.mark.parametrize(
    ("key", "code"),
    [("pfizer-comirnaty-original", "217"), ("daiichisankyo-daichirona-xbb15", "213")],
)
def test_a_code_chosen_in_configuration_is_still_named_for_readers(key: str, code: str) -> None:
    # docs/signer.md shows both choices; the verifier does not read the signer's configuration.
    table = VaccineTable({key: VaccineOverride(cvx=code)})
    assert table.product(key).cvx == code
    assert by_cvx(code) is not None
    assert VRS_PRODUCTS[key].cvx == VaccineTable()[key].cvx != code  # records keep the built-in


def test_the_vrs_lists_the_programme_products_with_their_record_values() -> None:
    assert set(VRS_PRODUCTS) == {p.key for p in PRODUCTS if p.programme is not None}
    assert "meiji-kostaive" not in VRS_PRODUCTS and "covid19-unspecified" not in VRS_PRODUCTS
    comirnaty = VRS_PRODUCTS["pfizer-comirnaty-original"]
    assert (comirnaty.vrs_name, comirnaty.product_name, comirnaty.maker) == (
        "ファイザー",
        "コミナティ",
        "ファイザー社",
    )
    assert (comirnaty.vaccine_type, comirnaty.cvx) == (vaccines.MRNA, "208")
    for product in VRS_PRODUCTS.values():
        assert vaccines.PROGRAMME_START <= product.first_used <= product.last_used
        assert product.last_used <= vaccines.PROGRAMME_END
        # Everything the VRS can record is issuable: a certificate can be made from it.
        assert VaccineTable().product(product.key).name_ja == product.product_name
