"""The app API implements exactly its OpenAPI document (C04): the kept document is the one the
models generate, every route is documented and every documented route exists, and schemathesis
drives at least 2,000 generated requests through the served document with no server error and
every response conforming (status, content type, headers, body schema)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from cert_center import openapi
from cert_center.app import create_app
from vaxcert.config import load_settings

CASES_AT_LEAST = 2000
KEPT = Path(openapi.__file__).with_name("openapi") / "app-api.json"


@pytest.fixture(scope="module")
def app_api(center_pki: Path) -> Iterator[Flask]:
    settings = load_settings(
        environment="test",
        pki_dir=center_pki,
        center={
            "service_hours": "00:00-00:00",
            "app": {"per_instance_limit": "100000/minute", "per_address_limit": "100000/minute"},
        },
    )
    yield create_app(settings, surface="app_api")


def test_the_kept_document_is_the_one_the_models_generate() -> None:
    # After a model change: python -m cert_center.openapi
    assert json.loads(KEPT.read_text(encoding="utf-8")) == openapi.build_document()


def test_served_document_is_the_kept_one(app_api: Flask) -> None:
    response = app_api.test_client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.get_json() == json.loads(KEPT.read_text(encoding="utf-8"))


def test_every_route_is_documented_and_every_documented_route_exists(app_api: Flask) -> None:
    served = {
        (method.lower(), rule.rule)
        for rule in app_api.url_map.iter_rules()
        if rule.endpoint != "static"
        for method in rule.methods or ()
        if method not in ("HEAD", "OPTIONS")
    }
    documented = {
        (method, path)
        for path, operations in openapi.build_document()["paths"].items()
        for method in operations
    }
    assert served == documented


def test_c04_request_schemas_refuse_unknown_fields() -> None:
    schemas = openapi.build_document()["components"]["schemas"]
    for name in ("ChallengeRequest", "InstanceRegistration", "AppCertificateRequest"):
        assert schemas[name]["additionalProperties"] is False, name
        assert "my_number" not in schemas[name]["properties"]  # C02


def test_generated_requests_get_conforming_answers_and_never_a_server_error(
    app_api: Flask,
) -> None:
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app_api)
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
        negative_data_rejection,
    ]
    seen = [0]
    for result in schema.get_all_operations():
        operation = result.ok()
        examples = 700 if operation.method.upper() == "POST" else 20

        @settings(
            max_examples=examples,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def exchange(case: schemathesis.Case) -> None:
            seen[0] += 1
            case.call_and_validate(checks=checks)

        exchange()
    assert seen[0] >= CASES_AT_LEAST
