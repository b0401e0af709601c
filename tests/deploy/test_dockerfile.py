"""docker/Dockerfile: hadolint, one target per role with its healthcheck, non-root, no compiler
in what runs, and the lock of what pip installs."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from launch.surfaces import SERVICES
from tests.deploy.conftest import DOCKER, DOCKERFILE, ROOT, lineage, stages, tool, unknown_settings

# The surface each role's image serves (and probes); the signer image also serves
# signer-public (compose.yaml, k8s/base/signer.yaml).
ROLES = {
    "center-kiosk-api": "center-kiosk-api",
    "center-app-api": "center-app-api",
    "center-ops": "center-ops",
    "vrs": "vrs",
    "signer": "signer-api",
    "verifier": "verifier",
    "kiosk": "kiosk",
}
BUILD_ONLY = re.compile(r"\b(gcc|g\+\+|make|[\w.+-]+-dev)=")


def test_hadolint_finds_nothing() -> None:
    result = subprocess.run(
        [tool("hadolint"), "--no-color", str(DOCKERFILE)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_can_fail(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM debian\nRUN apt-get install -y gcc\n")
    result = subprocess.run(
        [tool("hadolint"), "--no-color", str(bad)], capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "DL3008" in result.stdout  # unpinned apt package


def test_one_target_per_role_serving_and_probing_its_surface() -> None:
    found = stages()
    for role, surface in ROLES.items():
        assert surface in SERVICES
        body = " ".join(found[role])
        assert f'CMD ["serve", "{surface}"]' in body, role
        assert f'CMD ["vaxcert", "health", "{surface}"]' in body, role
        assert f"EXPOSE {_listener_port(surface)}" in body, role


def _listener_port(surface: str) -> int:
    from vaxcert.config import Listeners

    return int(getattr(Listeners(), SERVICES[surface].listener).port)


def test_every_role_runs_unprivileged_without_a_compiler() -> None:
    found = stages()
    for role in ROLES:
        chain = lineage(found, role)
        assert "builder" not in chain, role
        users = [
            line.split()[1]
            for s in reversed(chain)
            for line in found[s]
            if line.startswith("USER ")
        ]
        assert users and users[-1] == "10001:10001", role
        for stage in chain:
            for line in found[stage]:
                assert not BUILD_ONLY.search(line), f"{role}: build tool in {stage}: {line}"
    # The builder is where they are, and the final stages copy only the venv from it.
    assert any(BUILD_ONLY.search(line) for line in found["builder"])
    copies = [line for s in found.values() for line in s if line.startswith("COPY --from")]
    audio = "/opt/vaxcert/lib/python3.11/site-packages/kiosk/static/audio"
    assert copies == [
        "COPY --from=builder /opt/vaxcert /opt/vaxcert",
        f"COPY --from=kiosk-prompts {audio} {audio}",
    ]


def test_every_apt_and_pip_install_is_pinned() -> None:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    for command in re.findall(r"apt-get install ([^&\n]*)", text):
        packages = [word for word in command.split() if not word.startswith("-")]
        assert packages and all("=" in p for p in packages), command
    for command in re.findall(r"pip install ([^&\n]*)", text):
        words = [w for w in command.split() if not w.startswith("-")]
        assert all("==" in w or w in {".", "docker/requirements.lock"} for w in words), command


def test_the_environment_names_settings() -> None:
    names = re.findall(r"\b(VAXCERT_[A-Z0-9_]+)=", DOCKERFILE.read_text())
    assert names
    assert unknown_settings(names) == []


def test_the_lock_pins_every_runtime_dependency_within_pyproject() -> None:
    from docker_lock import runtime_closure  # type: ignore[import-not-found]

    lock = {}
    for line in (DOCKER / "requirements.lock").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            lock[canonicalize_name(name)] = version
    needed = runtime_closure(skip_missing=True)
    assert sorted(set(needed) - set(lock)) == [], "regenerate: python docker/lock.py"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for line in [*project["dependencies"], *project["optional-dependencies"]["card"]]:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        assert name in lock, name
        assert requirement.specifier.contains(lock[name], prereleases=True), (name, lock[name])


def test_the_font_package_is_the_makefiles() -> None:
    makefile = (ROOT / "Makefile").read_text()
    font = re.search(r"^FONT_PACKAGE := (\S+)", makefile, re.MULTILINE)
    assert font is not None
    assert font.group(1) in DOCKERFILE.read_text()


def test_no_secret_reaches_the_build_context() -> None:
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    rules = [line for line in ignore if line and not line.startswith("#")]
    # Everything is excluded first; only sources are let back in, never docker/secrets.
    assert rules[0] == "**"
    allowed = [rule[1:] for rule in rules if rule.startswith("!")]
    assert allowed and not any(
        rule.startswith(("docker/secrets", "docker/", ".")) and rule != "docker/requirements.lock"
        for rule in allowed
    )
    sources = re.findall(r"^COPY (?!--from)(.+) \S+$", DOCKERFILE.read_text(), re.MULTILINE)
    copied = {word for line in sources for word in line.split()}
    assert copied <= {*allowed, *(rule.rstrip("/") for rule in allowed)}, copied


@pytest.fixture(autouse=True)
def _lock_module(monkeypatch: pytest.MonkeyPatch) -> None:
    """docker/lock.py, importable as docker_lock (docker/ is no package)."""
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location("docker_lock", DOCKER / "lock.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setitem(sys.modules, "docker_lock", module)
