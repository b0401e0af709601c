"""Center fixtures: a dev PKI in a temp dir and kiosk identities as the TLS layer presents them."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from launch.samples import sample_issued
from signer.services import SignerService
from vaxcert import pki
from vaxcert.config import load_settings
from vaxcert.contracts.kiosk_api import CertificateIssued

ISSUER = "https://127.0.0.1:8446/issuer"


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    """A Redis key prefix of this test's own; its keys are deleted afterwards."""
    value = f"vaxcert-test-{secrets.token_hex(6)}:"
    yield value
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(f"{value}*"):
        client.delete(key)


@pytest.fixture(scope="session")
def center_pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("center-pki")
    pki.init(directory, ISSUER, ["KIOSK-0001", "KIOSK-0002", "KIOSK-9999"])
    return directory


@pytest.fixture(scope="session")
def kiosk_pem(center_pki: Path) -> dict[str, str]:
    """PEM client certificates by kiosk id, as gunicorn puts them in SSL_CLIENT_CERT."""
    return {
        kid: pki.cert_path(center_pki, f"kiosk-{kid}").read_text()
        for kid in ("KIOSK-0001", "KIOSK-0002", "KIOSK-9999")
    }


# -- certificate PDF (vaxcert/certificate/pdf.py): really signed replies --------------------


@pytest.fixture(scope="session")
def pdf_signer(center_pki: Path, tmp_path_factory: pytest.TempPathFactory) -> SignerService:
    """An in-process signer over the session PKI (file custody, temp state dir)."""
    state = tmp_path_factory.mktemp("pdf-signer-state")
    service = SignerService(load_settings(pki_dir=center_pki, signer={"state_dir": state}))
    service.init()
    return service


@pytest.fixture(scope="session")
def overseas_issued(pdf_signer: SignerService) -> CertificateIssued:
    """The canary's 7-dose 海外用 certificate as the center replies it (SHC + VDS-NC)."""
    return sample_issued(pdf_signer, "overseas", 7)


@pytest.fixture(scope="session")
def domestic_issued(pdf_signer: SignerService) -> CertificateIssued:
    """The canary's 7-dose 国内用 certificate as the center replies it (SHC only)."""
    return sample_issued(pdf_signer, "domestic", 7, certificate_id="9SAMPLE00002")
