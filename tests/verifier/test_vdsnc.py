"""ICAO VDS-NC: the Australian specimens, the ICAO example, our own documents and every BSC/CSCA/CRL
fault (formats.md §2)."""

from __future__ import annotations

import datetime as dt
import json
import warnings
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from PIL import Image

from tests.verifier import issuance
from tests.verifier.conftest import AUS_AT
from vaxcert import pki
from vaxcert.formats import jose
from verifier import TrustStore, _inputs, _x509, verify, verify_all

AUS_VALID = ["jane-sue.json", "john.json", "jane-catherine-qr-text.json"]


@pytest.mark.parametrize("name", AUS_VALID)
def test_australian_specimens_are_valid_inside_the_crl_window(
    aus_dir: Path, official_store: TrustStore, name: str
) -> None:
    result = verify(aus_dir / name, official_store, at=AUS_AT)
    assert result.valid, result.reasons
    assert result.format == "vdsnc"
    assert result.warnings == ()
    # Signed by the document signer DFAT; the CSCA only vouches for it.
    assert result.issuer == result.signer == "Common Name: DFAT, Country: AU"
    assert result.signer_country == "AU"
    assert result.trust_anchor == "Australia (DFAT)"
    assert result.issuer_id == "AUS"
    # Inside the CRL window, but the CRL is 57 days old and the store's limit is 7 days.
    assert result.verdict == "valid_revocation_unchecked"
    assert result.revocation is not None and result.revocation.scope == "signer"
    assert result.revocation.problem is not None
    assert result.revocation.problem.code == "trust_stale"
    assert result.certificate_id and result.certificate_id.startswith("VB000999")
    assert result.doses and all(d.country == "AUS" for d in result.doses)


@pytest.mark.parametrize("name", AUS_VALID)
def test_australian_specimens_today_warn_that_the_crl_is_stale(
    aus_dir: Path, official_store: TrustStore, name: str
) -> None:
    result = verify(aus_dir / name, official_store)
    assert result.valid
    assert result.warning_codes == ["crl_stale"]


def test_john_shows_holder_and_numbered_doses(aus_dir: Path, official_store: TrustStore) -> None:
    result = verify(aus_dir / "john.json", official_store, at=AUS_AT)
    assert result.names == ("CITIZEN JOHN",)
    assert result.birth_date == "2004-03-20"
    assert [(d.number, d.date, d.vaccine) for d in result.doses] == [
        (1, "2021-04-02", "AstraZeneca Vaxzevria"),
        (2, "2021-10-03", "Moderna Spikevax"),
    ]


def test_the_low_resolution_certificate_page_decodes_to_the_exact_qr_text(
    aus_dir: Path, official_store: TrustStore
) -> None:
    page = Image.open(aus_dir / "jane-catherine-certificate-page.png")
    texts = _inputs.decode_qr_codes(page)
    assert texts == [(aus_dir / "jane-catherine-qr-text.json").read_text().strip()]
    results = verify_all(aus_dir / "jane-catherine-certificate-page.png", official_store, AUS_AT)
    assert len(results) == 1
    assert results[0].valid, results[0].reasons
    assert results[0].names == ("CITIZEN JANE CATHERINE",)


def test_john_tampered_fails_its_signature(aus_dir: Path, official_store: TrustStore) -> None:
    result = verify(aus_dir / "john-tampered.json", official_store, at=AUS_AT)
    assert not result.valid
    assert result.codes == ["signature_invalid"]


def test_icao_uto_example_is_an_unknown_trust_anchor(
    testdata: Path, official_store: TrustStore
) -> None:
    path = testdata / "vdsnc" / "icao-example" / "smith-bill-uto.json"
    in_its_life = verify(path, official_store, at=dt.datetime(2022, 1, 1, tzinfo=dt.UTC))
    assert not in_its_life.valid
    assert in_its_life.codes == ["unknown_trust_anchor"]
    today = verify(path, official_store, at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC))
    assert today.codes == ["unknown_trust_anchor", "bsc_expired"]


def test_the_link_certificate_alone_also_anchors_the_bsc(aus_dir: Path) -> None:
    store = TrustStore()
    store.add_csca((aus_dir / "csca-aus-16f5-link.der").read_bytes(), "AUS link", "AUS")
    store.add_crl((aus_dir / "crl-aus.der").read_bytes())
    result = verify(aus_dir / "john.json", store, at=AUS_AT)
    assert result.valid, result.reasons


def test_every_csca_with_the_matching_key_id_is_tried(aus_dir: Path) -> None:
    # A decoy CSCA with the Australian key identifier but another key, listed first.
    real = x509.load_der_x509_certificate((aus_dir / "csca-aus-16f2.der").read_bytes())
    ski = real.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    decoy_key = ec.generate_private_key(ec.SECP384R1())
    decoy = _self_signed_ca(decoy_key, real.subject, ski)
    store = TrustStore()
    store.add_csca(issuance.der(decoy), "decoy", "AUS")
    only_decoy = verify(aus_dir / "john.json", store, at=AUS_AT)
    assert only_decoy.codes == ["bsc_chain_invalid"]
    store.add_csca((aus_dir / "csca-aus-16f2.der").read_bytes(), "Australia", "AUS")
    store.add_crl((aus_dir / "crl-aus.der").read_bytes())
    result = verify(aus_dir / "john.json", store, at=AUS_AT)
    assert result.valid, result.reasons
    assert result.trust_anchor == "Australia"


def _self_signed_ca(
    key: ec.EllipticCurvePrivateKey, subject: x509.Name, ski: x509.SubjectKeyIdentifier
) -> x509.Certificate:
    from cryptography.hazmat.primitives import hashes

    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=3650))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(ski, critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA384())
    )


# Our own documents and BSC / CRL faults ----------------------------------------------------


def _csca(dev_pki: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert = pki.load_cert(pki.cert_path(dev_pki, "vdsnc-csca"))
    key = pki.load_key(pki.key_path(dev_pki, "vdsnc-csca"))
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return cert, key


def _store(csca_der: bytes, *crls: bytes, country: str | None = "JPN") -> TrustStore:
    store = TrustStore()
    store.add_csca(csca_der, "Japan (test CSCA)", country)
    for crl in crls:
        store.add_crl(crl)
    return store


def test_our_issued_vdsnc_is_valid_against_our_csca(dev_pki: Path, dev_store: TrustStore) -> None:
    result = verify(issuance.issue_vdsnc(dev_pki), dev_store)
    assert result.valid, result.reasons
    assert result.warnings == ()
    assert result.names == ("YAMADA HANAKO",)
    assert result.birth_date == "1985-04-01"
    assert result.certificate_id == "JP0000000123"
    assert [d.number for d in result.doses] == [1, 2]
    assert result.passport_number == "TK1234567"
    assert result.nationality is None  # icao.vacc has no nationality member
    assert result.trust_anchor is not None and "Japan" in result.trust_anchor
    assert result.signer == result.issuer
    assert result.issuer is not None and "JP dev VDS-NC signer" in result.issuer
    assert (result.issuer_id, result.signer_country) == ("JPN", "JP")
    # A fresh dev PKI's CSCA CRL checks the document signer, the issuer's list of revoked
    # certificate ids the document itself.
    assert result.verdict == "valid"
    assert result.revocation is not None
    assert (result.revocation.status, result.revocation.scope) == ("checked", "certificate")


def test_our_vdsnc_in_pretty_printed_form_still_verifies(
    dev_pki: Path, dev_store: TrustStore
) -> None:
    # The signature covers JCS(data), never the bytes as received.
    pretty = json.dumps(json.loads(issuance.issue_vdsnc(dev_pki)), indent=4)
    assert verify(pretty, dev_store).valid


def test_issuing_country_must_match_the_csca(dev_pki: Path, dev_store: TrustStore) -> None:
    text = issuance.issue_vdsnc(dev_pki, issuance.jp_vdsnc_data(issuing="AUS"))
    assert verify(text, dev_store).codes == ["issuing_country_mismatch"]


@pytest.mark.parametrize(
    ("eku", "nv", "codes"),
    [
        (False, True, ["bsc_eku_missing"]),
        (True, False, ["bsc_nv_missing"]),
        (False, False, ["bsc_eku_missing", "bsc_nv_missing"]),
    ],
)
def test_bsc_without_eku_or_nv_is_refused(
    dev_pki: Path, eku: bool, nv: bool, codes: list[str]
) -> None:
    csca, csca_key = _csca(dev_pki)
    key, bsc = issuance.make_bsc(csca, csca_key, eku=eku, nv=nv)
    store = _store(issuance.der(csca), issuance.make_crl(csca, csca_key))
    result = verify(issuance.sign_vdsnc(key, issuance.der(bsc), issuance.jp_vdsnc_data()), store)
    assert result.codes == codes


def test_bsc_not_signed_by_the_csca_does_not_chain(dev_pki: Path) -> None:
    csca, csca_key = _csca(dev_pki)
    impostor = ec.generate_private_key(ec.SECP384R1())
    key, bsc = issuance.make_bsc(csca, impostor)  # claims the CSCA's key id
    store = _store(issuance.der(csca), issuance.make_crl(csca, csca_key))
    result = verify(issuance.sign_vdsnc(key, issuance.der(bsc), issuance.jp_vdsnc_data()), store)
    assert result.codes == ["bsc_chain_invalid"]


def test_bsc_serial_in_the_crl_is_revoked(dev_pki: Path) -> None:
    csca, csca_key = _csca(dev_pki)
    key, bsc = issuance.make_bsc(csca, csca_key)
    store = _store(issuance.der(csca), issuance.make_crl(csca, csca_key, [bsc.serial_number]))
    result = verify(issuance.sign_vdsnc(key, issuance.der(bsc), issuance.jp_vdsnc_data()), store)
    assert result.codes == ["bsc_revoked"]


def test_crl_with_a_bad_signature_fails(dev_pki: Path) -> None:
    csca, _ = _csca(dev_pki)
    key, bsc = issuance.make_bsc(csca, _csca(dev_pki)[1])
    forged = issuance.make_crl(csca, ec.generate_private_key(ec.SECP384R1()))
    store = _store(issuance.der(csca), forged)
    result = verify(issuance.sign_vdsnc(key, issuance.der(bsc), issuance.jp_vdsnc_data()), store)
    assert result.codes == ["crl_signature_invalid"]


def test_stale_crl_warns_and_missing_crl_warns(dev_pki: Path) -> None:
    csca, csca_key = _csca(dev_pki)
    key, bsc = issuance.make_bsc(csca, csca_key)
    text = issuance.sign_vdsnc(key, issuance.der(bsc), issuance.jp_vdsnc_data())
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=60)
    stale = issuance.make_crl(
        csca, csca_key, this_update=past, next_update=past + dt.timedelta(days=30)
    )
    stale_result = verify(text, _store(issuance.der(csca), stale))
    assert stale_result.valid and stale_result.warning_codes == ["crl_stale"]
    missing = verify(text, _store(issuance.der(csca)))
    assert missing.valid and missing.warning_codes == ["crl_missing"]


def test_bsc_expired_and_bsc_from_the_future(dev_pki: Path) -> None:
    csca, csca_key = _csca(dev_pki)
    store_crl = issuance.make_crl(csca, csca_key)
    now = dt.datetime.now(dt.UTC)
    key, old = issuance.make_bsc(
        csca, csca_key, not_before=now - dt.timedelta(days=30), not_after=now - dt.timedelta(1)
    )
    expired = verify(
        issuance.sign_vdsnc(key, issuance.der(old), issuance.jp_vdsnc_data()),
        _store(issuance.der(csca), store_crl),
    )
    assert expired.codes == ["bsc_expired"]
    key, future = issuance.make_bsc(csca, csca_key, not_before=now + dt.timedelta(days=2))
    early = verify(
        issuance.sign_vdsnc(key, issuance.der(future), issuance.jp_vdsnc_data()),
        _store(issuance.der(csca), store_crl),
    )
    assert early.valid
    assert early.warning_codes == ["clock_skew"]


def test_expired_csca_fails(dev_pki: Path) -> None:
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=365 * 20)
    result = verify(
        issuance.issue_vdsnc(dev_pki), _store((dev_pki / "vdsnc-csca.der").read_bytes()), at=later
    )
    assert "csca_expired" in result.codes


def test_unparsable_bsc_is_reported(dev_pki: Path, dev_store: TrustStore) -> None:
    document = json.loads(issuance.issue_vdsnc(dev_pki))
    document["sig"]["cer"] = jose.b64url_encode(b"\x30\x03\x02\x01\x01")
    result = verify(json.dumps(document), dev_store)
    assert result.codes == ["bsc_malformed"]


def test_alg_that_does_not_fit_the_key_is_refused(dev_pki: Path, dev_store: TrustStore) -> None:
    document = json.loads(issuance.issue_vdsnc(dev_pki))
    document["sig"]["alg"] = "ES384"
    document["sig"]["sigvl"] = jose.b64url_encode(bytes(96))
    result = verify(json.dumps(document), dev_store)
    assert result.codes == ["signature_algorithm_unsupported"]


def test_wrong_document_type_is_refused(dev_pki: Path, dev_store: TrustStore) -> None:
    data = issuance.jp_vdsnc_data()
    data["hdr"]["t"] = "icao.test"
    result = verify(issuance.issue_vdsnc(dev_pki, data), dev_store)
    assert result.codes == ["vdsnc_type_unsupported"]


def test_padded_and_unpadded_base64url_are_both_accepted(
    aus_dir: Path, official_store: TrustStore
) -> None:
    document = json.loads((aus_dir / "john.json").read_text())
    assert document["sig"]["sigvl"].endswith("=")  # the specimen is padded
    document["sig"]["sigvl"] = document["sig"]["sigvl"].rstrip("=")
    document["sig"]["cer"] = document["sig"]["cer"].rstrip("=")
    assert verify(json.dumps(document), official_store, at=AUS_AT).valid


def test_explicit_ec_parameters_and_explicit_null_are_handled(dev_pki: Path) -> None:
    # Real national certificates: explicit NULL in the ECDSA AlgorithmIdentifier (CSCA, BSC,
    # CRL) and explicit EC domain parameters in the CSCA. Parsed with asn1crypto, not
    # `cryptography` (which ≥ 49 refuses them).
    csca, csca_key = _csca(dev_pki)
    key, bsc = issuance.make_bsc(csca, csca_key)
    csca_der, bsc_der, crl_der = issuance.explicit_encodings(
        csca, csca_key, bsc, issuance.make_crl(csca, csca_key)
    )
    assert bytes.fromhex("300c06082a8648ce3d0403030500") in bsc_der  # ecdsa-with-SHA384, NULL
    assert issuance.P384_EXPLICIT_DER in csca_der  # SpecifiedECDomain, not a curve OID
    parsed = _x509.parse_certificate(csca_der)
    assert isinstance(parsed.public_key, ec.EllipticCurvePublicKey)
    assert parsed.public_key.curve.name == "secp384r1"
    store = _store(csca_der, crl_der)
    assert store.cscas[0].crls and not store.cscas[0].bad_crls
    result = verify(issuance.sign_vdsnc(key, bsc_der, issuance.jp_vdsnc_data()), store)
    assert result.valid, result.reasons
    assert result.warnings == ()


def test_explicit_curve_of_an_unknown_shape_is_refused(dev_pki: Path) -> None:
    csca, csca_key = _csca(dev_pki)
    _, bsc = issuance.make_bsc(csca, csca_key)
    csca_der, _, _ = issuance.explicit_encodings(
        csca, csca_key, bsc, issuance.make_crl(csca, csca_key)
    )
    # Flip one bit of the curve's b coefficient: no named curve matches any more.
    index = csca_der.index(bytes.fromhex("b3312fa7e23ee7e4"))
    broken = csca_der[:index] + bytes([csca_der[index] ^ 1]) + csca_der[index + 1 :]
    with pytest.raises(_x509.X509Error):
        _x509.parse_certificate(broken)


def test_the_uto_bsc_with_explicit_null_parses_without_cryptography_warnings(
    testdata: Path,
) -> None:
    document = json.loads((testdata / "vdsnc" / "icao-example" / "smith-bill-uto.json").read_text())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bsc = _x509.parse_certificate(jose.b64url_decode(document["sig"]["cer"]))
    assert _x509.BSC_EKU in bsc.ekus and _x509.has_nv_document_type(bsc)
