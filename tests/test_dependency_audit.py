"""The dependency audit of `make test` (tests/support/dependency_audit.py): a known vulnerability
fails it, and a dependency that could not be checked is said to be NOT AUDITED, never passed.

Reports are made by pip-audit's own JSON formatter, so a change of its format breaks these tests;
the unreachable service is a real pip-audit run through a proxy that refuses connections.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from packaging.version import Version
from pip_audit._format import JsonFormat
from pip_audit._service import ResolvedDependency, SkippedDependency, VulnerabilityResult

from tests.support import dependency_audit

REPO = Path(__file__).resolve().parent.parent


def _report(result: dict[Any, list[VulnerabilityResult]]) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(JsonFormat(False, True).format(result, []))
    return report


def _vulnerability() -> VulnerabilityResult:
    return VulnerabilityResult(
        id="PYSEC-2099-1",
        description="a made-up advisory",
        fix_versions=[Version("2.0.1")],
        aliases={"CVE-2099-0001"},
    )


def test_a_known_vulnerability_fails_the_audit_with_its_advisory_and_fixed_release() -> None:
    verdict = dependency_audit.interpret(
        _report(
            {
                ResolvedDependency("flask", Version("3.1.3")): [],
                ResolvedDependency("example", Version("2.0.0")): [_vulnerability()],
            }
        )
    )
    assert verdict.audited == ["flask 3.1.3", "example 2.0.0"]
    assert verdict.vulnerable == ["example 2.0.0: PYSEC-2099-1 (CVE-2099-0001); fixed in: 2.0.1"]
    assert verdict.exit_code(require_service=False) == dependency_audit.EXIT_VULNERABLE
    assert "  VULNERABLE example 2.0.0: PYSEC-2099-1" in "\n".join(verdict.lines())


def test_a_clean_audit_passes() -> None:
    verdict = dependency_audit.interpret(
        _report({ResolvedDependency("flask", Version("3.1.3")): []})
    )
    assert verdict.exit_code(require_service=True) == dependency_audit.EXIT_CLEAN
    assert verdict.lines() == [
        "dependency audit (pip-audit, PyPI JSON API): 1 of 1 dependencies audited, "
        "0 known vulnerabilities"
    ]


def test_dependencies_the_service_did_not_answer_for_are_not_audited_not_passed() -> None:
    verdict = dependency_audit.interpret(
        _report(
            {
                ResolvedDependency("flask", Version("3.1.3")): [],
                SkippedDependency(
                    "redis",
                    "Dependency not found on PyPI and could not be audited: redis (8.1.0)",
                ): [],
                SkippedDependency("vaxcert", "distribution marked as editable"): [],
            }
        )
    )
    assert verdict.not_audited == {
        "Dependency not found on PyPI and could not be audited": ["redis==8.1.0"]
    }
    assert verdict.editable == ["vaxcert"]
    text = "\n".join(verdict.lines())
    assert "1 of 2 dependencies audited" in text
    assert "NOT AUDITED: 1 of 2 dependencies could not be checked" in text
    assert "redis==8.1.0" in text
    assert verdict.exit_code(require_service=False) == dependency_audit.EXIT_CLEAN
    assert verdict.exit_code(require_service=True) == dependency_audit.EXIT_NOT_AUDITED


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_vulnerability_service_is_said_so_and_fails_when_required(
    tmp_path: Path,
) -> None:
    proxy = f"http://127.0.0.1:{_closed_port()}"
    env = {
        **os.environ,
        "HTTPS_PROXY": proxy,
        "https_proxy": proxy,
        "NO_PROXY": "",
        "no_proxy": "",
    }
    command = [
        sys.executable,
        "-m",
        "tests.support.dependency_audit",
        "--cache-dir",
        str(tmp_path / "cache"),
    ]
    relaxed = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    required = subprocess.run(
        [*command, "--require-service"], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert relaxed.returncode == dependency_audit.EXIT_CLEAN, relaxed.stderr
    assert relaxed.stdout.startswith("NOT AUDITED: pip-audit could not run"), relaxed.stdout
    assert "Unable to connect to proxy" in relaxed.stdout
    assert required.returncode == dependency_audit.EXIT_NOT_AUDITED, required.stdout
