"""The development PKI: complete, idempotent, keys 0600, profiles as formats.md and card.md ask."""

from __future__ import annotations

import datetime as dt
import json
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from launch.cli import main
from vaxcert import pki

ISSUER = "https://127.0.0.1:8446/issuer"
KIOSKS = ["KIOSK-0001", "KIOSK-0002"]


@pytest.fixture(scope="module")
def directory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("pki")
    pki.init(target, ISSUER, KIOSKS)
    return target


def _ext(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> x509.Extension[x509.ExtensionType]:
    return cert.extensions.get_extension_for_oid(oid)


def test_every_private_key_is_0600(directory: Path) -> None:
    keys = list(directory.glob("*.key.pem"))
    assert len(keys) >= 20
    for key in keys:
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key.name


def test_init_is_idempotent(directory: Path) -> None:
    before = {p.name: p.read_bytes() for p in directory.iterdir()}
    assert pki.init(directory, ISSUER, KIOSKS) == []
    after = {p.name: p.read_bytes() for p in directory.iterdir()}
    assert before == after


def test_a_missing_leaf_is_reissued_alone(tmp_path: Path) -> None:
    pki.init(tmp_path, ISSUER, KIOSKS)
    ca_before = pki.cert_path(tmp_path, "dedicated-ca").read_bytes()
    pki.cert_path(tmp_path, "kiosk-KIOSK-0002").unlink()
    assert pki.init(tmp_path, ISSUER, KIOSKS) == ["kiosk-KIOSK-0002"]
    assert pki.cert_path(tmp_path, "dedicated-ca").read_bytes() == ca_before


def test_kiosk_client_certs_carry_the_kiosk_id(directory: Path) -> None:
    for kiosk in KIOSKS:
        cert = pki.load_cert(pki.cert_path(directory, f"kiosk-{kiosk}"))
        cn = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
        assert cn == kiosk
        cert.verify_directly_issued_by(pki.load_cert(pki.cert_path(directory, "dedicated-ca")))


def test_shc_issuer_chain(directory: Path) -> None:
    root = pki.load_cert(pki.cert_path(directory, "shc-root"))
    leaf = pki.load_cert(pki.cert_path(directory, "shc-issuer"))
    assert isinstance(root.public_key(), ec.EllipticCurvePublicKey)
    assert root.public_key().curve.name == "secp384r1"  # type: ignore[union-attr]
    assert leaf.public_key().curve.name == "secp256r1"  # type: ignore[union-attr]
    leaf.verify_directly_issued_by(root)
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == [ISSUER]
    chain = x509.load_pem_x509_certificates((directory / "shc-issuer.chain.pem").read_bytes())
    assert chain == [leaf, root]  # x5c order: leaf first


def test_vdsnc_bsc_profile(directory: Path) -> None:
    csca = x509.load_der_x509_certificate((directory / "vdsnc-csca.der").read_bytes())
    bsc = x509.load_der_x509_certificate((directory / "vdsnc-bsc.der").read_bytes())
    assert csca.public_key().curve.name == "secp384r1"  # type: ignore[union-attr]
    assert bsc.public_key().curve.name == "secp256r1"  # type: ignore[union-attr]
    bsc.verify_directly_issued_by(csca)
    eku = bsc.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [x509.ObjectIdentifier("2.23.136.1.1.14.2")]
    doc_type = _ext(bsc, x509.ObjectIdentifier("2.23.136.1.1.6.2")).value
    assert isinstance(doc_type, x509.UnrecognizedExtension)
    assert doc_type.value == bytes.fromhex("30090201003104130" + "24e56")
    aki = bsc.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = csca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    crl = x509.load_der_x509_crl((directory / "vdsnc-crl.der").read_bytes())
    assert crl.is_signature_valid(csca.public_key())  # type: ignore[arg-type]
    assert len(list(crl)) == 0


def test_jlis_test_ca(directory: Path) -> None:
    meta = json.loads((directory / "jlis-ca.json").read_text())
    assert meta["issuer_key_id"] == "9000033/001"
    assert bytes.fromhex(meta["issuer_key_id_hex"]) == b"9000033\x08\x05001\x00\x00\x00\x00"
    key = pki.load_key(pki.key_path(directory, "jlis-ca"))
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048


def test_check_passes_on_fresh_material(directory: Path) -> None:
    result = CliRunner().invoke(main, ["certs", "check", "--dir", str(directory)])
    assert result.exit_code == 0, result.output
    assert "ERROR" not in result.output


def test_check_reports_mismatch_and_expiry(tmp_path: Path) -> None:
    pki.init(tmp_path, ISSUER, KIOSKS)
    # A key that does not belong to its certificate.
    pki.key_path(tmp_path, "vrs").write_bytes(pki.key_path(tmp_path, "signer-api").read_bytes())
    # An expired kiosk certificate.
    now = dt.datetime.now(dt.UTC)
    pki.issue(
        tmp_path,
        pki.Spec("kiosk-KIOSK-0001", "KIOSK-0001", "client", "dedicated-ca"),
        now - dt.timedelta(days=10),
        now - dt.timedelta(days=1),
    )
    findings = {f.name: f for f in pki.check(tmp_path, ISSUER, KIOSKS)}
    assert findings["vrs"].level == "error" and "does not match" in findings["vrs"].text
    assert findings["kiosk-KIOSK-0001"].level == "error"
    assert "expired" in findings["kiosk-KIOSK-0001"].text
    assert findings["center-kiosk-api"].level == "ok"
    # A different issuer URL than the one the SHC leaf names is a mismatch.
    other = {f.name: f for f in pki.check(tmp_path, "https://other.example/issuer", KIOSKS)}
    assert other["shc-issuer"].level == "error"
    result = CliRunner().invoke(main, ["certs", "check", "--dir", str(tmp_path)])
    assert result.exit_code == 1
    # init repairs what check found.
    repaired = pki.init(tmp_path, ISSUER, KIOSKS)
    assert "kiosk-KIOSK-0001" in repaired and "vrs" in repaired
    assert all(f.level == "ok" for f in pki.check(tmp_path, ISSUER, KIOSKS))
