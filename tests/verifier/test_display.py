"""What the verifier shows of a valid certificate, on the page, in the CLI and in its JSON: the dose
numbers the certificate states (never a count), the 海外用 nationality and passport number, and
for VDS-NC the document signer and country rather than the CSCA."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

from launch.cli import main
from signer.samples import example_content
from signer.services import Issued, SignerService
from tests.verifier import issuance
from vaxcert import pki
from vaxcert.config import load_settings
from vaxcert.contracts.signing import CertificateContent
from vaxcert.formats import shc
from vaxcert.residents import CANARY
from verifier import TrustStore, verify
from verifier.app import create_app
from verifier.dev_trust import dev_trust_store, write_dev_trust_store

ISSUER = issuance.ISSUER_URL
PASSPORT = CANARY.passport.number if CANARY.passport else ""


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Issued, TrustStore]:
    """A 海外用 certificate from our signer for a resident whose doses 3, 4 and 5 were given in
    this municipality (doses 1 and 2 elsewhere: not on this certificate)."""
    directory = tmp_path_factory.mktemp("pki")
    pki.init(directory, ISSUER, [], [])
    settings = load_settings(pki_dir=directory, signer={"state_dir": str(directory / "state")})
    service = SignerService(settings)
    service.init()
    five = example_content(CANARY, "overseas", 5, certificate_id="9DOSES000345")
    body = five.model_dump(mode="json")
    body["doses"] = body["doses"][2:]
    content = CertificateContent.model_validate(body)
    assert [dose.dose_number for dose in content.doses] == [3, 4, 5]
    return directory, service.issue(content), dev_trust_store(directory, ISSUER)


@pytest.fixture
def client(signed: tuple[Path, Issued, TrustStore]) -> FlaskClient:
    directory, _, store = signed
    settings = load_settings(environment="test", pki_dir=directory, issuer_url=ISSUER)
    return create_app(settings, trust=store).test_client()


def test_doses_carry_the_numbers_the_certificate_states_and_none_are_counted(
    signed: tuple[Path, Issued, TrustStore],
) -> None:
    _, issued, store = signed
    card = verify(issued.shc.numeric, store)
    assert card.valid, card.reasons
    # SHC states no dose numbers: none is shown, and never 1, 2, 3.
    assert [dose.number for dose in card.doses] == [None, None, None]
    assert issued.vdsnc is not None
    document = verify(issued.vdsnc.document, store)
    assert document.valid, document.reasons
    assert [dose.number for dose in document.doses] == [3, 4, 5]
    assert [dose.date for dose in document.doses] == [dose.date for dose in card.doses]


def test_the_page_shows_stated_dose_numbers_only(
    client: FlaskClient, signed: tuple[Path, Issued, TrustStore]
) -> None:
    _, issued, _ = signed
    assert issued.vdsnc is not None
    document = client.post("/", data={"text": issued.vdsnc.document, "lang": "en"})
    html = document.get_data(as_text=True)
    numbers = [f'<td class="dose-number" data-label="Dose">{n}</td>' for n in (1, 2, 3, 4, 5)]
    assert [number in html for number in numbers] == [False, False, True, True, True]
    card = client.post("/", data={"text": issued.shc.numeric, "lang": "ja"}).get_data(as_text=True)
    assert 'class="dose-number"' not in card and '<th scope="col">回</th>' not in card
    assert "この証明書には接種回数の記載がありません" in card


def test_a_dose_number_an_shc_issuer_states_is_shown(dev_pki: Path, dev_store: TrustStore) -> None:
    payload = issuance.jp_shc_payload()
    entries = payload["vc"]["credentialSubject"]["fhirBundle"]["entry"]
    for entry, number in zip(entries[1:], (3, 4), strict=True):
        entry["resource"]["protocolApplied"] = [{"doseNumberPositiveInt": number}]
    result = verify(issuance.issue_shc(dev_pki, payload), dev_store)
    assert result.valid, result.reasons
    assert [dose.number for dose in result.doses] == [3, 4]


def test_overseas_details_on_the_page_for_both_formats(
    client: FlaskClient, signed: tuple[Path, Issued, TrustStore]
) -> None:
    _, issued, _ = signed
    assert issued.vdsnc is not None
    page = issuance.certificate_page_png(issued.shc.numeric, issued.vdsnc.document)
    response = client.post(
        "/?lang=ja",
        data={"file": (io.BytesIO(page), "page.png")},
        content_type="multipart/form-data",
    )
    html = response.get_data(as_text=True)
    # Once for the sheet, once per code.
    assert html.count(f'<dd class="passport">{PASSPORT}</dd>') == 3
    # The SHC names the nationality in its passport identifier; icao.vacc has no such member.
    assert html.count('<dd class="nationality">JPN</dd>') == 1
    assert "国籍" in html and "旅券番号" in html
    assert "氏名・生年月日・旅券番号を、本人の旅券と照合してください。" in html
    # The passport's name first, as a verifier abroad compares it with the passport.
    assert html.index("SHIKEN HANAKO") < html.index("試験 花子")


def test_vdsnc_names_its_document_signer_and_country_not_the_csca_as_issuer(
    client: FlaskClient, signed: tuple[Path, Issued, TrustStore]
) -> None:
    _, issued, _ = signed
    assert issued.vdsnc is not None
    html = client.post("/", data={"text": issued.vdsnc.document, "lang": "en"}).get_data(
        as_text=True
    )
    assert "<dt>Document signer</dt>" in html
    assert '<dd class="signer">Common Name: JP dev VDS-NC signer' in html
    assert '<dt>Issuing country</dt><dd class="country">JPN</dd>' in html
    assert (
        "<dt>Trusted through (CSCA)</dt><dd>日本 (開発用 CSCA) / Japan (development CSCA)" in html
    )
    assert "<dt>Issuer</dt>" not in html


def test_the_cli_shows_overseas_details_and_stated_dose_numbers(
    signed: tuple[Path, Issued, TrustStore], tmp_path: Path
) -> None:
    directory, issued, _ = signed
    assert issued.vdsnc is not None
    trust = tmp_path / "trust"
    write_dev_trust_store(directory, ISSUER, trust)
    args = ["verify", issued.shc.numeric, issued.vdsnc.document, "--trust", str(trust)]
    text = CliRunner().invoke(main, args).output
    assert text.count(f"passport number: {PASSPORT}") == 2
    assert text.count("nationality: JPN") == 1
    assert "document signer: Common Name: JP dev VDS-NC signer" in text
    assert "issuing country: JPN" in text
    assert [line.split()[1] for line in text.splitlines() if line.startswith("  dose #")] == [
        "#3",
        "#4",
        "#5",
    ]
    assert "The certificate states no dose numbers" in text
    lines = [
        json.loads(line) for line in CliRunner().invoke(main, [*args, "--json"]).output.splitlines()
    ]
    assert [(o["nationality"], o["passport_number"]) for o in lines] == [
        ("JPN", PASSPORT),
        (None, PASSPORT),
    ]
    assert [[d["number"] for d in o["doses"]] for o in lines] == [[None] * 3, [3, 4, 5]]
    assert lines[1]["signer"].startswith("Common Name: JP dev VDS-NC signer")
    assert lines[1]["trust_anchor"].startswith("日本 (開発用 CSCA)")


def test_c08_passport_details_are_shown_to_the_checker_and_never_logged(
    client: FlaskClient,
    signed: tuple[Path, Issued, TrustStore],
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, issued, _ = signed
    caplog.set_level(logging.DEBUG)
    reply = client.post("/api/verify", json={"text": issued.shc.numeric}).json
    assert reply is not None
    assert reply["results"][0]["passport_number"] == PASSPORT
    assert reply["results"][0]["nationality"] == "JPN"
    everything = " ".join(
        json.dumps({k: str(v) for k, v in r.__dict__.items()}, ensure_ascii=False)
        for r in caplog.records
    )
    assert PASSPORT not in everything and "passport" not in everything.lower()
    # A broken certificate states nothing about anyone: no passport on the page or in the API.
    jws = shc.numeric_to_jws(issued.shc.numeric)
    head, payload, signature = jws.split(".")
    forged = shc.jws_to_numeric(f"{head}.{payload}.{signature[:-4]}AAAA")
    broken = client.post("/api/verify", json={"text": forged}).json
    assert broken is not None and broken["results"][0]["valid"] is False
    assert broken["results"][0]["passport_number"] is None
    assert broken["results"][0]["nationality"] is None
    page = client.post("/", data={"text": forged}).get_data(as_text=True)
    assert PASSPORT not in page
