"""Trusting the development PKI is loud: production refuses it everywhere (the page, a configured
store, `vaxcert verify` and its one-off anchors, `trust init-dev`); elsewhere every verification
against it logs a warning."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from click.testing import CliRunner

from launch.cli import main
from tests.verifier import issuance
from vaxcert import pki
from vaxcert.config import load_settings
from vaxcert.errors import ConfigError
from verifier import TrustStore
from verifier.app import create_app
from verifier.dev_trust import development_anchors, write_dev_trust_store

WARNING = "UNSAFE development trust"


def _warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if WARNING in r.getMessage()]


def test_the_dev_store_is_recognised_and_the_official_one_is_not(
    dev_store: TrustStore, official_store: TrustStore, tmp_path: Path, dev_pki: Path
) -> None:
    assert len(development_anchors(dev_store)) == 2  # our SHC issuer and our CSCA
    assert development_anchors(official_store) == []
    # A written dev store is recognised by its certificates, whatever it is called.
    index = write_dev_trust_store(dev_pki, issuance.ISSUER_URL, tmp_path / "trust")
    index.write_text(index.read_text(encoding="utf-8").replace("開発用", "本番"), encoding="utf-8")
    from verifier import load_trust_store

    assert len(development_anchors(load_trust_store(index))) == 2


def test_production_refuses_to_serve_with_development_trust(
    dev_pki: Path, dev_store: TrustStore, tmp_path: Path
) -> None:
    store_dir = tmp_path / "trust"
    write_dev_trust_store(dev_pki, issuance.ISSUER_URL, store_dir)
    production = load_settings(
        environment="production", pki_dir=dev_pki, verifier={"trust": str(store_dir)}
    )
    with pytest.raises(ConfigError, match="refused in production") as caught:
        create_app(production)
    assert caught.value.setting == "VAXCERT_VERIFIER__TRUST"
    with pytest.raises(ConfigError, match="refused in production"):
        create_app(load_settings(environment="production", pki_dir=dev_pki), trust=dev_store)


def test_production_serves_with_an_official_store(official_store_dir: Path, dev_pki: Path) -> None:
    settings = load_settings(
        environment="production", pki_dir=dev_pki, verifier={"trust": str(official_store_dir)}
    )
    assert create_app(settings).test_client().get("/healthz").status_code == 200


def test_development_warns_at_every_verification(
    dev_pki: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = load_settings(
        environment="development", pki_dir=dev_pki, issuer_url=issuance.ISSUER_URL
    )
    caplog.set_level(logging.WARNING)
    client = create_app(settings).test_client()
    assert len(_warnings(caplog)) == 1  # at start-up
    caplog.clear()
    card = issuance.issue_shc(dev_pki)
    for _ in range(3):
        assert client.post("/api/verify", json={"text": card}).json["valid"] is True  # type: ignore[index]
    client.get("/healthz")
    assert len(_warnings(caplog)) == 3
    assert all(r.levelno == logging.WARNING for r in _warnings(caplog))


def _cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env=env)
    return result.exit_code, result.output


def test_verify_in_production_refuses_development_anchors(dev_pki: Path) -> None:
    card = issuance.issue_vdsnc(dev_pki)
    env = {
        "VAXCERT_ENVIRONMENT": "production",
        "VAXCERT_PKI_DIR": str(dev_pki),
        "VAXCERT_ISSUER_URL": issuance.ISSUER_URL,
    }
    code, output = _cli("verify", "-", env=env)
    assert code == 2 and "--dev" in output, output
    csca = pki.cert_path(dev_pki, "vdsnc-csca")
    code, output = _cli("verify", card, "--csca", str(csca), env=env)
    assert code == 2 and "refused in production" in output, output
    code, output = _cli("trust", "init-dev", "--out", str(dev_pki / "t"), env=env)
    assert code == 1 and "--dev" in output, output


def test_verify_in_development_warns(dev_pki: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    env = {"VAXCERT_PKI_DIR": str(dev_pki), "VAXCERT_ISSUER_URL": issuance.ISSUER_URL}
    code, output = _cli("--dev", "verify", issuance.issue_vdsnc(dev_pki), env=env)
    assert code == 3, output  # valid; no signer publishes its list of revoked ids here
    assert len(_warnings(caplog)) == 1
