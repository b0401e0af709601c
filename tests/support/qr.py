"""Reading QR codes back in tests the way a verifier's scanner does: QR Code symbols only.

zxing-cpp searches every symbology by default. Our codes differ on every issuance (the ECDSA
signature is random), and about one in 150 VDS-NC codes also yields a false "DataBar Stacked"
symbol read out of the QR modules (measured: 2 of 300 at 1 dose). A test that counts the symbols
in an image must therefore ask for QR codes only, as the verifier itself does
(``verifier/_inputs.py``).
"""

from __future__ import annotations

import io
from typing import Any

import pypdfium2
import zxingcpp
from PIL import Image

QR_ONLY = zxingcpp.BarcodeFormat.QRCode
SCAN_DPI = 150


def read_qr(image: Image.Image | bytes) -> list[Any]:
    """Every QR code zxing-cpp finds in ``image`` (a PIL image, or PNG/JPEG bytes)."""
    if isinstance(image, bytes):
        image = Image.open(io.BytesIO(image))
    return list(zxingcpp.read_barcodes(image, formats=QR_ONLY))


def pdf_page(document: bytes, page: int = 0, dpi: int = SCAN_DPI) -> Image.Image:
    """Page ``page`` of a PDF rendered at ``dpi``, as a scanner would see the print."""
    pdf = pypdfium2.PdfDocument(document)
    try:
        image: Image.Image = pdf[page].render(scale=dpi / 72).to_pil()
    finally:
        pdf.close()
    return image


def pdf_qr_texts(document: bytes, page: int = 0) -> list[str]:
    """The texts of the QR codes on one page of a PDF."""
    return [code.text for code in read_qr(pdf_page(document, page))]
