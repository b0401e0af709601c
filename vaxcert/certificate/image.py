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
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from isal import isal_zlib
from PIL import Image, ImageFont

from vaxcert.certificate import pdf
from vaxcert.certificate.qrmatrix import QrMatrix
from vaxcert.contracts.kiosk_api import CertificateIssued

Mask = npt.NDArray[np.uint8]  # 1: ink, 0: paper
Offsets = npt.NDArray[np.intp]

_POINTS_PER_INCH = 72
_ANCHORS = {"left": "ls", "center": "ms", "right": "rs"}  # horizontal alignment, on the baseline
# A FreeType face is not safe for two threads at once (the fonts are shared by the process's
# gthreads); drawing holds the GIL anyway, so one page at a time costs no throughput.
_draw_lock = threading.Lock()


@functools.lru_cache(maxsize=256)
def _font(name: str, pixels: int) -> ImageFont.FreeTypeFont:
    """The face of font ``name`` (``pdf.FONT_NAME`` or ``pdf.LEGEND_FONT_NAME``) at an em of
    ``pixels`` (cached: a few sizes per page)."""
    if name == pdf.LEGEND_FONT_NAME:
        return ImageFont.truetype(str(pdf.LEGEND_FONT), pixels, index=0)
    return ImageFont.truetype(str(pdf.font_path()), pixels)


def _text(font: str, pixels: int, value: str, anchor: str, stride: int) -> _Ink:
    """``value`` rendered by FreeType, its ink pixels placed from the anchor on a page
    ``stride`` pixels wide."""
    rendered, (left, top) = _font(font, pixels).getmask2(value, mode="1", anchor=anchor)
    if not rendered.size[0] or not rendered.size[1]:
        return _Ink.of(np.zeros(0, np.intp), np.zeros(0, np.intp), stride)
    rows, columns = np.nonzero(np.asarray(Image.Image()._new(rendered)))  # an "L" mask of 0/255
    return _Ink.of(rows + top, columns + left, stride)


@dataclass(frozen=True)
class _Ink:
    """A text's ink pixels, relative to its anchor pixel (x right, y down)."""

    rows: Offsets
    columns: Offsets
    flat: Offsets  # row × stride + column: the offset in the page's array
    left: int  # the extent of the ink, to tell whether it lies inside the page
    top: int
    right: int
    bottom: int

    @classmethod
    def of(cls, rows: Offsets, columns: Offsets, stride: int) -> _Ink:
        if not rows.size:
            return cls(rows, columns, rows, 0, 0, 0, 0)
        extent = (int(columns.min()), int(rows.min()), int(columns.max()), int(rows.max()))
        return cls(rows, columns, rows * stride + columns, *extent)


@functools.lru_cache(maxsize=4096)
def _public_text(
    font: str, size: float, width: float | None, value: str, anchor: str, scale: float
) -> _Ink:
    """A public text (label, catalogue value) fitted and rendered once per process: FreeType
    renders ≈ 10 µs a glyph and a page has ≈ 80 strings, most of them labels. Only public values
    are kept (C08)."""
    pixels = max(1, round(pdf.fitted_size(value, size, width, font) * scale))
    return _text(font, pixels, value, anchor, round(pdf.PAGE_WIDTH * scale))


class _Glyphs:
    """The single glyphs of ASCII characters of one font at one size, for a page ``stride``
    pixels wide, rendered as they are first needed: each glyph's ink from its origin and its
    advance in 1/64 px. A single ASCII glyph is no personal data (C08); the holder's values are
    composed of them. Filled under the drawing lock."""

    def __init__(self, font: str, pixels: int, stride: int) -> None:
        self.font, self.pixels, self.stride = font, pixels, stride
        self.glyphs: dict[str, tuple[_Ink, int]] = {}
        # How far any glyph's ink reaches from its origin: the bounds of a string's ink.
        self.above = self.below = self.reach = 0

    def __getitem__(self, character: str) -> tuple[_Ink, int]:
        glyph = self.glyphs.get(character)
        if glyph is None:
            ink = _text(self.font, self.pixels, character, "ls", self.stride)
            advance = round(_font(self.font, self.pixels).getlength(character) * 64)
            glyph = self.glyphs[character] = ink, advance
            self.above = max(self.above, -ink.top)
            self.below = max(self.below, ink.bottom)
            self.reach = max(self.reach, -ink.left, ink.right)
        return glyph


@functools.lru_cache(maxsize=256)
def _glyphs(font: str, pixels: int, stride: int) -> _Glyphs:
    return _Glyphs(font, pixels, stride)


class _ImagePen:
    """The :class:`~vaxcert.certificate.pdf.Pen` over an ink array at ``scale`` px/pt.

    Texts are not drawn one by one: their ink pixels (kept as offsets) are gathered and set in
    one numpy assignment by :meth:`finish`: ≈ 260 strings and glyphs a page, where an OR into a
    slice per text cost ≈ 1 ms more. Only QR symbols replace what is under them, and the layout
    keeps their quiet zones free of everything else, so the order does not matter.
    """

    def __init__(self, scale: float) -> None:
        self.scale = scale
        self.width, self.height = round(pdf.PAGE_WIDTH * scale), round(pdf.PAGE_HEIGHT * scale)
        self.ink: Mask = np.zeros((self.height, self.width), np.uint8)
        self._texts: list[Offsets] = []
        self._anchors: list[int] = []
        self._sizes: list[int] = []

    def _point(self, x: float, y: float) -> tuple[float, float]:
        """Page points (origin lower left, y up) to pixels (origin upper left, y down)."""
        return x * self.scale, (pdf.PAGE_HEIGHT - y) * self.scale

    def _stroke(self, width: float) -> int:
        return max(1, round(width * self.scale))

    def _place(self, ink: _Ink, x: int, y: int) -> None:
        """``ink`` with its anchor at pixel (x, y), clipped to the page."""
        if not ink.rows.size:
            return
        if (
            x + ink.left >= 0
            and y + ink.top >= 0
            and x + ink.right < self.width
            and y + ink.bottom < self.height
        ):
            self._texts.append(ink.flat)
            self._anchors.append(y * self.width + x)
            self._sizes.append(ink.rows.size)
            return
        rows, columns = ink.rows + y, ink.columns + x
        inside = (rows >= 0) & (rows < self.height) & (columns >= 0) & (columns < self.width)
        self.ink[rows[inside], columns[inside]] = 1

    def finish(self) -> Mask:
        """The page's ink, texts included."""
        if self._texts:
            offsets = np.concatenate(self._texts)
            offsets += np.repeat(np.array(self._anchors, np.intp), self._sizes)
            self.ink.reshape(-1)[offsets] = 1
            self._texts.clear()
            self._anchors.clear()
            self._sizes.clear()
        return self.ink

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
        ASCII at its layout size is composed of cached single glyphs, anything else (other
        scripts, a value shrunk to fit) is rendered for this call.
        """
        x_px, y_px = round(x * self.scale), round((pdf.PAGE_HEIGHT - y) * self.scale)
        if public:
            ink = _public_text(font, size, width, value, _ANCHORS[align], self.scale)
            self._place(ink, x_px, y_px)
            return
        fitted = pdf.fitted_size(value, size, width, font)
        pixels = max(1, round(fitted * self.scale))
        # C08: glyph sets are kept per size, so only at the layout's own sizes. A value shrunk
        # to fit has a size of its own, and its glyph set would be that value's letters.
        if not value.isascii() or fitted != size:
            self._place(_text(font, pixels, value, _ANCHORS[align], self.width), x_px, y_px)
            return
        font_glyphs = _glyphs(font, pixels, self.width)
        glyphs = [font_glyphs[character] for character in value]
        # Pen positions in 1/64 px from the anchor, as FreeType lays out a line (no kerning: the
        # PDF has none either), each glyph on the pixel nearest to its pen position.
        pen = x_px * 64
        advance = sum(glyph[1] for glyph in glyphs)
        if align != "left":
            pen -= advance // 2 if align == "center" else advance
        reach = font_glyphs.reach
        if (
            y_px - font_glyphs.above >= 0
            and y_px + font_glyphs.below < self.height
            and (pen >> 6) - reach >= 0
            and ((pen + advance) >> 6) + 1 + reach < self.width
        ):  # the whole string inside the page: each glyph's ink as it is
            texts, anchors, sizes = self._texts, self._anchors, self._sizes
            baseline = y_px * self.width
            for ink, step in glyphs:
                texts.append(ink.flat)
                anchors.append(baseline + ((pen + 32) >> 6))
                sizes.append(ink.rows.size)
                pen += step
            return
        for ink, step in glyphs:
            self._place(ink, (pen + 32) >> 6, y_px)
            pen += step

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
        columns = np.repeat(np.arange(code.size), np.diff(column_edges))
        dark = code.modules.astype(np.uint8, copy=False)
        # Columns first, then whole rows repeated: a third of the time of rows first.
        block = np.repeat(dark.take(columns, 1), np.diff(row_edges), 0)
        # The symbol replaces what is under it (nothing: the layout keeps its quiet zone free).
        self.ink[row_edges[0] : row_edges[-1], column_edges[0] : column_edges[-1]] = block


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(data, zlib.crc32(kind)))
    )


def _png(ink: Mask, dpi: int) -> bytes:
    """``ink`` as a 1-bit greyscale PNG (ink black, paper white), ``dpi`` stated in its pHYs
    chunk: without it a viewer or a printer assumes 72 or 96 dpi, and the saved page and its
    codes print at twice their size or more, not the A4 page with codes of 35-80 mm.

    Written here because Pillow cannot take packed bits from numpy without unpacking them again,
    and its encoder packs and filters pixel by pixel: ≈ 9 ms for the 7-dose 海外用 page at 150
    dpi. Here packing and the chunks take ≈ 0.4 ms, and the deflate stream ≈ 0.3 ms with ISA-L
    (35 KB; Pillow's is 37 KB), where zlib takes ≈ 1.2-1.6 ms at its best (every row with the
    PNG "Up" filter and the run-length strategy, 38 KB; level 1 unfiltered ≈ 1.9 ms, 39 KB).
    """
    height, width = ink.shape
    packed = np.packbits(ink, axis=1)
    np.invert(packed, out=packed)  # greyscale: 0 is black
    rows = np.empty((height, packed.shape[1] + 1), np.uint8)  # each row: filter type, pixels
    rows[:, 0] = 0  # filter None: ISA-L level 1 is as fast on the rows as they are, and smaller
    rows[:, 1:] = packed
    data = isal_zlib.compress(rows.data, 1)
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1 bit, greyscale
    per_metre = round(dpi / 0.0254)
    physical = struct.pack(">IIB", per_metre, per_metre, 1)  # unit 1: the metre
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            _chunk(b"IHDR", header),
            _chunk(b"pHYs", physical),  # before IDAT (PNG 11.3.5.3)
            _chunk(b"IDAT", data),
            _chunk(b"IEND", b""),
        )
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
    return _png(pen.finish(), dpi)
