"""Known vulnerabilities in the installed dependencies: `make audit`, a step of `make test`.

Runs pip-audit over the environment this interpreter belongs to (the project's .venv: the
product's dependencies and the tools the tests use), against PyPI's JSON API, and decides:

- a known vulnerability, not in :data:`IGNORED`: exit 1, with the advisory and its fixed versions;
- a dependency pip-audit could not check (the service unreachable, or no answer for its release),
  or pip-audit not running at all: said loudly as NOT AUDITED, never as a pass. It fails the run
  (exit 2) only with ``--require-service``: on this project's machines and its CI, the package
  registry serves packages but not PyPI's per-release JSON API that carries the vulnerability
  data, and the OSV service is not reachable, so failing there would fail every build for a
  reason no change to the code can fix (README, Tests).

``python -m tests.support.dependency_audit [--require-service]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from typing import Any

# Advisory id -> why it does not apply to us or cannot be fixed yet. Every entry needs a reason;
# remove it when the pin that fixes it lands.
IGNORED: dict[str, str] = {}

EXIT_CLEAN = 0
EXIT_VULNERABLE = 1
EXIT_NOT_AUDITED = 2


@dataclass
class Verdict:
    """What one audit found."""

    audited: list[str] = field(default_factory=list)  # "name version"
    vulnerable: list[str] = field(default_factory=list)  # one line per advisory
    not_audited: dict[str, list[str]] = field(default_factory=dict)  # reason -> names
    editable: list[str] = field(default_factory=list)  # our own package, not on PyPI
    failure: str | None = None  # pip-audit did not produce a report

    def exit_code(self, require_service: bool) -> int:
        """1 on a vulnerability; 2 when something went unaudited and the service is required."""
        if self.vulnerable:
            return EXIT_VULNERABLE
        if (self.failure or self.not_audited) and require_service:
            return EXIT_NOT_AUDITED
        return EXIT_CLEAN

    def lines(self) -> list[str]:
        """The report, for a person reading `make test`."""
        unchecked = sum(len(names) for names in self.not_audited.values())
        total = len(self.audited) + unchecked
        if self.failure is not None:
            return [
                "NOT AUDITED: pip-audit could not run, so no dependency was checked for known "
                "vulnerabilities; this is not a pass:",
                f"  {self.failure}",
            ]
        out = [
            f"dependency audit (pip-audit, PyPI JSON API): {len(self.audited)} of {total} "
            f"dependencies audited, {len(self.vulnerable)} known vulnerabilities"
            + (f", ignored with a reason: {', '.join(sorted(IGNORED))}" if IGNORED else "")
        ]
        out += [f"  VULNERABLE {line}" for line in self.vulnerable]
        if self.not_audited:
            out.append(
                f"NOT AUDITED: {unchecked} of {total} dependencies could not be checked for known "
                "vulnerabilities; this is not a pass:"
            )
            for reason, names in sorted(self.not_audited.items()):
                out.append(f"  {reason} ({len(names)}):")
                if "not found on PyPI" in reason:
                    out.append(
                        "    (pip-audit says so when PyPI's per-release JSON API answers 404, as "
                        "it does where only package downloads are let through)"
                    )
                out += textwrap.wrap(
                    ", ".join(names),
                    96,
                    initial_indent="    ",
                    subsequent_indent="    ",
                    break_on_hyphens=False,
                )
        return out


def interpret(report: dict[str, Any]) -> Verdict:
    """Read pip-audit's JSON report (``-f json``)."""
    verdict = Verdict()
    for dependency in report["dependencies"]:
        name = dependency["name"]
        reason = dependency.get("skip_reason")
        if reason is not None:
            if "editable" in reason:
                verdict.editable.append(name)
            else:
                # pip-audit ends a reason with the release it concerns: "…: name (1.2.3)".
                general, _, release = reason.rpartition(": ")
                named = release.replace(" (", "==").rstrip(")") if release else name
                verdict.not_audited.setdefault(general or reason, []).append(named)
            continue
        verdict.audited.append(f"{name} {dependency['version']}")
        for vuln in dependency.get("vulns", []):
            aliases = f" ({', '.join(vuln['aliases'])})" if vuln.get("aliases") else ""
            fixed = ", ".join(vuln.get("fix_versions") or []) or "no fixed release yet"
            verdict.vulnerable.append(
                f"{name} {dependency['version']}: {vuln['id']}{aliases}; fixed in: {fixed}"
            )
    return verdict


def audit(extra_args: list[str] | None = None) -> Verdict:
    """Run pip-audit over this interpreter's environment and interpret its report."""
    command = [
        sys.executable,
        "-m",
        "pip_audit",
        "--format",
        "json",
        "--vulnerability-service",
        "pypi",
        "--progress-spinner",
        "off",
        # Our own package (an editable install of the checkout) is not on PyPI.
        "--skip-editable",
        *(arg for vuln_id in IGNORED for arg in ("--ignore-vuln", vuln_id)),
        *(extra_args or []),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return Verdict(failure=f"pip-audit exited {done.returncode}: {last}")
    return interpret(report)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--require-service",
        action="store_true",
        help="fail (exit 2) when a dependency could not be audited",
    )
    parser.add_argument("--cache-dir", help="pip-audit's cache (default: its own)")
    args = parser.parse_args(argv)
    verdict = audit(["--cache-dir", args.cache_dir] if args.cache_dir else [])
    print("\n".join(verdict.lines()))
    return verdict.exit_code(args.require_service)


if __name__ == "__main__":
    sys.exit(main())
