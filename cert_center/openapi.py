"""The app API's OpenAPI 3.1 contract, generated from the wire models and the route table below.

The document is kept in the repository (cert_center/openapi/app-api.json) for app teams and
served at ``/api/v1/openapi.json``; tests/cert_center/test_app_openapi.py checks that the kept
document equals :func:`build_document` and that the app's routes are exactly the documented ones.
Regenerate it with ``python -m cert_center.openapi``.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from vaxcert import attestation, reasons
from vaxcert.contracts.app_api import (
    CHALLENGE_PATTERN,
    INSTANCE_ID_PATTERN,
    AppCertificateIssued,
    AppCertificateRequest,
    AppConfig,
    Challenge,
    ChallengeRequest,
    ErrorBody,
    Health,
    InstanceRegistered,
    InstanceRegistration,
)

DOCUMENT_FILE = "openapi/app-api.json"
VERSION = "1.0.0"

# Refusals any endpoint may give: bad input, rate limit, overload and outages.
_BODY_ERRORS = (
    "bad_request",
    "unknown_field",
    "missing_field",
    "invalid_field",
    "payload_too_large",
    "unsupported_media_type",
)
_ALWAYS = ("rate_limited", "service_unavailable")


@dataclass(frozen=True)
class Route:
    """One documented operation."""

    method: Literal["get", "post"]
    path: str
    operation_id: str
    summary: str
    response: type[BaseModel] | None
    status: int = 200
    body: type[BaseModel] | None = None
    signed: bool = False
    refusals: tuple[str, ...] = field(default=())


ROUTES: tuple[Route, ...] = (
    Route("get", "/healthz", "health", "Liveness of this process.", Health),
    Route(
        "get",
        "/api/v1/openapi.json",
        "openapi",
        "This document.",
        None,
    ),
    Route(
        "get",
        "/api/v1/app/config",
        "appConfig",
        "The terms of use (C07) and the municipalities the resident chooses from.",
        AppConfig,
        refusals=_ALWAYS,
    ),
    Route(
        "post",
        "/api/v1/app/challenges",
        "newChallenge",
        "A single-use challenge: to register an instance, or to sign one application (C06).",
        Challenge,
        201,
        ChallengeRequest,
        refusals=(*_BODY_ERRORS, "app_instance_unknown", "app_instance_revoked", *_ALWAYS),
    ),
    Route(
        "post",
        "/api/v1/app/instances",
        "registerInstance",
        "Register an app instance key with the platform's attestation statement (C06).",
        InstanceRegistered,
        201,
        InstanceRegistration,
        refusals=(
            *_BODY_ERRORS,
            "app_attestation_invalid",
            "app_attestation_stale",
            "app_id_mismatch",
            "app_instance_revoked",
            "app_challenge_invalid",
            "app_challenge_reused",
            *_ALWAYS,
        ),
    ),
    Route(
        "post",
        "/api/v1/app/certificates",
        "applyForCertificate",
        "Apply and receive the certificate: display fields, SHC, VDS-NC (海外用), image, PDF.",
        AppCertificateIssued,
        200,
        AppCertificateRequest,
        signed=True,
        refusals=(
            *_BODY_ERRORS,
            "app_attestation_missing",
            "app_instance_unknown",
            "app_instance_revoked",
            "app_challenge_invalid",
            "app_challenge_reused",
            "app_signature_invalid",
            "consent_required",
            "outside_service_hours",
            "maintenance",
            "municipality_not_participating",
            "card_signature_invalid",
            "card_data_malformed",
            "card_ca_unknown",
            "card_cvc_signature_invalid",
            "card_data_signature_invalid",
            "card_digest_mismatch",
            "mrz_invalid",
            "passport_expired",
            "passport_mismatch",
            "no_vaccination_record",
            "record_mismatch",
            "counter_required",
            "certificate_unprintable",
            "overloaded",
            *_ALWAYS,
        ),
    ),
)


def _schemas() -> dict[str, Any]:
    models: list[tuple[type[BaseModel], Literal["validation", "serialization"]]] = [
        (ErrorBody, "serialization")
    ]
    for route in ROUTES:
        if route.body is not None:
            models.append((route.body, "validation"))
        if route.response is not None:
            models.append((route.response, "serialization"))
    _, top = models_json_schema(models, ref_template="#/components/schemas/{model}")
    schemas: dict[str, Any] = top["$defs"]
    return dict(sorted(schemas.items()))


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _error_responses(codes: tuple[str, ...]) -> dict[str, Any]:
    by_status: dict[int, list[str]] = {}
    for code in codes:
        by_status.setdefault(reasons.get(code).status, []).append(code)
    out: dict[str, Any] = {}
    for status in sorted(by_status):
        response: dict[str, Any] = {
            "description": "Refused: " + ", ".join(sorted(set(by_status[status]))),
            "content": {"application/json": {"schema": _ref(ErrorBody)}},
        }
        if status in (429, 503):
            response["headers"] = {
                "Retry-After": {
                    "description": "Seconds after which a retry may succeed.",
                    "schema": {"type": "string", "pattern": "^[0-9]+$"},
                }
            }
        out[str(status)] = response
    return out


def _signature_parameters() -> list[dict[str, Any]]:
    return [
        {
            "name": attestation.INSTANCE_HEADER,
            "in": "header",
            "required": True,
            "description": "The instance id returned at registration.",
            "schema": {"type": "string", "pattern": INSTANCE_ID_PATTERN},
        },
        {
            "name": attestation.CHALLENGE_HEADER,
            "in": "header",
            "required": True,
            "description": "A challenge from POST /api/v1/app/challenges (purpose apply).",
            "schema": {"type": "string", "pattern": CHALLENGE_PATTERN},
        },
        {
            "name": attestation.SIGNATURE_HEADER,
            "in": "header",
            "required": True,
            "description": "base64url DER ECDSA P-256/SHA-256 signature by the instance key "
            "over the signing input of docs/app-api.md.",
            "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,200}$"},
        },
    ]


def _operation(route: Route) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": "OK"}
    if route.response is not None:
        ok["content"] = {"application/json": {"schema": _ref(route.response)}}
    else:
        ok["content"] = {"application/json": {"schema": {"type": "object"}}}
    operation: dict[str, Any] = {
        "operationId": route.operation_id,
        "summary": route.summary,
        "responses": {str(route.status): ok, **_error_responses(route.refusals)},
    }
    if route.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(route.body)}},
        }
    if route.signed:
        operation["parameters"] = _signature_parameters()
    return operation


def build_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of the app API."""
    paths: dict[str, Any] = {}
    for route in ROUTES:
        paths.setdefault(route.path, {})[route.method] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "vaxcert app API (電子交付)",
            "version": VERSION,
            "description": "The smartphone app's API of the certificate-issuance center. "
            "The protocol, attestation and error codes are described in docs/app-api.md.",
        },
        "servers": [{"url": "https://127.0.0.1:8444"}],
        "paths": paths,
        "components": {"schemas": _schemas()},
    }


def render(document: dict[str, Any]) -> str:
    """The document as kept in the repository."""
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


@functools.cache
def document_bytes() -> bytes:
    """The kept document, as served."""
    return resources.files("cert_center").joinpath(DOCUMENT_FILE).read_bytes()


if __name__ == "__main__":
    target = Path(__file__).with_name("openapi") / "app-api.json"
    target.parent.mkdir(exist_ok=True)
    target.write_text(render(build_document()), encoding="utf-8")
    print(f"wrote {target}")
