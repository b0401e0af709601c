"""`vaxcert health`: the probe of container healthchecks and Kubernetes exec probes, against a
real TLS listener with the product's /healthz and client-certificate rule."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask

from launch import health
from launch.cli import main
from launch.surfaces import SERVICES
from tests.support.servers import LiveServer, pki_context, serving
from vaxcert import web
from vaxcert.config import Listener, Listeners, Settings, load_settings


def _app(settings: Settings, client_certificate: bool) -> Flask:
    app = web.new_app(__name__, "vrs")
    web.install(app, settings, "probe-target")
    if client_certificate:
        web.require_client_certificate(app)
    return app


def _settings(pki_dir: Path, port: int) -> Settings:
    return load_settings(
        environment="test", pki_dir=pki_dir, listeners=Listeners(vrs=Listener(port=port))
    )


@pytest.fixture(scope="module")
def vrs_like(dev_pki: Path) -> Iterator[LiveServer]:
    """An mTLS listener with the VRS server certificate that wants an LGWAN-CA client."""
    app = _app(_settings(dev_pki, 1), client_certificate=True)
    with serving(app, pki_context(dev_pki, "vrs", "lgwan-ca")) as live:
        yield live


def test_healthy_over_mtls_with_the_probe_client(dev_pki: Path, vrs_like: LiveServer) -> None:
    settings = _settings(dev_pki, vrs_like.port)
    body = health.check(health.plan(SERVICES["vrs"], settings))
    assert body["status"] == "ok"
    assert body["peer"] == "cert-center"


def test_a_client_of_another_ca_is_unhealthy(dev_pki: Path, vrs_like: LiveServer) -> None:
    settings = _settings(dev_pki, vrs_like.port)
    probe = health.plan(SERVICES["vrs"], settings, client="center-internal-client")
    with pytest.raises(health.HealthError):
        health.check(probe)


def test_a_server_certificate_without_the_name_is_unhealthy(
    dev_pki: Path, vrs_like: LiveServer
) -> None:
    settings = _settings(dev_pki, vrs_like.port)
    probe = health.plan(SERVICES["vrs"], settings, server_name="vrs.elsewhere.example")
    with pytest.raises(health.HealthError, match="certificate"):
        health.check(probe)


def test_nothing_listening_is_unhealthy(dev_pki: Path) -> None:
    with serving(_app(_settings(dev_pki, 1), client_certificate=False)) as live:
        port = live.port
    with pytest.raises(health.HealthError):
        health.check(health.plan(SERVICES["vrs"], _settings(dev_pki, port)))


def test_cli_exit_codes(dev_pki: Path, vrs_like: LiveServer) -> None:
    env = {
        "VAXCERT_ENVIRONMENT": "test",
        "VAXCERT_PKI_DIR": str(dev_pki),
        "VAXCERT_LISTENERS__VRS__HOST": "0.0.0.0",
        "VAXCERT_LISTENERS__VRS__PORT": str(vrs_like.port),
    }
    runner = CliRunner()
    healthy = runner.invoke(main, ["health", "vrs"], env=env)
    assert healthy.exit_code == 0, healthy.output
    assert '"status": "ok"' in healthy.output
    refused = runner.invoke(
        main, ["health", "vrs"], env={**env, "VAXCERT_HEALTH_CLIENT": "center-internal-client"}
    )
    assert refused.exit_code == 1
    assert "unhealthy" in refused.output
