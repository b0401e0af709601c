"""Issuance through the app (電子交付), domain code without Flask.

The same pipeline, rules and refusal codes as the kiosk (:class:`IssuanceService`), with the
app's own inputs: the instance (C06, already checked by :mod:`cert_center.attestation`) and, for
海外用, the passport's MRZ. The reply carries everything the app keeps: display fields, QR
contents, the SHC's JWS, the certificate image and the PDF. Nothing is kept here (C08): the
PDF and the image exist in this request's memory only.
"""

from __future__ import annotations

import base64

from cert_center.issuance import Application, IssuanceService
from vaxcert.certificate.image import render_certificate_png
from vaxcert.certificate.pdf import page_codes, render_certificate
from vaxcert.config import AppApiSettings
from vaxcert.contracts.app_api import AppCertificateIssued, AppCertificateRequest
from vaxcert.errors import VaxcertError


class AppIssuance:
    """Applications of registered app instances: one certificate per call, kept nowhere."""

    def __init__(self, service: IssuanceService, settings: AppApiSettings) -> None:
        self.service = service
        self.settings = settings

    def apply(self, instance_id: str, request: AppCertificateRequest) -> AppCertificateIssued:
        """Issue one certificate or raise :class:`VaxcertError` with the public reason."""
        issued = self.service.issue_application(
            Application(
                channel="app",
                terminal_id="app:" + instance_id,
                municipality_code=request.municipality_code,
                kind=request.kind,
                consent=request.consent,
                card=request.card,
                passport_mrz=request.passport_mrz,
            )
        )
        certificate = self.service.reply(issued)
        try:
            # One set of QR symbols for both: the image is drawn by the PDF's own page layout.
            codes = page_codes(certificate)
            pdf = render_certificate(certificate, codes=codes)
            image = render_certificate_png(certificate, self.settings.image_dpi, codes=codes)
        except ValueError:
            raise VaxcertError("certificate_unprintable", "the renderer refused") from None
        return AppCertificateIssued(
            certificate=certificate,
            shc_jws=issued.signed.shc.jws,
            image_png=base64.b64encode(image).decode("ascii"),
            pdf=base64.b64encode(pdf).decode("ascii"),
        )
