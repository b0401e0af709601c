"""HTTP surface of the VRS stub: the center's relay API and the municipal staff API (thin views).

Both sit behind the LGWAN-CA mTLS listener (C09). The relay API admits only the configured
client CNs (the center); the staff API refuses those CNs and wants a bearer token scoped to one
municipality (C19). Every reply is JSON (CSV for export) with reason codes on refusal.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from pydantic import BaseModel

from vaxcert import lgcode, web
from vaxcert.config import Settings
from vaxcert.contracts.vrs_relay import RECORD_ID, IssuanceRequest, PassportRequest, QueryRequest
from vaxcert.errors import VaxcertError
from vaxcert.web import current_peer
from vrs_stub.services import Caller, RelayService, StaffService
from vrs_stub.store import StaffPrincipal, Store

Model = TypeVar("Model", bound=BaseModel)

_RELAY_MAX_BYTES = 64 * 1024
_FIELD_NAME = re.compile(r"[a-z][a-z_]{0,39}")

relay = Blueprint("vrs_relay", __name__, url_prefix="/v1")
staff = Blueprint("vrs_staff", __name__, url_prefix="/v1/staff")


def _caller() -> Caller:
    peer = current_peer()
    return Caller(actor=peer.common_name if peer else "", request_id=g.get("request_id", ""))


def _settings() -> Settings:
    settings: Settings = current_app.config["VAXCERT_SETTINGS"]
    return settings


def _store() -> Store:
    store: Store = current_app.extensions["vrs_store"]
    return store


def parse_body(model: type[Model]) -> Model:
    """The JSON body as ``model``, at most the relay's size (errors name fields, C04).

    A refused body leaves an operation log entry like any other refusal (C15): the reason code
    and the refused field names, never a value.
    """
    try:
        return web.parse_body(model, _RELAY_MAX_BYTES)
    except VaxcertError as refusal:
        _log_refusal("center", refusal)
        raise


def _log_refusal(actor_kind: str, refusal: VaxcertError, code: str = "") -> None:
    caller = _caller()
    fields = refusal.extra.get("fields") if refusal.extra else None
    # Field names come from the caller too: only name-shaped ones are kept, never a value.
    names = [f for f in fields if _FIELD_NAME.fullmatch(str(f))] if isinstance(fields, list) else []
    detail = f"fields={','.join(names[:8])}" if names else ""
    action = (request.endpoint or "unknown").rpartition(".")[2]
    _store().log_operation_alone(
        actor_kind, caller.actor, code, action, refusal.code, detail, caller.request_id
    )


# --- relay API (the center only) ---------------------------------------------------------------


@relay.before_request
def _only_the_center() -> None:
    peer = current_peer()
    # C09: the LGWAN handshake proved the CA; the CN must be one of the relay clients.
    if peer is None or peer.common_name not in _settings().vrs.relay_client_cns:
        refusal = VaxcertError("vrs_peer_not_allowed")
        _log_refusal("center", refusal)  # C15: who tried, when, what
        raise refusal


def _relay() -> RelayService:
    service: RelayService = current_app.extensions["vrs_relay"]
    return service


def _json(model: BaseModel, status: int = 200) -> tuple[Response, int]:
    return jsonify(model.model_dump(mode="json")), status


@relay.post("/records/query")
def query() -> tuple[Response, int]:
    """Look up a person's records in one municipality's partition."""
    return _json(_relay().query(parse_body(QueryRequest), _caller()))


@relay.post("/issuances")
def issuances() -> tuple[Response, int]:
    """Record an issued certificate (C20); idempotent on certificate id."""
    result = _relay().record_issuance(parse_body(IssuanceRequest), _caller())
    return _json(result, 201 if result.result == "recorded" else 200)


@relay.post("/passports")
def passports() -> tuple[Response, int]:
    """Store passport data from the app for later kiosk 海外用 issuance."""
    return _json(_relay().store_passport(parse_body(PassportRequest), _caller()), 201)


# --- municipal staff API -----------------------------------------------------------------------


@staff.before_request
def _staff_token() -> None:
    caller = _caller()
    code = (request.view_args or {}).get("code", "")
    if caller.actor in _settings().vrs.relay_client_cns:
        # Least privilege: the center's certificate is for relaying only, never for staff work.
        _store().log_operation_alone(
            "staff", caller.actor, code, "staff_api", "denied", "relay client", caller.request_id
        )
        raise VaxcertError("vrs_peer_not_allowed")
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    principal = None
    if scheme.lower() == "bearer" and token:
        with _store().transaction(write=False) as conn:
            principal = _store().authenticate(conn, token.strip())
    if principal is None:
        _store().log_operation_alone(
            "staff", caller.actor, code, "staff_api", "denied", "no valid token", caller.request_id
        )
        raise VaxcertError("vrs_staff_token_required")
    if not lgcode.is_valid(code):
        refusal = VaxcertError("invalid_field", "municipality code", fields=["code"])
        _log_refusal("staff", refusal)
        raise refusal
    g.vrs_principal = principal


def _principal() -> StaffPrincipal:
    principal: StaffPrincipal = g.vrs_principal
    return principal


def _staff_service() -> StaffService:
    service: StaffService = current_app.extensions["vrs_staff"]
    return service


@staff.post("/municipalities/<code>/records/import")
def import_records(code: str) -> tuple[Response, int]:
    """All-or-nothing CSV import into the caller's municipality."""
    if request.mimetype not in ("text/csv", "application/octet-stream"):
        refusal = VaxcertError("unsupported_media_type", "send text/csv")
        _log_refusal("staff", refusal, code)
        raise refusal
    counts = _staff_service().import_csv(_principal(), code, request.get_data(), _caller())
    return jsonify({"result": "imported", **counts}), 200


@staff.get("/municipalities/<code>/records/export")
def export_records(code: str) -> Response:
    """CSV export of the caller's municipality, without My Number (C18)."""
    body = _staff_service().export_csv(_principal(), code, _caller())
    response = Response(body, mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="vrs-{code}.csv"'
    return response


@staff.delete("/municipalities/<code>/records/<record_id>")
def delete_record(code: str, record_id: str) -> tuple[Response, int]:
    """Delete one of the caller's municipality's records (C19)."""
    if not RECORD_ID.match(record_id):
        refusal = VaxcertError("invalid_field", "record_id", fields=["record_id"])
        _log_refusal("staff", refusal, code)
        raise refusal
    _staff_service().delete_record(_principal(), code, record_id, _caller())
    return jsonify({"result": "deleted", "record_id": record_id}), 200


@staff.get("/municipalities/<code>/provisions")
def provisions(code: str) -> tuple[Response, int]:
    """The municipality's newest provision records (C16)."""
    rows = _staff_service().logs(_principal(), code, "provisions", _caller())
    return jsonify({"provisions": rows}), 200


@staff.get("/municipalities/<code>/operations")
def operations(code: str) -> tuple[Response, int]:
    """The municipality's newest operation log entries (C15)."""
    rows = _staff_service().logs(_principal(), code, "operations", _caller())
    return jsonify({"operations": rows}), 200


def register(app: Flask, store: Store) -> None:
    """Attach the services and both blueprints to ``app``."""
    app.extensions["vrs_store"] = store
    app.extensions["vrs_relay"] = RelayService(store)
    app.extensions["vrs_staff"] = StaffService(store)
    app.register_blueprint(relay)
    app.register_blueprint(staff)


def health(store: Store) -> dict[str, Any]:
    """What /healthz adds: the database answers (no counts, no codes)."""
    with store.transaction(write=False) as conn:
        store.municipality_codes(conn)
    return {"database": store.dialect}
