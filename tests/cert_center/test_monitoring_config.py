"""docker/prometheus and docker/grafana (mounted by docker/compose.yaml): every metric an alert
rule or a dashboard panel asks for is one the center's /metrics really serves, with the labels it
really has; every C21 rule has its Prometheus alert; the scraper authenticates.

promtool is not available here, so the expressions are checked by what they reference: the
metric names (scraped from the ops surface of a running app) and the label names in matchers
and ``by``/``without`` clauses.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from cert_center import metrics
from cert_center.alerts import RULES, SEVERITY
from cert_center.app import create_app
from cert_center.refusal_days import SENSITIVE_CATEGORIES
from vaxcert.config import OpsSettings, load_settings

DOCKER = Path(__file__).resolve().parents[2] / "docker"
PROMETHEUS = DOCKER / "prometheus"
DASHBOARD = DOCKER / "grafana" / "dashboards" / "vaxcert-center.json"
# Series Prometheus makes itself for every target.
PROMETHEUS_OWN = {"up"}
_METRIC = re.compile(r"\b(vaxcert_[a-z0-9_]+|up)\b")
_MATCHERS = re.compile(r"\{([^}]*)\}")
_LABEL = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")
_GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")


@pytest.fixture(scope="module")
def served(center_pki: Path) -> dict[str, set[str]]:
    """Series names the ops surface serves, each with its label names (``le`` for buckets)."""
    base = load_settings(environment="test", pki_dir=center_pki)
    settings = base.model_copy(
        update={
            "center": base.center.model_copy(
                update={"ops": OpsSettings(metrics_token=SecretStr("scrape"))}
            )
        }
    )
    client = create_app(settings, surface="ops").test_client()
    response = client.get("/metrics", headers={"Authorization": "Bearer scrape"})
    assert response.status_code == 200
    labels_of = {
        metric._name: set(metric._labelnames)
        for metric in vars(metrics).values()
        if isinstance(metric, MetricWrapperBase)
    }
    names: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        labels = labels_of.get(family.name, {"kiosk"})  # derived: heartbeat age per kiosk
        suffixes = {
            "counter": ["_total", "_created"],
            "histogram": ["_bucket", "_sum", "_count", "_created"],
        }.get(family.type, [""])
        for suffix in suffixes:
            names[family.name + suffix] = labels | ({"le"} if suffix == "_bucket" else set())
        for sample in family.samples:
            # C08: no sensitive refusal category as a label value, no category label.
            assert "category" not in sample.labels
            assert not set(sample.labels.values()) & set(SENSITIVE_CATEGORIES), sample
    return names


def _check_expression(expr: str, served: dict[str, set[str]]) -> None:
    used = set(_METRIC.findall(expr))
    assert used, f"no vaxcert metric in {expr!r}"
    unknown = used - set(served) - PROMETHEUS_OWN
    assert not unknown, f"{expr!r} asks for metrics the center does not serve: {unknown}"
    allowed = set().union(*(served.get(name, {"job", "instance"}) for name in used))
    allowed |= {"job", "instance"}
    labels = {m for group in _MATCHERS.findall(expr) for m in _LABEL.findall(group)}
    labels |= {
        label.strip()
        for group in _GROUPING.findall(expr)
        for label in group.split(",")
        if label.strip()
    }
    assert labels <= allowed, f"{expr!r} uses labels the metrics lack: {labels - allowed}"
    assert expr.count("(") == expr.count(")") and expr.count("{") == expr.count("}"), expr


def _alert_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"]]


def test_every_alert_expression_asks_for_served_metrics(served: dict[str, set[str]]) -> None:
    rules = _alert_rules()
    assert len({rule["alert"] for rule in rules}) == len(rules)
    for rule in rules:
        _check_expression(rule["expr"], served)
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert rule["annotations"]["summary"]


def test_c21_every_center_alert_rule_has_its_prometheus_alert() -> None:
    by_rule = {rule["labels"].get("rule"): rule for rule in _alert_rules()}
    for name in RULES:
        assert name in by_rule, f"no Prometheus alert for the center's rule {name}"
        assert f'vaxcert_alerts_total{{rule="{name}"}}' in by_rule[name]["expr"]
        assert by_rule[name]["labels"]["severity"] == SEVERITY[name]


def test_every_dashboard_panel_asks_for_served_metrics(served: dict[str, set[str]]) -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert dashboard["uid"] == "vaxcert-center" and dashboard["title"]
    panels = [
        panel
        for top in dashboard["panels"]
        for panel in [top, *top.get("panels", [])]
        if panel["type"] != "row"
    ]
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])
    assert len(panels) >= 15
    used: set[str] = set()
    for panel in panels:
        assert panel["targets"], panel["title"]
        assert panel["datasource"]["uid"] == "${datasource}"
        for target in panel["targets"]:
            _check_expression(target["expr"], served)
            used |= set(_METRIC.findall(target["expr"]))
    # The console's views: fleet, issuance, fees, service health, alerts.
    for metric in (
        "vaxcert_center_kiosk_heartbeat_timestamp_seconds",
        "vaxcert_center_kiosk_device_ok",
        "vaxcert_center_kiosk_certificate_expiry_timestamp_seconds",
        "vaxcert_center_issuances_total",
        "vaxcert_center_refusals_total",
        "vaxcert_center_pin_lockouts_total",
        "vaxcert_center_fees_yen_total",
        "vaxcert_center_relay_seconds_bucket",
        "vaxcert_center_breaker_open",
        "vaxcert_alerts_total",
    ):
        assert metric in used, f"the dashboard shows no {metric}"


def test_c08_prometheus_scrapes_over_tls_with_the_bearer_token_from_a_file() -> None:
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text(encoding="utf-8"))
    assert any(path.endswith("/alerts.yml") for path in config["rule_files"])
    (job,) = config["scrape_configs"]
    assert job["scheme"] == "https" and job["metrics_path"] == "/metrics"
    assert job["authorization"]["type"] == "Bearer"
    assert job["authorization"]["credentials_file"].startswith("/run/secrets/")
    assert "credentials" not in job["authorization"]
    assert job["tls_config"]["ca_file"] and not job["tls_config"].get("insecure_skip_verify")
    assert job["static_configs"][0]["targets"] == ["center-ops:8445"]
