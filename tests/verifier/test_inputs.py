"""What the verifier accepts as input: QR text, JWS, files, images with several QR codes, PDFs;
and clear reasons for anything else."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from tests.verifier import issuance
from vaxcert.formats import shc
from verifier import TrustStore, verify, verify_all


@pytest.fixture(scope="module")
def our_pair(dev_pki: Path) -> tuple[str, str]:
    """One SHC QR text and one VDS-NC text, issued with the dev PKI (signer stand-in)."""
    return issuance.issue_shc(dev_pki), issuance.issue_vdsnc(dev_pki)


@pytest.mark.parametrize("image_format", ["PNG", "JPEG"])
def test_a_page_with_two_qr_codes_gives_two_valid_results(
    our_pair: tuple[str, str], dev_store: TrustStore, image_format: str
) -> None:
    page = issuance.certificate_page_png(*our_pair, image_format=image_format)
    results = verify_all(page, dev_store)
    assert [(r.format, r.valid) for r in results] == [("shc", True), ("vdsnc", True)]
    assert results[0].names == ("山田 花子",)
    assert results[1].names == ("YAMADA HANAKO",)
    assert [r.source for r in results] == ["input QR 1/2", "input QR 2/2"]


def test_the_certificate_pdf_gives_two_valid_results(
    our_pair: tuple[str, str], dev_store: TrustStore
) -> None:
    pdf = issuance.certificate_page_pdf(*our_pair)
    results = verify_all(pdf, dev_store)
    assert [(r.format, r.valid) for r in results] == [("shc", True), ("vdsnc", True)]


def test_verify_refuses_an_input_with_two_certificates(
    our_pair: tuple[str, str], dev_store: TrustStore
) -> None:
    result = verify(issuance.certificate_page_png(*our_pair), dev_store)
    assert not result.valid and result.codes == ["multiple_certificates"]


def test_a_path_is_read(tmp_path: Path, our_pair: tuple[str, str], dev_store: TrustStore) -> None:
    path = tmp_path / "card.txt"
    path.write_text(our_pair[0] + "\n")
    result = verify(path, dev_store)
    assert result.valid and result.source == "card.txt"
    missing = verify(tmp_path / "nope.png", dev_store)
    assert missing.codes == ["input_unrecognised"]


def test_text_with_a_bom_and_outer_whitespace_is_read(
    our_pair: tuple[str, str], dev_store: TrustStore
) -> None:
    data = b"\xef\xbb\xbf  " + our_pair[0].encode() + b"\r\n"
    assert verify(data, dev_store).valid


def test_a_compact_jws_is_accepted(our_pair: tuple[str, str], dev_store: TrustStore) -> None:
    assert verify(shc.numeric_to_jws(our_pair[0]), dev_store).valid


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"hello world", "input_unrecognised"),
        ("https://example.org/not-a-certificate", "input_unrecognised"),
        ('{"something": "else"}', "input_unrecognised"),
        ('{"verifiableCredential": "x"}', "shc_file_invalid"),
        ('{"data": {"hdr": {}}, "sig": [', "vdsnc_not_json"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "image_unreadable"),
        (b"%PDF-1.7\n garbage", "pdf_unreadable"),
        (b"\xff\xfe\xfa\x00binary", "input_unrecognised"),
    ],
)
def test_unreadable_input_gets_a_reason_not_an_exception(
    dev_store: TrustStore, data: str | bytes, code: str
) -> None:
    result = verify(data, dev_store)
    assert not result.valid
    assert result.codes == [code]


def test_an_image_without_a_qr_code(dev_store: TrustStore) -> None:
    result = verify(_png(Image.new("L", (400, 300), 200)), dev_store)
    assert result.codes == ["no_certificate_found"]


def test_a_huge_image_is_refused_before_decoding(dev_store: TrustStore) -> None:
    # 8000 x 8000 bilevel pixels compress to a few kB: a decompression bomb for a decoder.
    result = verify(_png(Image.new("1", (8000, 8000), 1)), dev_store)
    assert result.codes == ["image_too_large"]


def test_a_qr_code_that_is_not_a_certificate(dev_store: TrustStore) -> None:
    image = issuance.qr_image("https://example.org/")
    result = verify(_png(image), dev_store)
    assert result.codes == ["input_unrecognised"]


def _pdf_with_page(points: float) -> bytes:
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    sheet = canvas.Canvas(out, pagesize=(points, points))
    sheet.drawString(10, 10, "x")
    sheet.save()
    return out.getvalue()


def test_a_small_pdf_with_a_huge_page_is_refused_before_rendering(dev_store: TrustStore) -> None:
    """A few hundred bytes may declare a page of many megapixels; rendering it is the attack."""
    huge = _pdf_with_page(4000)  # 4000 pt at 150 dpi: 69 megapixels
    assert len(huge) < 2000
    [result] = verify_all(huge, dev_store)
    assert result.codes == ["image_too_large"]
    [a4] = verify_all(_pdf_with_page(842), dev_store)
    assert a4.codes == ["no_certificate_found"]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ('{"sig": 1, "data": ' + "[" * 100_000 + "]" * 100_000 + "}", "vdsnc_not_json"),
        ('{"verifiableCredential": ' + "[" * 100_000 + "]" * 100_000 + "}", "shc_file_invalid"),
    ],
)
def test_deeply_nested_json_is_a_reason_not_a_crash(
    text: str, code: str, dev_store: TrustStore
) -> None:
    [result] = verify_all(text, dev_store)
    assert result.codes == [code]
