"""Turn what a person hands the verifier into certificate texts: QR text, JWS, a
``.smart-health-card`` file, an image (PNG/JPEG/…, several QR codes allowed) or a certificate PDF.

Everything happens in memory: nothing is written to disk (the verifier never stores certificates).
"""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass
from typing import Any, Literal

import zxingcpp
from PIL import Image, UnidentifiedImageError

from vaxcert.formats import FormatError, shc, vdsnc

Origin = Literal["qr", "jws", "file", "vdsnc", "unknown"]

MAX_TEXT_CHARS = 256 * 1024
MAX_PIXELS = 40_000_000  # a 48-megapixel photo is refused rather than decoded
MAX_PDF_PAGES = 10
PDF_DPI = 150
# An A0 sheet at PDF_DPI is about 27 MP; a certificate page (A4) is 2.2 MP.
MAX_PDF_PAGE_PIXELS = 30_000_000
_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_QR_ONLY = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM", b"RIFF")


class InputError(Exception):
    """The input as a whole cannot be read; ``code`` is a reason code."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(code)
        self.code = code
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Item:
    """One certificate candidate found in the input."""

    text: str
    origin: Origin
    source: str


def items_from(data: str | bytes, source: str = "input", frame: bool = False) -> list[Item]:
    """Every certificate candidate in ``data``; ``frame`` means a camera frame (cheaper decode)."""
    if isinstance(data, bytes):
        if data.startswith(b"%PDF-"):
            return _from_pdf(data, source)
        if data.startswith(_IMAGE_MAGIC):
            return _from_image_bytes(data, source, frame)
        try:
            text = data.decode("utf-8-sig")  # a text file may start with a BOM; a payload may not
        except UnicodeDecodeError:
            raise InputError("input_unrecognised", "neither text, image nor PDF") from None
        return items_from_text(text, source)
    return items_from_text(data, source)


def items_from_text(text: str, source: str = "text") -> list[Item]:
    """Classify pasted or file text: ``shc:/`` QR text, compact JWS, SHC file or VDS-NC JSON."""
    if len(text) > MAX_TEXT_CHARS:
        raise InputError("input_unrecognised", "text is too long")
    stripped = text.strip()
    if stripped.startswith(shc.PREFIX):
        return [Item(stripped, "qr", source)]
    if stripped.startswith("{"):
        if vdsnc.looks_like_vdsnc(stripped):
            return [Item(stripped, "vdsnc", source)]
        if '"verifiableCredential"' in stripped:
            try:
                jws_list = shc.parse_file(stripped)
            except FormatError as exc:
                raise InputError(exc.code, exc.detail) from None
            if not jws_list:
                raise InputError("shc_file_invalid", "the file holds no credential")
            many = len(jws_list) > 1
            return [
                Item(jws, "file", f"{source} [{n + 1}/{len(jws_list)}]" if many else source)
                for n, jws in enumerate(jws_list)
            ]
    if _JWS.fullmatch(stripped):
        return [Item(stripped, "jws", source)]
    raise InputError("input_unrecognised")


def classify_qr(text: str, source: str) -> Item:
    """A decoded QR code's text, tagged with its format."""
    if text.startswith(shc.PREFIX):
        return Item(text, "qr", source)
    if vdsnc.looks_like_vdsnc(text):
        return Item(text, "vdsnc", source)
    return Item(text, "unknown", source)


def _open_image(data: bytes) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.width * image.height > MAX_PIXELS:
                raise InputError("image_too_large", f"{image.width}x{image.height}")
            image.load()
    except InputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InputError("image_too_large") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise InputError("image_unreadable") from None
    return image


def _from_image_bytes(data: bytes, source: str, frame: bool) -> list[Item]:
    image = _open_image(data)
    texts = decode_qr_codes(image, frame=frame)
    if not texts:
        raise InputError("no_certificate_found")
    return _label(texts, f"{source} QR")


def _label(texts: list[str], prefix: str) -> list[Item]:
    return [
        classify_qr(text, f"{prefix} {n + 1}/{len(texts)}" if len(texts) > 1 else prefix)
        for n, text in enumerate(texts)
    ]


def decode_qr_codes(image: Image.Image, frame: bool = False) -> list[str]:
    """The texts of every QR code in ``image``, top to bottom, left to right.

    Low-resolution prints (about 2 px per module) need an upscale before zxing-cpp reads them:
    the image is tried at ×1, then ×2 and ×3 while small enough, keeping the union of what each
    scale finds and stopping once a scale adds nothing new.
    """
    gray = image.convert("L")
    longest = max(gray.size)
    scales = [1]
    if longest <= 1600:
        scales.append(2)
    if longest <= 1000 and not frame:
        scales.append(3)
    found: dict[str, tuple[float, float]] = {}
    for scale in scales:
        scaled = (
            gray
            if scale == 1
            else gray.resize((gray.width * scale, gray.height * scale), Image.Resampling.BICUBIC)
        )
        before = len(found)
        for code in zxingcpp.read_barcodes(scaled, formats=_QR_ONLY):
            text = _qr_text(code)
            if text is not None and text not in found:
                top_left = code.position.top_left
                found[text] = (top_left.y / scale, top_left.x / scale)
        if found and len(found) == before:
            break
    return sorted(found, key=lambda text: found[text])


def _qr_text(code: Any) -> str | None:
    raw = bytes(code.bytes)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        text = code.text
        return str(text) if text else None


def _from_pdf(data: bytes, source: str) -> list[Item]:
    import pypdfium2  # type: ignore[import-untyped]

    try:
        document = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError:
        raise InputError("pdf_unreadable") from None
    try:
        pages = len(document)
        if pages > MAX_PDF_PAGES:
            raise InputError("pdf_unreadable", f"{pages} pages (at most {MAX_PDF_PAGES})")
        items: list[Item] = []
        for number in range(pages):
            page = document[number]
            try:
                width, height = page.get_size()  # points; a tiny file may declare a huge page
                pixels = (width * PDF_DPI / 72) * (height * PDF_DPI / 72)
                if not pixels <= MAX_PDF_PAGE_PIXELS:  # also refuses NaN
                    raise InputError("image_too_large", f"page {number + 1} is too large")
                bitmap = page.render(scale=PDF_DPI / 72)
                image = bitmap.to_pil()
            finally:
                page.close()
            texts = decode_qr_codes(image)
            prefix = f"{source} p{number + 1} QR" if pages > 1 else f"{source} QR"
            items.extend(_label(texts, prefix))
    finally:
        document.close()
    if not items:
        raise InputError("no_certificate_found")
    return items
