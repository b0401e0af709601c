"""The center's app API blueprint (TLS, C10; genuine app only, C06): thin views over
:mod:`cert_center.attestation` and :mod:`cert_center.app_issuance`. The contract is
cert_center/openapi/app-api.json (docs/app-api.md)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from cert_center import metrics, openapi
from cert_center.app_issuance import AppIssuance
from cert_center.attestation import AppAttestation
from cert_center.services import Center
from vaxcert.contracts.app_api import (
    AppCertificateRequest,
    AppConfig,
    AppMunicipality,
    ChallengeRequest,
    InstanceRegistration,
)
from vaxcert.web import parse_body, read_body, validate_body

app_api = Blueprint("app_api", __name__, url_prefix="/api/v1")


def _attestation() -> AppAttestation:
    attestation: AppAttestation = current_app.extensions["vaxcert_app_attestation"]
    return attestation


@app_api.after_request
def _count(response: Response) -> Response:
    endpoint = "app_" + (request.endpoint or "unknown").rpartition(".")[2]
    return metrics.count_request(endpoint, response)


@app_api.get("/openapi.json")
def openapi_document() -> Response:
    return Response(openapi.document_bytes(), mimetype="application/json")


@app_api.get("/app/config")
def config() -> Response:
    center: Center = current_app.extensions["vaxcert_center"]
    settings = center.settings
    return jsonify(
        AppConfig(
            terms_version=settings.terms_version,
            terms_ja=settings.terms_ja,
            terms_en=settings.terms_en,
            municipalities=[
                AppMunicipality(code=m.code, name_ja=m.name_ja, name_en=m.name_en)
                for m in settings.municipalities
            ],
            service_hours=settings.service_hours,
            timezone=settings.timezone,
            open_now=center.hours.is_open(center.clock()),
        ).model_dump()
    )


@app_api.post("/app/challenges")
def challenges() -> tuple[Response, int]:
    challenge = _attestation().new_challenge(parse_body(ChallengeRequest))
    return Response(challenge.model_dump_json(), mimetype="application/json"), 201


@app_api.post("/app/instances")
def instances() -> tuple[Response, int]:
    registered = _attestation().register(parse_body(InstanceRegistration))
    return jsonify(registered.model_dump()), 201


@app_api.post("/app/certificates")
def certificates() -> Response:
    raw = read_body()
    # C06 before anything of the body is looked at: the signature covers its exact bytes.
    instance = _attestation().verify_request(
        request.method, request.path, dict(request.headers), raw
    )
    issuance: AppIssuance = current_app.extensions["vaxcert_app_issuance"]
    issued = issuance.apply(instance, validate_body(AppCertificateRequest, raw))
    # pydantic writes the ≈ 150 KB reply in one step (Rust), no dict of it in between.
    return Response(issued.model_dump_json(), mimetype="application/json")
