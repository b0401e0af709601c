"""The edge's configuration template (docker/nginx/templates/edge.conf.template, from the
topology work) gets every variable it uses from compose.yaml and from k8s/, and every file it
reads from the edge's PKI directory that docker/dev_secrets.py lays out."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.conftest import DOCKER, K8S

TEMPLATE = DOCKER / "nginx/templates/edge.conf.template"

pytestmark = pytest.mark.skipif(
    not TEMPLATE.is_file(), reason="the edge template comes with the topology work"
)


def _used() -> set[str]:
    return set(re.findall(r"\$\{(VAXCERT_EDGE_[A-Z0-9_]+)\}", TEMPLATE.read_text()))


def test_compose_sets_every_variable_the_template_uses() -> None:
    compose: dict[str, Any] = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    given = {n for n in compose["services"]["edge"]["environment"] if n.startswith("VAXCERT_EDGE_")}
    assert given == _used()


def test_kubernetes_sets_every_variable_the_template_uses() -> None:
    edge = yaml.safe_load((K8S / "base/edge.yaml").read_text().split("\n---\n")[0])
    container = edge["spec"]["template"]["spec"]["containers"][0]
    given = {v["name"] for v in container["env"] if v["name"].startswith("VAXCERT_EDGE_")}
    assert given == _used()


def test_the_edge_pki_holds_every_file_the_template_reads(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("dev_secrets", DOCKER / "dev_secrets.py")
    assert spec is not None and spec.loader is not None
    dev_secrets = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(dev_secrets)
    dev_secrets.make(tmp_path, ["KIOSK-0001"])
    read = set(re.findall(r"\$\{VAXCERT_EDGE_PKI_DIR\}/(\S+?);", TEMPLATE.read_text()))
    assert read
    assert read <= {p.name for p in (tmp_path / "pki-edge").iterdir()}
