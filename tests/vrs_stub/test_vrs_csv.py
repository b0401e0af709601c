"""The staff CSV format on its own: spreadsheet-bound files must never carry a runnable formula."""

from __future__ import annotations

import csv
import dataclasses
import io

import pytest

from tests.support.vrs_csv import csv_file, csv_line
from vaxcert.lgcode import KAGOSHIMA_CITY
from vrs_stub import csvio

FORMULAS = ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)", "＝1+1", "\t=1+1"]


@pytest.mark.parametrize("formula", FORMULAS)
@pytest.mark.parametrize("column", ["family_kanji", "address", "place", "doctor", "note"])
def test_import_refuses_a_cell_that_starts_like_a_formula(column: str, formula: str) -> None:
    parsed = csvio.parse(csv_file([csv_line(**{column: formula})]), KAGOSHIMA_CITY)
    assert parsed.records == []
    assert [(e.line, e.column, e.problem) for e in parsed.errors] == [(2, column, "invalid")]


def test_a_clean_file_still_imports() -> None:
    parsed = csvio.parse(csv_file([csv_line(note="2回目の予約済み")]), KAGOSHIMA_CITY)
    assert parsed.errors == [] and len(parsed.records) == 1


@pytest.mark.parametrize("formula", FORMULAS)
def test_export_neutralises_formula_cells_already_on_file(formula: str) -> None:
    """Records that reached the store another way (or before this rule) export inert."""
    [parsed] = csvio.parse(csv_file([csv_line()]), KAGOSHIMA_CITY).records
    record = parsed.record
    identity = dataclasses.replace(record.identity, address=formula)
    dose = dataclasses.replace(record.vaccinations[0], note=formula)
    record = dataclasses.replace(record, identity=identity, vaccinations=[dose])
    text, count = csvio.export([record])
    [row] = list(csv.DictReader(io.StringIO(text)))
    assert count == 1
    assert row["address"] == "'" + formula and row["note"] == "'" + formula
    assert all(not value.startswith(csvio.FORMULA_PREFIXES) for value in row.values())
