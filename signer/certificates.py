"""Certificates for keys the signer makes: the SHC issuer leaf (x5c), the VDS-NC document signer
(BSC) certificate, its certificate signing request and the checks a returned BSC must pass.

Everything is built from the public key alone, or signed through a :class:`KeySigner`, so a key
generated on a PKCS#11 token is certified without leaving it. Development: the issuing CA keys
(``shc-root``, ``vdsnc-csca``) come from the PKI directory. Production: the country signing CA is
held by another ministry, so the signer sends it a CSR and imports the certificate it returns.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TypeVar

from asn1crypto import core as asn1_core
from asn1crypto import csr as asn1_csr
from asn1crypto import keys as asn1_keys
from asn1crypto import pem as asn1_pem
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from signer.interfaces import KeySigner
from vaxcert import pki
from vaxcert.errors import VaxcertError
from vaxcert.formats import jose

_DAY = dt.timedelta(days=1)
_E = TypeVar("_E", bound=x509.ExtensionType)


def _key_usage_signature() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _hash_for(key: pki.PrivateKey) -> hashes.SHA256 | hashes.SHA384:
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.key_size >= 384:
        return hashes.SHA384()
    return hashes.SHA256()


def _issued_by(
    subject: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    issuer: x509.Certificate,
    not_before: dt.datetime,
    not_after: dt.datetime,
) -> x509.CertificateBuilder:
    issuer_ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(issuer_ski),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(_key_usage_signature(), critical=True)
    )


def shc_issuer_certificate(
    public_key: ec.EllipticCurvePublicKey,
    root: x509.Certificate,
    root_key: pki.PrivateKey,
    issuer_url: str,
    days: int = 730,
    now: dt.datetime | None = None,
) -> x509.Certificate:
    """The x5c leaf of an SHC issuer key: SAN URI = ``iss`` (formats.md §1), under ``shc-root``."""
    moment = now or dt.datetime.now(dt.UTC)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, pki.DEV_ORGANISATION),
            x509.NameAttribute(NameOID.COMMON_NAME, "vaxcert dev SHC issuer"),
        ]
    )
    builder = (
        _issued_by(subject, public_key, root, moment - _DAY, moment + days * _DAY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier(issuer_url)]),
            critical=False,
        )
    )
    return builder.sign(root_key, _hash_for(root_key))


# -- the VDS-NC document signer (barcode signer) certificate --------------------------------------


@dataclass(frozen=True, slots=True)
class DocumentSignerProfile:
    """Our choices for a BSC under ICAO Doc 9303 Part 12 and the VDS-NC technical report.

    ``validity_days``: a VDS-NC has no expiry of its own, so its BSC must outlive every document
    (≈ 10 years). ``key_usage_days``: how long the key signs (the private key usage period);
    after it the signer needs a new key and certificate. ``crl_distribution_points``: where the
    CSCA's CRL is published.
    """

    subject: x509.Name
    crl_distribution_points: tuple[str, ...]
    validity_days: int = 3650
    key_usage_days: int = 365


def document_signer_extensions(
    profile: DocumentSignerProfile, start: dt.datetime
) -> list[tuple[x509.ExtensionType, bool]]:
    """The BSC extensions besides AKI/SKI, as (value, critical), in the order they are written.

    As Japan's and Australia's production BSCs: the VDS-NC extended key usage marked critical
    (a general-purpose verifier must not accept the key for anything else), key usage
    digitalSignature (critical), the private key usage period, the CRL distribution points and
    the ICAO document type list {NV}. No basic constraints: a document signer is not a CA.
    """
    extensions: list[tuple[x509.ExtensionType, bool]] = [
        (
            x509.PrivateKeyUsagePeriod(
                not_before=start, not_after=start + profile.key_usage_days * _DAY
            ),
            False,
        ),
    ]
    if profile.crl_distribution_points:
        extensions.append(
            (
                x509.CRLDistributionPoints(
                    [
                        x509.DistributionPoint(
                            full_name=[x509.UniformResourceIdentifier(url)],
                            relative_name=None,
                            reasons=None,
                            crl_issuer=None,
                        )
                        for url in profile.crl_distribution_points
                    ]
                ),
                False,
            )
        )
    extensions += [
        (x509.ExtendedKeyUsage([pki.VDSNC_BSC_EKU]), True),
        (x509.UnrecognizedExtension(pki.ICAO_DOCUMENT_TYPE_LIST, pki.NV_DOCUMENT_TYPE_DER), False),
    ]
    return extensions


def barcode_signer_certificate(
    public_key: ec.EllipticCurvePublicKey,
    csca: x509.Certificate,
    csca_key: pki.PrivateKey,
    profile: DocumentSignerProfile,
    now: dt.datetime | None = None,
) -> x509.Certificate:
    """A BSC from a CSCA key at hand (development): the profile of
    :func:`document_signer_extensions`, AKI = CSCA SKI, ≈ 10 years."""
    # Whole seconds: the private key usage period is a GeneralizedTime without fractions.
    start = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    # A day of slack before the key usage period starts, for verifiers whose clock is behind.
    builder = _issued_by(
        profile.subject, public_key, csca, start - _DAY, start + profile.validity_days * _DAY
    )
    for extension, critical in document_signer_extensions(profile, start):
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(csca_key, _hash_for(csca_key))


def document_signer_csr(key: KeySigner, profile: DocumentSignerProfile) -> bytes:
    """A PKCS#10 request (PEM) for ``key``, signed by the key itself wherever it is kept.

    The request names the subject and asks for the BSC's key usage, extended key usage and
    document type list; the CSCA sets validity, key usage period and CRL distribution points.
    Built with asn1crypto because ``cryptography`` signs only with private keys in memory, and a
    token key never is.
    """
    wanted = [
        (_key_usage_signature(), True),
        (x509.ExtendedKeyUsage([pki.VDSNC_BSC_EKU]), True),
        (x509.UnrecognizedExtension(pki.ICAO_DOCUMENT_TYPE_LIST, pki.NV_DOCUMENT_TYPE_DER), False),
    ]
    spki = key.public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    info = asn1_csr.CertificationRequestInfo(
        {
            "version": "v1",
            "subject": asn1_x509.Name.load(profile.subject.public_bytes()),
            "subject_pk_info": asn1_keys.PublicKeyInfo.load(spki),
            "attributes": [
                {
                    "type": "extension_request",
                    "values": [[_asn1_extension(value, critical) for value, critical in wanted]],
                }
            ],
        }
    )
    request = asn1_csr.CertificationRequest(
        {
            "certification_request_info": info,
            "signature_algorithm": {"algorithm": "sha256_ecdsa"},
            "signature": jose.raw_to_der(key.sign(info.dump())),
        }
    )
    armored: bytes = asn1_pem.armor("CERTIFICATE REQUEST", request.dump())
    return armored


def _asn1_extension(value: x509.ExtensionType, critical: bool) -> asn1_x509.Extension:
    return asn1_x509.Extension(
        {
            "extn_id": value.oid.dotted_string,
            "critical": critical,
            "extn_value": asn1_core.ParsableOctetString(value.public_bytes()),
        }
    )


def load_certificate(data: bytes) -> x509.Certificate:
    """One X.509 certificate from PEM or DER bytes; anything else is a typed refusal."""
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError:
        raise VaxcertError(
            "signer_certificate_untrusted", "the file is not an X.509 certificate"
        ) from None


def check_document_signer(
    certificate: x509.Certificate,
    csca: x509.Certificate,
    revoked_serials: frozenset[int] = frozenset(),
    now: dt.datetime | None = None,
) -> None:
    """Refuse (``signer_certificate_untrusted``) a BSC that verifiers would not accept.

    It must be issued by ``csca`` (name, key identifier, signature), valid now, not revoked, for
    a P-256 key, and carry what VDS-NC readers check: the VDS-NC extended key usage, the
    document type NV and key usage digitalSignature. Every problem is named, not only the first.
    """
    moment = now or dt.datetime.now(dt.UTC)
    problems: list[str] = []
    try:
        certificate.verify_directly_issued_by(csca)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        problems.append("not issued by the configured CSCA (name or signature)")
    try:
        problems += _profile_problems(certificate, csca, revoked_serials, moment)
    except (ValueError, UnsupportedAlgorithm):  # malformed or duplicated extensions, odd keys
        problems.append("its key or extensions cannot be read")
    if problems:
        raise VaxcertError("signer_certificate_untrusted", "; ".join(problems))


def _profile_problems(
    certificate: x509.Certificate,
    csca: x509.Certificate,
    revoked_serials: frozenset[int],
    moment: dt.datetime,
) -> list[str]:
    problems: list[str] = []
    aki = _extension(certificate, x509.AuthorityKeyIdentifier)
    ski = _extension(csca, x509.SubjectKeyIdentifier)
    if aki is None or (ski is not None and aki.key_identifier != ski.digest):
        problems.append("its authority key identifier is not the CSCA's key identifier")
    if not certificate.not_valid_before_utc <= moment <= certificate.not_valid_after_utc:
        problems.append("not valid now")
    if certificate.serial_number in revoked_serials:
        problems.append("revoked in the CSCA's CRL")
    public_key = certificate.public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or public_key.curve.name != (
        "secp256r1"
    ):
        problems.append("not an EC P-256 key (ES256)")
    eku = _extension(certificate, x509.ExtendedKeyUsage)
    if eku is None or pki.VDSNC_BSC_EKU not in list(eku):
        problems.append("no VDS-NC extended key usage 2.23.136.1.1.14.2")
    try:
        doc_types = certificate.extensions.get_extension_for_oid(pki.ICAO_DOCUMENT_TYPE_LIST)
    except x509.ExtensionNotFound:
        doc_types = None
    if doc_types is None or not _lists_nv(doc_types.value):
        problems.append("no ICAO document type NV")
    usage = _extension(certificate, x509.KeyUsage)
    if usage is None or not usage.digital_signature:
        problems.append("key usage lacks digitalSignature")
    return problems


def _extension(certificate: x509.Certificate, kind: type[_E]) -> _E | None:
    try:
        return certificate.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


class _DocumentTypes(asn1_core.SetOf):  # type: ignore[misc]
    _child_spec = asn1_core.PrintableString


class _DocumentTypeList(asn1_core.Sequence):  # type: ignore[misc]
    # ICAO Doc 9303 Part 12: DocumentTypeListSyntax ::= SEQUENCE { version, docTypeList }
    _fields = [("version", asn1_core.Integer), ("doc_types", _DocumentTypes)]  # noqa: RUF012


def _lists_nv(value: x509.ExtensionType) -> bool:
    if not isinstance(value, x509.UnrecognizedExtension):
        return False
    try:
        parsed = _DocumentTypeList.load(value.value, strict=True)
        return "NV" in (parsed["doc_types"].native or [])
    except (ValueError, TypeError):
        return False


def csca_serials_revoked(crl_der: bytes, csca: x509.Certificate) -> frozenset[int]:
    """The serials a CSCA CRL revokes (empty when the CRL is unreadable or not the CSCA's)."""
    try:
        crl = x509.load_der_x509_crl(crl_der)
        public_key = csca.public_key()
        if not isinstance(public_key, ec.EllipticCurvePublicKey):
            return frozenset()
        if not crl.is_signature_valid(public_key):
            return frozenset()
    except (ValueError, TypeError):
        return frozenset()
    return frozenset(entry.serial_number for entry in crl)
