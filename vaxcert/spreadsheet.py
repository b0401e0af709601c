"""Cells for files that people open in spreadsheets (CSV injection)."""

from __future__ import annotations

# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection). The
# full-width forms count too: Japanese spreadsheets read them as the ASCII ones.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")


def spreadsheet_safe(cell: str) -> str:
    """``cell`` as a spreadsheet shows it and never runs it: a formula-like start gets a quote."""
    return "'" + cell if cell.startswith(FORMULA_PREFIXES) else cell
