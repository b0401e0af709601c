"""`vaxcert controls`: the privacy controls, the tests that prove them and their last outcomes.

Each test writes a small checkout of its own (a pyproject.toml and a tests/ folder), runs a real
pytest over it with the JUnit XML that `make test` writes, and reads the matrix through the CLI.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from launch import controls
from launch.cli import main

SAMPLE = """
import pytest


def test_c01_passes():
    pass


def test_c02_fails():
    assert 1 + 1 == 3


@pytest.mark.parametrize("n", [1, 2])
def test_c01_c03_passes_for_every_parameter(n):
    assert n


@pytest.mark.parametrize("n", [1, 2])
def test_c05_fails_for_one_parameter(n):
    assert n == 1


class TestGroup:
    def test_c04_is_skipped(self):
        pytest.skip("needs a device")

    def test_c07_passes_in_a_class(self):
        pass


@pytest.fixture
def breaks_on_teardown():
    yield
    raise RuntimeError("teardown")


def test_c10_fails_then_its_teardown_errors(breaks_on_teardown):
    assert False


def test_c23_cites_no_such_control():
    pass


def test_cites_nothing():
    pass


def helper_c09_is_no_test():
    pass
"""

LATER = """
def test_c07_was_written_after_the_run():
    pass
"""


def _checkout(root: Path, files: dict[str, str]) -> Path:
    (root / "pyproject.toml").write_text("[tool.pytest.ini_options]\ntestpaths = ['tests']\n")
    for name, source in files.items():
        path = root / "tests" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    return root


def _run_pytest(checkout: Path, *args: str) -> None:
    """pytest over ``checkout`` as `make test` runs it: outcomes into .vaxcert/."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--junitxml={checkout / controls.LAST_RUN}",
            *args,
        ],
        cwd=checkout,
        capture_output=True,
        check=False,
    )
    assert (checkout / controls.LAST_RUN).is_file()


def _matrix(checkout: Path) -> tuple[int, dict[str, Any], str]:
    runner = CliRunner()
    as_json = runner.invoke(main, ["controls", "--json", "--checkout", str(checkout)])
    as_text = runner.invoke(main, ["controls", "--checkout", str(checkout)])
    assert as_json.exit_code == as_text.exit_code, (as_json.output, as_text.output)
    return as_json.exit_code, json.loads(as_json.output), as_text.output


def _rows(matrix: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["id"]: row for row in matrix["controls"]}


def _tests(row: dict[str, Any]) -> dict[str, str]:
    return {test["id"].rsplit("::", 1)[1]: test["outcome"] for test in row["tests"]}


def test_the_matrix_shows_passed_failed_skipped_missing_and_unrun_tests_of_a_real_run(
    tmp_path: Path,
) -> None:
    checkout = _checkout(tmp_path, {"test_sample.py": SAMPLE, "area/test_later.py": LATER})
    _run_pytest(checkout, "tests/test_sample.py")

    code, matrix, text = _matrix(checkout)

    rows = _rows(matrix)
    assert [row["id"] for row in matrix["controls"]] == [f"C{n:02}" for n in range(1, 23)]
    assert matrix["test_suite"]["available"] is True
    assert matrix["test_suite"]["test_functions"] == 10
    # pytest writes the failed case twice (call, then teardown): it is one case.
    assert matrix["last_run"]["test_cases"] == 11
    assert rows["C01"]["status"] == "proven"
    assert _tests(rows["C01"]) == {
        "test_c01_passes": "passed",
        "test_c01_c03_passes_for_every_parameter": "passed",
    }
    assert rows["C01"]["tests"][1]["cases"] == {"passed": 2}
    assert rows["C02"]["status"] == "failed"
    assert _tests(rows["C02"]) == {"test_c02_fails": "failed"}
    assert rows["C03"]["status"] == "proven"
    assert rows["C04"]["status"] == "not run"
    assert _tests(rows["C04"]) == {"test_c04_is_skipped": "skipped"}
    assert rows["C04"]["tests"][0]["id"] == "tests/test_sample.py::TestGroup::test_c04_is_skipped"
    # One parameter failing is the whole test failing.
    assert rows["C05"]["status"] == "failed"
    assert rows["C05"]["tests"][0]["cases"] == {"passed": 1, "failed": 1}
    # One of C07's tests passed and the other was written after the run.
    assert rows["C07"]["status"] == "incomplete"
    assert _tests(rows["C07"]) == {
        "test_c07_passes_in_a_class": "passed",
        "test_c07_was_written_after_the_run": "not run",
    }
    assert rows["C10"]["status"] == "failed"
    assert rows["C10"]["tests"][0]["cases"] == {"failed": 1}
    assert rows["C06"]["status"] == "missing" and rows["C06"]["tests"] == []
    assert rows["C09"]["status"] == "missing"  # a helper is not a test
    assert matrix["unknown_control_ids"] == {
        "C23": ["tests/test_sample.py::test_c23_cites_no_such_control"]
    }
    assert matrix["summary"]["failed"] == ["C02", "C05", "C10"]
    assert code == controls.EXIT_FINDING == matrix["exit_code"]

    assert "C02  FAILED  My Number taken from the card, never typed" in text
    assert "     failed   tests/test_sample.py::test_c02_fails" in text
    assert "(1 failed, 1 passed)" in text
    assert "C06  MISSING  app applications only from the genuine app" in text
    assert "     no test name starts with c06" in text
    assert "     not run  tests/area/test_later.py::test_c07_was_written_after_the_run" in text
    assert "C23  UNKNOWN ID" in text
    assert "last run: started " in text and "11 test cases" in text


def _every_control() -> str:
    return "".join(f"def test_c{n:02}_holds():\n    pass\n\n" for n in range(1, 23))


def test_every_control_proven_exits_0_and_before_any_run_exits_3(tmp_path: Path) -> None:
    checkout = _checkout(tmp_path, {"test_all.py": _every_control()})

    code, matrix, text = _matrix(checkout)
    assert code == controls.EXIT_UNPROVEN
    assert matrix["last_run"] is None
    assert matrix["summary"] == {"not run": [f"C{n:02}" for n in range(1, 23)]}
    assert "last run: none recorded" in text

    _run_pytest(checkout)
    code, matrix, _ = _matrix(checkout)
    assert code == controls.EXIT_PROVEN
    assert matrix["summary"] == {"proven": [f"C{n:02}" for n in range(1, 23)]}


def test_a_missing_control_fails_even_when_every_test_passed(tmp_path: Path) -> None:
    source = _every_control().replace("def test_c21_holds", "def test_c20_also_holds")
    checkout = _checkout(tmp_path, {"test_all.py": source})
    _run_pytest(checkout)
    code, matrix, _ = _matrix(checkout)
    assert matrix["summary"] == {
        "proven": [f"C{n:02}" for n in range(1, 23) if n != 21],
        "missing": ["C21"],
    }
    assert code == controls.EXIT_FINDING


def test_without_a_test_suite_the_matrix_lists_the_controls_and_says_so(tmp_path: Path) -> None:
    # What an installed wheel sees: no checkout beside the package.
    assert controls.find_checkout(tmp_path) is None
    matrix = controls.build(None)
    assert matrix.exit_code == controls.EXIT_UNPROVEN
    assert {row.status for row in matrix.rows} == {controls.Status.UNKNOWN}
    text = controls.render(matrix)
    assert "test suite: not available" in text
    assert "C22  UNKNOWN  My Number never shown" in text
    result = CliRunner().invoke(main, ["controls", "--checkout", str(tmp_path)])
    assert result.exit_code == 2
    assert "holds no pyproject.toml and tests/" in result.output


def test_the_checkout_of_this_code_is_found_and_its_ids_match_the_catalogue(
    repo_root: Path,
) -> None:
    assert controls.find_checkout() == repo_root
    tests, total = controls.discover(repo_root)
    assert total > len(tests) > 100
    cited = {control_id for test in tests for control_id in test.controls}
    assert cited <= controls.KNOWN_IDS, cited - controls.KNOWN_IDS


@pytest.mark.parametrize(
    ("name", "ids"),
    [
        ("test_c08_logs", ("C08",)),
        ("test_c01_c03_reads", ("C01", "C03")),
        ("test_reads_c01", ()),
        ("test_c08_logs_c22", ("C08",)),
        ("test_c1_short", ()),
        ("test_ef0003_swapped", ()),
    ],
)
def test_control_ids_are_read_from_the_start_of_a_test_name(
    name: str, ids: tuple[str, ...]
) -> None:
    assert controls.control_ids(name) == ids


def test_an_unreadable_last_run_is_an_error_that_says_what_to_do(tmp_path: Path) -> None:
    checkout = _checkout(tmp_path, {"test_all.py": _every_control()})
    (checkout / controls.LAST_RUN).parent.mkdir()
    (checkout / controls.LAST_RUN).write_text("<testsuites><testsuite")  # cut short
    result = CliRunner().invoke(main, ["controls", "--checkout", str(checkout)])
    assert result.exit_code == 1
    assert "is not a JUnit XML report" in result.output
    assert "run `make test` again" in result.output
    assert "Traceback" not in result.output
