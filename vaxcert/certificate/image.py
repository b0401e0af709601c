"""The certificate image the app saves: the printed page as a black-and-white PNG, in memory.

Drawn by the page layout of :mod:`vaxcert.certificate.pdf`
(:func:`~vaxcert.certificate.pdf.draw_page` with an image :class:`~vaxcert.certificate.pdf.Pen`):
the same texts at the same places in the same fonts, so the image shows what the PDF shows, without
rasterising the PDF (bench/app.py: that cost more CPU than building the PDF).

One bit per pixel: text is rendered by FreeType (Pillow) without anti-aliasing, and the QR symbols
are copied module by module onto the PDF's module grid rounded to pixels, so every module is a
solid block of dark or light (no grey, no resampling) and each symbol has the PDF's size and place.

The page is a numpy array of ink (one byte a pixel) rather than a Pillow image: Pillow keeps mode
"1" as a byte a pixel too, but packs it to bits pixel by pixel when it encodes (≈ 6 ms of its ≈ 9 ms
PNG encoding for an A4 page at 150 dpi, and ≈ 3 ms just to hand it to numpy), where
``numpy.packbits`` takes ≈ 0.3 ms; :func:`_png` writes the few PNG chunks itself (see there).

Nothing is written anywhere (C08); nothing of one certificate outlives the call: only the fonts,
opened once per process, the public texts and the single glyphs of ASCII characters are kept.
"""

from __future__ import annotations

import functools
import struct
import threading
import zlib
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageFont

from vaxcert.certificate import pdf
from vaxcert.certificate.qrmatrix import QrMatrix
from vaxcert.contracts.kiosk_api import CertificateIssued

Mask = npt.NDArray[np.uint8]  # 1: ink, 0: paper

_POINTS_PER_INCH = 72
_ANCHORS = {"left": "ls", "center": "ms", "right": "rs"}  # horizontal alignment, on the baseline
# A FreeType face is not safe for two threads at once (the fonts are shared by the process's
# gthreads); drawing holds the GIL anyway, so one page at a time costs no throughput.
_draw_lock = threading.Lock()


@functools.lru_cache(maxsize=256)
def _font(name: str, pixels: int) -> ImageFont.FreeTypeFont:
    """The face of reportlab font ``name`` at an em of ``pixels`` (cached: a few sizes per page)."""
    if name == pdf.LEGEND_FONT_NAME:
        return ImageFont.truetype(str(pdf.LEGEND_FONT), pixels, index=0)
    return ImageFont.truetype(str(pdf.font_path()), pixels)


def _text(font: str, pixels: int, value: str, anchor: str) -> tuple[Mask, int, int]:
    """``value`` rendered by FreeType as a mask and the offset of its upper-left corner from the
    anchor."""
    rendered, (left, top) = _font(font, pixels).getmask2(value, mode="1", anchor=anchor)
    if not rendered.size[0] or not rendered.size[1]:
        return np.zeros((0, 0), np.uint8), 0, 0
    # Mode "1" glyphs come as an "L" mask of 0 and 255.
    mask = (np.asarray(Image.Image()._new(rendered)) != 0).view(np.uint8)
    return mask, left, top


@functools.lru_cache(maxsize=4096)
def _public_text(
    font: str, size: float, width: float | None, value: str, anchor: str, scale: float
) -> tuple[Mask, int, int]:
    """A public text (label, catalogue value) fitted and rendered once per process: FreeType
    renders ≈ 10 µs a glyph and a page has ≈ 80 strings, most of them labels. Only public values
    are kept (C08)."""
    pixels = max(1, round(pdf.fitted_size(value, size, width, font) * scale))
    return _text(font, pixels, value, anchor)


@functools.lru_cache(maxsize=4096)
def _glyph(font: str, pixels: int, character: str) -> tuple[Mask, int, int, int]:
    """One ASCII character's mask, offset from its origin and advance in 1/64 px.

    A single ASCII glyph is no personal data (C08); the holder's values are composed of them.
    """
    mask, left, top = _text(font, pixels, character, "ls")
    return mask, left, top, round(_font(font, pixels).getlength(character) * 64)


class _ImagePen:
    """The :class:`~vaxcert.certificate.pdf.Pen` over an ink array at ``scale`` px/pt."""

    def __init__(self, scale: float) -> None:
        self.scale = scale
        self.width, self.height = round(pdf.PAGE_WIDTH * scale), round(pdf.PAGE_HEIGHT * scale)
        self.ink: Mask = np.zeros((self.height, self.width), np.uint8)

    def _point(self, x: float, y: float) -> tuple[float, float]:
        """Page points (origin lower left, y up) to pixels (origin upper left, y down)."""
        return x * self.scale, (pdf.PAGE_HEIGHT - y) * self.scale

    def _stroke(self, width: float) -> int:
        return max(1, round(width * self.scale))

    def _stamp(self, mask: Mask, left: int, top: int) -> None:
        """Ink where ``mask`` has ink, its upper-left corner at (left, top), clipped to the page."""
        rows, columns = mask.shape
        if left < 0 or top < 0 or left + columns > self.width or top + rows > self.height:
            mask = mask[max(0, -top) : self.height - top, max(0, -left) : self.width - left]
            left, top = max(0, left), max(0, top)
            rows, columns = mask.shape
        region = self.ink[top : top + rows, left : left + columns]
        np.bitwise_or(region, mask, out=region)

    def _fill(self, left: int, top: int, right: int, bottom: int) -> None:
        """Ink on the pixels [left, right) × [top, bottom), clipped to the page."""
        self.ink[max(0, top) : max(0, bottom), max(0, left) : max(0, right)] = 1

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
        ``public`` value's rendering is kept for the next pages; the holder's never is (C08):
        ASCII is composed of cached single glyphs, anything else is rendered for this call.
        """
        x_px, y_px = x * self.scale, (pdf.PAGE_HEIGHT - y) * self.scale
        if public:
            mask, left, top = _public_text(font, size, width, value, _ANCHORS[align], self.scale)
            self._stamp(mask, round(x_px) + left, round(y_px) + top)
            return
        pixels = max(1, round(pdf.fitted_size(value, size, width, font) * self.scale))
        if not value.isascii():
            mask, left, top = _text(font, pixels, value, _ANCHORS[align])
            self._stamp(mask, round(x_px) + left, round(y_px) + top)
            return
        glyphs = [_glyph(font, pixels, character) for character in value]
        # Pen positions in 1/64 px from the anchor, as FreeType lays out a line (no kerning: the
        # PDF has none either), each glyph on the pixel nearest to its pen position.
        pen = round(x_px) * 64
        if align != "left":
            advance = sum(glyph[3] for glyph in glyphs)
            pen -= advance // 2 if align == "center" else advance
        baseline = round(y_px)
        for mask, left, top, advance in glyphs:
            if mask.size:
                self._stamp(mask, ((pen + 32) >> 6) + left, baseline + top)
            pen += advance

    def rule(self, x1: float, y1: float, x2: float, y2: float, width: float = 0.5) -> None:
        """A thin horizontal or vertical line (the layout draws no other), ``width`` thick.

        Pixels as Pillow's ``ImageDraw.line`` sets them: coordinates truncated, the stroke
        centred on the line (its odd pixel below or right of it)."""
        (left, top), (right, bottom) = (
            tuple(int(v) for v in self._point(x, y)) for x, y in ((x1, y1), (x2, y2))
        )
        left, right = sorted((left, right))
        top, bottom = sorted((top, bottom))
        stroke = self._stroke(width)
        if bottom - top < right - left:
            first = top - (stroke - 1) // 2
            self._fill(left, first, right + 1, first + stroke)
        else:
            first = left - (stroke - 1) // 2
            self._fill(first, top, first + stroke, bottom + 1)

    def box(self, x: float, y: float, width: float, height: float) -> None:
        """A thin rectangle (x, y: lower left): Pillow's ``ImageDraw.rectangle`` outline,
        coordinates truncated and the stroke inside them."""
        left, bottom = (int(v) for v in self._point(x, y))
        right, top = (int(v) for v in self._point(x + width, y + height))
        stroke = self._stroke(0.6)
        self._fill(left, top, right + 1, top + stroke)
        self._fill(left, bottom + 1 - stroke, right + 1, bottom + 1)
        self._fill(left, top, left + stroke, bottom + 1)
        self._fill(right + 1 - stroke, top, right + 1, bottom + 1)

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
        modules = np.arange(code.size)
        rows = np.repeat(modules, np.diff(row_edges))
        columns = np.repeat(modules, np.diff(column_edges))
        dark = code.modules.astype(np.uint8, copy=False)
        block = dark.take(rows, 0).take(columns, 1)
        # The symbol replaces what is under it (nothing: the layout keeps its quiet zone free).
        self.ink[row_edges[0] : row_edges[-1], column_edges[0] : column_edges[-1]] = block


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(data, zlib.crc32(kind)))
    )


def _png(ink: Mask) -> bytes:
    """``ink`` as a 1-bit greyscale PNG (ink black, paper white).

    Written here because Pillow cannot take packed bits from numpy without unpacking them again,
    and its encoder packs and filters pixel by pixel: ≈ 9 ms for the 7-dose 海外用 page at 150
    dpi, against ≈ 0.4 ms here for packing and filtering and ≈ 1.5 ms for zlib (38 KB, as
    Pillow's 37 KB). Every row uses the PNG "Up" filter (the difference to the row above: rows of
    paper and the straight edges of rules and QR modules become zeros), compressed by zlib's
    run-length strategy, which is faster on them than level 1 without a filter (≈ 1.9 ms, 39 KB).
    """
    height, width = ink.shape
    packed = np.packbits(ink, axis=1)
    np.invert(packed, out=packed)  # greyscale: 0 is black
    rows = np.empty((height, packed.shape[1] + 1), np.uint8)
    rows[:, 0] = 2  # filter type Up
    rows[0, 1:] = packed[0]
    np.subtract(packed[1:], packed[:-1], out=rows[1:, 1:])
    compressor = zlib.compressobj(1, zlib.DEFLATED, 15, 8, zlib.Z_RLE)
    data = compressor.compress(rows.data) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1 bit, greyscale
    return b"".join(
        (b"\x89PNG\r\n\x1a\n", _chunk(b"IHDR", header), _chunk(b"IDAT", data), _chunk(b"IEND", b""))
    )


def render_certificate_png(
    issued: CertificateIssued, dpi: int, *, codes: Sequence[pdf.PageCode] | None = None
) -> bytes:
    """The certificate page as a 1-bit PNG at ``dpi``, built in memory (C08).

    ``codes``: :func:`~vaxcert.certificate.pdf.page_codes` of this very ``issued``, when the
    caller has them already (it refuses what cannot be printed, as the PDF does).
    """
    if codes is None:
        codes = pdf.page_codes(issued)
    pen = _ImagePen(dpi / _POINTS_PER_INCH)
    with _draw_lock:
        pdf.draw_page(pen, issued, codes)
    return _png(pen.ink)
