"""Our SMART Health Cards: minimal conformant bundle, size limits, QR construction and round trips
through a PNG decoded by zxing-cpp (formats.md §1)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import segno
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from signer import shc_issue
from signer.samples import example_content
from signer.services import SignerService
from tests.signer.conftest import SettingsFactory, verify_shc
from tests.support.qr import read_qr
from vaxcert.certificate import qr
from vaxcert.contracts.signing import CertificateContent
from vaxcert.errors import VaxcertError
from vaxcert.formats import shc
from vaxcert.residents import CANARY
from vaxcert.vaccines import VaccineTable

ISSUABLE = [key for key, product in VaccineTable().items() if product.issuable]


def _long_named(kind: str, doses: int = 7) -> CertificateContent:
    """The size case of the issue: 7 doses and a 10-character kanji name."""
    data: dict[str, Any] = json.loads(example_content(CANARY, kind, doses).model_dump_json())  # type: ignore[arg-type]
    data["holder"]["name"] = {"family": "長谷川木村山", "given": "美智佳子"}
    return CertificateContent.model_validate_json(json.dumps(data))


def _decode_png(png: bytes) -> str:
    results = read_qr(png)
    assert len(results) == 1
    text: str = results[0].text
    return text


@pytest.mark.parametrize("kind", ["domestic", "overseas"])
def test_seven_doses_and_a_ten_kanji_name_fit_one_qr_and_round_trip(
    service: SignerService, kind: str
) -> None:
    content = _long_named(kind)
    assert len(content.holder.name.joined("")) == 10
    card = service.issue_shc(content)
    assert len(card.jws) <= shc.MAX_SINGLE_QR_JWS
    code = qr.shc_qr(card.numeric)
    assert int(code.version) <= 22 and code.error == "L"
    decoded = _decode_png(qr.png(code))
    assert decoded == card.numeric
    payload = verify_shc(shc.numeric_to_jws(decoded), service.jwks())
    bundle = payload["vc"]["credentialSubject"]["fhirBundle"]
    assert shc_issue.bundle_problems(bundle) == []
    patient = bundle["entry"][0]["resource"]
    # The card's name: alone on 国内用, after the passport's name on 海外用.
    assert patient["name"][-1] == {"family": "長谷川木村山", "given": ["美智佳子"]}
    assert len(patient["name"]) == (2 if kind == "overseas" else 1)
    assert len(bundle["entry"]) == 8


def test_the_qr_has_a_byte_segment_then_a_numeric_segment(service: SignerService) -> None:
    card = service.issue_shc(_long_named("domestic"))
    code = qr.shc_qr(card.numeric)
    one_segment = segno.make(card.numeric, error="l", boost_error=False, micro=False)
    # The whole text as one segment would be byte mode and far larger (non-conformant).
    assert int(one_segment.version) > int(code.version)
    assert int(code.version) <= 22


def test_domestic_bundle_is_minimal(service: SignerService, domestic: CertificateContent) -> None:
    card = service.issue_shc(domestic)
    payload = verify_shc(card.jws, service.jwks())
    assert set(payload) == {"iss", "nbf", "vc"}
    assert payload["iss"] == "https://127.0.0.1:8446/issuer"
    assert isinstance(payload["nbf"], int)
    vc = payload["vc"]
    assert vc["type"] == [
        "https://smarthealth.cards#health-card",
        "https://smarthealth.cards#immunization",
        "https://smarthealth.cards#covid19",
    ]
    assert vc["credentialSubject"]["fhirVersion"] == "4.0.1"
    bundle = vc["credentialSubject"]["fhirBundle"]
    patient = bundle["entry"][0]["resource"]
    assert set(patient) == {"resourceType", "name", "birthDate"}
    assert len(patient["name"]) == 1  # kanji only on 日本国内用
    text = json.dumps(bundle)
    for forbidden in ('"id"', '"meta"', '"text"', '"display": "COVID', "protocolApplied"):
        assert forbidden not in text
    immunization = bundle["entry"][1]["resource"]
    assert immunization == {
        "resourceType": "Immunization",
        "status": "completed",
        "vaccineCode": {"coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": "208"}]},
        "patient": {"reference": "resource:0"},
        "occurrenceDateTime": "2021-06-07",
        "performer": [{"actor": {"display": "MHLW_Gov_of_JAPAN"}}],
        "lotNumber": "FC9880",
    }
    assert bundle["entry"][3]["resource"]["vaccineCode"]["coding"][0]["code"] == "207"


def test_overseas_bundle_puts_the_passport_name_first_and_adds_the_passport(
    service: SignerService, overseas: CertificateContent
) -> None:
    payload = verify_shc(service.issue_shc(overseas).jws, service.jwks())
    patient = payload["vc"]["credentialSubject"]["fhirBundle"]["entry"][0]["resource"]
    # Abroad name[0] is what a verifier shows and compares with the passport.
    assert patient["name"] == [
        {"family": "SHIKEN", "given": ["HANAKO"]},
        {"family": "試験", "given": ["花子"]},
    ]
    assert patient["identifier"] == [
        {"system": "http://hl7.org/fhir/sid/passport-JPN", "value": "TZ9990001"}
    ]


def test_rid_is_the_hmac_of_the_certificate_id(
    service: SignerService, domestic: CertificateContent
) -> None:
    card = service.issue_shc(domestic)
    payload = verify_shc(card.jws, service.jwks())
    expected = shc.rid(service.store.rid_secret(), card.kid, domestic.certificate_id)
    assert payload["vc"]["rid"] == card.rid == expected
    assert len(expected) == 11


def test_revocation_and_expiry_are_configurable(
    make_settings: SettingsFactory, domestic: CertificateContent
) -> None:
    service = SignerService(
        make_settings(signer={"shc": {"revocation": False, "validity_days": 365}})
    )
    service.init()
    card = service.issue_shc(domestic, now=1_700_000_000.7)
    payload = verify_shc(card.jws, service.jwks())
    assert "rid" not in payload["vc"] and card.rid is None
    assert payload["nbf"] == 1_700_000_000
    assert payload["exp"] == 1_700_000_000 + 365 * 86400
    assert "crlVersion" not in service.jwks()["keys"][0]
    assert service.crl(card.kid) is None


def test_issuer_url_is_configurable(
    make_settings: SettingsFactory, domestic: CertificateContent
) -> None:
    service = SignerService(make_settings(issuer_url="https://vc.example.jp/issuer"))
    service.init()
    payload = verify_shc(service.issue_shc(domestic).jws, service.jwks())
    assert payload["iss"] == "https://vc.example.jp/issuer"


def test_a_card_over_1195_characters_is_refused_never_chunked(service: SignerService) -> None:
    content = _long_named("overseas", 7)
    card = service.issue_shc(content)
    body = shc.parse_payload(shc.inflate_raw(shc.split_jws(card.jws).payload))
    entries = body["vc"]["credentialSubject"]["fhirBundle"]["entry"]
    # Lots of distinct doses compress badly; 30 of them cannot fit one QR code.
    for index in range(30):
        clone = json.loads(json.dumps(entries[1]))
        clone["fullUrl"] = f"resource:{len(entries)}"
        clone["resource"]["lotNumber"] = f"L{index:03d}Q{index * 7919 % 100000:05d}Z"
        clone["resource"]["occurrenceDateTime"] = f"2022-{1 + index % 12:02d}-{1 + index % 28:02d}"
        entries.append(clone)
    with pytest.raises(VaxcertError) as caught:
        shc_issue.sign_payload(body, service.active().shc)
    assert caught.value.code == "shc_too_large"
    with pytest.raises(VaxcertError) as too_big_qr:
        qr.shc_qr(shc.PREFIX + "56" * 1300)
    assert too_big_qr.value.code == "shc_too_large"


def test_codes_that_disagree_with_the_table_are_refused(
    service: SignerService, domestic: CertificateContent
) -> None:
    data = json.loads(domestic.model_dump_json())
    data["doses"][0]["cvx"] = "207"  # the table says 208 for Comirnaty
    with pytest.raises(VaxcertError) as caught:
        service.issue_shc(CertificateContent.model_validate_json(json.dumps(data)))
    assert caught.value.code == "vaccine_code_mismatch"
    data["doses"][0]["cvx"] = "208"
    data["doses"][0]["icd11"] = "XM0GQ8"
    service.issue_shc(CertificateContent.model_validate_json(json.dumps(data)))


def test_the_smart_health_card_file(service: SignerService, domestic: CertificateContent) -> None:
    card = service.issue_shc(domestic)
    assert shc.parse_file(card.file_content) == [card.jws]
    assert json.loads(card.file_content) == {"verifiableCredential": [card.jws]}


_name_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zs", "Zl", "Zp")),
    min_size=1,
    max_size=6,
)


@settings(max_examples=150, deadline=None)
@given(
    family=_name_text,
    given_name=st.one_of(st.none(), _name_text),
    kind=st.sampled_from(["domestic", "overseas"]),
    doses=st.integers(min_value=1, max_value=7),
    rid=st.one_of(st.none(), st.just("MKyCxh7p6uQ")),
    exp=st.one_of(st.none(), st.integers(min_value=0, max_value=2**40)),
    nbf=st.integers(min_value=0, max_value=2**40),
    products=st.lists(st.sampled_from(sorted(ISSUABLE)), min_size=7, max_size=7),
)
def test_the_rendered_payload_equals_the_reference_serialisation(
    family: str,
    given_name: str | None,
    kind: str,
    doses: int,
    rid: str | None,
    exp: int | None,
    nbf: int,
    products: list[str],
) -> None:
    data: dict[str, Any] = json.loads(example_content(CANARY, kind, doses).model_dump_json())  # type: ignore[arg-type]
    data["holder"]["name"] = {"family": family, "given": given_name}
    for dose, product in zip(data["doses"], products, strict=False):
        dose["product"] = product
    try:
        content = CertificateContent.model_validate_json(json.dumps(data))
    except ValidationError:
        assume(False)  # a name the model refuses (e.g. surrounding blanks) is not a case here
    table = VaccineTable()
    profile = shc_issue.ShcProfile(iss='https://x.example/a"b')
    reference = shc.minify(
        shc_issue.payload(
            shc_issue.fhir_bundle(content, table, profile), profile.iss, nbf, rid, exp
        )
    )
    assert shc_issue.minified_payload(content, table, profile, nbf, rid, exp) == reference


# CVX codes verifier apps of the time knew (vaccines.md): The Commons Project's accepted list of
# 2022-09 [S19] and a Japanese reader app of 2021-12 [S17].
KNOWN_TO_2022_VERIFIERS = frozenset(
    {"207", "208", "210", "211", "212", "217", "218", "219", "221", "227", "228", "229", "300"}
    | {"301", "501", "502", "503", "504", "505", "506", "507", "509", "510", "511"}
)
KNOWN_TO_2021_READERS = frozenset({"207", "208", "210", "211", "212", "217", "218", "219"})


def test_docs_list_every_code_older_verifiers_may_not_know(repo_root: Path) -> None:
    text = (repo_root / "docs" / "signer.md").read_text(encoding="utf-8")
    section = text.split("**Vaccine codes older verifiers may not know.**", 1)[1]
    documented: dict[str, set[str]] = {}
    for line in section.split("\n\n", 2)[1].splitlines()[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        documented[cells[0]] = set(re.findall(r"`([a-z0-9-]+)`", cells[1]))
    expected: dict[str, set[str]] = {}
    for key, product in VaccineTable().items():
        if product.issuable and product.cvx not in KNOWN_TO_2021_READERS:
            expected.setdefault(product.cvx, set()).add(key)
    assert documented == expected
    # Precise codes stay: the BA.1 bivalents and Daichirona keep codes older lists lack.
    assert {"309", "500", "519", "520"} <= set(expected) - KNOWN_TO_2022_VERIFIERS
