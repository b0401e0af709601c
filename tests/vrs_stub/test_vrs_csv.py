"""The staff CSV format on its own: spreadsheet-bound files must never carry a runnable formula."""

from __future__ import annotations

import csv
import dataclasses
import io

import pytest

from vaxcert import mynumber
from vaxcert.lgcode import KAGOSHIMA_CITY
from vrs_stub import csvio


def _row(**values: str) -> dict[str, str]:
    first_eleven = "30000000001"
    row = {
        "address_number": "5000000001",
        "my_number": first_eleven + str(mynumber.check_digit(first_eleven)),
        "family_kanji": "取込",
        "given_kanji": "一子",
        "family_kana": "トリコミ",
        "given_kana": "カズコ",
        "birth_date": "1970-01-01",
        "sex": "2",
        "address": "鹿児島県鹿児島市試験町９－９",
        "classification": "一般",
        "support_measure": "0",
        "dose_number": "1",
        "ticket_number": "1234567890",
        "ticket_issued_on": "2021-05-01",
        "status": "done",
        "vaccinated_on": "2021-06-01",
        "product_key": "pfizer-comirnaty-original",
        "lot_number": "FC9880",
        "place": "鹿児島市集団接種会場",
        "doctor": "見本\u3000医師",
        "adverse_reaction_reported": "0",
    }
    row.update(values)
    return row


def _csv(*rows: dict[str, str]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=csvio.IMPORT_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


FORMULAS = ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)", "＝1+1", "\t=1+1"]


@pytest.mark.parametrize("formula", FORMULAS)
@pytest.mark.parametrize("column", ["family_kanji", "address", "place", "doctor", "note"])
def test_import_refuses_a_cell_that_starts_like_a_formula(column: str, formula: str) -> None:
    parsed = csvio.parse(_csv(_row(**{column: formula})), KAGOSHIMA_CITY)
    assert parsed.records == []
    assert [(e.line, e.column, e.problem) for e in parsed.errors] == [(2, column, "invalid")]


def test_a_clean_file_still_imports() -> None:
    parsed = csvio.parse(_csv(_row(note="2回目の予約済み")), KAGOSHIMA_CITY)
    assert parsed.errors == [] and len(parsed.records) == 1


@pytest.mark.parametrize("formula", FORMULAS)
def test_export_neutralises_formula_cells_already_on_file(formula: str) -> None:
    """Records that reached the store another way (or before this rule) export inert."""
    [parsed] = csvio.parse(_csv(_row()), KAGOSHIMA_CITY).records
    record = parsed.record
    identity = dataclasses.replace(record.identity, address=formula)
    dose = dataclasses.replace(record.vaccinations[0], note=formula)
    record = dataclasses.replace(record, identity=identity, vaccinations=[dose])
    text, count = csvio.export([record])
    [row] = list(csv.DictReader(io.StringIO(text)))
    assert count == 1
    assert row["address"] == "'" + formula and row["note"] == "'" + formula
    assert all(not value.startswith(csvio.FORMULA_PREFIXES) for value in row.values())
