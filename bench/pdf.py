"""Certificate PDF rendering time against a naive render measured in the same run (design.md §5).

Renders the canary's 7-dose 海外用 certificate (really signed: SHC + VDS-NC) with
``vaxcert.certificate.pdf.render_certificate`` and with a naive baseline: the same page, but the
QR codes built by ``segno.make`` (automatic mask selection, as vaxcert/certificate/qr.py builds
them) and placed as PNG images, drawn with reportlab; and with the previous renderer: the same
codes and layout through reportlab's canvas (what pdfwriter.py replaced). All run interleaved,
round by round, so load from other processes shifts them alike.
Prints the medians, their ratios, the QR step alone and the once-per-process start-up costs.
Target: ≤ 80 ms median for the 海外用 page.

    .venv/bin/python bench/pdf.py [--rounds 20] [--out certificate.pdf]   (or: make bench)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import io

import segno
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from launch.samples import sample_issued
from signer.services import SignerService
from vaxcert import pki
from vaxcert.certificate import pdf
from vaxcert.certificate import qr as signer_qr
from vaxcert.certificate.qrmatrix import QrMatrix, shc_matrix, vdsnc_matrix
from vaxcert.config import load_settings
from vaxcert.contracts.kiosk_api import CertificateIssued

TARGET_MS = 80.0


class _ReportlabPen:
    """The page on a reportlab canvas: vaxcert's renderer until bench/app.py showed reportlab
    spending 15-27 ms a page (font subsets, object formatting, its codec over every string)."""

    def __init__(self, canvas: Canvas) -> None:
        self.canvas = canvas

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
        size = pdf.fitted_size(value, size, width, font)
        self.canvas.setFillGray(pdf.GREY if grey else 0)
        self.canvas.setFont(font, size)
        draw = {
            "center": self.canvas.drawCentredString,
            "right": self.canvas.drawRightString,
        }.get(align, self.canvas.drawString)
        draw(x, y, value)

    def rule(self, x1: float, y1: float, x2: float, y2: float, width: float = 0.5) -> None:
        self.canvas.setStrokeGray(pdf.RULE_GREY)
        self.canvas.setLineWidth(width)
        self.canvas.line(x1, y1, x2, y2)

    def box(self, x: float, y: float, width: float, height: float) -> None:
        self.canvas.setStrokeGray(pdf.RULE_GREY)
        self.canvas.setLineWidth(0.6)
        self.canvas.rect(x, y, width, height, stroke=1, fill=0)

    def qr(self, x: float, top: float, size: float, code: QrMatrix) -> None:
        self.canvas.addLiteral(pdf._qr_path(code, x, top, size / code.size))


def _register_reportlab_fonts() -> None:
    if pdf.FONT_NAME not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(pdf.FONT_NAME, str(pdf.font_path())))
        legend = TTFont(pdf.LEGEND_FONT_NAME, str(pdf.LEGEND_FONT), subfontIndex=0)
        pdfmetrics.registerFont(legend)


def reportlab_render(issued: CertificateIssued, codes: list[pdf.PageCode]) -> bytes:
    """The previous renderer: the same page and codes through reportlab's canvas."""
    _register_reportlab_fonts()
    buffer = io.BytesIO()
    canvas = Canvas(
        buffer,
        pagesize=(pdf.PAGE_WIDTH, pdf.PAGE_HEIGHT),
        invariant=True,
        pageCompression=True,
        initialFontName=pdf.FONT_NAME,
    )
    pdf.draw_page(_ReportlabPen(canvas), issued, codes)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


class _PngPen(_ReportlabPen):
    """Draws each QR code as a segno PNG image instead of a vector path."""

    def __init__(self, canvas: Canvas, images: dict[int, bytes]) -> None:
        super().__init__(canvas)
        self.images = images

    def qr(self, x: float, top: float, size: float, code: QrMatrix) -> None:
        image = ImageReader(io.BytesIO(self.images[id(code)]))
        self.canvas.drawImage(image, x, top - size, size, size)


def naive_render(issued: CertificateIssued) -> bytes:
    """The baseline: segno codes with automatic masks, as PNGs, on the same page layout."""
    segno_codes = [signer_qr.shc_qr(issued.shc_qr_text)]
    captions = [pdf.SHC_CAPTION]
    if issued.vdsnc is not None:
        segno_codes.append(signer_qr.vdsnc_qr(issued.vdsnc))
        captions.append(pdf.VDSNC_CAPTION)
    codes, images = [], {}
    for code, caption in zip(segno_codes, captions, strict=True):
        matrix = QrMatrix(np.array(code.matrix, dtype=bool), int(code.version), "L", code.mask)
        images[id(matrix)] = signer_qr.png(code, scale=4, border=0)
        codes.append(pdf.PageCode(matrix, caption))
    _register_reportlab_fonts()
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=(pdf.PAGE_WIDTH, pdf.PAGE_HEIGHT), invariant=True)
    pdf.draw_page(_PngPen(canvas, images), issued, codes)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def interleaved(operations: dict[str, Callable[[], object]], rounds: int) -> dict[str, list[float]]:
    """Milliseconds per call of each operation, one call of each per round."""
    times: dict[str, list[float]] = {name: [] for name in operations}
    for _ in range(rounds):
        for name, operation in operations.items():
            start = time.perf_counter()
            operation()
            times[name].append((time.perf_counter() - start) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--out", type=Path, help="also write the rendered PDF here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        pki.init(root / "pki", "https://127.0.0.1:8446/issuer", ["KIOSK-0001"], ["127.0.0.1"])
        settings = load_settings(
            environment="test", pki_dir=root / "pki", signer={"state_dir": root / "state"}
        )
        signer = SignerService(settings)
        signer.init()
        issued = sample_issued(signer, "overseas", 7)

    start = time.perf_counter()
    pdf.register_font()
    font_ms = (time.perf_counter() - start) * 1000
    start = time.perf_counter()
    document = pdf.render_certificate(issued)
    first_ms = (time.perf_counter() - start) * 1000
    naive_render(issued)  # warm the baselines' imports and caches too
    page_codes = pdf.page_codes(issued)
    reportlab_render(issued, page_codes)
    if args.out:
        args.out.write_bytes(document)

    assert issued.vdsnc is not None
    shc_text, vdsnc_text = issued.shc_qr_text, issued.vdsnc
    card, seal = shc_matrix(shc_text), vdsnc_matrix(vdsnc_text)
    pages = interleaved(
        {
            "baseline": lambda: naive_render(issued),
            "reportlab": lambda: reportlab_render(issued, pdf.page_codes(issued)),
            "vaxcert": lambda: pdf.render_certificate(issued),
        },
        args.rounds,
    )
    codes = interleaved(
        {
            "segno, automatic mask": lambda: (
                signer_qr.shc_qr(shc_text),
                signer_qr.vdsnc_qr(vdsnc_text),
            ),
            "segno, mask 0": lambda: (
                segno.make(
                    [("shc:/", segno.consts.MODE_BYTE), (shc_text[5:], segno.consts.MODE_NUMERIC)],
                    error="l",
                    boost_error=False,
                    micro=False,
                    mask=0,
                ),
                segno.make(vdsnc_text, mode="byte", error="m", micro=False, eci=False, mask=0),
            ),
            "vaxcert.certificate.qrmatrix": lambda: (
                shc_matrix(shc_text),
                vdsnc_matrix(vdsnc_text),
            ),
        },
        args.rounds,
    )
    drawn = interleaved(
        {
            "reportlab": lambda: reportlab_render(issued, page_codes),
            "vaxcert": lambda: pdf.render_certificate(issued, codes=page_codes),
        },
        args.rounds,
    )
    baseline = statistics.median(pages["baseline"])
    ours = statistics.median(pages["vaxcert"])
    print(
        f"certificate PDF: 7-dose 海外用, SHC v{card.version}-L + VDS-NC v{seal.version}-M, "
        f"{len(document):,} bytes; median of {args.rounds} renders"
    )
    print(f"  baseline  segno (automatic mask) + PNG images  {baseline:8.1f} ms")
    verdict = "meets" if ours <= TARGET_MS else "MISSES"
    print(
        f"  vaxcert   vaxcert.certificate.pdf.render_certificate     {ours:8.1f} ms"
        f"   ({verdict} the {TARGET_MS:.0f} ms target)"
    )
    print(f"  ratio     baseline / vaxcert                     {baseline / ours:8.2f} x")
    previous = statistics.median(pages["reportlab"])
    print(f"  previous  reportlab canvas, same codes and layout  {previous:8.1f} ms")
    print(f"  ratio     reportlab / vaxcert                    {previous / ours:8.2f} x")
    print(
        "  drawing alone (codes given, as the app API calls it): "
        f"reportlab {statistics.median(drawn['reportlab']):.1f} ms, "
        f"vaxcert {statistics.median(drawn['vaxcert']):.1f} ms"
    )
    print("QR step alone (both codes, median):")
    reference = statistics.median(codes["segno, automatic mask"])
    for name, values in codes.items():
        value = statistics.median(values)
        print(f"  {name:<24} {value:8.1f} ms   {reference / value:6.1f} x faster than segno auto")
    print(
        f"once per process: font registration {font_ms:.1f} ms, "
        f"first render (layouts, subset tables) {first_ms:.1f} ms"
    )


if __name__ == "__main__":
    main()
