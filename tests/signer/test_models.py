"""The certificate-content model and the per-product vaccine table."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from signer.samples import example_content
from vaxcert.config import VaccineOverride
from vaxcert.contracts.signing import CertificateContent
from vaxcert.errors import VaxcertError
from vaxcert.residents import CANARY, RESIDENTS
from vaxcert.vaccines import PRODUCTS, VaccineTable


def _content(kind: str = "overseas") -> dict[str, Any]:
    data: dict[str, Any] = json.loads(example_content(CANARY, "overseas", 3).model_dump_json())
    data["kind"] = kind
    return data


def _errors(data: dict[str, Any]) -> list[dict[str, Any]]:
    with pytest.raises(ValidationError) as caught:
        CertificateContent.model_validate_json(json.dumps(data))
    return list(caught.value.errors())


def test_example_contents_round_trip_through_json() -> None:
    for resident in RESIDENTS.values():
        kinds = ["domestic", "overseas"] if resident.passport else ["domestic"]
        for kind in kinds:
            content = example_content(resident, kind, 7)  # type: ignore[arg-type]
            again = CertificateContent.model_validate_json(content.model_dump_json())
            assert again == content


def test_c04_unknown_fields_are_refused_at_every_level() -> None:
    for path in ([], ["holder"], ["holder", "name"], ["municipality"]):
        data = _content()
        node = data
        for name in path:
            node = node[name]
        node["my_number"] = "x"
        assert _errors(data)[0]["type"] == "extra_forbidden"
    data = _content()
    data["doses"][0]["free_text"] = "x"
    assert _errors(data)[0]["type"] == "extra_forbidden"


def test_types_are_strict() -> None:
    data = _content()
    data["doses"][0]["dose_number"] = "1"  # seq is an integer, never a string
    assert _errors(data)[0]["type"] == "int_type"
    data = _content()
    data["holder"]["birth_date"] = 19800217
    assert _errors(data)[0]["type"] in {"date_type", "date_from_datetime_parsing", "value_error"}


def test_overseas_needs_romanised_name_nationality_and_passport() -> None:
    for field in ("name_roman", "nationality", "passport_number"):
        data = _content()
        del data["holder"][field]
        errors = _errors(data)
        assert field in errors[0]["msg"]


def test_c04_domestic_carries_no_passport_nationality_or_sex() -> None:
    data = _content("domestic")
    errors = _errors(data)
    assert "passport_number" in errors[0]["msg"]
    for field in ("sex", "nationality", "passport_number"):
        del data["holder"][field]
    CertificateContent.model_validate_json(json.dumps(data))


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("certificate_id",), "TOO-LONG-CERTIFICATE-ID"),
        (("certificate_id",), "abc"),
        (("holder", "name_roman", "family"), "Shiken"),
        (("holder", "name_roman", "family"), "SHIKEN/X"),
        (("holder", "passport_number"), "TZ999000112345"),
        (("holder", "nationality"), "JP"),
        (("holder", "name", "family"), " 試験"),
        (("holder", "name", "family"), "試験\n"),
        (("doses", 0, "lot"), "fc9880"),
        (("doses", 0, "lot"), "X" * 21),
        (("doses", 0, "dose_number"), 0),
        (("doses", 0, "administering_authority"), "MHLW/JAPAN"),
        (("municipality", "code"), "46201"),
        (("kind",), "tourist"),
    ],
)
def test_field_rules(path: tuple[str | int, ...], value: object) -> None:
    data = _content()
    node: Any = data
    for name in path[:-1]:
        node = node[name]
    node[path[-1]] = value
    assert _errors(data)


def test_dates_and_dose_numbers_are_consistent() -> None:
    data = _content()
    data["doses"][0]["date"] = "2024-01-01"  # after the issue date
    assert "issue date" in _errors(data)[0]["msg"]
    data = _content()
    data["doses"][1]["dose_number"] = data["doses"][0]["dose_number"]
    assert "same dose_number" in _errors(data)[0]["msg"]
    data = _content()
    data["holder"]["birth_date"] = "2022-01-01"
    assert "birth date" in _errors(data)[0]["msg"]


def test_doses_may_start_above_one_and_have_gaps() -> None:
    data = _content()
    data["doses"] = [dict(data["doses"][0], dose_number=4)]
    content = CertificateContent.model_validate_json(json.dumps(data))
    assert content.doses[0].dose_number == 4


def test_romanised_name_fits_vdsnc() -> None:
    data = _content()
    data["holder"]["name_roman"] = {"family": "A" * 20, "given": "B" * 19}
    assert "39" in _errors(data)[0]["msg"]


def test_vaccine_table_has_every_product_of_the_programme() -> None:
    table = VaccineTable()
    assert len(table) == len(PRODUCTS)
    assert table["moderna-spikevax-original"].cvx == "207"
    assert table["pfizer-comirnaty-original"].nam == "COMIRNATY"
    assert table["astrazeneca-vaxzevria"].icd11 == "XM9QW8"
    assert table["takeda-nuvaxovid-original"].icd11 == "XM5JC5"
    for product in table.values():
        assert product.name_ja and product.name_en and product.cvx.isdigit()


def test_vaccine_table_is_configurable_per_product() -> None:
    table = VaccineTable(
        {
            "pfizer-comirnaty-original": VaccineOverride(cvx="217"),
            "new-product": VaccineOverride(
                name_ja="新", name_en="New", maker_ja="社", maker_en="Co", cvx="500", icd11="XM68M6"
            ),
        }
    )
    assert table["pfizer-comirnaty-original"].cvx == "217"
    assert table["pfizer-comirnaty-original"].nam == "COMIRNATY"
    assert table.product("new-product").nam is None
    with pytest.raises(ValueError, match="lacks"):
        VaccineTable({"half": VaccineOverride(cvx="500")})


def test_unknown_and_excluded_products_are_refused() -> None:
    table = VaccineTable()
    with pytest.raises(VaxcertError) as unknown:
        table.product("sputnik")
    assert unknown.value.code == "vaccine_product_unknown"
    for key in ("meiji-kostaive", "covid19-unspecified"):
        with pytest.raises(VaxcertError) as excluded:
            table.product(key)
        assert excluded.value.code == "vaccine_not_issuable"
