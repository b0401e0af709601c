"""The certificate image the app saves: the printed page as a black-and-white PNG, in memory.

Drawn directly with Pillow by the page layout of :mod:`vaxcert.certificate.pdf`
(:func:`~vaxcert.certificate.pdf.draw_page` with an image :class:`~vaxcert.certificate.pdf.Pen`):
the same texts at the same places in the same fonts, so the image shows what the PDF shows,
without rasterising the PDF (bench/app.py: that cost more CPU than building the PDF).

One bit per pixel: text is rendered by FreeType without anti-aliasing, and the QR symbols are
copied module by module onto the PDF's module grid rounded to pixels, so every module is a solid
block of dark or light (no grey, no resampling) and each symbol has the PDF's size and place.
Nothing is written anywhere (C08); nothing of one certificate outlives the call: only the
fonts, opened once per process, are kept.
"""

from __future__ import annotations

import functools
import io
import threading
import zlib
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from vaxcert.certificate import pdf
from vaxcert.certificate.qrmatrix import QrMatrix
from vaxcert.contracts.kiosk_api import CertificateIssued

_POINTS_PER_INCH = 72
_ANCHORS = {"left": "ls", "center": "ms", "right": "rs"}  # horizontal alignment, on the baseline
_PAPER, _INK = 1, 0
# A FreeType face is not safe for two threads at once (the fonts are shared by the process's
# gthreads); drawing holds the GIL anyway, so one page at a time costs no throughput.
_draw_lock = threading.Lock()


@functools.lru_cache(maxsize=256)
def _font(name: str, pixels: int) -> ImageFont.FreeTypeFont:
    """The face of reportlab font ``name`` at an em of ``pixels`` (cached: a few sizes per page)."""
    if name == pdf.LEGEND_FONT_NAME:
        return ImageFont.truetype(str(pdf.LEGEND_FONT), pixels, index=0)
    return ImageFont.truetype(str(pdf.font_path()), pixels)


def _text(font: str, pixels: int, value: str, anchor: str) -> tuple[Image.Image, int, int]:
    """``value`` as a 1-bit mask and the offset of its upper-left corner from the anchor."""
    face = _font(font, pixels)
    left, top, right, bottom = (round(v) for v in face.getbbox(value, anchor=anchor))
    mask = Image.new("1", (max(1, right - left), max(1, bottom - top)), 0)
    draw = ImageDraw.Draw(mask)
    draw.fontmode = "1"  # no anti-aliasing: the image has no grey
    draw.text((-left, -top), value, fill=1, font=face, anchor=anchor)
    return mask, left, top


# FreeType renders a string in ≈ 10 µs a glyph; a page has ≈ 80 strings, most of them labels.
# Only public values (labels, the vaccine and municipality catalogues) are kept (C08).
_public_text = functools.lru_cache(maxsize=4096)(_text)


class _ImagePen:
    """The :class:`~vaxcert.certificate.pdf.Pen` over a 1-bit Pillow image at ``scale`` px/pt."""

    def __init__(self, scale: float) -> None:
        self.scale = scale
        width, height = round(pdf.PAGE_WIDTH * scale), round(pdf.PAGE_HEIGHT * scale)
        self.image = Image.new("1", (width, height), _PAPER)
        self.draw = ImageDraw.Draw(self.image)

    def _point(self, x: float, y: float) -> tuple[float, float]:
        """Page points (origin lower left, y up) to pixels (origin upper left, y down)."""
        return x * self.scale, (pdf.PAGE_HEIGHT - y) * self.scale

    def _stroke(self, width: float) -> int:
        return max(1, round(width * self.scale))

    def text(
        self,
        x: float,
        y: float,
        value: str,
        size: float,
        *,
        width: float | None = None,
        align: str = "left",
        grey: bool = False,
        font: str = pdf.FONT_NAME,
        public: bool = False,
    ) -> None:
        """Draw ``value`` with its baseline at ``y``, shrunk to fit ``width`` when given.

        Grey prints as ink: at one bit per pixel the PDF's greys (0.35, 0.55) are dark. A
        ``public`` value's rendering is kept for the next pages; the holder's never is (C08).
        """
        size = pdf.fitted_size(value, size, width, font)
        pixels = max(1, round(size * self.scale))
        render = _public_text if public else _text
        mask, left, top = render(font, pixels, value, _ANCHORS[align])
        x_px, y_px = self._point(x, y)
        self.image.paste(_INK, (round(x_px) + left, round(y_px) + top), mask)

    def rule(self, x1: float, y1: float, x2: float, y2: float, width: float = 0.5) -> None:
        """A thin line."""
        self.draw.line([self._point(x1, y1), self._point(x2, y2)], _INK, self._stroke(width))

    def box(self, x: float, y: float, width: float, height: float) -> None:
        """A thin rectangle (x, y: lower left)."""
        left, bottom = self._point(x, y)
        right, top = self._point(x + width, y + height)
        self.draw.rectangle((left, top, right, bottom), outline=_INK, width=self._stroke(0.6))

    def qr(self, x: float, top: float, size: float, code: QrMatrix) -> None:
        """The symbol exactly where the PDF draws it, each module a solid block of pixels.

        Module edges are the PDF's, rounded to the pixel grid: a module is ⌊s⌋ or ⌈s⌉ pixels
        wide (s = the PDF's module in pixels), never resampled or grey, and the symbol keeps the
        PDF's size, so its quiet zone stays as light as the PDF's.
        """
        left, upper = self._point(x, top)
        steps = np.arange(code.size + 1) * (size * self.scale / code.size)
        column_edges = np.round(left + steps).astype(np.intp)
        row_edges = np.round(upper + steps).astype(np.intp)
        light = ~code.modules.astype(bool)
        block = np.repeat(np.repeat(light, np.diff(row_edges), 0), np.diff(column_edges), 1)
        symbol = Image.fromarray(block)  # bool → mode "1": True is paper
        self.image.paste(symbol, (int(column_edges[0]), int(row_edges[0])))


def render_certificate_png(
    issued: CertificateIssued, dpi: int, *, codes: Sequence[pdf.PageCode] | None = None
) -> bytes:
    """The certificate page as a 1-bit PNG at ``dpi``, built in memory (C08).

    ``codes``: :func:`~vaxcert.certificate.pdf.page_codes` of this very ``issued``, when the
    caller has them already (it refuses what cannot be printed, as the PDF does).
    """
    if codes is None:
        codes = pdf.page_codes(issued)
    with _draw_lock:
        pen = _ImagePen(dpi / _POINTS_PER_INCH)
        pdf.draw_page(pen, issued, codes)
    buffer = io.BytesIO()
    # Run-length zlib: on a page that is mostly paper it is faster and smaller than level 1
    # (bench/app.py: 4.2 ms and 31 KB against 7.8 ms and 35 KB for the 7-dose 海外用 page).
    pen.image.save(buffer, format="PNG", compress_level=1, compress_type=zlib.Z_RLE)
    return buffer.getvalue()
