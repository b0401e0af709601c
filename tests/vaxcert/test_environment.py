"""Production is the default; development is one flag (`vaxcert --dev`, or `vaxcert demo`), and
production refuses the development PKI wherever it can tell: making it, serving on it, the demo."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from launch.cli import main
from vaxcert import pki
from vaxcert.config import load_settings

PRODUCTION = {"VAXCERT_ENVIRONMENT": "production"}


def test_production_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VAXCERT_ENVIRONMENT", raising=False)
    assert load_settings().environment == "production"
    shown = CliRunner().invoke(main, ["config", "show"])
    assert json.loads(shown.output)["environment"] == "production"
    dev = CliRunner().invoke(main, ["--dev", "config", "show"])
    assert json.loads(dev.output)["environment"] == "development"


def test_the_development_pki_is_made_only_in_development(tmp_path: Path) -> None:
    refused = CliRunner().invoke(main, ["certs", "init", "--dir", str(tmp_path)], env=PRODUCTION)
    assert refused.exit_code == 1 and "--dev" in refused.output
    assert not any(tmp_path.iterdir())
    made = CliRunner().invoke(
        main, ["--dev", "certs", "init", "--dir", str(tmp_path)], env=PRODUCTION
    )
    assert made.exit_code == 0, made.output
    assert pki.cert_path(tmp_path, "center-kiosk-api").is_file()


def test_the_demo_is_refused_in_production() -> None:
    result = CliRunner().invoke(main, ["demo"], env=PRODUCTION)
    assert result.exit_code == 1
    assert "refused in production" in result.output


def _real_certificate(directory: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Some Prefecture"),
            x509.NameAttribute(NameOID.COMMON_NAME, "center"),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "center.crt.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def test_development_material_is_recognised(tmp_path: Path) -> None:
    dev = tmp_path / "dev"
    pki.init(dev, "https://127.0.0.1:8446/issuer", ["KIOSK-0001"])
    found = pki.development_material(dev)
    assert {"dedicated-ca", "center-kiosk-api", "kiosk-KIOSK-0001", "jlis-ca"} <= set(found)
    real = tmp_path / "real"
    _real_certificate(real)
    assert pki.development_material(real) == []


def test_serving_on_the_development_pki_is_refused_in_production(tmp_path: Path) -> None:
    pki.init(tmp_path, "https://127.0.0.1:8446/issuer", [])
    served = subprocess.run(
        [sys.executable, "-m", "launch.cli", "serve", "signer-public"],
        env={"PATH": "/usr/bin:/bin", "VAXCERT_PKI_DIR": str(tmp_path), **PRODUCTION},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert served.returncode == 1, served.stderr
    assert "development PKI material in production" in served.stderr
    assert "signer-public" in served.stderr
