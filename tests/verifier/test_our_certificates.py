"""Certificates made by our own signer and printed by our own renderer verify with the verifier:
the QR texts, and the 海外用 page (PDF and a rendered image of it) giving two results."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pypdfium2
import pytest

from launch.samples import sample_issued
from signer.services import SignerService
from vaxcert import pki
from vaxcert.certificate.pdf import render_certificate
from vaxcert.config import load_settings
from vaxcert.contracts.kiosk_api import CertificateIssued
from verifier import TrustStore, verify, verify_all
from verifier.dev_trust import dev_trust_store

ISSUER = "https://127.0.0.1:8446/issuer"


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[CertificateIssued, TrustStore]:
    directory = tmp_path_factory.mktemp("pki")
    pki.init(directory, ISSUER, ["KIOSK-0001"])
    settings = load_settings(pki_dir=directory, signer={"state_dir": str(directory / "state")})
    signer = SignerService(settings)
    signer.init()
    today = dt.datetime.now(dt.UTC).date()
    issued = sample_issued(signer, "overseas", 7, issue_date=today)
    return issued, dev_trust_store(directory, ISSUER)


def test_our_shc_and_vdsnc_texts_verify(signed: tuple[CertificateIssued, TrustStore]) -> None:
    issued, trust = signed
    shc = verify(issued.shc_qr_text, trust)
    assert shc.valid, shc.reasons
    assert shc.format == "shc"
    assert issued.vdsnc is not None
    vds = verify(issued.vdsnc, trust)
    assert vds.valid, vds.reasons
    assert vds.certificate_id == issued.certificate_id


def test_our_printed_overseas_page_gives_two_valid_results(
    signed: tuple[CertificateIssued, TrustStore], tmp_path: Path
) -> None:
    issued, trust = signed
    pdf = render_certificate(issued)
    results = verify_all(pdf, trust)
    assert sorted(r.format for r in results) == ["shc", "vdsnc"]
    assert all(r.valid for r in results), [r.reasons for r in results]
    page = pypdfium2.PdfDocument(pdf)[0].render(scale=150 / 72).to_pil()
    image = io.BytesIO()
    page.save(image, format="PNG")
    from_image = verify_all(image.getvalue(), trust)
    assert sorted(r.format for r in from_image) == ["shc", "vdsnc"]
    assert all(r.valid for r in from_image)
