"""ICAO VDS-NC proof of vaccination (``icao.vacc`` v1) issuance as pure functions (formats.md §2).

The signature covers the JCS form of ``data``; the whole document is emitted in JCS form too.
Only 海外用 (``overseas``) certificates carry one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from cryptography import x509

from signer.content import doses_in_date_order
from signer.interfaces import KeySigner
from vaxcert.contracts.signing import CertificateContent, Dose
from vaxcert.errors import VaxcertError
from vaxcert.formats import jose, vdsnc
from vaxcert.vaccines import DISEASE, VaccineProduct, VaccineTable

# Byte mode, error level M, version 40 (formats.md §2).
MAX_QR_BYTES = 2331
_SEX = {"male": "M", "female": "F", "unspecified": "X"}


@dataclass(frozen=True, slots=True)
class VdsncProfile:
    """The issuer-side choices of our VDS-NC profile (from ``Settings``)."""

    issuing_country: str = "JPN"
    emit_sex: bool = False


@dataclass(frozen=True)
class BarcodeSigner:
    """A signing key with its Barcode Signer Certificate (DER), as ``sig.cer`` carries it."""

    key: KeySigner
    certificate_der: bytes
    serial: int = field(default=0)

    @cached_property
    def cer(self) -> str:
        """base64url of the BSC DER (``sig.cer``)."""
        return jose.b64url_encode(self.certificate_der)

    @classmethod
    def of(cls, key: KeySigner, certificate_der: bytes) -> BarcodeSigner:
        """Pair ``key`` with its certificate; a certificate for another key is refused."""
        certificate = x509.load_der_x509_certificate(certificate_der)
        if certificate.public_key() != key.public_key:
            raise VaxcertError("signer_state_invalid", "the BSC does not certify the signing key")
        return cls(key, certificate_der, certificate.serial_number)


@dataclass(frozen=True, slots=True)
class IssuedVdsnc:
    """One signed VDS-NC: the JCS document text and the bytes its signature covers."""

    document: str
    signed_bytes: bytes
    bsc_serial: int


def message(
    content: CertificateContent, vaccines: VaccineTable, profile: VdsncProfile
) -> dict[str, Any]:
    """``data.msg``: uvci, pid and one ``ve`` per dose, in date order (Japan's layout).

    Japan's documents carry one ``ve`` with a single ``vd`` per dose, oldest first, ``seq`` the
    cumulative dose number; readers take the last ``ve`` as the latest dose, so grouping the doses
    of one product would misreport it (docs/signer.md §4).
    """
    if content.kind != "overseas":
        raise VaxcertError("vdsnc_overseas_only", "a domestic certificate has no VDS-NC")
    holder = content.holder
    assert holder.name_roman is not None and holder.passport_number is not None
    pid: dict[str, Any] = {
        "n": holder.name_roman.joined(),
        "dob": holder.birth_date.isoformat(),
        "i": holder.passport_number,
    }
    if profile.emit_sex and holder.sex is not None:
        pid["sex"] = _SEX[holder.sex]
    events: list[dict[str, Any]] = []
    for dose in doses_in_date_order(content):
        product = vaccines.product(dose.product)
        if product.nam is None:
            raise VaxcertError("vaccine_not_issuable", f"product {product.key} has no VDS-NC name")
        if dose.cvx is not None and dose.cvx != product.cvx:
            raise VaxcertError("vaccine_code_mismatch", "dose CVX code differs from the table")
        if dose.icd11 is not None and dose.icd11 != product.icd11:
            raise VaxcertError("vaccine_code_mismatch", "dose ICD-11 code differs from the table")
        events.append(_event(product, dose))
    return {"uvci": content.certificate_id, "pid": pid, "ve": events}


def _event(product: VaccineProduct, dose: Dose) -> dict[str, Any]:
    return {"des": product.icd11, "nam": product.nam, "dis": DISEASE, "vd": [_vaccination(dose)]}


def _vaccination(dose: Dose) -> dict[str, Any]:
    # seq is a JSON integer: a string breaks real readers (formats.md §2).
    return {
        "dvc": dose.date.isoformat(),
        "seq": dose.dose_number,
        "ctr": dose.country,
        "adm": dose.administering_authority,
        "lot": dose.lot,
    }


def issue(
    content: CertificateContent,
    barcode_signer: BarcodeSigner,
    vaccines: VaccineTable,
    profile: VdsncProfile,
) -> IssuedVdsnc:
    """Sign the VDS-NC of an overseas certificate; larger than one QR code is refused."""
    data = {
        "hdr": {"t": vdsnc.DOCUMENT_TYPE, "v": 1, "is": profile.issuing_country},
        "msg": message(content, vaccines, profile),
    }
    signed = vdsnc.canonical(data)
    sigvl = jose.b64url_encode(barcode_signer.key.sign(signed))
    # The JCS form of the whole document, without canonicalising ``data`` twice: "data" sorts
    # before "sig", alg < cer < sigvl, and base64url needs no escaping (equal to vdsnc.emit).
    document = (
        f'{{"data":{signed.decode("utf-8")},'
        f'"sig":{{"alg":"ES256","cer":"{barcode_signer.cer}","sigvl":"{sigvl}"}}}}'
    )
    if len(document.encode("utf-8")) > MAX_QR_BYTES:
        raise VaxcertError("vdsnc_too_large", f"the VDS-NC would be {len(document)} bytes")
    return IssuedVdsnc(document=document, signed_bytes=signed, bsc_serial=barcode_signer.serial)
