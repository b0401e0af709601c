"""Really signed certificates of synthetic residents, as the center replies them to a kiosk.

For tests, benchmarks and demos of what is printed (vaxcert/certificate/pdf.py): the content
comes from :mod:`signer.samples`, it is signed in process by a
:class:`signer.services.SignerService`, and the reply is built by the same function as the
center's issuance pipeline.
"""

from __future__ import annotations

import datetime as dt

from cert_center.issuance import certificate_issued
from signer.samples import example_content
from signer.services import SignerService
from vaxcert.contracts.kiosk_api import CertificateIssued
from vaxcert.contracts.signing import CertificateResult, Kind, ShcResult, VdsncResult
from vaxcert.residents import CANARY, SyntheticResident


def sample_issued(
    signer: SignerService,
    kind: Kind = "overseas",
    doses: int = 7,
    resident: SyntheticResident = CANARY,
    certificate_id: str = "9SAMPLE00001",
    issue_date: dt.date = dt.date(2023, 12, 20),
) -> CertificateIssued:
    """The reply for ``resident``'s certificate with the first ``doses`` doses, freshly signed."""
    content = example_content(resident, kind, doses, certificate_id, issue_date)
    issued = signer.issue(content)
    signed = CertificateResult(
        kind=kind,
        shc=ShcResult(
            jws=issued.shc.jws, qr_text=issued.shc.numeric, kid=issued.shc.kid, nbf=issued.shc.nbf
        ),
        vdsnc=VdsncResult(
            document=issued.vdsnc.document, bsc_serial=format(issued.vdsnc.bsc_serial, "x")
        )
        if issued.vdsnc
        else None,
    )
    municipalities = {entry.code: entry for entry in signer.settings.center.municipalities}
    return certificate_issued(
        content, signed, municipalities[resident.municipality_code], signer.vaccines
    )
