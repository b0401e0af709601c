"""The center's kiosk API blueprint (mTLS, dedicated-line CA): thin views over :mod:`services`."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, g, jsonify, request

from cert_center import metrics
from cert_center.issuance import IssuanceService
from cert_center.services import Center
from vaxcert.config import KioskEntry
from vaxcert.contracts.kiosk_api import Accepted, CertificateRequest, Heartbeat, Receipt
from vaxcert.errors import VaxcertError
from vaxcert.web import current_peer, parse_body

kiosk_api = Blueprint("kiosk_api", __name__, url_prefix="/v1/kiosk")


def _center() -> Center:
    center: Center = current_app.extensions["vaxcert_center"]
    return center


@kiosk_api.before_request
def _identify_kiosk() -> None:
    peer = current_peer()
    if peer is None:  # require_client_certificate already refused; defence in depth (C09)
        raise VaxcertError("client_cert_required")
    g.kiosk = _center().authorise_kiosk(peer.common_name)


@kiosk_api.after_request
def _count(response: Response) -> Response:
    return metrics.count_request((request.endpoint or "unknown").rpartition(".")[2], response)


def _kiosk() -> KioskEntry:
    kiosk: KioskEntry = g.kiosk
    return kiosk


@kiosk_api.get("/config")
def config() -> Response:
    return jsonify(_center().kiosk_config(_kiosk()).model_dump())


@kiosk_api.post("/receipts")
def receipts() -> tuple[Response, int]:
    _center().record_receipt(_kiosk(), parse_body(Receipt))
    return jsonify(Accepted().model_dump()), 202


@kiosk_api.post("/heartbeat")
def heartbeat() -> tuple[Response, int]:
    peer = current_peer()
    _center().record_heartbeat(
        _kiosk(), parse_body(Heartbeat), peer.not_after if peer is not None else None
    )
    return jsonify(Accepted().model_dump()), 202


@kiosk_api.post("/certificates")
def certificates() -> Response:
    issuance: IssuanceService = current_app.extensions["vaxcert_issuance"]
    issued = issuance.issue(_kiosk(), parse_body(CertificateRequest))
    return jsonify(issued.model_dump(mode="json"))
