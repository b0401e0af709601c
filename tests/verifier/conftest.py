"""Fixtures of the verifier tests: trust stores over the official samples, the spec issuer's
(public, test-only) private keys, and our signer's public surface over real TLS. The dev PKI and
its trust store (``dev_pki``, ``dev_store``) come from tests/support/dev_trust.py."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask

from signer.app import create_app
from signer.services import SignerService
from tests.support.servers import LiveServer, pki_context, start_server
from tests.verifier import issuance
from vaxcert import pki
from vaxcert.config import Settings, load_settings
from vaxcert.formats import jose
from verifier import TrustStore, load_trust_store

# Inside the AUS CRL window (thisUpdate 2021-08-19, nextUpdate 2021-11-17) and the BSC's life.
AUS_AT = dt.datetime(2021, 10, 15, tzinfo=dt.UTC)
# Inside the x5c leaf life of spec example 01 (2021-06-01 … 2022-06-01).
X5C_AT = dt.datetime(2022, 1, 1, tzinfo=dt.UTC)


@pytest.fixture(scope="session")
def spec_dir(testdata: Path) -> Path:
    """tests/data/shc/spec-examples."""
    return testdata / "shc" / "spec-examples"


@pytest.fixture(scope="session")
def aus_dir(testdata: Path) -> Path:
    """tests/data/vdsnc/aus."""
    return testdata / "vdsnc" / "aus"


def write_store(directory: Path, testdata: Path, extra: str = "") -> Path:
    """A trust store directory whose trust.toml points at the official samples in place."""
    well_known = testdata / "shc" / "spec-examples" / "issuer" / ".well-known"
    aus = testdata / "vdsnc" / "aus"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "trust.toml").write_text(
        f"""
stale_after_days = 7

[[shc]]
iss = "{issuance.SPEC_ISS}"
name = "SMART Health Cards spec example issuer"
jwks = "{well_known / "jwks.json"}"

[[csca]]
name = "Australia (DFAT)"
country = "AUS"
certificates = ["{aus / "csca-aus-16f2.der"}", "{aus / "csca-aus-16f5-link.der"}"]
crls = ["{aus / "crl-aus.der"}"]
{extra}
""",
        encoding="utf-8",
    )
    return directory


@pytest.fixture(scope="session")
def official_store_dir(tmp_path_factory: pytest.TempPathFactory, testdata: Path) -> Path:
    """Trust store directory: the SHC spec issuer (JWKS + CRL) and the Australian CSCAs + CRL."""
    return write_store(tmp_path_factory.mktemp("trust-official"), testdata)


@pytest.fixture(scope="session")
def official_store(official_store_dir: Path) -> TrustStore:
    """The loaded official trust store."""
    return load_trust_store(official_store_dir)


@pytest.fixture(scope="session")
def spec_private_keys(testdata: Path) -> dict[str, ec.EllipticCurvePrivateKey]:
    """The spec issuer's private keys by kid (published test keys, known to all)."""
    path = testdata / "shc" / "spec-issuer-private" / "issuer.jwks.private.json"
    keys = {}
    for jwk in json.loads(path.read_text())["keys"]:
        d = int.from_bytes(jose.b64url_decode(jwk["d"]), "big")
        keys[jwk["kid"]] = ec.derive_private_key(d, ec.SECP256R1())
    return keys


@dataclass
class Issuer:
    """Our signer's public surface on an ephemeral loopback port, with its settings."""

    iss: str
    settings: Settings
    service: SignerService
    ca: Path
    server: LiveServer

    @property
    def env(self) -> dict[str, str]:
        """What `vaxcert` commands need to act as this signer (and as the demo's verifier)."""
        return {
            "VAXCERT_PKI_DIR": str(self.settings.pki_dir),
            "VAXCERT_ISSUER_URL": self.iss,
            "VAXCERT_SIGNER__STATE_DIR": str(self.settings.signer_state_dir()),
        }


@pytest.fixture
def issuer(tmp_path: Path) -> Iterator[Issuer]:
    """The signer's public surface (JWKS, rid CRLs, CSCA CRL) over real TLS, in a thread."""
    # The port is known only once the server listens, and the issuer URL (SHC iss, x5c SAN)
    # names it: the server starts with an empty slot and the app is put in afterwards.
    slot: dict[str, Flask] = {}

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        return slot["app"](environ, start_response)

    directory = tmp_path / "pki"
    pki.init(directory, "https://127.0.0.1:8446/issuer", [], [])
    server = start_server(app, pki_context(directory, "signer-public"))
    iss = f"{server.url}/issuer"
    pki.init(directory, iss, [], [])  # re-issues the SHC issuer leaf for this iss
    settings = load_settings(
        pki_dir=directory, issuer_url=iss, signer={"state_dir": tmp_path / "state"}
    )
    service = SignerService(settings)
    slot["app"] = create_app(settings, "public", service=service)
    try:
        yield Issuer(iss, settings, service, pki.cert_path(directory, "public-ca"), server)
    finally:
        server.stop()
