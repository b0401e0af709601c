"""Test names carry privacy control ids one way: first, in lower case (``test_c01_c03_…``), so a
controls matrix can be read off the test names."""

from __future__ import annotations

import ast
import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent
CONTROL_ID = re.compile(r"[cC]\d{2}")


def misplaced_control_ids(source: str) -> list[str]:
    """Names of test functions in ``source`` whose control ids do not all lead, in lower case."""
    misplaced = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if not node.name.startswith("test_"):
            continue
        tokens = node.name.removeprefix("test_").split("_")
        positions = [i for i, token in enumerate(tokens) if CONTROL_ID.fullmatch(token)]
        leading = positions == list(range(len(positions)))
        if not leading or any(tokens[i] != tokens[i].lower() for i in positions):
            misplaced.append(node.name)
    return misplaced


def test_the_check_finds_ids_anywhere_but_first() -> None:
    source = (
        "def test_c01_c03_reads(): ...\n"
        "def test_reads_C01(): ...\n"
        "def test_C08_logs(): ...\n"
        "def test_c08_logs_c22(): ...\n"
        "def test_ef0003_swapped(): ...\n"
    )
    assert misplaced_control_ids(source) == ["test_reads_C01", "test_C08_logs", "test_c08_logs_c22"]


def test_control_ids_lead_every_test_name() -> None:
    found = {
        f"{path.relative_to(TESTS)}: {name}"
        for path in TESTS.rglob("*.py")
        for name in misplaced_control_ids(path.read_text(encoding="utf-8"))
    }
    assert found == set()
