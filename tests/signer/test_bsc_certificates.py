"""The VDS-NC document signer certificate when the CSCA is held by another ministry: a CSR out,
the certificate it returns checked and activated, with key files and with keys on a SoftHSM2
token; and the development path (our own dev CSCA) beside it.

The "other ministry" is played by OpenSSL (``openssl x509 -req``) or by ``cryptography``, never
by the code under test, with Japan's production BSC profile as the model.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from launch.cli import main
from signer import certificates
from signer.services import SignerService
from tests.signer.conftest import SOFTHSM_LIBRARY, SettingsFactory, SoftHsm, verify_vdsnc
from tests.signer.test_vdsnc_issue import check_bsc_profile
from vaxcert import pki
from vaxcert.contracts.signing import CertificateContent
from vaxcert.errors import VaxcertError

DAY = dt.timedelta(days=1)
PKD_CRL = "https://pkddownload1.icao.int/CRLs/JPN.crl"


@pytest.fixture
def ministry_pki(own_pki: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A PKI directory without the CSCA's private key (it stays with "the ministry", returned
    second), as in production: we hold only the CSCA certificate and its CRL."""
    held = tmp_path / "ministry-csca.key.pem"
    shutil.move(pki.key_path(own_pki, "vdsnc-csca"), held)
    return own_pki, held


def _csca(pki_dir: Path) -> x509.Certificate:
    return x509.load_der_x509_certificate((pki_dir / "vdsnc-csca.der").read_bytes())


def _csca_key(path: Path) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def _openssl_signs(csr_pem: bytes, pki_dir: Path, csca_key: Path, tmp_path: Path) -> bytes:
    """The CSCA holder's answer, made with OpenSSL: Japan's BSC profile (no SKI, no basic
    constraints, EKU critical, key usage period 15 months, CRL at the ICAO PKD)."""
    (tmp_path / "request.pem").write_bytes(csr_pem)
    # OpenSSL stamps notBefore when it runs, a second or more after this line: the key usage
    # period starts a minute on, so it always lies inside the validity.
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(minutes=1)
    period = x509.PrivateKeyUsagePeriod(start, start + 456 * DAY).public_bytes().hex()
    (tmp_path / "bsc.cnf").write_text(
        "[bsc]\n"
        "authorityKeyIdentifier = keyid\n"
        "keyUsage = critical, digitalSignature\n"
        f"2.5.29.16 = DER:{period}\n"
        "2.23.136.1.1.6.2 = DER:300902010031041302" + b"NV".hex() + "\n"
        f"crlDistributionPoints = URI:{PKD_CRL}\n"
        "extendedKeyUsage = critical, 2.23.136.1.1.14.2\n"
        "subjectKeyIdentifier = none\n"
    )
    subprocess.run(
        [
            "openssl",
            "x509",
            "-req",
            "-in",
            str(tmp_path / "request.pem"),
            "-CA",
            str(pki.cert_path(pki_dir, "vdsnc-csca")),
            "-CAkey",
            str(csca_key),
            "-set_serial",
            "0x10c",
            "-days",
            "3650",
            "-sha384",
            "-extfile",
            str(tmp_path / "bsc.cnf"),
            "-extensions",
            "bsc",
            "-outform",
            "DER",
            "-out",
            str(tmp_path / "bsc.der"),
        ],
        check=True,
        capture_output=True,
    )
    return (tmp_path / "bsc.der").read_bytes()


def _signed_by(
    csca: x509.Certificate,
    csca_key: ec.EllipticCurvePrivateKey,
    public_key: Any,
    change: Callable[[x509.CertificateBuilder], x509.CertificateBuilder] = lambda b: b,
    start: dt.datetime | None = None,
    eku: bool = True,
) -> bytes:
    """A BSC made with ``cryptography`` as a CSCA would, with one thing changed for a refusal."""
    moment = start or dt.datetime.now(dt.UTC)
    ski = csca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "JP")]))
        .issuer_name(csca.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(moment - DAY)
        .not_valid_after(moment + 3650 * DAY)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False), True
        )
        .add_extension(
            x509.UnrecognizedExtension(pki.ICAO_DOCUMENT_TYPE_LIST, pki.NV_DOCUMENT_TYPE_DER),
            critical=False,
        )
    )
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage([pki.VDSNC_BSC_EKU]), True)
    return change(builder).sign(csca_key, hashes.SHA384()).public_bytes(serialization.Encoding.DER)


def _request(service: SignerService) -> tuple[str, x509.CertificateSigningRequest]:
    kid, pem = service.request_bsc()
    request = x509.load_pem_x509_csr(pem)
    return kid, request


# -- the request ---------------------------------------------------------------------------------


def test_the_request_names_the_subject_and_the_bsc_usages(service: SignerService) -> None:
    kid, request = _request(service)
    assert request.is_signature_valid  # signed by the new key itself
    assert request.subject.rfc4514_string() == "CN=JP dev VDS-NC signer,O=vaxcert development,C=JP"
    assert isinstance(request.public_key(), ec.EllipticCurvePublicKey)
    wanted = {ext.oid.dotted_string: ext for ext in request.extensions}
    assert wanted["2.5.29.37"].critical and list(wanted["2.5.29.37"].value) == [pki.VDSNC_BSC_EKU]
    assert wanted["2.5.29.15"].critical and wanted["2.5.29.15"].value.digital_signature
    doc_types = wanted[pki.ICAO_DOCUMENT_TYPE_LIST.dotted_string].value
    assert isinstance(doc_types, x509.UnrecognizedExtension)
    assert doc_types.value == pki.NV_DOCUMENT_TYPE_DER
    # OpenSSL reads it too, and the request is kept beside the pending key.
    status = service.status()
    assert [p["kid"] for p in status["bsc_pending"]] == [kid]
    stored = Path(status["bsc_pending"][0]["csr"])
    assert x509.load_pem_x509_csr(stored.read_bytes()).public_key() == request.public_key()
    verified = subprocess.run(
        ["openssl", "req", "-verify", "-noout", "-in", str(stored)], capture_output=True, text=True
    )
    assert verified.returncode == 0, verified.stderr
    # A pending key signs nothing: the active BSC is unchanged.
    assert status["bsc_active"] == service.store.load().bsc_active != None  # noqa: E711


# -- production: the CSCA is held elsewhere --------------------------------------------------------


def test_file_custody_production_path_csr_out_certificate_in(
    make_settings: SettingsFactory,
    ministry_pki: tuple[Path, Path],
    overseas: CertificateContent,
    tmp_path: Path,
) -> None:
    pki_dir, held = ministry_pki
    service = SignerService(make_settings(pki_dir=pki_dir))
    service.init()
    old = service.store.load().bsc_active  # the dev BSC adopted at init
    kid, request = _request(service)
    assert [key.kid for key in service.store.load().bsc_pending] == [kid]
    answer = _openssl_signs(
        request.public_bytes(serialization.Encoding.PEM), pki_dir, held, tmp_path
    )
    serial = service.import_bsc(answer)
    assert serial == "10c"
    state = service.store.load()
    assert state.bsc_active == "10c" and state.bsc_pending == []
    assert {k.serial: k.status for k in state.bsc_keys} == {old: "retired", "10c": "active"}
    issued = service.issue_vdsnc(overseas)
    document = verify_vdsnc(issued.document, service.csca_der())
    assert document.certificate_der == answer and issued.bsc_serial == 0x10C
    check_bsc_profile(answer, service.csca_der(), (PKD_CRL,), 456)


def test_pkcs11_production_path_from_first_start(
    make_settings: SettingsFactory,
    softhsm: SoftHsm,
    ministry_pki: tuple[Path, Path],
    overseas: CertificateContent,
    domestic: CertificateContent,
    tmp_path: Path,
) -> None:
    pki_dir, held = ministry_pki
    settings = make_settings(
        pki_dir=pki_dir,
        signer={
            "custody": "pkcs11",
            "pkcs11": {"library": SOFTHSM_LIBRARY, "label": softhsm.label, "user_pin": softhsm.pin},
        },
    )
    service = SignerService(settings)
    assert service.init()
    # No CSCA key here: SHC works at once, VDS-NC waits for a barcode signer.
    assert service.store.load().bsc_active is None
    service.issue_shc(domestic)
    with pytest.raises(VaxcertError) as waiting:
        service.issue_vdsnc(overseas)
    assert waiting.value.code == "signer_key_unavailable"
    with pytest.raises(VaxcertError) as no_rotation:
        service.rotate_bsc()
    assert no_rotation.value.code == "signer_state_invalid"
    assert "vaxcert signer csr" in (no_rotation.value.detail or "")

    kid, request = _request(service)  # the token signs the request: the key never leaves it
    pending = service.store.load().bsc_pending[0]
    assert pending.kid == kid
    assert pending.key.custody == "pkcs11" and pending.key.path is None
    answer = _openssl_signs(
        request.public_bytes(serialization.Encoding.PEM), pki_dir, held, tmp_path
    )
    service.import_bsc(answer)
    issued = service.issue_vdsnc(overseas)
    assert verify_vdsnc(issued.document, service.csca_der()).certificate_der == answer
    for path in service.store.directory.rglob("*"):
        if path.is_file():
            assert b"PRIVATE KEY" not in path.read_bytes()

    # A compromised BSC without the CSCA key: withdrawn at once, the CSCA must revoke it.
    service.compromise_bsc()
    assert service.store.load().bsc_active is None
    with pytest.raises(VaxcertError):
        service.issue_vdsnc(overseas)


@pytest.mark.parametrize(
    ("case", "code", "detail"),
    [
        ("another key", "signer_certificate_mismatch", "no pending signer key"),
        ("another CSCA", "signer_certificate_untrusted", "not issued by the configured CSCA"),
        ("no EKU", "signer_certificate_untrusted", "no VDS-NC extended key usage"),
        ("expired", "signer_certificate_untrusted", "not valid now"),
        ("revoked", "signer_certificate_untrusted", "revoked in the CSCA's CRL"),
        ("not a certificate", "signer_certificate_untrusted", "not an X.509 certificate"),
    ],
)
def test_a_certificate_that_does_not_fit_is_refused_and_changes_nothing(
    make_settings: SettingsFactory,
    ministry_pki: tuple[Path, Path],
    case: str,
    code: str,
    detail: str,
) -> None:
    pki_dir, held = ministry_pki
    service = SignerService(make_settings(pki_dir=pki_dir))
    service.init()
    _kid, request = _request(service)
    csca, csca_key = _csca(pki_dir), _csca_key(held)
    answer: bytes
    if case == "another key":
        other = ec.generate_private_key(ec.SECP256R1()).public_key()
        answer = _signed_by(csca, csca_key, other)
    elif case == "another CSCA":
        rogue_key = ec.generate_private_key(ec.SECP384R1())
        rogue = pki.build_certificate(
            pki.Spec("rogue", "JP dev CSCA", "ca", None, key_type="ec384", country="JP"),
            rogue_key,
            None,
            None,
        )
        answer = _signed_by(rogue, rogue_key, request.public_key())
    elif case == "no EKU":
        answer = _signed_by(csca, csca_key, request.public_key(), eku=False)
    elif case == "expired":
        long_ago = dt.datetime.now(dt.UTC) - 4000 * DAY
        answer = _signed_by(csca, csca_key, request.public_key(), start=long_ago)
    elif case == "revoked":
        answer = _signed_by(csca, csca_key, request.public_key())
        # The ministry's CRL (we keep a copy in the PKI directory) lists the serial.
        serial = x509.load_der_x509_certificate(answer).serial_number
        crl = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(csca.subject)
            .last_update(dt.datetime.now(dt.UTC))
            .next_update(dt.datetime.now(dt.UTC) + 30 * DAY)
            .add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(serial)
                .revocation_date(dt.datetime.now(dt.UTC))
                .build()
            )
            .sign(csca_key, hashes.SHA384())
        )
        (pki_dir / "vdsnc-crl.der").write_bytes(crl.public_bytes(serialization.Encoding.DER))
    else:
        answer = (
            b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"
        )
    before = service.store.state_file.read_bytes()
    with pytest.raises(VaxcertError) as caught:
        service.import_bsc(answer)
    assert caught.value.code == code
    assert detail in (caught.value.detail or "")
    assert service.store.state_file.read_bytes() == before


# -- the commands ------------------------------------------------------------------------------


def _run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, ["signer", *args], env=env, catch_exceptions=False)


def test_the_csr_and_import_certificate_commands(
    ministry_pki: tuple[Path, Path], tmp_path: Path
) -> None:
    pki_dir, held = ministry_pki
    env = {"VAXCERT_PKI_DIR": str(pki_dir), "VAXCERT_SIGNER__STATE_DIR": str(tmp_path / "state")}
    request_file = tmp_path / "bsc.csr.pem"
    made = _run(env, "csr", "--out", str(request_file))
    assert made.exit_code == 0, made.output
    request = x509.load_pem_x509_csr(request_file.read_bytes())
    assert request.is_signature_valid
    status = json.loads(_run(env, "status").output)
    assert len(status["bsc_pending"]) == 1

    wrong = tmp_path / "wrong.der"
    wrong.write_bytes(
        _signed_by(
            _csca(pki_dir), _csca_key(held), ec.generate_private_key(ec.SECP256R1()).public_key()
        )
    )
    refused = _run(env, "import-certificate", "--certificate", str(wrong))
    assert refused.exit_code == 1 and "signer_certificate_mismatch" in refused.output

    answer = tmp_path / "bsc.pem"
    answer.write_bytes(
        x509.load_der_x509_certificate(
            _openssl_signs(request_file.read_bytes(), pki_dir, held, tmp_path)
        ).public_bytes(serialization.Encoding.PEM)
    )
    imported = _run(env, "import-certificate", "--certificate", str(answer))
    assert imported.exit_code == 0, imported.output
    assert "new active BSC serial 10c" in imported.output
    status = json.loads(_run(env, "status").output)
    assert status["bsc_active"] == "10c" and status["bsc_pending"] == []
    assert status["bsc_rotation_due"] is False
    withdrawn = _run(env, "compromise", "--bsc")
    assert withdrawn.exit_code == 0 and "ask the CSCA holder to revoke it" in withdrawn.output


# -- development: our own dev CSCA ----------------------------------------------------------------


def test_the_dev_path_certifies_with_the_dev_csca_and_can_import_too(
    service: SignerService, pki_dir: Path, overseas: CertificateContent
) -> None:
    assert service.holds_csca_key()
    serial = service.rotate_bsc()  # certified here, at once
    bsc = service.active().barcode
    assert bsc is not None and format(bsc.serial, "x") == serial
    check_bsc_profile(bsc.certificate_der, service.csca_der())
    # The CSR path works with the dev CSCA as well (our own profile on the answer).
    _kid, request = _request(service)
    csca = pki.load_cert(pki.cert_path(pki_dir, "vdsnc-csca"))
    answer = certificates.barcode_signer_certificate(
        request.public_key(),  # type: ignore[arg-type]
        csca,
        pki.load_key(pki.key_path(pki_dir, "vdsnc-csca")),
        service.bsc_profile,
    ).public_bytes(serialization.Encoding.DER)
    assert service.import_bsc(answer) != serial
    verify_vdsnc(service.issue_vdsnc(overseas).document, service.csca_der())


def test_bsc_rotation_is_due_after_the_private_key_usage_period(
    make_settings: SettingsFactory,
) -> None:
    service = SignerService(make_settings(signer={"vdsnc": {"private_key_usage_days": 1}}))
    service.init()
    assert service.status()["bsc_rotation_due"] is False
    state = service.store.load()
    assert state.bsc_active is not None
    path = service.store.path(state.bsc(state.bsc_active).certificate)
    certificate = x509.load_der_x509_certificate(path.read_bytes())
    period = certificate.extensions.get_extension_for_class(x509.PrivateKeyUsagePeriod).value
    assert period.not_after is not None and period.not_before is not None
    assert period.not_after - period.not_before == DAY
    # Two days on, the key's usage period is over: operators are told to rotate.
    later = dt.datetime.now(dt.UTC) + 2 * DAY
    assert SignerService(service.settings).status(now=later)["bsc_rotation_due"] is True
