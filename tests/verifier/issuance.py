"""Test-side issuance of SHC and VDS-NC documents with the dev PKI and the shared codecs.

Builds test documents directly from the dev PKI with the shared codecs (the single-fault
mutations need that control); tests/verifier/test_our_certificates.py covers the real signer.
Also builds the unusual certificates the verifier must handle (explicit EC parameters, explicit
NULL in the ECDSA AlgorithmIdentifier) with asn1crypto.
"""

from __future__ import annotations

import datetime as dt
import json
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from asn1crypto import core as asn1_core
from asn1crypto import crl as asn1_crl
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from vaxcert import pki
from vaxcert.formats import jose, shc, vdsnc
from vaxcert.formats import uvci_list as uvci_list_format

ISSUER_URL = "https://127.0.0.1:8446/issuer"
SPEC_ISS = "https://spec.smarthealth.cards/examples/issuer"


# SHC ----------------------------------------------------------------------------------------


def jp_shc_payload(iss: str = ISSUER_URL, nbf: float | None = None, **extra: Any) -> dict[str, Any]:
    """A 日本国内用 card: kanji name, birth date, two Moderna doses (minimal FHIR bundle)."""
    doses = [("2021-07-07", "3002337"), ("2021-08-05", "3004229")]
    entries: list[dict[str, Any]] = [
        {
            "fullUrl": "resource:0",
            "resource": {
                "resourceType": "Patient",
                "name": [{"family": "山田", "given": ["花子"]}],
                "birthDate": "1985-04-01",
            },
        }
    ]
    for number, (date, lot) in enumerate(doses, start=1):
        entries.append(
            {
                "fullUrl": f"resource:{number}",
                "resource": {
                    "resourceType": "Immunization",
                    "status": "completed",
                    "vaccineCode": {
                        "coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": "207"}]
                    },
                    "patient": {"reference": "resource:0"},
                    "occurrenceDateTime": date,
                    "lotNumber": lot,
                    "performer": [{"actor": {"display": "MHLW_Gov_of_JAPAN"}}],
                },
            }
        )
    payload: dict[str, Any] = {
        "iss": iss,
        "nbf": nbf if nbf is not None else int(dt.datetime.now(dt.UTC).timestamp()) - 60,
        "vc": {
            "type": ["https://smarthealth.cards#health-card"],
            "credentialSubject": {
                "fhirVersion": "4.0.1",
                "fhirBundle": {"resourceType": "Bundle", "type": "collection", "entry": entries},
            },
        },
    }
    payload.update(extra)
    return payload


def overseas_shc_payload(
    name: tuple[str, str] = ("YAMADA", "HANAKO"),
    card_name: tuple[str, str] = ("山田", "花子"),
    birth_date: str = "1985-04-01",
    passport: str = "TK1234567",
) -> dict[str, Any]:
    """A 海外用 card as our signer makes it: the passport's romanised name first, the card's
    name second, the passport number as ``Patient.identifier`` (docs/signer.md §3)."""
    payload = jp_shc_payload()
    patient = payload["vc"]["credentialSubject"]["fhirBundle"]["entry"][0]["resource"]
    patient["name"] = [
        {"family": name[0], "given": [name[1]]},
        {"family": card_name[0], "given": [card_name[1]]},
    ]
    patient["identifier"] = [{"system": "http://hl7.org/fhir/sid/passport-JPN", "value": passport}]
    patient["birthDate"] = birth_date
    return payload


def sign_jws(
    key: ec.EllipticCurvePrivateKey,
    payload: dict[str, Any] | bytes,
    *,
    kid: str | None = None,
    header: dict[str, Any] | None = None,
    body: bytes | None = None,
    der_signature: bool = False,
) -> str:
    """A compact JWS over ``payload`` (minified + raw DEFLATE unless ``body`` gives the exact
    payload bytes), header ``{"zip","alg","kid"}`` unless ``header`` replaces it."""
    if kid is None:
        kid = jose.ec_thumbprint(jose.public_jwk(key.public_key()))
    header_bytes = (
        json.dumps(header, separators=(",", ":")).encode() if header else shc.header_bytes(kid)
    )
    if body is None:
        raw = payload if isinstance(payload, bytes) else shc.minify(payload)
        body = shc.deflate_raw(raw)
    signing_input = f"{jose.b64url_encode(header_bytes)}.{jose.b64url_encode(body)}"
    der = key.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256()))
    signature = der if der_signature else jose.der_to_raw(der)
    return f"{signing_input}.{jose.b64url_encode(signature)}"


def zlib_body(payload: dict[str, Any]) -> bytes:
    """A zlib-wrapped (non-conformant) payload body."""
    return zlib.compress(shc.minify(payload))


def issuer_key(pki_dir: Path) -> ec.EllipticCurvePrivateKey:
    """The dev SHC issuer's private key."""
    key = pki.load_key(pki.key_path(pki_dir, "shc-issuer"))
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def issue_shc(pki_dir: Path, payload: dict[str, Any] | None = None) -> str:
    """Our own 日本国内用 SHC as its ``shc:/`` QR text (signer stand-in)."""
    return shc.jws_to_numeric(sign_jws(issuer_key(pki_dir), payload or jp_shc_payload()))


# VDS-NC -------------------------------------------------------------------------------------


def jp_vdsnc_data(issuing: str = "JPN") -> dict[str, Any]:
    """A 海外用 VDS-NC ``data``: romanised name, passport, two doses."""
    return {
        "hdr": {"t": "icao.vacc", "v": 1, "is": issuing},
        "msg": {
            "uvci": "JP0000000123",
            "pid": {"n": "YAMADA HANAKO", "dob": "1985-04-01", "i": "TK1234567"},
            "ve": [
                {
                    "des": "XM0GQ8",
                    "nam": "Spikevax",
                    "dis": "RA01.0",
                    "vd": [
                        {
                            "dvc": "2021-07-07",
                            "seq": 1,
                            "ctr": "JPN",
                            "adm": "MHLW_Gov_of_JAPAN",
                            "lot": "3002337",
                        },
                        {
                            "dvc": "2021-08-05",
                            "seq": 2,
                            "ctr": "JPN",
                            "adm": "MHLW_Gov_of_JAPAN",
                            "lot": "3004229",
                        },
                    ],
                }
            ],
        },
    }


def sign_vdsnc(
    key: ec.EllipticCurvePrivateKey, bsc_der: bytes, data: dict[str, Any], alg: str = "ES256"
) -> str:
    """A VDS-NC document in JCS form, signed over JCS(data)."""
    digest = {"ES256": hashes.SHA256(), "ES384": hashes.SHA384()}[alg]
    der = key.sign(vdsnc.canonical(data), ec.ECDSA(digest))
    size = (key.curve.key_size + 7) // 8
    return vdsnc.emit(
        data, alg, jose.b64url_encode(bsc_der), jose.b64url_encode(jose.der_to_raw(der, size))
    )


def issue_vdsnc(pki_dir: Path, data: dict[str, Any] | None = None) -> str:
    """Our own VDS-NC signed by the dev BSC (signer stand-in)."""
    key = pki.load_key(pki.key_path(pki_dir, "vdsnc-bsc"))
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    bsc_der = (pki_dir / "vdsnc-bsc.der").read_bytes()
    return sign_vdsnc(key, bsc_der, data or jp_vdsnc_data())


def uvci_list(
    pki_dir: Path, revoked: Sequence[str] = (), iat: dt.datetime | None = None, ctr: int = 1
) -> str:
    """The issuer's signed list of revoked certificate ids, by the dev document signer (the
    signer's own format, vaxcert/formats/uvci_list.py)."""
    key = pki.load_key(pki.key_path(pki_dir, "vdsnc-bsc"))
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    moment = int((iat or dt.datetime.now(dt.UTC)).timestamp())
    return uvci_list_format.signed_list(
        ISSUER_URL,
        ctr,
        moment,
        revoked,
        (pki_dir / "vdsnc-bsc.der").read_bytes(),
        lambda data: jose.der_to_raw(key.sign(data, ec.ECDSA(hashes.SHA256()))),
    )


# Certificates for fault cases ---------------------------------------------------------------

BSC_EKU = x509.ObjectIdentifier("2.23.136.1.1.14.2")
DOC_TYPE_LIST = x509.ObjectIdentifier("2.23.136.1.1.6.2")
NV_DER = bytes.fromhex("300902010031041302") + b"NV"


def make_bsc(
    issuer_cert: x509.Certificate,
    signing_key: ec.EllipticCurvePrivateKey,
    *,
    eku: bool = True,
    nv: bool = True,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    aki_from: x509.Certificate | None = None,
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A barcode signer certificate under ``issuer_cert`` (signed by ``signing_key``, which a
    fault case may make a different key), with or without the EKU and the NV extension."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    ski = (
        (aki_from or issuer_cert)
        .extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
        .value
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                    x509.NameAttribute(NameOID.COMMON_NAME, "JP test VDS-NC signer"),
                ]
            )
        )
        .issuer_name(issuer_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - dt.timedelta(days=1))
        .not_valid_after(not_after or now + dt.timedelta(days=3650))
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), False)
    )
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage([BSC_EKU]), critical=True)
    if nv:
        builder = builder.add_extension(x509.UnrecognizedExtension(DOC_TYPE_LIST, NV_DER), False)
    return key, builder.sign(signing_key, hashes.SHA384())


def make_crl(
    issuer_cert: x509.Certificate,
    signing_key: ec.EllipticCurvePrivateKey,
    revoked: Sequence[int] = (),
    *,
    this_update: dt.datetime | None = None,
    next_update: dt.datetime | None = None,
) -> bytes:
    """A DER CRL in ``issuer_cert``'s name (signed by ``signing_key``)."""
    now = dt.datetime.now(dt.UTC)
    ski = issuer_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer_cert.subject)
        .last_update(this_update or now - dt.timedelta(hours=1))
        .next_update(next_update or now + dt.timedelta(days=30))
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), False)
        .add_extension(x509.CRLNumber(7), critical=False)
    )
    for serial in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(now - dt.timedelta(hours=2))
            .build()
        )
    return builder.sign(signing_key, hashes.SHA384()).public_bytes(serialization.Encoding.DER)


def der(cert: x509.Certificate) -> bytes:
    """DER of a certificate."""
    return cert.public_bytes(serialization.Encoding.DER)


# secp384r1 with explicit domain parameters, as `openssl ecparam -name secp384r1
# -param_enc explicit -outform DER` writes it (independent of the verifier's own curve table).
P384_EXPLICIT_DER = bytes.fromhex(
    "30820157020101303c06072a8648ce3d0101023100ffffffffffffffffffffffffffffffffffffffffffffff"
    "fffffffffffffffffeffffffff0000000000000000ffffffff307b0430ffffffffffffffffffffffffffffff"
    "fffffffffffffffffffffffffffffffffeffffffff0000000000000000fffffffc0430b3312fa7e23ee7e498"
    "8e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aef031500a335"
    "926aa319a27a1d00896a6773a4827acdac73046104aa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b"
    "9859f741e082542a385502f25dbf55296c3a545e3872760ab73617de4a96262c6f5d9e98bf9292dc29f8f41d"
    "bd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5f023100ffffffffffffffffffffffff"
    "ffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973020101"
)

_ECDSA_NULL = {"algorithm": "sha384_ecdsa", "parameters": asn1_core.Null()}


def _resign_tbs(tbs: Any, signing_key: ec.EllipticCurvePrivateKey) -> bytes:
    tbs["signature"] = asn1_x509.SignedDigestAlgorithm(_ECDSA_NULL)
    signature = signing_key.sign(tbs.dump(force=True), ec.ECDSA(hashes.SHA384()))
    return bytes(
        asn1_x509.Certificate(
            {
                "tbs_certificate": tbs,
                "signature_algorithm": asn1_x509.SignedDigestAlgorithm(_ECDSA_NULL),
                "signature_value": signature,
            }
        ).dump(force=True)
    )


def explicit_encodings(
    csca: x509.Certificate,
    csca_key: ec.EllipticCurvePrivateKey,
    bsc: x509.Certificate,
    crl_der: bytes,
) -> tuple[bytes, bytes, bytes]:
    """Re-encode a P-384 CSCA with explicit EC parameters, and CSCA, BSC and CRL with an explicit
    NULL in the ECDSA AlgorithmIdentifier (as real national certificates are), re-signed."""
    csca_asn1 = asn1_x509.Certificate.load(der(csca))
    tbs = csca_asn1["tbs_certificate"]
    point = tbs["subject_public_key_info"]["public_key"].native
    tbs["subject_public_key_info"] = asn1_keys.PublicKeyInfo(
        {
            "algorithm": {
                "algorithm": "ec",
                "parameters": asn1_keys.ECDomainParameters.load(P384_EXPLICIT_DER),
            },
            "public_key": point,
        }
    )
    csca_der = _resign_tbs(tbs, csca_key)
    bsc_der = _resign_tbs(asn1_x509.Certificate.load(der(bsc))["tbs_certificate"], csca_key)
    crl = asn1_crl.CertificateList.load(crl_der)
    crl_tbs = crl["tbs_cert_list"]
    crl_tbs["signature"] = asn1_x509.SignedDigestAlgorithm(_ECDSA_NULL)
    signature = csca_key.sign(crl_tbs.dump(force=True), ec.ECDSA(hashes.SHA384()))
    crl_out = asn1_crl.CertificateList(
        {
            "tbs_cert_list": crl_tbs,
            "signature_algorithm": asn1_x509.SignedDigestAlgorithm(_ECDSA_NULL),
            "signature": signature,
        }
    ).dump(force=True)
    return csca_der, bsc_der, bytes(crl_out)


# The 海外用 certificate page: one SHC QR and one VDS-NC QR --------------------------------------


def qr_image(text: str, scale: int = 3) -> Any:
    """A QR code as a PIL image: SHC as byte ``shc:/`` + numeric segments at level L
    (formats.md §1), VDS-NC as one byte segment at level M (formats.md §2)."""
    import io

    import segno
    from PIL import Image

    if text.startswith(shc.PREFIX):
        code = segno.make(
            [(shc.PREFIX, segno.consts.MODE_BYTE), (text[5:], segno.consts.MODE_NUMERIC)],
            error="l",
            boost_error=False,
            micro=False,
        )
    else:
        code = segno.make(text, error="m", mode="byte", boost_error=False, micro=False)
    buffer = io.BytesIO()
    code.save(buffer, kind="png", scale=scale, border=4)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("L")


def certificate_page_png(shc_text: str, vds_text: str, image_format: str = "PNG") -> bytes:
    """A page (A4 at 150 dpi) with the SHC QR at the top and the VDS-NC QR below it."""
    import io

    from PIL import Image, ImageDraw

    page = Image.new("L", (1240, 1754), 255)
    ImageDraw.Draw(page).text((100, 60), "COVID-19 Vaccination Certificate (test)", fill=0)
    page.paste(qr_image(shc_text), (100, 150))
    page.paste(qr_image(vds_text), (100, 850))
    buffer = io.BytesIO()
    page.save(buffer, format=image_format)
    return buffer.getvalue()


def certificate_page_pdf(shc_text: str, vds_text: str) -> bytes:
    """An A4 PDF with the two QR codes at about 60 mm."""
    import io

    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4)
    pdf.drawString(20 * mm, 280 * mm, "COVID-19 Vaccination Certificate (test)")
    pdf.drawImage(ImageReader(qr_image(shc_text)), 20 * mm, 200 * mm, 60 * mm, 60 * mm)
    pdf.drawImage(ImageReader(qr_image(vds_text)), 20 * mm, 110 * mm, 70 * mm, 70 * mm)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()
