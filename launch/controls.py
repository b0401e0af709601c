"""The privacy controls C01…C22 and the tests that prove them (`vaxcert controls`).

The catalogue is the table of design.md §3: each control's id, what it requires (with the section of
the city's privacy assessment), where it lives and what a test must show. The tests are read off
the checkout's test files: a test's name starts with the ids of the controls it proves
(``test_c08_…``, ``test_c01_c03_…``). The files are parsed, never imported or run. Outcomes come
from the JUnit XML that ``make test`` writes (:data:`LAST_RUN`).

Only the launcher may know this: it is the one package that knows the tests and every service.
From an installed wheel there is no test suite, and the matrix says so.
"""

from __future__ import annotations

import ast
import datetime as dt
import re
import xml.etree.ElementTree as ElementTree
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Control:
    """One privacy control of design.md §3."""

    id: str
    name: str
    seed: str  # the section of the privacy assessment that asks for it
    where: str
    proof: str  # what a test must show


CONTROLS: tuple[Control, ...] = (
    Control(
        "C01",
        "two-factor: the card's IC chip (券面事項入力補助AP) and its 4-digit PIN for every "
        "application",
        "Ⅲ-2 r1, r3",
        "kiosk card reader, app API",
        "no PIN or a wrong PIN: no data read, no request sent; the 3rd wrong PIN locks the card",
    ),
    Control(
        "C02",
        "My Number taken from the card, never typed",
        "Ⅲ-2 r3",
        "kiosk, app API",
        "no form field or API field accepts a typed My Number",
    ),
    Control(
        "C03",
        "signature over the card's 4 information and My Number verified by the center (kiosk) "
        "or the VRS side (app)",
        "Ⅲ-2 r3",
        "cert_center",
        "a tampered name or number is refused with a reason code",
    ),
    Control(
        "C04",
        "only the necessary data; no free-text input by the applicant",
        "Ⅲ-2 r1",
        "kiosk, app API",
        "schemas reject unknown fields; the UI has no free-text input",
    ),
    Control(
        "C05",
        "kiosk applications only for participating municipalities; the center controls the "
        "kiosk screens",
        "Ⅲ-2 r2",
        "cert_center configuration, served to the kiosk",
        "a non-participating code is refused at the center even if the kiosk sends it",
    ),
    Control(
        "C06",
        "app applications only from the genuine app (tamper prevention)",
        "Ⅲ-2 r2",
        "app API attestation",
        "a request without a valid attestation and challenge gets 401; a replay is refused",
    ),
    Control(
        "C07",
        "terms shown and consent obtained before data is acquired",
        "Ⅱ-3 ⑤",
        "kiosk, app API",
        "the card is not read before consent",
    ),
    Control(
        "C08",
        "kiosk, center and app record no application data or certificate data",
        "Ⅱ-6 ①, Ⅲ-7 r1 ⑥",
        "everywhere",
        "after N issuances no canary value in any file, log, Redis key or database row of the "
        "kiosk or center",
    ),
    Control(
        "C09",
        "kiosk↔center over the dedicated line, center↔VRS over LGWAN, all encrypted",
        "Ⅲ-2 r4",
        "mTLS channels",
        "no client certificate, a wrong CA or a revoked certificate: handshake refused or 403",
    ),
    Control(
        "C10",
        "app↔center encrypted",
        "Ⅲ-2 r4",
        "TLS",
        "plain HTTP refused",
    ),
    Control(
        "C11",
        "screen and voice reminders: take the card, take the certificate",
        "Ⅲ-2 r4",
        "kiosk",
        "a browser test sees both reminders and hears their recorded prompts play",
    ),
    Control(
        "C12",
        "VRS data logically partitioned per municipality; no cross-partition access",
        "Ⅲ-2 r2",
        "vrs_stub",
        "querying A's resident with B's code returns nothing",
    ),
    Control(
        "C13",
        "VRS personal data encrypted at rest",
        "Ⅲ-7 ⑥",
        "vrs_stub",
        "the raw database file holds no plaintext name or My Number",
    ),
    Control(
        "C14",
        "a wrong municipality code: no match, My Number not kept, nothing provided",
        "Ⅲ-5 r3",
        "vrs_stub",
        "after a miss, no trace of the number anywhere",
    ),
    Control(
        "C15",
        "operation logs: who, when, what",
        "Ⅲ-3, 中間サーバー 職員認証",
        "cert_center ops, vrs_stub",
        "every operator login, logout and action is audited, without personal data",
    ),
    Control(
        "C16",
        "provision records (提供記録): what was provided to whom, when",
        "Ⅲ-5 r1",
        "vrs_stub",
        "each reply to the center leaves a (pseudonymous) provision record",
    ),
    Control(
        "C17",
        "operator authentication: ID, password and a second factor, least privilege, revocation",
        "Ⅲ-3 r2",
        "cert_center /ops",
        "no TOTP, no login; a viewer cannot change configuration; a disabled user is out at once",
    ),
    Control(
        "C18",
        "CSV exports carry no My Number",
        "Ⅲ-3 その他 ②",
        "vrs_stub export",
        "the export's header and rows are checked",
    ),
    Control(
        "C19",
        "only the owning municipality can delete its data",
        "Ⅱ-6 ③",
        "vrs_stub",
        "a delete with another municipality's credentials is refused",
    ),
    Control(
        "C20",
        "certificate ID and issue date recorded in VRS; passport data only for certificates",
        "別添2 25-29",
        "vrs_stub",
        "an issuance leaves exactly these items",
    ),
    Control(
        "C21",
        "intrusion detection and notification on abnormal access",
        "Ⅲ-7 ⑥",
        "cert_center, vrs_stub",
        "a burst of failures raises an alert metric and an audit event",
    ),
    Control(
        "C22",
        "My Number never shown or returned to kiosk screens, app responses or verifiers",
        "design.md §3",
        "everywhere",
        "responses and pages are scanned for the canary number",
    ),
)
KNOWN_IDS = frozenset(control.id for control in CONTROLS)

# What `make test` writes (pytest --junitxml), relative to the checkout; git-ignored.
LAST_RUN = Path(".vaxcert") / "last-test-run.xml"

_ID = re.compile(r"c\d{2}")
_RANK = {"passed": 0, "skipped": 1, "failed": 2}


class Outcome(StrEnum):
    """What one test function did in the last recorded run (all its parametrised cases)."""

    PASSED = "passed"  # every case passed
    FAILED = "failed"  # a case failed, or errored in setup or teardown
    SKIPPED = "skipped"  # no case failed, but one was skipped (or an expected failure)
    NOT_RUN = "not run"  # not in the last recorded run, or no run recorded


class Status(StrEnum):
    """What the matrix says of one control."""

    PROVEN = "proven"  # it has tests, and every one passed in the last run
    FAILED = "failed"  # one of its tests failed in the last run
    INCOMPLETE = "incomplete"  # some of its tests passed, others were not run or skipped
    NOT_RUN = "not run"  # none of its tests passed: not run, skipped, or no run recorded
    MISSING = "missing"  # no test carries its id
    UNKNOWN = "unknown"  # no test suite to read (an installed wheel)


# Exit codes of `vaxcert controls` (README, Tests).
EXIT_PROVEN = 0
EXIT_FINDING = 1  # a control has no test or a failing one, or a test cites an unknown id
EXIT_UNPROVEN = 3  # nothing failed, but not every control is proven by the last recorded run


def control_ids(test_name: str) -> tuple[str, ...]:
    """The control ids that lead ``test_name`` (``test_c01_c03_x`` -> ``("C01", "C03")``)."""
    ids: list[str] = []
    for token in test_name.removeprefix("test_").split("_"):
        if not _ID.fullmatch(token):
            break
        ids.append(token.upper())
    return tuple(ids)


@dataclass(frozen=True)
class TestFunction:
    """A test function of the suite that cites at least one control."""

    nodeid: str  # pytest's id without parameters: tests/x/test_y.py::TestZ::test_c08_w
    controls: tuple[str, ...]

    @property
    def junit_key(self) -> tuple[str, str]:
        """(classname, name) as pytest's JUnit XML writes them for this function."""
        path, *names = self.nodeid.split("::")
        classname = ".".join([path.removesuffix(".py").replace("/", "."), *names[:-1]])
        return classname, names[-1]


def find_checkout(start: Path | None = None) -> Path | None:
    """The project checkout whose test suite to read: ``start``, or the checkout this code runs
    from. ``None`` when there is no test suite there (an installed wheel)."""
    root = start if start is not None else Path(__file__).resolve().parent.parent
    if (root / "pyproject.toml").is_file() and (root / "tests").is_dir():
        return root
    return None


def _test_files(tests: Path) -> Iterator[Path]:
    # pytest's default python_files: test_*.py and *_test.py.
    for path in sorted(tests.rglob("*.py")):
        if path.name.startswith("test_") or path.name.endswith("_test.py"):
            yield path


def _collected(body: Iterable[ast.stmt], prefix: str) -> Iterator[tuple[str, str]]:
    """(nodeid, name) of what pytest collects from a module or class body: ``test*`` functions
    and the methods of ``Test*`` classes (nested ones too)."""
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith(
            "test"
        ):
            yield f"{prefix}::{node.name}", node.name
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            yield from _collected(node.body, f"{prefix}::{node.name}")


def discover(checkout: Path) -> tuple[list[TestFunction], int]:
    """The test functions of ``checkout/tests`` that cite a control, and how many there are in
    all. Read from the files' syntax trees: nothing is imported."""
    cited: list[TestFunction] = []
    total = 0
    for path in _test_files(checkout / "tests"):
        module = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for nodeid, name in _collected(module.body, path.relative_to(checkout).as_posix()):
            total += 1
            ids = control_ids(name)
            if ids:
                cited.append(TestFunction(nodeid, ids))
    return cited, total


@dataclass
class LastRun:
    """The outcomes of the last recorded run, by JUnit (classname, function name)."""

    path: Path
    timestamp: str | None
    # (classname, function) -> case name (with its parameters) -> "passed", "skipped" or "failed"
    outcomes: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)

    @property
    def cases(self) -> int:
        """How many test cases the run reported."""
        return sum(len(cases) for cases in self.outcomes.values())

    def record(self, classname: str, case: str, result: str) -> None:
        """Note one ``<testcase>``. pytest writes a case that failed and then errored in its
        teardown twice: the worse result counts."""
        cases = self.outcomes.setdefault((classname, case.split("[", 1)[0]), {})
        previous = cases.get(case)
        if previous is None or _RANK[result] > _RANK[previous]:
            cases[case] = result

    def outcome(self, test: TestFunction) -> tuple[Outcome, dict[str, int]]:
        """What ``test`` did: its outcome and the count of its cases by result."""
        cases = self.outcomes.get(test.junit_key)
        if not cases:
            return Outcome.NOT_RUN, {}
        counts = Counter(cases.values())
        if counts["failed"]:
            outcome = Outcome.FAILED
        elif counts["skipped"]:
            outcome = Outcome.SKIPPED
        else:
            outcome = Outcome.PASSED
        return outcome, dict(counts)


def read_last_run(path: Path) -> LastRun | None:
    """Parse pytest's JUnit XML at ``path``; ``None`` if there is none."""
    if not path.is_file():
        return None
    try:
        # The file is written by our own pytest run in this checkout, not taken from anyone else.
        root = ElementTree.parse(path).getroot()  # noqa: S314
    except ElementTree.ParseError as exc:
        raise ValueError(
            f"{path} is not a JUnit XML report ({exc}): run `make test` again"
        ) from exc
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    run = LastRun(path, _started(suites[0].get("timestamp")) if suites else None)
    for suite in suites:
        for case in suite.iter("testcase"):
            if case.find("failure") is not None or case.find("error") is not None:
                result = "failed"
            elif case.find("skipped") is not None:
                result = "skipped"
            else:
                result = "passed"
            run.record(case.get("classname", ""), case.get("name", ""), result)
    return run


def _started(timestamp: str | None) -> str | None:
    try:
        return dt.datetime.fromisoformat(timestamp or "").isoformat(timespec="seconds")
    except ValueError:
        return timestamp


@dataclass(frozen=True)
class Proof:
    """One test of a control and what it did in the last run."""

    nodeid: str
    outcome: Outcome
    cases: dict[str, int]


@dataclass(frozen=True)
class Row:
    """One control of the matrix."""

    control: Control
    status: Status
    tests: tuple[Proof, ...]


@dataclass(frozen=True)
class Matrix:
    """Every control with its tests and their outcomes."""

    checkout: Path | None
    test_functions: int
    last_run: LastRun | None
    last_run_path: Path | None  # where the last run was looked for
    rows: tuple[Row, ...]
    unknown_ids: dict[str, tuple[str, ...]]  # an id no control has -> the tests citing it

    @property
    def exit_code(self) -> int:
        """0 every control proven; 1 a finding; 3 nothing failed but not all proven."""
        statuses = {row.status for row in self.rows}
        if statuses & {Status.MISSING, Status.FAILED} or self.unknown_ids:
            return EXIT_FINDING
        if statuses == {Status.PROVEN}:
            return EXIT_PROVEN
        return EXIT_UNPROVEN

    def by_status(self) -> dict[str, list[str]]:
        """Control ids by status, in the catalogue's order."""
        grouped: dict[str, list[str]] = {}
        for row in self.rows:
            grouped.setdefault(row.status.value, []).append(row.control.id)
        return grouped


def _status(proofs: list[Proof]) -> Status:
    if not proofs:
        return Status.MISSING
    outcomes = {proof.outcome for proof in proofs}
    if Outcome.FAILED in outcomes:
        return Status.FAILED
    if outcomes == {Outcome.PASSED}:
        return Status.PROVEN
    if Outcome.PASSED in outcomes:
        return Status.INCOMPLETE
    return Status.NOT_RUN


def build(checkout: Path | None, last_run: Path | None = None) -> Matrix:
    """The matrix of ``checkout`` (see :func:`find_checkout`) against the run recorded in
    ``last_run`` (default: the checkout's :data:`LAST_RUN`)."""
    if checkout is None:
        rows = tuple(Row(control, Status.UNKNOWN, ()) for control in CONTROLS)
        return Matrix(None, 0, None, None, rows, {})
    tests, total = discover(checkout)
    run_path = last_run if last_run is not None else checkout / LAST_RUN
    run = read_last_run(run_path)
    by_id: dict[str, list[Proof]] = {}
    for test in tests:
        outcome, cases = run.outcome(test) if run else (Outcome.NOT_RUN, {})
        for control_id in test.controls:
            by_id.setdefault(control_id, []).append(Proof(test.nodeid, outcome, cases))
    rows = tuple(
        Row(control, _status(by_id.get(control.id, [])), tuple(by_id.get(control.id, [])))
        for control in CONTROLS
    )
    unknown = {
        control_id: tuple(proof.nodeid for proof in proofs)
        for control_id, proofs in sorted(by_id.items())
        if control_id not in KNOWN_IDS
    }
    return Matrix(checkout, total, run, run_path, rows, unknown)


def to_json(matrix: Matrix) -> dict[str, Any]:
    """The matrix as a JSON-ready mapping (`vaxcert controls --json`)."""
    run = matrix.last_run
    return {
        "test_suite": {
            "available": matrix.checkout is not None,
            "tests_dir": str(matrix.checkout / "tests") if matrix.checkout else None,
            "test_functions": matrix.test_functions,
        },
        "last_run": (
            {"file": str(run.path), "timestamp": run.timestamp, "test_cases": run.cases}
            if run
            else None
        ),
        "controls": [
            {
                "id": row.control.id,
                "name": row.control.name,
                "seed": row.control.seed,
                "where": row.control.where,
                "proof": row.control.proof,
                "status": row.status.value,
                "tests": [
                    {"id": proof.nodeid, "outcome": proof.outcome.value, "cases": proof.cases}
                    for proof in row.tests
                ],
            }
            for row in matrix.rows
        ],
        "unknown_control_ids": {key: list(value) for key, value in matrix.unknown_ids.items()},
        "summary": matrix.by_status(),
        "exit_code": matrix.exit_code,
    }


def _cases(proof: Proof) -> str:
    if sum(proof.cases.values()) <= 1:
        return ""
    return " (" + ", ".join(f"{n} {result}" for result, n in sorted(proof.cases.items())) + ")"


def render(matrix: Matrix) -> str:
    """The matrix as text (`vaxcert controls`)."""
    lines = ["Privacy controls (design.md §3) and the tests that prove them", ""]
    if matrix.checkout is None:
        lines += [
            "test suite: not available (an installed package carries no tests; run "
            "`vaxcert controls` in a checkout, or pass --checkout DIR)",
        ]
    else:
        lines.append(
            f"test suite: {matrix.checkout / 'tests'} ({matrix.test_functions} test functions)"
        )
        run = matrix.last_run
        if run is None:
            lines.append(f"last run: none recorded ({matrix.last_run_path}: `make test`)")
        else:
            started = run.timestamp or "at an unknown time"
            lines.append(f"last run: started {started}, {run.cases} test cases")
            lines.append(f"          ({run.path})")
    for row in matrix.rows:
        control = row.control
        lines += ["", f"{control.id}  {row.status.value.upper()}  {control.name}"]
        lines.append(f"     lives in: {control.where}")
        lines.append(f"     a test shows: {control.proof}")
        if row.status is Status.MISSING:
            lines.append(f"     no test name starts with {control.id.lower()}")
        for proof in row.tests:
            lines.append(f"     {proof.outcome.value:8} {proof.nodeid}{_cases(proof)}")
    for control_id, nodeids in matrix.unknown_ids.items():
        lines += ["", f"{control_id}  UNKNOWN ID: no such control, cited by:"]
        lines += [f"     {nodeid}" for nodeid in nodeids]
    summary = "; ".join(f"{status} {' '.join(ids)}" for status, ids in matrix.by_status().items())
    lines += ["", f"summary: {summary}"]
    return "\n".join(lines)
