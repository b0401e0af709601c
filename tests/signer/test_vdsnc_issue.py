"""Our ICAO VDS-NC: message layout, JCS form, QR round trip and the BSC profile (formats.md §2)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

import pytest
import rfc8785
from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from signer.samples import example_content
from signer.services import SignerService
from tests.signer.conftest import SettingsFactory, verify_vdsnc
from tests.support.qr import read_qr
from vaxcert.certificate import qr
from vaxcert.contracts.signing import CertificateContent
from vaxcert.errors import VaxcertError
from vaxcert.residents import CANARY

BSC_EKU = "2.23.136.1.1.14.2"
DOCUMENT_TYPE_LIST = "2.23.136.1.1.6.2"


def check_bsc_profile(bsc_der: bytes, csca_der: bytes) -> None:
    """EKU, the NV document type, AKI = CSCA SKI, P-256, ≈ 10 years (parsed with asn1crypto)."""
    bsc = asn1_x509.Certificate.load(bsc_der)
    csca = asn1_x509.Certificate.load(csca_der)
    assert bsc.issuer == csca.subject
    assert bsc.authority_key_identifier == csca.key_identifier
    assert bsc.key_identifier is not None
    assert bsc.extended_key_usage_value is not None
    assert BSC_EKU in [usage.dotted for usage in bsc.extended_key_usage_value]
    extensions = {ext["extn_id"].dotted: ext for ext in bsc["tbs_certificate"]["extensions"]}
    doc_types: bytes = extensions[DOCUMENT_TYPE_LIST]["extn_value"].native
    from asn1crypto.core import Integer, PrintableString, Sequence, SetOf

    class _DocTypes(SetOf):  # type: ignore[misc]
        _child_spec = PrintableString

    class _DocTypeList(Sequence):  # type: ignore[misc]
        _fields: ClassVar = [("version", Integer), ("doc_types", _DocTypes)]

    parsed = _DocTypeList.load(doc_types)
    assert parsed["version"].native == 0
    assert parsed["doc_types"].native == ["NV"]
    assert bsc.public_key.curve == ("named", "secp256r1")
    validity = bsc["tbs_certificate"]["validity"]
    years = (validity["not_after"].native - validity["not_before"].native).days / 365
    assert 9.9 < years < 10.1
    assert "digital_signature" in bsc.key_usage_value.native


def check_csca_crl(crl_der: bytes, csca_der: bytes) -> list[int]:
    """The CRL is signed by the CSCA; returns the revoked serials."""
    from cryptography import x509

    crl = asn1_crl.CertificateList.load(crl_der)
    csca = x509.load_der_x509_certificate(csca_der)
    key = csca.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    key.verify(
        crl["signature"].native,
        crl["tbs_cert_list"].dump(),
        ec.ECDSA(hashes.SHA384() if key.curve.key_size == 384 else hashes.SHA256()),
    )
    return [
        entry["user_certificate"].native for entry in crl["tbs_cert_list"]["revoked_certificates"]
    ]


def test_the_dev_pki_bsc_has_our_profile(pki_dir: Path) -> None:
    check_bsc_profile(
        (pki_dir / "vdsnc-bsc.der").read_bytes(), (pki_dir / "vdsnc-csca.der").read_bytes()
    )


def test_a_rotated_bsc_has_our_profile(service: SignerService, pki_dir: Path) -> None:
    serial = service.rotate_bsc()
    bsc = service.active().barcode
    assert format(bsc.serial, "x") == serial
    check_bsc_profile(bsc.certificate_der, (pki_dir / "vdsnc-csca.der").read_bytes())


def test_message_follows_japans_profile(service: SignerService) -> None:
    content = example_content(CANARY, "overseas", 7)
    issued = service.issue_vdsnc(content)
    document = verify_vdsnc(issued.document, service.csca_der())
    assert document.header == {"t": "icao.vacc", "v": 1, "is": "JPN"}
    assert document.alg == "ES256" and len(document.signature) == 64
    msg = document.message
    assert msg["uvci"] == content.certificate_id
    assert msg["pid"] == {"n": "SHIKEN HANAKO", "dob": "1980-02-17", "i": "TZ9990001"}
    seqs = [vd["seq"] for ve in msg["ve"] for vd in ve["vd"]]
    assert sorted(seqs) == list(range(1, 8))
    assert all(type(seq) is int for seq in seqs)
    for ve in msg["ve"]:
        assert ve["dis"] == "RA01.0" and ve["des"] == "XM0GQ8"
        assert ve["nam"] in {"COMIRNATY", "Spikevax"}
        for vd in ve["vd"]:
            assert vd["ctr"] == "JPN" and vd["adm"] == "MHLW_Gov_of_JAPAN"
            assert set(vd) == {"dvc", "seq", "ctr", "adm", "lot"}
    # Grouped by vaccine (formats.md §2): the 7 doses are COMIRNATY or Spikevax.
    assert [(ve["nam"], len(ve["vd"])) for ve in msg["ve"]] == [("COMIRNATY", 4), ("Spikevax", 3)]
    assert issued.document.isascii() and "/" not in json.dumps(document.data)


def test_one_event_per_dose_when_configured(make_settings: SettingsFactory) -> None:
    service = SignerService(
        make_settings(signer={"vdsnc": {"group_doses_by_product": False, "emit_sex": True}})
    )
    service.init()
    document = verify_vdsnc(
        service.issue_vdsnc(example_content(CANARY, "overseas", 3)).document, service.csca_der()
    )
    assert [len(ve["vd"]) for ve in document.message["ve"]] == [1, 1, 1]
    assert document.message["pid"]["sex"] == "F"


def test_the_document_is_emitted_in_jcs_form(
    service: SignerService, overseas: CertificateContent
) -> None:
    text = service.issue_vdsnc(overseas).document
    assert text.startswith('{"data":{"hdr":{"is":"JPN","t":"icao.vacc","v":1},"msg":{"pid":')
    assert text.encode() == rfc8785.dumps(json.loads(text))


def test_domestic_certificates_get_no_vdsnc(
    service: SignerService, domestic: CertificateContent
) -> None:
    with pytest.raises(VaxcertError) as caught:
        service.issue_vdsnc(domestic)
    assert caught.value.code == "vdsnc_overseas_only"
    assert service.issue(domestic).vdsnc is None


@pytest.mark.parametrize("doses", [1, 7])
def test_issue_png_decode_verify_round_trip(service: SignerService, doses: int) -> None:
    content = example_content(CANARY, "overseas", doses)
    issued = service.issue(content)
    assert issued.vdsnc is not None
    code = qr.vdsnc_qr(issued.vdsnc.document)
    assert code.error == "M" and code.mode == "byte"
    results = read_qr(qr.png(code))
    assert len(results) == 1 and results[0].text == issued.vdsnc.document
    verify_vdsnc(results[0].text, service.csca_der())


def test_the_csca_crl_is_signed_and_empty_at_first(service: SignerService) -> None:
    assert check_csca_crl(service.csca_crl_der(), service.csca_der()) == []


def test_the_document_equals_the_codec_emit(service: SignerService) -> None:
    from vaxcert.formats import jose, vdsnc

    issued = service.issue_vdsnc(example_content(CANARY, "overseas", 7))
    parsed = vdsnc.parse(issued.document)
    assert issued.document == vdsnc.emit(
        parsed.data,
        "ES256",
        jose.b64url_encode(parsed.certificate_der),
        jose.b64url_encode(parsed.signature),
    )
    assert issued.signed_bytes == vdsnc.canonical(parsed.data)
