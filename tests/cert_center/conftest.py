"""Center fixtures: a dev PKI in a temp dir and kiosk identities as the TLS layer presents them."""

from __future__ import annotations

from pathlib import Path

import pytest

from vaxcert import pki

ISSUER = "https://127.0.0.1:8446/issuer"


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
