"""The VRS stands in for an external system with its own product master; the certificates the
center builds from its records depend on the signer's table knowing the same products."""

from __future__ import annotations

import pytest

from vaxcert.vaccines import VaccineTable
from vrs_stub import vaccines


@pytest.mark.parametrize("key", sorted(vaccines.PRODUCTS))
def test_every_vrs_product_is_in_the_certificate_table_with_the_same_codes(key: str) -> None:
    record = vaccines.PRODUCTS[key]
    product = VaccineTable().product(key)
    assert (product.cvx, product.icd11) == (record.cvx, record.icd11)
    if product.nam is not None:
        assert product.nam == record.nam
