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
from vaxcert.errors import ConfigError, VaxcertError
from vaxcert.residents import CANARY

BSC_EKU = "2.23.136.1.1.14.2"
DOCUMENT_TYPE_LIST = "2.23.136.1.1.6.2"


# Japan's production BSC (C=JP, CN=The Digital Agency, under MOFA's e-passportCSCA; it signs the
# specimen in KDE khealthcertificate autotests/data/icao/jpn-triple-vaccine.txt): its extensions
# as (OID, critical). Ours must carry each of them with the same criticality except the two
# alternative names (e-mail contacts of the ministries, optional in Doc 9303 Part 12).
JAPAN_BSC_EXTENSIONS = {
    ("2.5.29.18", False),  # issuer alternative name
    ("2.5.29.35", False),  # authority key identifier
    ("2.5.29.15", True),  # key usage: digitalSignature
    ("2.5.29.16", False),  # private key usage period (15 months in Japan's)
    ("2.5.29.17", False),  # subject alternative name
    (DOCUMENT_TYPE_LIST, False),  # document types {NV}
    ("2.5.29.31", False),  # CRL distribution points (ICAO PKD)
    ("2.5.29.37", True),  # extended key usage: VDS-NC barcode signer
}
OPTIONAL_IN_OURS = {"2.5.29.17", "2.5.29.18"}


def check_bsc_profile(
    bsc_der: bytes,
    csca_der: bytes,
    crl_urls: tuple[str, ...] = ("https://127.0.0.1:8446/vdsnc/crl.der",),
    key_usage_days: int = 365,
) -> None:
    """Our document signer profile (ICAO Doc 9303 Part 12, parsed with asn1crypto as readers do):
    Japan's extensions and criticality, AKI = CSCA SKI, no basic constraints, P-256, ≈ 10 years,
    a private key usage period inside the validity, the CRL distribution points."""
    bsc = asn1_x509.Certificate.load(bsc_der)
    csca = asn1_x509.Certificate.load(csca_der)
    assert bsc.issuer == csca.subject
    assert bsc.subject.native["country_name"] == csca.subject.native["country_name"] == "JP"
    assert bsc.authority_key_identifier == csca.key_identifier
    extensions = {ext["extn_id"].dotted: ext for ext in bsc["tbs_certificate"]["extensions"]}
    ours = {(oid, bool(ext["critical"].native)) for oid, ext in extensions.items()}
    assert {e for e in JAPAN_BSC_EXTENSIONS if e[0] not in OPTIONAL_IN_OURS} <= ours
    assert {oid for oid, critical in ours if critical} == {"2.5.29.15", "2.5.29.37"}
    assert "2.5.29.19" not in extensions  # a document signer is no CA: no basic constraints
    assert [usage.dotted for usage in bsc.extended_key_usage_value] == [BSC_EKU]
    assert bsc.key_usage_value.native == {"digital_signature"}
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
    not_before, not_after = validity["not_before"].native, validity["not_after"].native
    assert 9.9 < (not_after - not_before).days / 365 < 10.1
    period = extensions["2.5.29.16"]["extn_value"].parsed.native
    assert not_before <= period["not_before"] < period["not_after"] <= not_after
    assert (period["not_after"] - period["not_before"]).days == key_usage_days
    points = extensions["2.5.29.31"]["extn_value"].parsed.native
    urls = tuple(name for point in points for name in point["distribution_point"])
    assert urls == crl_urls


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


def test_the_bsc_made_at_init_has_our_profile(service: SignerService, pki_dir: Path) -> None:
    bsc = service.active().barcode
    assert bsc is not None
    check_bsc_profile(bsc.certificate_der, (pki_dir / "vdsnc-csca.der").read_bytes())


def test_a_rotated_bsc_has_our_profile(service: SignerService, pki_dir: Path) -> None:
    serial = service.rotate_bsc()
    bsc = service.active().barcode
    assert bsc is not None and format(bsc.serial, "x") == serial
    check_bsc_profile(bsc.certificate_der, (pki_dir / "vdsnc-csca.der").read_bytes())


def test_the_bsc_profile_is_configurable(make_settings: SettingsFactory, pki_dir: Path) -> None:
    pkd = (
        "https://pkddownload1.icao.int/CRLs/JPN.crl",
        "https://pkddownload2.icao.int/CRLs/JPN.crl",
    )
    service = SignerService(
        make_settings(
            signer={
                "vdsnc": {
                    "crl_distribution_points": list(pkd),
                    "private_key_usage_days": 456,
                    "signer_subject": "CN=The Digital Agency,C=JP",
                }
            }
        )
    )
    service.init()
    bsc = service.active().barcode
    assert bsc is not None
    check_bsc_profile(bsc.certificate_der, (pki_dir / "vdsnc-csca.der").read_bytes(), pkd, 456)
    subject = asn1_x509.Certificate.load(bsc.certificate_der).subject
    # As Japan's BSC: the country first in the encoded name.
    assert list(subject.native.items()) == [
        ("country_name", "JP"),
        ("common_name", "The Digital Agency"),
    ]


def test_message_follows_japans_profile(service: SignerService) -> None:
    content = example_content(CANARY, "overseas", 7)
    issued = service.issue_vdsnc(content)
    document = verify_vdsnc(issued.document, service.csca_der())
    assert document.header == {"t": "icao.vacc", "v": 1, "is": "JPN"}
    assert document.alg == "ES256" and len(document.signature) == 64
    msg = document.message
    assert msg["uvci"] == content.certificate_id
    assert msg["pid"] == {"n": "SHIKEN HANAKO", "dob": "1980-02-17", "i": "TZ9990001"}
    # One ve per dose, oldest first, one vd in each, seq the cumulative dose number (Japan's
    # layout: readers take the last ve as the latest dose).
    assert [len(ve["vd"]) for ve in msg["ve"]] == [1] * 7
    assert [ve["vd"][0]["seq"] for ve in msg["ve"]] == list(range(1, 8))
    dates = [ve["vd"][0]["dvc"] for ve in msg["ve"]]
    assert dates == sorted(dates)
    assert [ve["nam"] for ve in msg["ve"]] == [
        "COMIRNATY",
        "COMIRNATY",
        "Spikevax",
        "Spikevax",
        "COMIRNATY",
        "Spikevax",
        "COMIRNATY",
    ]
    for ve in msg["ve"]:
        assert ve["dis"] == "RA01.0" and ve["des"] == "XM0GQ8"
        assert type(ve["vd"][0]["seq"]) is int
        assert ve["vd"][0]["ctr"] == "JPN" and ve["vd"][0]["adm"] == "MHLW_Gov_of_JAPAN"
        assert set(ve["vd"][0]) == {"dvc", "seq", "ctr", "adm", "lot"}
    assert issued.document.isascii() and "/" not in json.dumps(document.data)


def test_sex_only_when_configured(make_settings: SettingsFactory) -> None:
    service = SignerService(make_settings(signer={"vdsnc": {"emit_sex": True}}))
    service.init()
    document = verify_vdsnc(
        service.issue_vdsnc(example_content(CANARY, "overseas", 3)).document, service.csca_der()
    )
    assert document.message["pid"]["sex"] == "F"


@pytest.mark.parametrize(
    ("vdsnc", "setting"),
    [
        ({"signer_subject": "CN=JP dev VDS-NC signer"}, "SIGNER_SUBJECT"),  # no country
        ({"signer_subject": "not a name"}, "SIGNER_SUBJECT"),
        ({"crl_distribution_points": ["file:///crl.der"]}, "CRL_DISTRIBUTION_POINTS"),
        ({"private_key_usage_days": 0}, "PRIVATE_KEY_USAGE_DAYS"),
    ],
)
def test_a_bad_bsc_profile_setting_is_named(
    make_settings: SettingsFactory, vdsnc: dict[str, object], setting: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        make_settings(signer={"vdsnc": vdsnc})
    assert f"VAXCERT_SIGNER__VDSNC__{setting}" in str(caught.value)


def test_grouping_doses_by_product_is_no_longer_a_setting(make_settings: SettingsFactory) -> None:
    with pytest.raises(ConfigError) as caught:
        make_settings(signer={"vdsnc": {"group_doses_by_product": True}})
    assert "GROUP_DOSES_BY_PRODUCT" in str(caught.value)


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


def test_seven_doses_fit_one_qr_even_with_the_longest_fields(service: SignerService) -> None:
    # One ve per dose is larger than grouping: the programme's 7 doses with a 39-character name,
    # an 11-character passport number and 20-character lots still fit one code (formats.md §2).
    data = json.loads(example_content(CANARY, "overseas", 7).model_dump_json())
    data["holder"]["name_roman"] = {"family": "A" * 20, "given": "B" * 18}
    data["holder"]["passport_number"] = "TZ999000199"
    for number, dose in enumerate(data["doses"]):
        dose["lot"] = f"LOT-{number}".ljust(20, "X")
    issued = service.issue_vdsnc(CertificateContent.model_validate_json(json.dumps(data)))
    assert len(issued.document) <= 2331
    code = qr.vdsnc_qr(issued.document)
    assert int(code.version) <= 40 and code.error == "M"
    assert len(verify_vdsnc(issued.document, service.csca_der()).message["ve"]) == 7


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
