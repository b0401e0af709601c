"""The wire contracts take JSON as JSON: no lax coercion of strings or numbers (C04)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from pydantic import ValidationError

from signer.samples import example_content
from vaxcert.contracts.kiosk_api import Consent
from vaxcert.contracts.signing import CertificateContent
from vaxcert.contracts.vrs_relay import QueryRequest
from vaxcert.residents import CANARY


@pytest.mark.parametrize("accepted", ['"true"', "1", '"yes"'])
def test_c04_c07_consent_is_a_json_boolean_only(accepted: str) -> None:
    with pytest.raises(ValidationError):
        Consent.model_validate_json(f'{{"terms_version": "2021-12", "accepted": {accepted}}}')
    assert Consent.model_validate_json('{"terms_version": "2021-12", "accepted": true}').accepted


def _query(**change: object) -> str:
    body: dict[str, object] = {
        "municipality_code": CANARY.municipality_code,
        "my_number": CANARY.my_number,
        "name": "試験\u3000花子",
        "birth_date": "1985-04-12",
        "certificate_kind": "domestic",
        "channel": "kiosk",
    }
    body.update(change)
    return json.dumps(body)


@pytest.mark.parametrize("birth_date", [0, 481939200, "481939200", "1985-04-12T00:00:00"])
def test_c04_vrs_query_takes_a_date_only_as_an_iso_date(birth_date: object) -> None:
    with pytest.raises(ValidationError):
        QueryRequest.model_validate_json(_query(birth_date=birth_date))
    assert str(QueryRequest.model_validate_json(_query()).birth_date) == "1985-04-12"


def test_c04_vrs_query_takes_no_number_for_a_string() -> None:
    with pytest.raises(ValidationError):
        QueryRequest.model_validate_json(_query(my_number=int(CANARY.my_number)))


CONTROLS = ["\u0085", "\u009b", "\u202e", "\u2066", "\u200d", "\ufeff", "\u0007", "\ue000"]


@pytest.mark.parametrize("control", CONTROLS)
def test_c04_a_signed_name_holds_no_control_or_format_character(control: str) -> None:
    content = example_content(CANARY, "domestic", 2).model_dump(mode="json")
    content["holder"]["name"]["given"] = "花" + control + "子"
    with pytest.raises(ValidationError):
        CertificateContent.model_validate_json(json.dumps(content))
    with pytest.raises(ValidationError):
        QueryRequest.model_validate_json(_query(name="試験\u3000花" + control + "子"))


def test_the_issue_date_is_not_in_the_future() -> None:
    content = example_content(CANARY, "domestic", 2).model_dump(mode="json")
    content["issue_date"] = "9999-12-31"
    with pytest.raises(ValidationError):
        CertificateContent.model_validate_json(json.dumps(content))
    content["issue_date"] = dt.date.today().isoformat()
    assert CertificateContent.model_validate_json(json.dumps(content))
