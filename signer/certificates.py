"""Certificates for keys the signer makes: the SHC issuer leaf (x5c) and the VDS-NC BSC.

Both are built from the public key alone, so a key generated on a PKCS#11 token is certified
without leaving it. The issuing CA keys (``shc-root``, ``vdsnc-csca``) come from the PKI directory.
"""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from vaxcert import pki

_DAY = dt.timedelta(days=1)


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


def _base(
    subject: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    issuer: x509.Certificate,
    days: int,
    now: dt.datetime,
) -> x509.CertificateBuilder:
    issuer_ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _DAY)
        .not_valid_after(now + days * _DAY)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(issuer_ski),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
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
    builder = _base(subject, public_key, root, days, moment).add_extension(
        x509.SubjectAlternativeName([x509.UniformResourceIdentifier(issuer_url)]), critical=False
    )
    return builder.sign(root_key, _hash_for(root_key))


def barcode_signer_certificate(
    public_key: ec.EllipticCurvePublicKey,
    csca: x509.Certificate,
    csca_key: pki.PrivateKey,
    days: int = 3650,
    now: dt.datetime | None = None,
) -> x509.Certificate:
    """A VDS-NC BSC: EKU 2.23.136.1.1.14.2, document types {NV}, AKI = CSCA SKI, ≈ 10 years."""
    moment = now or dt.datetime.now(dt.UTC)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, pki.DEV_ORGANISATION),
            x509.NameAttribute(NameOID.COMMON_NAME, "JP dev VDS-NC signer"),
        ]
    )
    builder = (
        _base(subject, public_key, csca, days, moment)
        .add_extension(x509.ExtendedKeyUsage([pki.VDSNC_BSC_EKU]), critical=False)
        .add_extension(
            x509.UnrecognizedExtension(pki.ICAO_DOCUMENT_TYPE_LIST, pki.NV_DOCUMENT_TYPE_DER),
            critical=False,
        )
    )
    return builder.sign(csca_key, _hash_for(csca_key))
