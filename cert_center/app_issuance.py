"""Issuance through the app (電子交付), domain code without Flask.

The same pipeline, rules and refusal codes as the kiosk (:class:`IssuanceService`), with the
app's own inputs: the instance (C06, already checked by :mod:`cert_center.attestation`) and, for
海外用, the passport's MRZ. The reply carries everything the app keeps: display fields, QR
contents, the SHC's JWS, the certificate image and the PDF. Nothing is kept here (C08): the
PDF and the image exist in this request's memory only.
"""

from __future__ import annotations

import base64
import io
import threading

import pypdfium2  # type: ignore[import-untyped]

from cert_center.issuance import Application, IssuanceService
from vaxcert.certificate.pdf import render_certificate
from vaxcert.config import AppApiSettings
from vaxcert.contracts.app_api import AppCertificateIssued, AppCertificateRequest
from vaxcert.errors import VaxcertError

_POINTS_PER_INCH = 72
_INK = 160  # grey levels above this are paper
# PDFium is not thread-safe (pypdfium2's documentation): one page render at a time per process.
_pdfium_lock = threading.Lock()


def page_png(pdf: bytes, dpi: int) -> bytes:
    """The PDF's first page as a black-and-white PNG at ``dpi`` (pypdfium2, in memory: C08).

    One bit per pixel, measured by bench/app.py: at 150 dpi it encodes in a third of the time of
    8-bit grey at 110 dpi and is a fifth of its size, and the QR codes stay exact.
    """
    with _pdfium_lock:
        document = pypdfium2.PdfDocument(pdf)
        try:
            page = document[0]
            try:
                bitmap = page.render(scale=dpi / _POINTS_PER_INCH, grayscale=True)
                # A new 1-bit image, made while the bitmap (whose memory the grey view shares)
                # is alive.
                image = bitmap.to_pil().point(lambda level: 255 if level > _INK else 0, mode="1")
            finally:
                page.close()
        finally:
            document.close()
    buffer = io.BytesIO()
    # Level 1: stronger levels cost time for little gain on a page that is mostly paper.
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


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
            pdf = render_certificate(certificate)
        except ValueError:
            raise VaxcertError("certificate_unprintable", "the renderer refused") from None
        image = page_png(pdf, self.settings.image_dpi)
        return AppCertificateIssued(
            certificate=certificate,
            shc_jws=issued.signed.shc.jws,
            image_png=base64.b64encode(image).decode("ascii"),
            pdf=base64.b64encode(pdf).decode("ascii"),
        )
