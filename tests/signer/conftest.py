"""Fixtures of the signer tests: a development PKI, signer settings over temp state dirs, a real
SoftHSM2 token and a small test-only verifier."""

from __future__ import annotations

import io
import json
import logging
import os
import secrets
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from signer.samples import example_content
from signer.services import SignerService
from vaxcert import logging as vlogging
from vaxcert import pki
from vaxcert.config import Settings, load_settings
from vaxcert.contracts.signing import CertificateContent
from vaxcert.formats import jose, shc, vdsnc
from vaxcert.residents import CANARY

ISSUER = "https://127.0.0.1:8446/issuer"
SOFTHSM_LIBRARY = Path("/usr/lib/softhsm/libsofthsm2.so")


@pytest.fixture(scope="session")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A development PKI in a temp dir, shared by the session (tests never modify it)."""
    directory = tmp_path_factory.mktemp("pki")
    pki.init(directory, ISSUER, ["KIOSK-0001"], ["127.0.0.1"])
    return directory


@pytest.fixture
def own_pki(tmp_path: Path, pki_dir: Path) -> Path:
    """A private copy of the PKI for tests that re-sign the CSCA's CRL."""
    directory = tmp_path / "pki"
    shutil.copytree(pki_dir, directory)
    return directory


SettingsFactory = Callable[..., Settings]


@pytest.fixture
def make_settings(tmp_path: Path, pki_dir: Path) -> SettingsFactory:
    """Settings over the session PKI with a fresh state dir per test; overrides as keywords."""

    def make(**overrides: Any) -> Settings:
        signer = {"state_dir": tmp_path / "state", **overrides.pop("signer", {})}
        return load_settings(pki_dir=overrides.pop("pki_dir", pki_dir), signer=signer, **overrides)

    return make


@pytest.fixture
def settings(make_settings: SettingsFactory) -> Settings:
    """File custody settings with a fresh state dir."""
    return make_settings()


@pytest.fixture
def service(settings: Settings) -> SignerService:
    """An initialised signer service with file custody."""
    signer = SignerService(settings)
    signer.init()
    return signer


@pytest.fixture
def domestic() -> CertificateContent:
    """The canary's domestic certificate with three doses."""
    return example_content(CANARY, "domestic", 3)


@pytest.fixture
def overseas() -> CertificateContent:
    """The canary's overseas certificate with three doses."""
    return example_content(CANARY, "overseas", 3)


# -- SoftHSM2 ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SoftHsm:
    """An initialised SoftHSM2 token in a temp dir."""

    conf: Path
    label: str
    pin: str
    so_pin: str

    def env(self) -> dict[str, str]:
        """Environment for a child process that uses this token."""
        return {**os.environ, "SOFTHSM2_CONF": str(self.conf)}


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftHsm]:
    """A real SoftHSM2 token, initialised with softhsm2-util in a temp dir for this session.

    The PKCS#11 library reads SOFTHSM2_CONF once per process, so there is one configuration for
    the whole session; tests tell their keys apart by CKA_ID.
    """
    util = shutil.which("softhsm2-util")
    if util is None or not SOFTHSM_LIBRARY.exists():
        pytest.fail("SoftHSM2 is missing: `make test` installs the Debian package softhsm2")
    root = tmp_path_factory.mktemp("softhsm")
    (root / "tokens").mkdir()
    conf = root / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    token = SoftHsm(conf, f"vaxcert-test-{secrets.token_hex(4)}", "246810", "13579864")
    previous = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(
        [
            util,
            "--init-token",
            "--free",
            "--label",
            token.label,
            "--so-pin",
            token.so_pin,
            "--pin",
            token.pin,
        ],
        check=True,
        capture_output=True,
        env=token.env(),
    )
    yield token
    if previous is None:
        os.environ.pop("SOFTHSM2_CONF", None)
    else:
        os.environ["SOFTHSM2_CONF"] = previous


@pytest.fixture
def pkcs11_settings(make_settings: SettingsFactory, softhsm: SoftHsm) -> Settings:
    """Settings with PKCS#11 custody on the session's SoftHSM2 token."""
    return make_settings(
        signer={
            "custody": "pkcs11",
            "pkcs11": {"library": SOFTHSM_LIBRARY, "label": softhsm.label, "user_pin": softhsm.pin},
        }
    )


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """Everything logged while the test runs, through the product's scrubbed JSON handler."""
    stream = io.StringIO()
    handler = vlogging.make_handler(stream)
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield stream
    root.removeHandler(handler)
    root.setLevel(previous)


# -- a small test-only verifier ----------------------------------------------------------------


def verify_shc(jws: str, jwks: dict[str, Any]) -> dict[str, Any]:
    """Check an SHC JWS against a JWKS the way formats.md §1 says; returns the payload."""
    parts = shc.split_jws(jws)
    assert parts.header == {"zip": "DEF", "alg": "ES256", "kid": parts.header["kid"]}
    assert parts.header_b64 == jose.b64url_encode(shc.header_bytes(parts.header["kid"]))
    keys = {key["kid"]: key for key in jwks["keys"]}
    jwk = keys[parts.header["kid"]]
    assert "d" not in jwk
    assert jose.ec_thumbprint(jwk) == parts.header["kid"]
    public = jose.jwk_public_key(jwk)
    assert len(parts.signature) == 64
    public.verify(jose.raw_to_der(parts.signature), parts.signing_input, ec.ECDSA(hashes.SHA256()))
    raw = shc.inflate_raw(parts.payload)
    payload = shc.parse_payload(raw)
    assert shc.minify(payload) == raw  # we emit minified payloads only
    return payload


def verify_vdsnc(text: str, csca_der: bytes) -> vdsnc.VdsDocument:
    """Check a VDS-NC: JCS emitted, signature over JCS(data), BSC issued by the CSCA."""
    document = vdsnc.parse(text)
    assert text.encode() == vdsnc.canonical(json.loads(text))
    bsc = x509.load_der_x509_certificate(document.certificate_der)
    key = bsc.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    key.verify(
        jose.raw_to_der(document.signature), document.signed_bytes, ec.ECDSA(hashes.SHA256())
    )
    bsc.verify_directly_issued_by(x509.load_der_x509_certificate(csca_der))
    return document
