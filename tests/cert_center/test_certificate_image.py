"""The certificate image of the app API (vaxcert/certificate/image.py), from really signed replies.

Read back as the app's user and a verifier would: zxing-cpp scans the QR codes off the PNG, and
the page is compared with the PDF rasterised by PDFium, so the image shows what the PDF shows.
"""

from __future__ import annotations

import gc
import io
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tests.support.qr import pdf_page, read_qr
from vaxcert.certificate import image, pdf
from vaxcert.certificate.image import render_certificate_png
from vaxcert.certificate.qrmatrix import QrMatrix
from vaxcert.contracts.kiosk_api import CertificateIssued

DPI = 150
BLOCK = 30  # px: ≈ 5 mm, the scale of a line of text


def _open(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    image.load()
    return image


def _ink_blocks(image: Image.Image, hidden: list[tuple[int, int, int, int]]) -> Any:
    """Share of ink per BLOCK × BLOCK square, with the ``hidden`` boxes painted white."""
    grey = np.asarray(image.convert("L"), dtype=float) / 255
    ink = (grey <= 160 / 255).astype(float)  # the PDF's raster as the old PNG thresholded it
    for left, top, right, bottom in hidden:
        ink[top:bottom, left:right] = 0
    rows, columns = (ink.shape[0] // BLOCK) * BLOCK, (ink.shape[1] // BLOCK) * BLOCK
    return ink[:rows, :columns].reshape(rows // BLOCK, BLOCK, columns // BLOCK, BLOCK).mean((1, 3))


def _symbol_boxes(codes: list[Any], margin: int = 12) -> list[tuple[int, int, int, int]]:
    boxes = []
    for code in codes:
        position = code.position
        corners = [position.top_left, position.top_right, position.bottom_left]
        corners.append(position.bottom_right)
        xs, ys = [p.x for p in corners], [p.y for p in corners]
        boxes.append((min(xs) - margin, min(ys) - margin, max(xs) + margin, max(ys) + margin))
    return boxes


@pytest.mark.parametrize("kind", ["domestic", "overseas"])
def test_image_carries_the_certificates_codes_and_shows_the_pdfs_page(
    kind: str, overseas_issued: CertificateIssued, domestic_issued: CertificateIssued
) -> None:
    issued = overseas_issued if kind == "overseas" else domestic_issued
    png = render_certificate_png(issued, DPI)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    image = _open(png)
    assert image.mode == "1"
    assert image.size == (1240, 1754)  # A4 at 150 dpi
    # pHYs: printed from the app, the page is A4 again (a viewer would assume 72 or 96 dpi).
    assert image.info["dpi"] == pytest.approx((DPI, DPI), abs=0.05)  # whole px per metre
    scanned = read_qr(image)
    expected = [issued.shc_qr_text] + ([issued.vdsnc] if issued.vdsnc else [])
    assert sorted(code.text for code in scanned) == sorted(expected)

    page = pdf_page(pdf.render_certificate(issued), dpi=DPI)
    from_pdf = read_qr(page)
    assert len(from_pdf) == len(expected)
    # Every symbol sits where the PDF puts it (the image's may be smaller by the rounding of
    # its modules down to whole pixels, centred in the same place).
    for ours, theirs in zip(
        sorted(_symbol_boxes(scanned, 0)), sorted(_symbol_boxes(from_pdf, 0)), strict=True
    ):
        assert abs((ours[0] + ours[2]) - (theirs[0] + theirs[2])) / 2 <= 3
        assert abs((ours[1] + ours[3]) - (theirs[1] + theirs[3])) / 2 <= 3
        assert abs((ours[2] - ours[0]) - (theirs[2] - theirs[0])) <= 3
    # Everything else: the same ink in every ≈ 5 mm square (a missing name or row shows).
    hidden = _symbol_boxes(from_pdf, margin=40)
    difference = abs(_ink_blocks(image, hidden) - _ink_blocks(page, hidden))
    assert difference.max() < 0.2


def test_symbols_are_exact_on_the_pdfs_module_grid(overseas_issued: CertificateIssued) -> None:
    """Each module is a solid block at the PDF's module edges rounded to pixels: no grey, no
    resampling, the PDF's size and place."""
    image = ~np.asarray(_open(render_certificate_png(overseas_issued, DPI)))  # True: ink
    pen = _RecordingPen()
    pdf.draw_page(pen, overseas_issued, pdf.page_codes(overseas_issued))
    assert len(pen.symbols) == 2
    scale = DPI / 72
    for x, top, size, matrix in pen.symbols:
        module = size * scale / matrix.size
        assert module >= 2  # ≥ 2 px a module at 150 dpi (7 doses, both codes)
        steps = np.arange(matrix.size + 1) * module
        columns = np.round(x * scale + steps).astype(int)
        rows = np.round((pdf.PAGE_HEIGHT - top) * scale + steps).astype(int)
        region = image[rows[0] : rows[-1], columns[0] : columns[-1]]
        expected = np.repeat(
            np.repeat(matrix.modules.astype(bool), np.diff(rows), 0), np.diff(columns), 1
        )
        assert (region == expected).all()
        # The quiet zone: four modules of paper on every side.
        quiet = int(4 * module)
        around = image[rows[0] - quiet : rows[-1] + quiet, columns[0] - quiet : columns[-1] + quiet]
        assert around.sum() == region.sum()


def test_threads_render_the_same_image(overseas_issued: CertificateIssued) -> None:
    """The app API's gthreads share the fonts: concurrent pages come out identical."""
    expected = render_certificate_png(overseas_issued, DPI)
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda _: render_certificate_png(overseas_issued, DPI), range(12)))
    assert all(result == expected for result in results)


def test_holder_text_from_single_glyphs_matches_freetypes_line(
    overseas_issued: CertificateIssued,
) -> None:
    """The holder's ASCII values, composed of cached glyphs, show the ink FreeType draws for the
    whole string: the same place and extent, give or take a pixel where a glyph's rounding
    differs (no C08 cache is needed for that)."""
    scale = DPI / 72
    pen = image._ImagePen(scale)
    value = overseas_issued.holder.passport_number or ""
    for align in ("left", "center", "right"):
        pen.text(300, 400, value, 12, align=align)
        composed = pen.finish().copy()
        pen.ink[:] = 0
        # FreeType's rendering of the whole line, uncached (the value is the holder's).
        anchor = image._ANCHORS[align]
        line = image._text(pdf.FONT_NAME, round(12 * scale), value, anchor, pen.width)
        pen._place(line, round(300 * scale), round((pdf.PAGE_HEIGHT - 400) * scale))
        whole = pen.finish().copy()
        pen.ink[:] = 0
        assert composed.any()
        rows, columns = np.nonzero(composed)
        whole_rows, whole_columns = np.nonzero(whole)
        assert abs(int(rows.min()) - int(whole_rows.min())) <= 1
        assert abs(int(rows.max()) - int(whole_rows.max())) <= 1
        assert abs(int(columns.min()) - int(whole_columns.min())) <= 1
        assert abs(int(columns.max()) - int(whole_columns.max())) <= 1
        assert abs(int(composed.sum()) - int(whole.sum())) <= 0.1 * whole.sum()


class _RecordingPen:
    """Records what the layout marks public (what an image pen may keep across pages)."""

    def __init__(self) -> None:
        self.public: list[str] = []
        self.private: list[str] = []
        self.symbols: list[tuple[float, float, float, QrMatrix]] = []

    def text(self, x: float, y: float, value: str, size: float, **options: Any) -> None:
        (self.public if options.get("public") else self.private).append(value)

    def rule(self, x1: float, y1: float, x2: float, y2: float, width: float = 0.5) -> None:
        pass

    def box(self, x: float, y: float, width: float, height: float) -> None:
        pass

    def qr(self, x: float, top: float, size: float, code: QrMatrix) -> None:
        self.symbols.append((x, top, size, code))


def test_c08_no_value_of_the_holders_record_is_marked_public(
    overseas_issued: CertificateIssued,
) -> None:
    """The image pen keeps public texts across requests: none may carry the holder's data."""
    pen = _RecordingPen()
    pdf.draw_page(pen, overseas_issued, pdf.page_codes(overseas_issued))
    holder = overseas_issued.holder
    personal = [
        holder.name,
        holder.name_roman or "",
        holder.passport_number or "",
        holder.birth_date.isoformat(),
        overseas_issued.certificate_id,
        overseas_issued.issue_date.isoformat(),
    ]
    for dose in overseas_issued.doses:
        personal += [dose.date.isoformat(), dose.lot]
    assert all(personal)
    for value in personal:
        assert not [text for text in pen.public if value in text], "a personal value is public"
        assert [text for text in pen.private if value in text], "a personal value is not drawn"


def _glyph_sets() -> dict[int, set[str]]:
    """The cached ASCII glyph sets of the holder's values, by pixel size."""
    sets: dict[int, set[str]] = {}
    for glyphs in gc.get_objects():
        if isinstance(glyphs, image._Glyphs):
            sets.setdefault(glyphs.pixels, set()).update(glyphs.glyphs)
    return sets


def test_c08_a_value_shrunk_to_fit_leaves_no_glyph_set_of_its_own(
    overseas_issued: CertificateIssued,
) -> None:
    """Glyph sets are cached per size: a size only one holder's value had would keep the set of
    that value's letters. Only the layout's sizes, the same for every holder, have one."""
    image._glyphs.cache_clear()
    gc.collect()
    render_certificate_png(overseas_issued, 150)
    layout_sizes = set(_glyph_sets())
    long_name = "WOLFESCHLEGELSTEINHAUSENBERGERDORFF QUVXYZJ"
    holder = overseas_issued.holder.model_copy(update={"name_roman": long_name})
    render_certificate_png(overseas_issued.model_copy(update={"holder": holder}), 150)
    assert set(_glyph_sets()) == layout_sizes
    image._glyphs.cache_clear()
