"""docker/compose.yaml: valid against the Compose specification's JSON schema, and the policies
it promises: hardened vaxcert containers, secrets only as files, separated networks."""

from __future__ import annotations

import copy
import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.deploy.conftest import (
    DOCKER,
    assert_settings_load,
    center_database,
    image_environment,
    secret_files,
    unknown_settings,
    without_center_database,
)

COMPOSE = DOCKER / "compose.yaml"
# Built from docker/Dockerfile, each with its surface's `vaxcert health` (the signer's two).
VAXCERT_SERVICES = {
    "center-kiosk-api",
    "center-app-api",
    "center-ops",
    "center-db-setup",
    "vrs",
    "signer-api",
    "signer-public",
    "verifier",
    "kiosk",
}
# Who is on which network: the channels of docker/README.md.
NETWORKS = {
    "public": {"edge", "signer-public", "verifier"},
    "dedicated-line": {"edge", "kiosk"},
    "lgwan": {"edge", "center-kiosk-api", "center-app-api"},
    "internal": {"edge", "center-kiosk-api", "center-app-api"},
    "records": {"edge", "vrs"},
    "signing": {"center-kiosk-api", "center-app-api", "signer-api"},
    "state": {"center-kiosk-api", "center-app-api", "center-ops", "redis"},
    "vrs-data": {"vrs", "postgres"},
    "center-data": {
        "center-kiosk-api",
        "center-app-api",
        "center-ops",
        "center-db-setup",
        "postgres",
    },
    "monitoring": {"center-ops", "prometheus", "grafana"},
    "operators": {"grafana", "center-ops"},
}
# Every center surface shares the center's database (users, audit trail, kiosk states).
CENTER_SURFACES = ("center-kiosk-api", "center-app-api", "center-ops")
OUTWARD = {"public", "dedicated-line", "operators"}
# Mounted from the other parts of the work (the edge template; the console's rules and
# dashboard) and from this one (Grafana provisioning).
BIND_MOUNTS = {
    "./nginx/templates",
    "./prometheus/prometheus.yml",
    "./prometheus/alerts.yml",
    "./grafana/provisioning",
    "./grafana/dashboards",
}
SECRET_WORDS = re.compile(r"PASSWORD|TOKEN|SECRET|_KEY\b|_KEY_|PIN\b", re.IGNORECASE)


def _interpolate(text: str) -> str:
    """Compose's variable substitution with an empty environment: ``${NAME:-default}`` takes
    its default, ``${NAME}`` the empty string, ``$$`` a literal ``$``."""

    def value(match: re.Match[str]) -> str:
        return match.group(2) or ""

    text = re.sub(r"\$\{([A-Z0-9_]+)(?::-([^}]*))?\}", value, text)
    return text.replace("$$", "$")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(_interpolate(COMPOSE.read_text()))
    return document


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    # The Compose specification's schema as check-jsonschema vendors it (its licence beside it).
    vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
    schema = json.loads((vendor / "compose-spec.json").read_text())
    return jsonschema.Draft202012Validator(schema)


def test_valid_against_the_compose_specification(
    compose: dict[str, Any], validator: jsonschema.Draft202012Validator
) -> None:
    errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(compose)]
    assert errors == []
    # As written, before substitution, too (what `docker compose config` reads).
    assert list(validator.iter_errors(yaml.safe_load(COMPOSE.read_text()))) == []


def test_the_schema_check_can_fail(
    compose: dict[str, Any], validator: jsonschema.Draft202012Validator
) -> None:
    broken = copy.deepcopy(compose)
    broken["services"]["center-kiosk-api"]["replica"] = 2
    broken["services"]["vrs"]["secrets"] = "vrs.toml"
    errors = list(validator.iter_errors(broken))
    assert any("'replica' was unexpected" in error.message for error in errors)
    assert any(list(error.absolute_path)[:2] == ["services", "vrs"] for error in errors)


def test_the_center_surfaces_are_replicated(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("center-kiosk-api", "center-app-api"):
        assert int(services[name]["deploy"]["replicas"]) >= 2, name
    assert set(services) >= VAXCERT_SERVICES | {
        "edge",
        "redis",
        "postgres",
        "prometheus",
        "grafana",
    }


def test_vaxcert_containers_are_hardened(compose: dict[str, Any]) -> None:
    for name in VAXCERT_SERVICES:
        service = compose["services"][name]
        assert service["read_only"] is True, name
        assert service["cap_drop"] == ["ALL"] and "cap_add" not in service, name
        assert "no-new-privileges:true" in service["security_opt"], name
        assert any(mount.startswith("/tmp:") for mount in service["tmpfs"]), name
        assert "user" not in service, name  # the image's unprivileged user
    edge = compose["services"]["edge"]
    assert edge["read_only"] is True and edge["cap_drop"] == ["ALL"] and "cap_add" not in edge


def test_networks_separate_the_channels(compose: dict[str, Any]) -> None:
    members: dict[str, set[str]] = {network: set() for network in compose["networks"]}
    for name, service in compose["services"].items():
        for network in service.get("networks", []):
            members[network].add(name)
    assert members == NETWORKS
    for network, spec in compose["networks"].items():
        assert spec.get("internal", False) is (network not in OUTWARD), network
    published = {name for name, s in compose["services"].items() if s.get("ports")}
    assert published == {"edge", "signer-public", "grafana", "kiosk", "verifier", "center-ops"}
    for name in ("grafana", "kiosk", "verifier", "center-ops"):
        assert all(p.startswith("127.0.0.1:") for p in compose["services"][name]["ports"]), name


def test_secrets_are_files_never_values(compose: dict[str, Any]) -> None:
    for secret in compose["secrets"].values():
        assert set(secret) == {"file"} and secret["file"].startswith("./secrets/")
    for name, service in compose["services"].items():
        for variable, value in (service.get("environment") or {}).items():
            if SECRET_WORDS.search(variable):
                assert variable.endswith(("_FILE", "__FILE")), (name, variable)
                assert str(value).startswith("/run/secrets/"), (name, variable)
            assert "-----BEGIN" not in str(value)
        mounts = [m for m in service.get("volumes", []) if m.startswith(".")]
        assert all(m.split(":")[0] in BIND_MOUNTS for m in mounts), (name, mounts)


def test_only_the_agreed_files_are_bind_mounted(compose: dict[str, Any]) -> None:
    sources = {
        mount.split(":")[0]
        for service in compose["services"].values()
        for mount in service.get("volumes", [])
        if mount.startswith(".")
    }
    assert sources == BIND_MOUNTS
    # This part's own: Grafana finds the data source and the dashboards folder.
    assert (DOCKER / "grafana/provisioning/datasources/prometheus.yaml").is_file()
    provider = yaml.safe_load((DOCKER / "grafana/provisioning/dashboards/vaxcert.yaml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"


def _config_secret(service: dict[str, Any]) -> str | None:
    """The secret that the service's VAXCERT_CONFIG names (it must be mounted there), if any."""
    path = (service.get("environment") or {}).get("VAXCERT_CONFIG")
    if path is None:
        return None
    mounted = {
        s if isinstance(s, str) else s["source"]: f"/run/secrets/{s}"
        if isinstance(s, str)
        else s.get("target", f"/run/secrets/{s['source']}")
        for s in service.get("secrets", [])
    }
    names = [name for name, target in mounted.items() if target == path]
    assert len(names) == 1, f"VAXCERT_CONFIG {path} is not a mounted secret"
    return names[0]


def _settings(
    compose: dict[str, Any], name: str, monkeypatch: pytest.MonkeyPatch, secrets_dir: Path
) -> Any:
    """The settings the service's process loads, its TOML secret as dev_secrets.py makes it."""
    service = compose["services"][name]
    environment = {k: str(v) for k, v in service["environment"].items()}
    assert unknown_settings(list(environment)) == [], name
    # What the process sees: the image's ENV, then the service's environment.
    environment = {**image_environment(service["build"]["target"]), **environment}
    secret = _config_secret(service)
    files = secret_files(secrets_dir)
    config = files[secret] if secret is not None and secret in files else None
    return assert_settings_load(environment, name, monkeypatch, config)


def test_every_vaxcert_setting_exists_and_validates(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in VAXCERT_SERVICES:
        _settings(compose, name, monkeypatch, tmp_path)


def _networks_between(compose: dict[str, Any], first: str, second: str) -> set[str]:
    def on(name: str) -> set[str]:
        return set(compose["services"][name].get("networks", []))

    return on(first) & on(second)


def test_every_center_surface_shares_the_postgresql_database(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """No center container falls back to a SQLite file of its own (read-only root, one copy per
    replica): each reads the same PostgreSQL database, as the restricted role, over a network it
    shares with the server."""
    found = set()
    for name in CENTER_SURFACES:
        host, database, role = center_database(_settings(compose, name, monkeypatch, tmp_path))
        assert host in compose["services"], (name, host)
        assert _networks_between(compose, name, host), f"{name} cannot reach {host}"
        found.add((host, database, role))
    assert len(found) == 1, found
    (host, database, role) = found.pop()
    assert role != "vrs" and database != "vrs"  # its own database, not VRS's records
    setup = center_database(_settings(compose, "center-db-setup", monkeypatch, tmp_path))
    assert setup[:2] == (host, database) and setup[2] != role  # the owner, not the app role
    assert _networks_between(compose, "center-db-setup", host)
    # VRS stays off the center's data.
    assert not _networks_between(compose, "vrs", "center-ops")


def test_the_database_setup_runs_once_before_the_center(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    setup = compose["services"]["center-db-setup"]
    assert setup["restart"] == "no" and "ports" not in setup
    role = center_database(_settings(compose, "center-ops", monkeypatch, tmp_path))[2]
    assert setup["command"] == ["ops", "db", "setup", "--app-role", role]
    assert setup["depends_on"]["postgres"] == {"condition": "service_healthy"}
    for name in CENTER_SURFACES:
        depends = compose["services"][name]["depends_on"]
        assert depends["center-db-setup"] == {"condition": "service_completed_successfully"}, name
    # The server makes the database and both roles on its first start.
    postgres_secrets = compose["services"]["postgres"]["secrets"]
    init = [s for s in postgres_secrets if isinstance(s, dict) and "initdb.d" in s["target"]]
    assert [s["source"] for s in init] == ["postgres-init-center.sql"]
    # ... and is healthy only after it ran them (over TCP: the init-time server has no TCP).
    probe = compose["services"]["postgres"]["healthcheck"]["test"]
    assert probe[probe.index("-h") + 1] == "127.0.0.1", probe


def test_the_database_checks_can_fail(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    broken = copy.deepcopy(compose)
    broken["services"]["center-ops"]["networks"] = ["monitoring", "state", "operators"]
    with pytest.raises(AssertionError, match="cannot reach postgres"):
        test_every_center_surface_shares_the_postgresql_database(broken, monkeypatch, tmp_path)
    broken = copy.deepcopy(compose)
    del broken["services"]["center-app-api"]["depends_on"]["center-db-setup"]
    with pytest.raises(KeyError):
        test_the_database_setup_runs_once_before_the_center(broken, monkeypatch, tmp_path)
    # A center.toml without the database: the SQLite fallback is caught.
    with monkeypatch.context() as patched:
        without_center_database(patched)
        with pytest.raises(AssertionError, match="SQLite per container"):
            test_every_center_surface_shares_the_postgresql_database(compose, monkeypatch, tmp_path)


def test_the_setting_check_can_fail() -> None:
    assert unknown_settings(["VAXCERT_CENTER__OPS__METRIC_TOKEN_FILE", "VAXCERT_WORKER"]) == [
        "VAXCERT_CENTER__OPS__METRIC_TOKEN_FILE",
        "VAXCERT_WORKER",
    ]


def test_no_key_or_password_is_written_into_the_deployment_files() -> None:
    """Secrets live only in docker/secrets/ (git-ignored, outside the build context) or the
    cluster's Secrets; the files that describe the deployment hold none."""
    from tests.deploy.conftest import K8S, ROOT

    files = [
        p
        for p in [*DOCKER.rglob("*"), *K8S.rglob("*"), ROOT / ".dockerignore"]
        if p.is_file() and "secrets" not in p.relative_to(ROOT).parts
    ]
    assert len(files) > 10
    leaks = re.compile(
        r"PRIVATE KEY-----|requirepass [A-Za-z0-9_-]{12,}|POSTGRES_PASSWORD:|"
        r"GF_SECURITY_ADMIN_PASSWORD:|user_pin\s*=\s*\"[A-Za-z0-9]|Bearer [A-Za-z0-9_-]{16,}"
    )
    found = [str(p) for p in files if leaks.search(p.read_text(errors="replace"))]
    assert found == []
    assert "docker/secrets/" in (ROOT / ".gitignore").read_text().splitlines()
