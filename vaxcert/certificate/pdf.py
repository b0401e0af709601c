"""The printed certificate (新型コロナウイルス感染症予防接種証明書): an A4 page per copy, in memory.

Shared by the kiosk (printing) and the center's app API. The page carries ja/en labels, the holder
(kanji name; for 海外用 also the romanised name, nationality and passport number), one row per
dose, the certificate id, the issue date, the issuing municipality and its mayor, and the QR codes:
the SHC for 国内用, the SHC and the ICAO VDS-NC side by side for 海外用 (formats.md §3).

Everything happens in memory: no temp file, no cache file, nothing on disk (C08). Japanese text
uses IPAex Gothic, a TrueType font embedded as a subset, loaded once per process (platform.md).
QR symbols come from :mod:`vaxcert.certificate.qrmatrix` and are drawn as one vector path per
code (runs of dark modules merged into rectangles), not as images. The file is written by
:mod:`vaxcert.certificate.pdfwriter`, not reportlab (docs/certificate-pdf.md: the app API renders a
PDF per application, and reportlab's per-document overhead was most of its CPU).
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib.util
import logging
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from vaxcert.certificate.pdfwriter import FixedFont, FontUse, PdfFile, pdf_number, text_string
from vaxcert.certificate.qrmatrix import QrMatrix, shc_matrix, vdsnc_matrix
from vaxcert.certificate.truetype import TrueTypeFace
from vaxcert.contracts.kiosk_api import CertificateIssued
from vaxcert.errors import VaxcertError

log = logging.getLogger(__name__)

FONT_NAME = "IPAexGothic"
FONT_FILE = "ipaexg.ttf"
# Debian's fonts-ipaexfont-gothic; without apt, the same file ships in the PyPI package
# matplotlib-fontja (installed by the Makefile with --no-deps).
DEBIAN_FONT = Path("/usr/share/fonts/opentype/ipaexfont-gothic") / FONT_FILE
MAX_COPIES = 20  # the kiosk API's receipt allows at most 20 copies
MIN_QR_MM = 35.0  # formats.md §3: each code at least 35 mm
MAX_QR_MM = 80.0

mm: float = 72 / 25.4  # points per millimetre
PAGE_WIDTH, PAGE_HEIGHT = 210 * mm, 297 * mm  # A4
MARGIN = 15 * mm
CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN
FOOTER_TOP = 12 * mm + 24 * mm  # bottom margin + statement and issuer
QUIET_ZONE = 4  # modules of light margin every QR symbol needs (ISO 18004)

GREY = 0.35
RULE_GREY = 0.55

TITLE_JA = "新型コロナウイルス感染症予防接種証明書"
TITLE_EN = "COVID-19 Vaccination Certificate"
KIND_LABELS = {
    "domestic": ("日本国内用", "For use in Japan"),
    "overseas": ("海外用及び日本国内用", "For overseas and domestic use"),
}
CERTIFICATE_ID = ("証明書ID", "Certificate ID")
ISSUE_DATE = ("発行年月日", "Date of issue")
HOLDER_HEADING = ("接種者", "Vaccinated person")
NAME = ("氏名", "Name")
NAME_ROMAN = ("氏名(ローマ字)", "Name (as in passport)")
BIRTH_DATE = ("生年月日", "Date of birth")
NATIONALITY = ("国籍", "Nationality")
PASSPORT = ("旅券番号", "Passport number")
DOSES_HEADING = ("接種記録", "Vaccinations")
DOSE_COLUMNS: tuple[tuple[str, str, float], ...] = (  # ja, en, width in mm (sum 180)
    ("接種回", "Dose", 14),
    ("接種年月日", "Date", 24),
    ("ワクチン名", "Vaccine", 58),
    ("メーカー名", "Manufacturer", 34),
    ("ロット番号", "Lot number", 30),
    ("接種国", "Country", 20),
)
SHC_CAPTION = ("QRコード(SMART Health Card)", "QR code (SMART Health Card)")
VDSNC_CAPTION = ("QRコード(ICAO VDS-NC)", "QR code (ICAO VDS-NC)")
QR_NOTICE = (
    "QRコードを汚したり、折り曲げたりしないでください。",
    "Protect the QR code from marks and folds.",
    "Protect the QR codes from marks and folds.",
)
STATEMENT = (
    "上記の者が新型コロナウイルス感染症の予防接種を受けたことを証明します。",
    "This certifies that the person named above received the COVID-19 vaccinations listed.",
)
ISSUER = ("発行者", "Issued by")
MUNICIPALITY_CODE = ("市区町村コード", "Municipality code")

# Simplified Chinese and Korean (issue 13): the official text stays Japanese/English (formats.md
# §3), so these are not labels but a reading aid: one line per language in the bottom margin,
# naming the page's labels in page order. Keyed by the Japanese label they translate.
LABELS_ZH_KO: dict[str, tuple[str, str]] = {
    TITLE_JA: ("新冠病毒疫苗接种证明书", "코로나19 예방접종 증명서"),
    "日本国内用": ("日本国内使用", "일본 국내용"),
    "海外用及び日本国内用": ("海外及日本国内使用", "해외 및 일본 국내용"),
    CERTIFICATE_ID[0]: ("证明书ID", "증명서 ID"),
    ISSUE_DATE[0]: ("发行日期", "발급일"),
    HOLDER_HEADING[0]: ("接种者", "접종자"),
    NAME[0]: ("姓名", "성명"),
    NAME_ROMAN[0]: ("姓名（罗马字）", "성명(로마자)"),
    BIRTH_DATE[0]: ("出生日期", "생년월일"),
    NATIONALITY[0]: ("国籍", "국적"),
    PASSPORT[0]: ("护照号码", "여권 번호"),
    DOSES_HEADING[0]: ("接种记录", "접종 기록"),
    "接種回": ("剂次", "접종 회차"),
    "接種年月日": ("接种日期", "접종일"),
    "ワクチン名": ("疫苗名称", "백신명"),
    "メーカー名": ("生产厂家", "제조사"),
    "ロット番号": ("批号", "로트 번호"),
    "接種国": ("接种国家", "접종 국가"),
    SHC_CAPTION[0]: ("二维码（SMART Health Card）", "QR 코드(SMART Health Card)"),
    VDSNC_CAPTION[0]: ("二维码（ICAO VDS-NC）", "QR 코드(ICAO VDS-NC)"),
    "QRコード": ("二维码", "QR 코드"),  # the legend's short name for both captions
    ISSUER[0]: ("发行者", "발급자"),
    MUNICIPALITY_CODE[0]: ("市区町村代码", "시구정촌 코드"),
}
LEGEND_LANGUAGES = (("中文", 0), ("한국어", 1))
# IPAex Gothic has no Hangul: the legend uses WenQuanYi Zen Hei (Debian fonts-wqy-zenhei, GPL-2
# with the font embedding exception; TrueType outlines with Hangul, hanzi and Latin), embedded as
# a subset of the glyphs drawn: ≈ 9 KB more per PDF (docs/certificate-pdf.md).
LEGEND_FONT_NAME = "WenQuanYiZenHei"
LEGEND_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")


@functools.cache
def _face(name: str) -> TrueTypeFace:
    """The face of font ``name``, parsed once per process (≈ 30-60 ms for IPAex Gothic)."""
    if name == LEGEND_FONT_NAME:
        return TrueTypeFace(LEGEND_FONT, 0)
    if name != FONT_NAME:
        raise ValueError(f"no font named {name}")
    return TrueTypeFace(font_path())


def font_path() -> Path:
    """Where IPAex Gothic is: the matplotlib-fontja package, else Debian's font package."""
    candidates: list[Path] = []
    # find_spec locates the package without importing it (its __init__ imports matplotlib).
    spec = importlib.util.find_spec("matplotlib_fontja")
    if spec is not None and spec.submodule_search_locations:
        candidates += [Path(p) / "fonts" / FONT_FILE for p in spec.submodule_search_locations]
    candidates.append(DEBIAN_FONT)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise VaxcertError(
        "certificate_unprintable",
        "IPAex Gothic not found: `make` installs matplotlib-fontja, or apt fonts-ipaexfont-gothic",
    )


def register_font() -> None:
    """Load IPAex Gothic once per process (at start-up, so no request pays for it)."""
    _face(FONT_NAME)


def covered_characters(font: str = FONT_NAME) -> Mapping[int, int]:
    """Code point → glyph id of every character ``font`` can draw."""
    return _face(font).cmap


@functools.cache
def _label_font() -> FixedFont:
    """IPAex Gothic's subset for the labels (made once per process)."""
    return FixedFont(_face(FONT_NAME), "F1", _label_characters())


def _label_characters() -> frozenset[str]:
    """What the fixed subset of IPAex Gothic holds: every character of the page's labels, ASCII
    and the ideographic space (names). Most of a page's text is set in it, so a document's own
    subset holds only the rest (the kanji and kana of the name, municipality and vaccines).
    """
    labels: list[str] = [TITLE_JA, TITLE_EN, *QR_NOTICE, *STATEMENT]
    for pair in (
        *KIND_LABELS.values(),
        CERTIFICATE_ID,
        ISSUE_DATE,
        HOLDER_HEADING,
        NAME,
        NAME_ROMAN,
        BIRTH_DATE,
        NATIONALITY,
        PASSPORT,
        DOSES_HEADING,
        SHC_CAPTION,
        VDSNC_CAPTION,
        ISSUER,
        MUNICIPALITY_CODE,
    ):
        labels += pair
    labels += [name for column in DOSE_COLUMNS for name in column[:2]]
    return frozenset("".join(labels)) | frozenset(map(chr, range(0x20, 0x7F))) | {"\u3000"}


def legend_font_available() -> bool:
    """Whether the zh/ko legend can be drawn (Debian fonts-wqy-zenhei is installed)."""
    if not LEGEND_FONT.is_file():
        return False
    _face(LEGEND_FONT_NAME)
    return True


def page_codes(issued: CertificateIssued) -> list[PageCode]:
    """Check that ``issued`` can be printed honestly and build its QR symbols.

    Both renderers (this PDF and the image of :mod:`vaxcert.certificate.image`) take the result,
    so a caller making both encodes the codes once.
    """
    register_font()
    _check_filled(issued)
    _check_glyphs(issued)
    return _codes(issued)


def render_certificate(
    issued: CertificateIssued, *, copies: int = 1, codes: Sequence[PageCode] | None = None
) -> bytes:
    """The certificate as PDF bytes: ``copies`` identical A4 pages, built in memory (C08).

    ``codes``: :func:`page_codes` of this very ``issued``, when the caller has them already.
    The page is drawn once, as a form XObject that every page places, so copies cost nothing.
    """
    if not 1 <= copies <= MAX_COPIES:
        raise ValueError(f"copies must be 1..{MAX_COPIES}")
    if codes is None:
        codes = page_codes(issued)
    document = PdfFile()  # C08: the PDF exists only in this process's memory
    pen = _PdfPen(document)
    draw_page(pen, issued, codes)
    form = pen.finish()
    catalog, pages = document.reserve(), document.reserve()
    content = document.add_stream("", b"q /Certificate Do Q")
    kids = [
        document.add(
            f"<< /Type /Page /Parent {pages} 0 R"
            f" /MediaBox [0 0 {pdf_number(PAGE_WIDTH)} {pdf_number(PAGE_HEIGHT)}]"
            f" /Resources << /XObject << /Certificate {form} 0 R >> >> /Contents {content} 0 R >>"
        )
        for _ in range(copies)
    ]
    references = " ".join(f"{kid} 0 R" for kid in kids)
    document.put(pages, f"<< /Type /Pages /Kids [{references}] /Count {copies} >>")
    document.put(catalog, f"<< /Type /Catalog /Pages {pages} 0 R >>")
    # Generic metadata only: no name or id of the holder outside the page itself.
    info = document.add(
        f"<< /Title {text_string(TITLE_JA)} /Subject {text_string(TITLE_EN)}"
        " /Author (vaxcert) /Creator (vaxcert) /Producer (vaxcert) >>"
    )
    return document.serialise(catalog, info)


def _printed_fields(issued: CertificateIssued) -> list[tuple[str, str, bool]]:
    """Every value the page states: (what it is, the value, whether it must not be blank).
    The optional ones (海外用's passport data, checked by _codes; the mayor, who has a default)
    may be empty."""
    holder = issued.holder
    municipality = issued.municipality
    fields = [
        ("the certificate id", issued.certificate_id, True),
        ("the holder's name", holder.name, True),
        ("the romanised name", holder.name_roman or "", False),
        ("the nationality", holder.nationality or "", False),
        ("the passport number", holder.passport_number or "", False),
        ("the municipality code", municipality.code, True),
        ("the municipality's name", municipality.name_ja, True),
        ("the municipality's English name", municipality.name_en, True),
        ("the mayor", municipality.mayor_ja, False),
    ]
    for number, dose in enumerate(issued.doses, start=1):
        for what, value in (
            ("vaccine", dose.product_ja),
            ("vaccine (en)", dose.product_en),
            ("manufacturer", dose.maker_ja),
            ("manufacturer (en)", dose.maker_en),
            ("lot", dose.lot),
            ("country", dose.country),
        ):
            fields.append((f"dose {number}'s {what}", value, True))
    return fields


def _check_filled(issued: CertificateIssued) -> None:
    """Refuse a blank value the page states: a certificate with an empty name, id, lot or vaccine
    would look complete and certify nothing (the contract's strings may be empty; a signed reply's
    never are, so this is a fault upstream). The detail never quotes a value (C08)."""
    for what, value, required in _printed_fields(issued):
        if required and not value.strip():  # str.strip removes the ideographic space U+3000 too
            raise VaxcertError("certificate_unprintable", f"{what} is blank")


def _check_glyphs(issued: CertificateIssued) -> None:
    """Refuse data the font cannot draw: a missing glyph would print as an empty box (e.g. a
    name with a character outside JIS X 0208 such as 𠮷); the detail never names it (C08)."""
    covered = covered_characters()
    for what, value, _ in _printed_fields(issued):
        if any(ord(character) not in covered for character in value):
            raise VaxcertError("certificate_unprintable", f"{what} has a character without a glyph")
        # The font draws these too, but not as the text means them: a soft hyphen or a format
        # character prints as a visible mark, a decomposed (NFD) kana as the kana and a separate
        # dakuten. Card data is composed (NFC); anything else is a fault upstream.
        if not unicodedata.is_normalized("NFC", value) or any(
            unicodedata.category(character) in _UNPRINTABLE_CATEGORIES for character in value
        ):
            raise VaxcertError("certificate_unprintable", f"{what} is not printable text")


# Controls, format characters (soft hyphen, zero-width joiners, directional marks), private use.
_UNPRINTABLE_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs"})


@dataclass(frozen=True)
class PageCode:
    """A QR symbol to draw and its caption."""

    matrix: QrMatrix
    caption: tuple[str, str]


def _codes(issued: CertificateIssued) -> list[PageCode]:
    if issued.kind == "overseas":
        if issued.vdsnc is None:
            raise VaxcertError("certificate_unprintable", "an overseas certificate without VDS-NC")
        holder = issued.holder
        passport_data = (holder.name_roman, holder.nationality, holder.passport_number)
        if not all(value and value.strip() for value in passport_data):
            raise VaxcertError("certificate_unprintable", "an overseas holder lacks passport data")
    elif issued.vdsnc is not None:
        raise VaxcertError("certificate_unprintable", "a domestic certificate with a VDS-NC")
    if not issued.doses:
        raise VaxcertError("certificate_unprintable", "a certificate without doses")
    try:
        codes = [PageCode(shc_matrix(issued.shc_qr_text), SHC_CAPTION)]
        if issued.vdsnc is not None:
            codes.append(PageCode(vdsnc_matrix(issued.vdsnc), VDSNC_CAPTION))
    except ValueError as exc:
        raise VaxcertError("certificate_unprintable", str(exc)) from exc
    return codes


def fitted_size(value: str, size: float, width: float | None, font: str = FONT_NAME) -> float:
    """The font size that makes ``value`` at most ``width`` points wide (never below 4 pt)."""
    if width is not None:
        face = _face(font)
        natural = face.advance_units(face.glyph_ids(value)) * size / face.units_per_em
        if natural > width:
            return _fitted(size, natural, width)[0]
    return size


def _fitted(size: float, natural: float, width: float) -> tuple[float, float]:
    """The size that makes a string ``natural`` points wide at ``size`` fit ``width``, and its
    width at that size (never below 4 pt: a longer value overflows rather than vanish)."""
    fitted = max(4.0, size * width / natural)
    return fitted, natural * fitted / size


class Pen(Protocol):
    """What the page layout draws with, in points from the page's lower-left corner: the PDF
    canvas here, the certificate image in :mod:`vaxcert.certificate.image` (one layout, so the
    image shows what the PDF shows)."""

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
        font: str = FONT_NAME,
        public: bool = False,
    ) -> None:
        """Draw ``value`` with its baseline at ``y``, shrunk to fit ``width`` when given.

        ``public``: the value is a label or comes from a public catalogue (vaccines,
        municipalities), never from the holder's record, so a pen may keep it across pages (C08).
        """

    def rule(self, x1: float, y1: float, x2: float, y2: float, width: float = 0.5) -> None:
        """A thin grey line."""

    def box(self, x: float, y: float, width: float, height: float) -> None:
        """A thin grey rectangle (x, y: lower left)."""

    def qr(self, x: float, top: float, size: float, code: QrMatrix) -> None:
        """The symbol with its upper-left corner at (x, top) and ``size`` points wide."""


class _PdfPen:
    """The :class:`Pen` writing the page's content stream: text in the embedded fonts (glyph
    ids, Identity-H), grey rules and boxes, and each QR symbol as one filled vector path."""

    def __init__(self, document: PdfFile) -> None:
        self.document = document
        self.operators: list[str] = []
        self.labels = _label_font()
        self.fonts = {
            FONT_NAME: FontUse(_face(FONT_NAME), "F3"),
            LEGEND_FONT_NAME: FontUse(_face(LEGEND_FONT_NAME), "F2")
            if legend_font_available()
            else None,
        }
        self.texts: list[tuple[int, FontUse, list[int]]] = []  # (operator index, font, glyphs)

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
        font: str = FONT_NAME,
        public: bool = False,
    ) -> None:
        """:meth:`Pen.text`: text that the labels' fixed subset covers is encoded at once (a
        public value's encoding is cached, C08); other text waits for the document's subset."""
        use = self.fonts[font]
        if use is None:
            raise ValueError(f"font {font} is not installed")
        labels = self.labels
        string_end: str | None = None  # known now for the labels' subset, else at finish
        if font == FONT_NAME and labels.covers(value):
            hexes, units = labels.encode_public(value) if public else labels.encode(value)
            resource, units_per_em = labels.resource, labels.face.units_per_em
            string_end = "> Tj ET"
        else:
            glyphs = use.glyphs(value, public=public)
            hexes, units = "", use.face.advance_units(glyphs)
            resource, units_per_em = use.resource, use.face.units_per_em
            # The string itself once the document's subset is numbered (finish).
            self.texts.append((len(self.operators), use, glyphs))
        natural = units * size / units_per_em
        if width is not None and natural > width:
            size, natural = _fitted(size, natural, width)
        if align != "left":
            x -= natural / 2 if align == "center" else natural
        self.operators.append(
            f"{GREY if grey else 0} g BT /{resource} {pdf_number(size)} Tf"
            f" {pdf_number(x)} {pdf_number(y)} Td <{hexes}{string_end or ''}"
        )

    def rule(self, x1: float, y1: float, x2: float, y2: float, width: float = 0.5) -> None:
        """A thin grey line."""
        self.operators.append(
            f"{RULE_GREY} G {pdf_number(width)} w {pdf_number(x1)} {pdf_number(y1)} m"
            f" {pdf_number(x2)} {pdf_number(y2)} l S"
        )

    def box(self, x: float, y: float, width: float, height: float) -> None:
        """A thin grey rectangle (x, y: lower left)."""
        self.operators.append(
            f"{RULE_GREY} G 0.6 w {pdf_number(x)} {pdf_number(y)} {pdf_number(width)}"
            f" {pdf_number(height)} re S"
        )

    def qr(self, x: float, top: float, size: float, code: QrMatrix) -> None:
        """The symbol with its upper-left corner at (x, top) and ``size`` points wide."""
        self.operators.append(_qr_path(code, x, top, size / code.size))

    def finish(self) -> int:
        """Write the fonts and the page as a form XObject; its object number."""
        fonts = " ".join(
            f"/{use.resource} {use.embed(self.document)} 0 R"
            for use in (self.labels, *self.fonts.values())
            if use is not None and use.characters
        )
        for index, use, glyphs in self.texts:
            self.operators[index] += use.hex(glyphs) + "> Tj ET"
        return self.document.add_stream(
            f"/Type /XObject /Subtype /Form"
            f" /BBox [0 0 {pdf_number(PAGE_WIDTH)} {pdf_number(PAGE_HEIGHT)}]"
            f" /Resources << /Font << {fonts} >> >>",
            "\n".join(self.operators).encode("ascii"),
        )


def _qr_path(code: QrMatrix, x: float, top: float, module: float) -> str:
    """PDF operators filling the dark modules as one path: one rectangle per horizontal run.

    Vector, not an image: viewers smooth an upscaled 1-bit image (PDFium greys every module
    edge), while a path prints every module as a solid square. The ≈ 4 000 rectangles of a
    v37 symbol are written by numpy as fixed-width records (zero-padded integers are valid PDF
    numbers, 7.3.3), ≈ 40 times faster than formatting them one by one.
    """
    size = code.size
    padded = np.zeros((size, size + 2), dtype=np.int8)
    padded[:, 1:-1] = code.modules
    edges = np.diff(padded, axis=1)
    rows, starts = np.nonzero(edges == 1)
    _, ends = np.nonzero(edges == -1)  # row-major order pairs each end with its start
    records = np.empty((len(rows), len(_RUN_RECORD)), dtype=np.uint8)
    records[:] = np.frombuffer(_RUN_RECORD, dtype=np.uint8)
    # Module units, origin at the symbol's top-left corner, y downwards: "XXX YYY WWW 1 re".
    for column, values in ((0, starts), (4, rows), (8, ends - starts)):
        records[:, column] += (values // 100).astype(np.uint8)
        records[:, column + 1] += (values // 10 % 10).astype(np.uint8)
        records[:, column + 2] += (values % 10).astype(np.uint8)
    body = records.tobytes().decode("ascii")
    # Six decimals for the module: its error is multiplied by up to 177 modules.
    scale = f"{module:.6f} 0 0 {-module:.6f} {pdf_number(x)} {pdf_number(top)}"
    return f"q 0 g {scale} cm\n{body}f Q"


_RUN_RECORD = b"000 000 000 1 re\n"  # QR symbols have at most 177 modules a side


def draw_page(pen: Pen, issued: CertificateIssued, codes: Sequence[PageCode]) -> None:
    left = MARGIN
    right = PAGE_WIDTH - MARGIN
    centre = PAGE_WIDTH / 2
    y = PAGE_HEIGHT - 17 * mm
    pen.text(centre, y, TITLE_JA, 17, align="center", public=True)
    y -= 7 * mm
    pen.text(centre, y, TITLE_EN, 12, align="center", public=True)
    y -= 6 * mm
    kind_ja, kind_en = KIND_LABELS[issued.kind]
    pen.text(centre, y, f"{kind_ja} / {kind_en}", 9.5, align="center", public=True)
    y -= 9 * mm
    _label(pen, left, y, CERTIFICATE_ID)
    pen.text(left + 27 * mm, y - 1.2 * mm, issued.certificate_id, 12)
    _label(pen, centre + 20 * mm, y, ISSUE_DATE)
    pen.text(right, y - 1.2 * mm, _date(issued.issue_date), 11, align="right")
    y -= 5 * mm
    pen.rule(left, y, right, y, 0.8)

    y -= 7 * mm
    y = _holder(pen, issued, y)
    y -= 7 * mm
    y = _doses(pen, issued, y)
    footer_top = FOOTER_TOP
    _codes_block(pen, codes, y - 4 * mm, footer_top)
    _footer(pen, issued, footer_top)
    _legend(pen, issued)


def legend_lines(issued: CertificateIssued) -> list[str]:
    """The zh and ko lines: the title and kind, then the labels this page shows, in page order."""
    labels = [CERTIFICATE_ID[0], ISSUE_DATE[0], HOLDER_HEADING[0], NAME[0]]
    if issued.kind == "overseas":
        labels += [NAME_ROMAN[0]]
    labels += [BIRTH_DATE[0]]
    if issued.kind == "overseas":
        labels += [NATIONALITY[0], PASSPORT[0]]
    labels += [DOSES_HEADING[0], *(column[0] for column in DOSE_COLUMNS), "QRコード"]
    labels += [ISSUER[0], MUNICIPALITY_CODE[0]]
    kind = KIND_LABELS[issued.kind][0]
    lines = []
    for language, index in LEGEND_LANGUAGES:
        title = LABELS_ZH_KO[TITLE_JA][index]
        names = " · ".join(LABELS_ZH_KO[label][index] for label in labels)
        lines.append(f"{language}: {title}({LABELS_ZH_KO[kind][index]}) — {names}")
    return lines


def _legend(pen: Pen, issued: CertificateIssued) -> None:
    """zh/ko reading aid in the bottom margin, below the official text (no layout change)."""
    if not legend_font_available():
        # The official page is complete without it: a machine without apt still prints.
        log.warning("no zh/ko legend on the certificate: apt install fonts-wqy-zenhei")
        return
    y = 8.5 * mm
    for line in legend_lines(issued):
        pen.text(
            MARGIN, y, line, 6, width=CONTENT_WIDTH, grey=True, font=LEGEND_FONT_NAME, public=True
        )
        y -= 3 * mm


def _label(pen: Pen, x: float, y: float, label: tuple[str, str]) -> None:
    """A two-line label: Japanese on ``y``, English in small grey type below it."""
    pen.text(x, y, label[0], 8.5, public=True)
    pen.text(x, y - 3.2 * mm, label[1], 6.5, grey=True, public=True)


def _heading(pen: Pen, x: float, y: float, heading: tuple[str, str]) -> None:
    pen.text(x, y, f"{heading[0]}  {heading[1]}", 10, public=True)


def _date(value: dt.date) -> str:
    return value.isoformat()  # 2023-12-20: one form readable in both languages


def _holder(pen: Pen, issued: CertificateIssued, top: float) -> float:
    """The holder block: name and birth date; for 海外用 the passport data in a second column."""
    holder = issued.holder
    first: list[tuple[tuple[str, str], str, float]] = [(NAME, holder.name, 14)]
    second: list[tuple[tuple[str, str], str, float]] = []
    if issued.kind == "overseas":
        first.append((NAME_ROMAN, holder.name_roman or "", 12))
        second = [
            (NATIONALITY, holder.nationality or "", 12),
            (PASSPORT, holder.passport_number or "", 12),
        ]
    first.append((BIRTH_DATE, _date(holder.birth_date), 12))
    _heading(pen, MARGIN, top, HOLDER_HEADING)
    row_height = 8.5 * mm
    box_top = top - 3 * mm
    box_height = row_height * len(first) + 1.5 * mm
    pen.box(MARGIN, box_top - box_height, CONTENT_WIDTH, box_height)
    split = MARGIN + CONTENT_WIDTH * (0.62 if second else 1.0)
    columns = [(first, MARGIN, split), (second, split, MARGIN + CONTENT_WIDTH)]
    if second:
        pen.rule(split, box_top, split, box_top - box_height, 0.3)
    for rows, x0, x1 in columns:
        label_width = 35 * mm if x0 == MARGIN else 25 * mm
        y = box_top - 5 * mm
        for index, (label, value, size) in enumerate(rows):
            _label(pen, x0 + 3 * mm, y, label)
            value_x = x0 + label_width
            pen.text(value_x, y - 1.6 * mm, value, size, width=x1 - value_x - 3 * mm)
            if index < len(rows) - 1:
                pen.rule(x0 + 2 * mm, y - 4.6 * mm, x1 - 2 * mm, y - 4.6 * mm, 0.3)
            y -= row_height
    return box_top - box_height


def _doses(pen: Pen, issued: CertificateIssued, top: float) -> float:
    _heading(pen, MARGIN, top, DOSES_HEADING)
    table_top = top - 3 * mm
    header_height = 8.5 * mm
    row_height = 8.2 * mm
    height = header_height + row_height * len(issued.doses)
    pen.box(MARGIN, table_top - height, CONTENT_WIDTH, height)
    edges = [MARGIN]
    for _, _, width in DOSE_COLUMNS:
        edges.append(edges[-1] + width * mm)
    for edge in edges[1:-1]:
        pen.rule(edge, table_top, edge, table_top - height, 0.3)
    pen.rule(MARGIN, table_top - header_height, MARGIN + CONTENT_WIDTH, table_top - header_height)
    for (ja, en, _), x0, x1 in zip(DOSE_COLUMNS, edges, edges[1:], strict=False):
        middle = (x0 + x1) / 2
        inner = x1 - x0 - 2 * mm
        pen.text(middle, table_top - 3.8 * mm, ja, 8, align="center", width=inner, public=True)
        pen.text(
            middle, table_top - 7 * mm, en, 6.5, align="center", width=inner, grey=True, public=True
        )
    y = table_top - header_height
    for index, dose in enumerate(issued.doses):
        # The third item: public (the dose's ordinal, the vaccine catalogue, a country code).
        cells = (
            (str(dose.dose_number), None, True),
            (_date(dose.date), None, False),
            (dose.product_ja, dose.product_en, True),
            (dose.maker_ja, dose.maker_en, True),
            (dose.lot, None, False),
            (dose.country, None, True),
        )
        for (first, second, public), x0, x1 in zip(cells, edges, edges[1:], strict=False):
            inner = x1 - x0 - 2.5 * mm
            if second is None:
                pen.text(
                    (x0 + x1) / 2,
                    y - 5.2 * mm,
                    first,
                    9.5,
                    align="center",
                    width=inner,
                    public=public,
                )
            else:
                pen.text(x0 + 1.5 * mm, y - 3.7 * mm, first, 8.5, width=inner, public=public)
                pen.text(
                    x0 + 1.5 * mm,
                    y - 6.9 * mm,
                    second,
                    6.5,
                    width=inner,
                    grey=True,
                    public=public,
                )
        y -= row_height
        if index < len(issued.doses) - 1:
            pen.rule(MARGIN, y, MARGIN + CONTENT_WIDTH, y, 0.3)
    return table_top - height


def _codes_block(pen: Pen, codes: Sequence[PageCode], top: float, bottom: float) -> None:
    caption_height = 7.5 * mm  # two caption lines, descenders included
    notice_height = 4.5 * mm
    notice_rise = 2.2 * mm  # the notice's glyphs above its baseline
    # ISO 18004: QUIET_ZONE light modules around each symbol, free of captions and the notice.
    # Symbols share one top line, so the margin is that of the largest modules.
    fewest_modules = min(code.matrix.size for code in codes)
    light = 2 * QUIET_ZONE / fewest_modules
    available = (top - bottom - caption_height - notice_height) / (1 + light)
    gap = 12 * mm
    per_code = (CONTENT_WIDTH - gap * (len(codes) - 1)) / len(codes)
    size = min(MAX_QR_MM * mm, available, per_code)
    if size < MIN_QR_MM * mm:
        raise VaxcertError(
            "certificate_unprintable", f"{len(codes)} QR codes do not fit at {MIN_QR_MM} mm"
        )
    quiet = QUIET_ZONE * size / fewest_modules
    gap = max(gap, 2 * quiet)
    total = size * len(codes) + gap * (len(codes) - 1)
    x = (PAGE_WIDTH - total) / 2
    for code in codes:
        middle = x + size / 2
        pen.text(middle, top - 3.5 * mm, code.caption[0], 8.5, align="center", public=True)
        pen.text(
            middle, top - 6.8 * mm, code.caption[1], 6.5, align="center", grey=True, public=True
        )
        pen.qr(x, top - caption_height - quiet, size, code.matrix)
        x += size + gap
    notice_y = top - caption_height - quiet - size - quiet - notice_rise
    notice_en = QR_NOTICE[1] if len(codes) == 1 else QR_NOTICE[2]
    notice = f"{QR_NOTICE[0]}  {notice_en}"
    pen.text(PAGE_WIDTH / 2, notice_y, notice, 7, align="center", public=True)


def _footer(pen: Pen, issued: CertificateIssued, top: float) -> None:
    left = MARGIN
    right = PAGE_WIDTH - MARGIN
    pen.rule(left, top, right, top, 0.8)
    y = top - 5.5 * mm
    pen.text(left, y, STATEMENT[0], 9.5, width=CONTENT_WIDTH, public=True)
    pen.text(left, y - 4.2 * mm, STATEMENT[1], 8, width=CONTENT_WIDTH, grey=True, public=True)
    y -= 12 * mm
    municipality = issued.municipality
    _label(pen, left, y, ISSUER)
    mayor = municipality.mayor_ja or f"{municipality.name_ja}長"  # the mayor issues it
    # The municipality and its mayor come from the public municipality catalogue.
    pen.text(left + 22 * mm, y - 1.2 * mm, mayor, 14, public=True)
    pen.text(
        left + 22 * mm, y - 6.2 * mm, f"Mayor of {municipality.name_en}", 9, grey=True, public=True
    )
    _label(pen, right - 55 * mm, y, MUNICIPALITY_CODE)
    pen.text(right, y - 1.2 * mm, municipality.code, 11, align="right", public=True)
    pen.text(
        right,
        y - 6.2 * mm,
        f"{municipality.name_ja} / {municipality.name_en}",
        8,
        align="right",
        grey=True,
        public=True,
    )
