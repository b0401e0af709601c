"""The printed certificate (vaxcert/certificate/pdf.py), from really signed replies of the center.

Read back as a person and a verifier would: pypdf for pages and text, pypdfium2 to rasterise the
page and zxing-cpp to scan the QR codes off it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pypdf
import pytest
from PIL import Image, ImageDraw, ImageFont

from tests.support.qr import SCAN_DPI, pdf_page, read_qr
from vaxcert.certificate import image, pdf, truetype
from vaxcert.certificate.qrmatrix import shc_matrix, vdsnc_matrix
from vaxcert.contracts.kiosk_api import CertificateIssued
from vaxcert.errors import VaxcertError

ROOT = Path(__file__).resolve().parents[2]


def _text(document: bytes, page: int = 0) -> str:
    return pypdf.PdfReader(io.BytesIO(document)).pages[page].extract_text()


def _scan(document: bytes, page: int = 0) -> list[Any]:
    return read_qr(pdf_page(document, page))


def _width_mm(barcode: Any) -> float:
    position = barcode.position
    dx = position.top_right.x - position.top_left.x
    dy = position.top_right.y - position.top_left.y
    return float((dx * dx + dy * dy) ** 0.5) / SCAN_DPI * 25.4


@pytest.fixture(scope="module")
def overseas_pdf(overseas_issued: CertificateIssued) -> bytes:
    return pdf.render_certificate(overseas_issued)


@pytest.fixture(scope="module")
def domestic_pdf(domestic_issued: CertificateIssued) -> bytes:
    return pdf.render_certificate(domestic_issued)


def test_overseas_page_states_labels_holder_and_every_dose(
    overseas_pdf: bytes, overseas_issued: CertificateIssued
) -> None:
    reader = pypdf.PdfReader(io.BytesIO(overseas_pdf))
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)  # A4 in points
    text = _text(overseas_pdf)
    labels = [
        pdf.TITLE_JA,
        pdf.TITLE_EN,
        *pdf.KIND_LABELS["overseas"],
        *pdf.CERTIFICATE_ID,
        *pdf.ISSUE_DATE,
        *pdf.NAME,
        *pdf.NAME_ROMAN,
        *pdf.BIRTH_DATE,
        *pdf.NATIONALITY,
        *pdf.PASSPORT,
        *pdf.ISSUER,
        *(label for ja, en, _ in pdf.DOSE_COLUMNS for label in (ja, en)),
    ]
    for label in labels:
        assert label in text, label
    holder = overseas_issued.holder
    assert holder.name_roman and holder.nationality and holder.passport_number
    for value in (
        holder.name,  # kanji, family and given name joined by U+3000 as on the card
        holder.name_roman,
        holder.birth_date.isoformat(),
        holder.nationality,
        holder.passport_number,
        overseas_issued.certificate_id,
        overseas_issued.issue_date.isoformat(),
        overseas_issued.municipality.mayor_ja,
        f"Mayor of {overseas_issued.municipality.name_en}",
        overseas_issued.municipality.code,
    ):
        assert value in text, value
    lines = text.splitlines()
    assert len(overseas_issued.doses) == 7
    previous = -1
    for dose in overseas_issued.doses:
        # One row per dose, one line of text, in the reply's order: number, date, product
        # ja/en, maker ja/en, lot, country.
        row = [
            str(dose.dose_number),
            dose.date.isoformat(),
            dose.product_ja,
            dose.product_en,
            dose.maker_ja,
            dose.maker_en,
            dose.lot,
            dose.country,
        ]
        line = lines.index(" ".join(row))
        assert line > previous
        previous = line


def test_c04_domestic_page_carries_no_passport_data(
    domestic_pdf: bytes, domestic_issued: CertificateIssued
) -> None:
    text = _text(domestic_pdf)
    assert domestic_issued.holder.name in text
    assert domestic_issued.holder.birth_date.isoformat() in text
    assert all(label in text for label in pdf.KIND_LABELS["domestic"])
    for absent in (*pdf.NAME_ROMAN, *pdf.PASSPORT, *pdf.NATIONALITY, *pdf.VDSNC_CAPTION):
        assert absent not in text
    assert domestic_issued.holder.passport_number is None
    assert "TZ999" not in text  # the canary's passport numbers


def _fonts(resources: Any) -> list[Any]:
    resources = resources.get_object()
    found = [font.get_object() for font in resources.get("/Font", {}).values()]
    for xobject in resources.get("/XObject", {}).values():
        xobject = xobject.get_object()
        if xobject.get("/Subtype") == "/Form" and "/Resources" in xobject:
            found += _fonts(xobject["/Resources"])
    return found


def test_japanese_font_is_embedded_truetype(overseas_pdf: bytes) -> None:
    page = pypdf.PdfReader(io.BytesIO(overseas_pdf)).pages[0]
    fonts = _fonts(page["/Resources"])
    assert fonts
    for font in fonts:
        descendant = (
            font["/DescendantFonts"][0].get_object() if "/DescendantFonts" in font else font
        )
        descriptor = descendant["/FontDescriptor"].get_object()
        # FontFile2: TrueType outlines embedded; a viewer never substitutes another font.
        assert "/FontFile2" in descriptor, font["/BaseFont"]
        # IPAex Gothic for the page; WenQuanYi Zen Hei only for the zh/ko legend (Hangul).
        assert str(font["/BaseFont"]).endswith(("+IPAexGothic", "+WenQuanYiZenHei")), font
        assert font["/Subtype"] == "/Type0" and "/ToUnicode" in font  # text stays searchable


def test_the_zh_ko_legend_names_the_labels_of_the_page(
    overseas_pdf: bytes, domestic_pdf: bytes, overseas_issued: CertificateIssued
) -> None:
    assert pdf.legend_font_available()
    covered = pdf.covered_characters(pdf.LEGEND_FONT_NAME)
    domestic_issued = overseas_issued.model_copy(update={"kind": "domestic"})
    for document, issued in ((overseas_pdf, overseas_issued), (domestic_pdf, domestic_issued)):
        text = _text(document)
        zh, ko = pdf.legend_lines(issued)
        assert "新冠病毒疫苗接种证明书" in zh and "코로나19 예방접종 증명서" in ko
        # C04: the passport labels only on 海外用.
        assert ("护照号码" in zh) == (issued.kind == "overseas")
        for line in (zh, ko):
            assert all(ord(character) in covered for character in line), line  # no empty box
            for word in line.split(" · ")[1:-1]:
                assert word in text, word


@pytest.mark.parametrize("kind", ["overseas", "domestic"])
def test_qr_codes_scan_to_exactly_the_center_texts(
    kind: str,
    overseas_pdf: bytes,
    domestic_pdf: bytes,
    overseas_issued: CertificateIssued,
    domestic_issued: CertificateIssued,
) -> None:
    document, issued = (
        (overseas_pdf, overseas_issued) if kind == "overseas" else (domestic_pdf, domestic_issued)
    )
    barcodes = _scan(document)
    by_text = {barcode.text: barcode for barcode in barcodes}
    expected = {issued.shc_qr_text} | ({issued.vdsnc} if issued.vdsnc else set())
    assert len(barcodes) == len(expected)
    assert set(by_text) == expected
    card = by_text[issued.shc_qr_text]
    assert card.extra["ECLevel"] == "L"
    assert int(card.extra["Version"]) <= 22
    assert card.extra["DataMask"] == shc_matrix(issued.shc_qr_text).mask
    if issued.vdsnc:
        seal = by_text[issued.vdsnc]
        assert seal.extra["ECLevel"] == "M"
        assert seal.symbology_identifier == "]Q1"  # no ECI (]Q2 would mean one)
        assert seal.extra["DataMask"] == vdsnc_matrix(issued.vdsnc).mask
        assert seal.bytes == issued.vdsnc.encode("ascii")
    for barcode in barcodes:
        assert _width_mm(barcode) >= pdf.MIN_QR_MM


def test_overseas_codes_stand_side_by_side(overseas_pdf: bytes) -> None:
    barcodes = _scan(overseas_pdf)
    tops = sorted(barcode.position.top_left.y for barcode in barcodes)
    lefts = sorted(barcode.position.top_left.x for barcode in barcodes)
    assert abs(tops[1] - tops[0]) < 0.05 * SCAN_DPI  # same height on the page
    assert lefts[1] - lefts[0] > pdf.MIN_QR_MM / 25.4 * SCAN_DPI  # one beside the other


@pytest.mark.parametrize("doses", [1, 10])
def test_every_code_keeps_a_quiet_zone_of_4_modules(
    doses: int, overseas_issued: CertificateIssued
) -> None:
    """ISO 18004: nothing printed (caption, notice, the other code) within 4 modules of a symbol,
    with the fewest doses (largest codes) and the most (smallest)."""
    issued = overseas_issued.model_copy(update={"doses": (overseas_issued.doses * 4)[:doses]})
    dpi = 300
    page = pdf_page(pdf.render_certificate(issued), dpi=dpi).convert("L")
    barcodes = read_qr(page)
    assert len(barcodes) == 2
    for barcode in barcodes:
        corners = barcode.position
        left, top = corners.top_left.x, corners.top_left.y
        right, bottom = corners.bottom_right.x, corners.bottom_right.y
        module = (right - left) / (17 + 4 * int(barcode.extra["Version"]))
        margin = pdf.QUIET_ZONE * module
        # The band from just outside the symbol to 4 modules out must be blank paper.
        outer = (left - margin, top - margin, right + margin, bottom + margin)
        inner = (left - module, top - module, right + module, bottom + module)
        dark = []
        for y in range(int(outer[1]), int(outer[3]) + 1):
            for x in range(int(outer[0]), int(outer[2]) + 1):
                inside = inner[0] <= x <= inner[2] and inner[1] <= y <= inner[3]
                if not inside and page.getpixel((x, y)) < 160:
                    dark.append((x, y))
        assert dark == [], f"{len(dark)} dark pixels in the quiet zone, first at {dark[:3]}"


def test_ten_doses_still_leave_codes_of_35_mm(overseas_issued: CertificateIssued) -> None:
    # The content model allows 10 doses: the longest table the page must still hold.
    doses = overseas_issued.doses + overseas_issued.doses[:3]
    document = pdf.render_certificate(overseas_issued.model_copy(update={"doses": doses}))
    assert len(pypdf.PdfReader(io.BytesIO(document)).pages) == 1
    barcodes = _scan(document)
    assert len(barcodes) == 2
    assert all(_width_mm(barcode) >= pdf.MIN_QR_MM for barcode in barcodes)


def test_copies_are_identical_pages(overseas_issued: CertificateIssued) -> None:
    document = pdf.render_certificate(overseas_issued, copies=3)
    reader = pypdf.PdfReader(io.BytesIO(document))
    assert len(reader.pages) == 3
    texts = [page.extract_text() for page in reader.pages]
    assert texts[0] == texts[1] == texts[2]
    assert {barcode.text for barcode in _scan(document, page=2)} == {
        overseas_issued.shc_qr_text,
        overseas_issued.vdsnc,
    }


@pytest.mark.parametrize("copies", [0, -1, pdf.MAX_COPIES + 1])
def test_copies_out_of_range_are_refused(copies: int, domestic_issued: CertificateIssued) -> None:
    with pytest.raises(ValueError, match="copies"):
        pdf.render_certificate(domestic_issued, copies=copies)


def test_same_reply_renders_the_same_bytes(domestic_issued: CertificateIssued) -> None:
    # A reprint after a jam gives the very same document.
    first = pdf.render_certificate(domestic_issued)
    assert pdf.render_certificate(domestic_issued) == first


_DIGESTS = r"""
import hashlib, sys
from vaxcert.contracts.kiosk_api import CertificateIssued
from vaxcert.certificate import image, pdf
issued = CertificateIssued.model_validate_json(sys.stdin.read())
print(hashlib.sha256(pdf.render_certificate(issued, copies=3)).hexdigest())
print(hashlib.sha256(image.render_certificate_png(issued, 150)).hexdigest())
"""


def test_other_processes_render_the_same_bytes(overseas_issued: CertificateIssued) -> None:
    """A kiosk reprint may come from another worker, after a restart: string hashing differs
    (PYTHONHASHSEED), the bytes must not."""
    expected = [
        hashlib.sha256(pdf.render_certificate(overseas_issued, copies=3)).hexdigest(),
        hashlib.sha256(image.render_certificate_png(overseas_issued, 150)).hexdigest(),
    ]
    for seed in ("1", "4242"):
        result = subprocess.run(
            [sys.executable, "-c", _DIGESTS],
            input=overseas_issued.model_dump_json(),
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONHASHSEED": seed},
            timeout=120,
            check=True,
        )
        assert result.stdout.split() == expected


def test_threads_render_the_same_documents(
    overseas_issued: CertificateIssued, domestic_issued: CertificateIssued
) -> None:
    """The app API's gthreads share the faces and the labels' subset, without a lock: pages
    drawn at once, of two kinds interleaved, come out byte for byte as drawn alone."""
    expected = {
        "overseas": pdf.render_certificate(overseas_issued),
        "domestic": pdf.render_certificate(domestic_issued),
    }
    issued = {"overseas": overseas_issued, "domestic": domestic_issued}
    kinds = ["overseas", "domestic"] * 12
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda kind: pdf.render_certificate(issued[kind]), kinds))
    assert all(result == expected[kind] for kind, result in zip(kinds, results, strict=True))


def test_c08_metadata_names_nobody(overseas_pdf: bytes, overseas_issued: CertificateIssued) -> None:
    metadata = pypdf.PdfReader(io.BytesIO(overseas_pdf)).metadata or {}
    values = " ".join(str(value) for value in metadata.values())
    assert metadata.get("/Title") == pdf.TITLE_JA
    for personal in (
        overseas_issued.holder.name,
        overseas_issued.holder.name_roman,
        overseas_issued.holder.passport_number,
        overseas_issued.certificate_id,
    ):
        assert personal and personal not in values


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        ({"vdsnc": None}, "without VDS-NC"),
        ({"kind": "domestic"}, "domestic certificate with a VDS-NC"),
        ({"doses": []}, "without doses"),
        ({"shc_qr_text": "shc:/12a4"}, "digits"),
        ({"shc_qr_text": "shc:/" + "5" * 2400}, "QR version 23"),
    ],
)
def test_replies_that_cannot_be_printed_are_refused(
    change: dict[str, Any], detail: str, overseas_issued: CertificateIssued
) -> None:
    broken = overseas_issued.model_copy(update=change)
    with pytest.raises(VaxcertError, match=detail) as caught:
        pdf.render_certificate(broken)
    assert caught.value.code in {"certificate_unprintable", "shc_too_large"}


def _blank(issued: CertificateIssued, part: str, field: str, value: str) -> CertificateIssued:
    if part == "dose":
        doses = [issued.doses[0].model_copy(update={field: value}), *issued.doses[1:]]
        return issued.model_copy(update={"doses": doses})
    if part == "reply":
        return issued.model_copy(update={field: value})
    changed = getattr(issued, part).model_copy(update={field: value})
    return issued.model_copy(update={part: changed})


@pytest.mark.parametrize(
    ("part", "field", "value", "detail"),
    [
        ("holder", "name", "", "the holder's name is blank"),
        ("holder", "name", "\u3000", "the holder's name is blank"),
        ("reply", "certificate_id", "", "is blank"),
        ("municipality", "name_en", "", "is blank"),
        ("dose", "lot", "", "is blank"),
        ("dose", "product_en", " ", "is blank"),
        ("dose", "country", "", "is blank"),
        ("holder", "name_roman", "", "lacks passport data"),
        ("holder", "nationality", " ", "lacks passport data"),
    ],
)
def test_a_blank_value_the_page_states_is_refused(
    part: str, field: str, value: str, detail: str, overseas_issued: CertificateIssued
) -> None:
    # The contract's strings may be empty: such a page would look complete and certify nothing.
    broken = _blank(overseas_issued, part, field, value)
    for render in (pdf.render_certificate, pdf.page_codes):
        with pytest.raises(VaxcertError, match=detail) as caught:
            render(broken)
        assert caught.value.code == "certificate_unprintable"


def test_c08_a_name_the_font_cannot_draw_is_refused_without_naming_it(
    domestic_issued: CertificateIssued,
) -> None:
    # 𠮷 (U+20BB7) is outside JIS X 0208 and IPAex Gothic: it would print as an empty box.
    name = "\U00020bb7田\u3000花子"
    broken = domestic_issued.model_copy(
        update={"holder": domestic_issued.holder.model_copy(update={"name": name})}
    )
    with pytest.raises(VaxcertError) as caught:
        pdf.render_certificate(broken)
    assert caught.value.code == "certificate_unprintable"
    assert "name" in caught.value.detail
    assert "田" not in str(caught.value) and "花子" not in str(caught.value)


@pytest.mark.parametrize(
    "name",
    [
        "試験\u3000か\u3099こ",  # が decomposed (NFD): would print か and a separate dakuten
        "試験\u3000花\u00ad子",  # a soft hyphen: IPAex Gothic draws it as a visible hyphen
        "試験\u3000花\u200b子",  # a zero-width space
        "試験\u3000花子\u0007",  # a control character
    ],
)
def test_c08_a_name_that_would_print_other_than_it_reads_is_refused(
    name: str, domestic_issued: CertificateIssued
) -> None:
    broken = domestic_issued.model_copy(
        update={"holder": domestic_issued.holder.model_copy(update={"name": name})}
    )
    with pytest.raises(VaxcertError) as caught:
        pdf.render_certificate(broken)
    assert caught.value.code == "certificate_unprintable"
    assert "the holder's name" in caught.value.detail
    assert "花" not in str(caught.value) and "試験" not in str(caught.value)


_NO_WRITES = r"""
import json, os, sys
from vaxcert.contracts.kiosk_api import CertificateIssued
issued = CertificateIssued.model_validate_json(sys.stdin.read())
from vaxcert.certificate import pdf, truetype
events = []
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
CHANGES = {"os.mkdir", "os.rename", "os.replace", "os.remove", "os.rmdir", "os.symlink",
           "os.link", "os.truncate", "os.chmod", "shutil.copyfile", "shutil.move",
           "tempfile.mkstemp", "tempfile.mkdtemp"}
def hook(event, args):
    if event == "open":
        path, mode, flags = args
        if (isinstance(mode, str) and set(mode) & set("wax+")) or (flags or 0) & WRITE_FLAGS:
            events.append(f"open {path!r} {mode!r}")
    elif event in CHANGES:
        events.append(f"{event} {args[0]!r}")
sys.addaudithook(hook)
document = pdf.render_certificate(issued, copies=2)  # first render: font and layouts too
document = pdf.render_certificate(issued, copies=2)
print(json.dumps({"events": events, "size": len(document)}))
"""


def test_c08_rendering_writes_no_file(overseas_issued: CertificateIssued, tmp_path: Path) -> None:
    # A fresh interpreter (audit hooks cannot be removed) in empty working, temp and home
    # directories: every file opened for writing, created, moved or removed is recorded.
    dirs = {name: tmp_path / name for name in ("cwd", "tmp", "home")}
    for directory in dirs.values():
        directory.mkdir()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PYTHONDONTWRITEBYTECODE": "1",
        "TMPDIR": str(dirs["tmp"]),
        "HOME": str(dirs["home"]),
    }
    result = subprocess.run(
        [sys.executable, "-c", _NO_WRITES],
        input=overseas_issued.model_dump_json(),
        capture_output=True,
        text=True,
        cwd=dirs["cwd"],
        env=env,
        timeout=120,
        check=True,
    )
    report = json.loads(result.stdout)
    assert report["size"] > 10_000
    assert report["events"] == []
    assert all(not any(directory.iterdir()) for directory in dirs.values())
    assert overseas_issued.holder.name not in result.stderr


def test_font_comes_from_a_known_place() -> None:
    path = pdf.font_path()
    assert path.name == pdf.FONT_FILE
    assert path.read_bytes()[:4] == b"\x00\x01\x00\x00"  # TrueType outlines (not CFF/OTTO)


@pytest.mark.parametrize("font", [pdf.FONT_NAME, pdf.LEGEND_FONT_NAME])
def test_font_subsets_carry_every_glyph_of_the_page_unchanged(
    font: str, overseas_issued: CertificateIssued, tmp_path: Path
) -> None:
    """The embedded subset (glyphs renumbered, composite glyphs rewritten, its own cmap) holds
    each character's outline and metrics exactly as the font file does, and FreeType draws it."""
    face = truetype.TrueTypeFace(pdf.font_path() if font == pdf.FONT_NAME else pdf.LEGEND_FONT)
    holder = overseas_issued.holder
    page_text = "".join(
        [pdf.TITLE_JA, pdf.TITLE_EN, holder.name, *pdf.legend_lines(overseas_issued)]
    )
    characters = {ord(c): face.cmap[ord(c)] for c in set(page_text) if ord(c) in face.cmap}
    assert len(characters) > 40
    program, kept = face.subset(set(characters.values()), characters)
    assert kept[0] == 0 and kept == sorted(kept)
    assert len(program) < len(face.data) / 20
    if font == pdf.LEGEND_FONT_NAME:  # WenQuanYi Zen Hei draws Hangul with composite glyphs
        assert len(kept) > len(set(characters.values())) + 1
    (tmp_path / "subset.ttf").write_bytes(program)
    subset = truetype.TrueTypeFace(tmp_path / "subset.ttf")
    assert subset.glyph_count == len(kept)
    for new, old in enumerate(kept):
        assert _outline(subset, new, kept) == _outline(face, old), old
        assert subset.advance_list[new] == face.advance_list[old]
        assert subset.side_bearings[new] == face.side_bearings[old]
    for code, old in characters.items():
        assert kept[subset.cmap[code]] == old
    whole = ImageFont.truetype(str(face.path), 48, index=0)
    drawn = ImageFont.truetype(io.BytesIO(program), 48)
    for code in characters:
        character = chr(code)
        assert drawn.getlength(character) == whole.getlength(character)
        if font == pdf.FONT_NAME:
            # Pixel for pixel too. (FreeType autohints WenQuanYi, which has no hinting program,
            # from the glyphs the file holds, so its subset may be hinted a pixel differently.)
            assert _drawn(drawn, character) == _drawn(whole, character), character


def _outline(face: truetype.TrueTypeFace, glyph: int, kept: list[int] | None = None) -> bytes:
    """A glyph's outline bytes, components named by their ids in the whole font."""
    start, end = int(face.loca[glyph]), int(face.loca[glyph + 1])
    outline = face.data[face.glyf_start + start : face.glyf_start + end].rstrip(b"\0")
    if kept is None:
        return outline
    return truetype._renumbered(outline, dict(enumerate(kept))).rstrip(b"\0")


def _drawn(font: ImageFont.FreeTypeFont, character: str) -> bytes:
    canvas = Image.new("L", (64, 64))
    ImageDraw.Draw(canvas).text((4, 4), character, fill=255, font=font)
    return canvas.tobytes()
