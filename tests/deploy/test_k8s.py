"""k8s/: every overlay renders (kustomize, inside kubectl from PyPI), every resource validates
against the Kubernetes schemas (kubernetes-validate, offline), and the policies hold: probes,
resources and a restricted securityContext everywhere, secrets only as files, a disruption
budget per workload, autoscaling for the center, and NetworkPolicies that open exactly the
documented channels."""

from __future__ import annotations

import copy
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from launch.surfaces import SERVICES
from tests.deploy.conftest import (
    K8S,
    assert_settings_load,
    center_database,
    image_environment,
    secret_files,
    tool,
    unknown_settings,
    without_center_database,
)

OVERLAYS = ["staging", "production"]
KUBERNETES_VERSION = "1.30.0"
OUTSIDE = "outside"
DNS = "kube-system/kube-dns"
SCRAPER = "monitoring/prometheus"
# The operators' namespace (a placeholder the overlays may narrow), every pod in it.
OPERATORS = "vaxcert-operators/*"
# (from, to, port): the channels of docker/README.md. Workloads by app.kubernetes.io/name.
INGRESS_CONTROLLER = "ingress-nginx/ingress-nginx"
CHANNELS = {
    (OUTSIDE, "edge", 8443),
    (OUTSIDE, "edge", 8444),
    (OUTSIDE, "edge", 8441),
    ("center-kiosk-api", "edge", 8441),
    ("center-app-api", "edge", 8441),
    ("edge", "center-kiosk-api", 8443),
    ("edge", "center-app-api", 8444),
    ("edge", "vrs", 8441),
    ("center-kiosk-api", "signer", 8442),
    ("center-app-api", "signer", 8442),
    ("center-kiosk-api", "redis", 6379),
    ("center-app-api", "redis", 6379),
    ("vrs", "postgres", 5432),
    (OUTSIDE, "signer", 8446),
    (INGRESS_CONTROLLER, "verifier", 8090),
    (SCRAPER, "center-kiosk-api", 8445),
    (SCRAPER, "center-app-api", 8445),
    # The center's own database (users, audit trail, kiosk states) and the operator console.
    ("center-kiosk-api", "postgres", 5432),
    ("center-app-api", "postgres", 5432),
    ("center-ops", "postgres", 5432),
    ("center-db-setup", "postgres", 5432),
    ("center-ops", "redis", 6379),
    (OPERATORS, "center-ops", 8445),
    (SCRAPER, "center-ops", 8445),
}
# Long-running workloads (probes, disruption budgets); pods of every kind (Jobs too) for the
# security, secrets, settings and channel checks.
WORKLOADS = {"Deployment", "StatefulSet"}
POD_KINDS = WORKLOADS | {"Job"}
# Pods whose containers run a center surface (and so need the center's shared database).
CENTER_SURFACES = {"center-kiosk-api", "center-app-api", "center-ops"}


def _render(overlay: str) -> list[dict[str, Any]]:
    result = subprocess.run(
        [tool("kubectl"), "kustomize", str(K8S / "overlays" / overlay)],
        capture_output=True,
        text=True,
        check=True,
    )
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="module", params=OVERLAYS)
def rendered(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return _render(request.param)


def _workloads(resources: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    return (r for r in resources if r["kind"] in WORKLOADS)


def _pods(resources: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    return (r for r in resources if r["kind"] in POD_KINDS)


def _pod_labels(workload: dict[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = workload["spec"]["template"]["metadata"]["labels"]
    return labels


def _matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    assert set(selector) <= {"matchLabels"}, "only matchLabels selectors are understood here"
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def test_every_resource_validates_offline(rendered: list[dict[str, Any]]) -> None:
    for resource in rendered:
        kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)


def test_the_validation_can_fail(rendered: list[dict[str, Any]]) -> None:
    broken = copy.deepcopy(next(_workloads(rendered)))
    broken["spec"]["template"]["spec"]["containers"][0]["livenessprobe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_every_container_is_probed_limited_and_restricted(rendered: list[dict[str, Any]]) -> None:
    for workload in _pods(rendered):
        pod = workload["spec"]["template"]["spec"]
        name = workload["metadata"]["name"]
        assert pod.get("automountServiceAccountToken") is False, name
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        for container in [*pod.get("initContainers", []), *pod["containers"]]:
            where = f"{name}/{container['name']}"
            for bound in ("requests", "limits"):
                assert set(container["resources"][bound]) >= {"cpu", "memory"}, where
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["runAsNonRoot"] is True, where
            assert security["capabilities"] == {"drop": ["ALL"]}, where
            assert security["seccompProfile"] == {"type": "RuntimeDefault"}, where
        if workload["kind"] == "Job":
            continue  # runs to completion: nothing to probe
        for container in pod["containers"]:
            where = f"{name}/{container['name']}"
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                assert probe in container, f"{where}: no {probe}"
            args = container.get("args", [])
            if args[:1] == ["serve"]:
                # A vaxcert surface: /healthz over its real channel (launch/health.py).
                surface = args[1]
                assert surface in SERVICES, where
                for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                    command = container[probe]["exec"]["command"]
                    assert command == ["vaxcert", "health", surface], where


def test_secrets_are_mounted_files_never_values(rendered: list[dict[str, Any]]) -> None:
    assert not [r for r in rendered if r["kind"] == "Secret"], "secrets are made outside git"
    for workload in _pods(rendered):
        pod = workload["spec"]["template"]["spec"]
        for container in [*pod.get("initContainers", []), *pod["containers"]]:
            for variable in container.get("env", []):
                assert "valueFrom" not in variable, (container["name"], variable["name"])
                value = str(variable.get("value", ""))
                assert "-----BEGIN" not in value
                if any(w in variable["name"] for w in ("PASSWORD", "TOKEN", "SECRET", "PIN")):
                    assert value.startswith("/run/secrets/"), variable["name"]
            for mount in container.get("volumeMounts", []):
                if mount["mountPath"].startswith("/run/secrets"):
                    assert mount.get("readOnly") is True, (container["name"], mount)
        for volume in pod.get("volumes", []):
            if "secret" in volume:
                assert volume["secret"]["defaultMode"] == 0o440, volume["name"]


def test_every_vaxcert_variable_names_a_setting(rendered: list[dict[str, Any]]) -> None:
    names = [
        variable["name"]
        for workload in _pods(rendered)
        for container in workload["spec"]["template"]["spec"]["containers"]
        for variable in container.get("env", [])
        if variable["name"].startswith("VAXCERT_")
    ]
    for config_map in (r for r in rendered if r["kind"] == "ConfigMap"):
        names += [name for name in config_map.get("data", {}) if name.startswith("VAXCERT_")]
    assert names and unknown_settings(names) == []


def _config_file(pod: dict[str, Any], container: dict[str, Any], files: dict[str, Path]) -> Path:
    """The file that the container's VAXCERT_CONFIG names: in a mounted Secret, as
    docker/dev_secrets.py makes it (docker/README.md creates the Secrets from those files)."""
    path = Path(next(v["value"] for v in container["env"] if v["name"] == "VAXCERT_CONFIG"))
    mount = next(m for m in container["volumeMounts"] if Path(m["mountPath"]) == path.parent)
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    assert "secret" in volume, f"{path} is not in a Secret"
    return files[path.name]


def _settings_by_container(
    rendered: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch, secrets_dir: Path
) -> dict[tuple[str, str], Any]:
    """What each vaxcert process loads (its image's ENV, the settings ConfigMap, its env, its
    TOML secret), by (pod owner, container)."""
    config_maps = {
        r["metadata"]["name"]: r.get("data", {}) for r in rendered if r["kind"] == "ConfigMap"
    }
    files = secret_files(secrets_dir)
    loaded = {}
    for workload in _pods(rendered):
        pod = workload["spec"]["template"]["spec"]
        for container in [*pod.get("initContainers", []), *pod["containers"]]:
            image = container["image"]
            if not image.startswith("vaxcert/"):
                continue
            environment = image_environment(image.split("/")[1].split(":")[0])
            for source in container.get("envFrom", []):
                environment.update(config_maps[source["configMapRef"]["name"]])
            environment.update({v["name"]: v["value"] for v in container.get("env", [])})
            config = None
            if "VAXCERT_CONFIG" in environment and "VAXCERT_CONFIG" not in config_maps:
                config = _config_file(pod, container, files)
            where = f"{workload['metadata']['name']}/{container['name']}"
            loaded[(workload["metadata"]["name"], container["name"])] = assert_settings_load(
                environment, where, monkeypatch, config
            )
    return loaded


def test_every_vaxcert_container_starts_with_valid_settings(
    rendered: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """What each vaxcert process sees is a valid configuration: e.g. a listener named without its
    port fails here, not at start-up."""
    assert len(_settings_by_container(rendered, monkeypatch, tmp_path)) >= 7


def _center_databases(
    rendered: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> set[tuple[str, str, str]]:
    """(host, database, role) of every center surface container; each must reach that host."""
    opened = channels(rendered)
    services = {r["metadata"]["name"]: r for r in rendered if r["kind"] == "Service"}
    found = set()
    settings = _settings_by_container(rendered, monkeypatch, tmp_path)
    surfaces = [key for key in settings if key[1] in CENTER_SURFACES]
    assert {owner for owner, _ in surfaces} >= CENTER_SURFACES
    for owner, container in surfaces:
        host, database, role = center_database(settings[(owner, container)])
        target = services[host]["spec"]["selector"]["app.kubernetes.io/name"]
        assert (owner, target, 5432) in opened, f"{owner}/{container} cannot reach {host}"
        found.add((host, database, role))
    return found


def test_every_center_surface_shares_the_postgresql_database(
    rendered: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Every center container (both surfaces, their ops sidecars and the operator-facing
    center-ops) reads the same PostgreSQL database as the restricted role, and the
    NetworkPolicies let it through; none falls back to a SQLite file of its own."""
    found = _center_databases(rendered, monkeypatch, tmp_path)
    assert len(found) == 1, found
    host, database, role = found.pop()
    assert database != "vrs" and role != "vrs"
    setup = _settings_by_container(rendered, monkeypatch, tmp_path)[
        ("center-db-setup", "center-db-setup")
    ]
    assert center_database(setup) == (host, database, center_database(setup)[2])
    assert center_database(setup)[2] != role  # the owner, not the services' role
    # The one-shot setup grants exactly the role the services connect as.
    # Every pod with a center surface waits for it, connected as that same role.
    settings = _settings_by_container(rendered, monkeypatch, tmp_path)
    for workload in _workloads(rendered):
        name = workload["metadata"]["name"]
        if name not in CENTER_SURFACES:
            continue
        waits = [
            c
            for c in workload["spec"]["template"]["spec"].get("initContainers", [])
            if c["args"] == ["ops", "db", "setup"]
        ]
        assert len(waits) == 1, f"{name} does not wait for the center database"
        assert center_database(settings[(name, waits[0]["name"])]) == (host, database, role)
    job = next(r for r in rendered if r["kind"] == "Job")
    assert job["metadata"]["name"] == "center-db-setup"
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["ops", "db", "setup", "--app-role", role]
    assert job["spec"]["template"]["spec"]["restartPolicy"] in {"OnFailure", "Never"}


def test_the_database_checks_can_fail(
    rendered: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    cut = copy.deepcopy(rendered)
    for resource in cut:
        if resource["kind"] == "NetworkPolicy" and resource["metadata"]["name"] == "center-ops":
            resource["spec"]["egress"] = resource["spec"]["egress"][1:]  # center-ops -> postgres
    with pytest.raises(AssertionError, match="center-ops/center-ops cannot reach postgres"):
        _center_databases(cut, monkeypatch, tmp_path)
    # A center.toml without the database: the SQLite fallback is caught.
    with monkeypatch.context() as patched:
        without_center_database(patched)
        with pytest.raises(AssertionError, match="SQLite per container"):
            test_every_center_surface_shares_the_postgresql_database(
                rendered, monkeypatch, tmp_path
            )
    no_wait = copy.deepcopy(rendered)
    for resource in no_wait:
        if resource["kind"] == "Deployment" and resource["metadata"]["name"] == "center-app-api":
            del resource["spec"]["template"]["spec"]["initContainers"]
    with pytest.raises(AssertionError, match="center-app-api does not wait"):
        test_every_center_surface_shares_the_postgresql_database(no_wait, monkeypatch, tmp_path)
    no_job = [r for r in rendered if r["kind"] != "Job"]
    with pytest.raises((StopIteration, KeyError)):
        test_every_center_surface_shares_the_postgresql_database(no_job, monkeypatch, tmp_path)


def test_every_workload_has_a_disruption_budget(rendered: list[dict[str, Any]]) -> None:
    budgets = [r for r in rendered if r["kind"] == "PodDisruptionBudget"]
    for workload in _workloads(rendered):
        covering = [b for b in budgets if _matches(b["spec"]["selector"], _pod_labels(workload))]
        assert len(covering) == 1, workload["metadata"]["name"]


def test_the_center_scales_by_cpu(rendered: list[dict[str, Any]]) -> None:
    scalers = {
        r["spec"]["scaleTargetRef"]["name"]: r
        for r in rendered
        if r["kind"] == "HorizontalPodAutoscaler"
    }
    assert set(scalers) == {"center-kiosk-api", "center-app-api"}
    for scaler in scalers.values():
        assert 2 <= scaler["spec"]["minReplicas"] < scaler["spec"]["maxReplicas"]
        assert scaler["spec"]["metrics"][0]["resource"]["name"] == "cpu"


def _peers(peers: list[dict[str, Any]] | None, workloads: dict[str, dict[str, str]]) -> set[str]:
    """The workloads (or outside parties) a list of NetworkPolicy peers admits."""
    if not peers:
        return {OUTSIDE, *workloads}  # no peers: every source, in the namespace or not
    found: set[str] = set()
    for peer in peers:
        if "ipBlock" in peer:
            found.add(OUTSIDE)
        elif "namespaceSelector" in peer:
            namespace = peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
            if "podSelector" not in peer:
                found.add(f"{namespace}/*")  # every pod of that namespace
                continue
            app = peer["podSelector"]["matchLabels"]
            found.add(f"{namespace}/{app.get('app.kubernetes.io/name') or app.get('k8s-app')}")
        else:
            found |= {w for w, labels in workloads.items() if _matches(peer["podSelector"], labels)}
    return found


def _ports(rule: dict[str, Any]) -> set[int]:
    assert rule.get("ports"), "every rule names its ports"
    return {int(port["port"]) for port in rule["ports"]}


def channels(resources: list[dict[str, Any]]) -> set[tuple[str, str, int]]:
    """(from, to, port) that the NetworkPolicies let through: the receiver's ingress and, for a
    sender in the namespace, its egress must both allow it (default deny both ways)."""
    workloads = {w["metadata"]["name"]: _pod_labels(w) for w in _pods(resources)}
    policies = [r for r in resources if r["kind"] == "NetworkPolicy"]
    deny = [
        p
        for p in policies
        if p["spec"]["podSelector"] == {}
        and not p["spec"].get("ingress")
        and not p["spec"].get("egress")
    ]
    assert deny and set(deny[0]["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    ingress: set[tuple[str, str, int]] = set()
    egress: set[tuple[str, str, int]] = set()
    for policy in policies:
        selected = {
            w for w, labels in workloads.items() if _matches(policy["spec"]["podSelector"], labels)
        }
        for rule in policy["spec"].get("ingress", []):
            for source in _peers(rule.get("from"), workloads):
                ingress |= {(source, target, port) for target in selected for port in _ports(rule)}
        for rule in policy["spec"].get("egress", []):
            for target in _peers(rule.get("to"), workloads):
                egress |= {(source, target, port) for source in selected for port in _ports(rule)}
    inside = set(workloads)
    opened = {c for c in ingress if c[0] not in inside or c in egress}
    # Egress that leaves the namespace: only DNS, from every workload.
    leaving = {c for c in egress if c[1] not in inside}
    assert leaving == {(w, DNS, 53) for w in inside}, leaving - {(w, DNS, 53) for w in inside}
    return opened


def test_network_policies_open_exactly_the_documented_channels(
    rendered: list[dict[str, Any]],
) -> None:
    assert channels(rendered) == CHANNELS


def test_the_channel_check_can_fail(rendered: list[dict[str, Any]]) -> None:
    loosened = copy.deepcopy(rendered)
    for resource in loosened:
        if resource["kind"] == "NetworkPolicy" and resource["metadata"]["name"] == "signer":
            resource["spec"]["ingress"][0]["from"].append(
                {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "verifier"}}}
            )
        if resource["kind"] == "NetworkPolicy" and resource["metadata"]["name"] == "vrs":
            resource["spec"]["ingress"][0]["from"].append(
                {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "redis"}}}
            )
    # The verifier has no egress to the signer and Redis none to VRS: still closed.
    assert channels(loosened) == CHANNELS
    for resource in loosened:
        if resource["kind"] == "NetworkPolicy" and resource["metadata"]["name"] == "edge":
            resource["spec"]["egress"] = resource["spec"]["egress"][:-1]  # edge -> vrs
    assert CHANNELS - channels(loosened) == {("edge", "vrs", 8441)}
    for resource in loosened:
        if resource["kind"] == "NetworkPolicy" and resource["metadata"]["name"] == "center":
            resource["spec"]["egress"].append({"to": [], "ports": [{"port": 443}]})
    with pytest.raises(AssertionError):
        channels(loosened)
