"""Thin blueprints: the center-only signing API and the public issuer endpoints.

Signing API (mTLS, internal CA, only the configured client names, C09): ``POST /v1/shc``,
``POST /v1/vdsnc`` and ``POST /v1/certificates`` (both at once). No payload is logged or kept
(C08). Public surface (TLS, CORS ``*``): the JWKS and CRLs under the issuer URL's path, the CSCA
certificate and its CRL.
"""

from __future__ import annotations

import hashlib
import logging
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, jsonify, request
from pydantic import BaseModel

from signer.services import SignerService
from signer.shc_issue import IssuedShc
from signer.vdsnc_issue import IssuedVdsnc
from vaxcert import web
from vaxcert.contracts.signing import CertificateContent, CertificateResult, ShcResult, VdsncResult
from vaxcert.errors import VaxcertError

log = logging.getLogger(__name__)


def _service() -> SignerService:
    service: SignerService = current_app.extensions["vaxcert_signer"]
    return service


def signing_blueprint(allowed_clients: list[str]) -> Blueprint:
    """``/v1/*``: sign the content of one certificate for the center."""
    bp = Blueprint("signer_api", __name__, url_prefix="/v1")
    allowed = frozenset(allowed_clients)

    @bp.before_request
    def _only_the_center() -> None:
        # C09: TLS proved the internal CA; of its clients only the center may ask for signatures.
        peer = web.current_peer()
        if peer is None:
            raise VaxcertError("client_cert_required")
        if peer.common_name not in allowed:
            log.warning("refused a client that may not sign", extra={"peer_cn": peer.common_name})
            raise VaxcertError("client_not_allowed")

    @bp.post("/shc")
    def shc_card() -> Response:
        content = web.parse_body(CertificateContent)
        return _reply(_shc_result(_service().issue_shc(content)))

    @bp.post("/vdsnc")
    def vdsnc_document() -> Response:
        content = web.parse_body(CertificateContent)
        return _reply(_vdsnc_result(_service().issue_vdsnc(content)))

    @bp.post("/certificates")
    def certificate() -> Response:
        content = web.parse_body(CertificateContent)
        issued = _service().issue(content)
        result = CertificateResult(
            kind=content.kind,
            shc=_shc_result(issued.shc),
            vdsnc=_vdsnc_result(issued.vdsnc) if issued.vdsnc is not None else None,
        )
        return _reply(result)

    return bp


def _reply(result: BaseModel) -> Response:
    return Response(result.model_dump_json(exclude_none=True), mimetype="application/json")


def _shc_result(card: IssuedShc) -> ShcResult:
    return ShcResult(jws=card.jws, qr_text=card.numeric, kid=card.kid, nbf=card.nbf)


def _vdsnc_result(document: IssuedVdsnc) -> VdsncResult:
    return VdsncResult(document=document.document, bsc_serial=format(document.bsc_serial, "x"))


def public_blueprint(issuer_url: str) -> Blueprint:
    """The issuer's published material; the JWKS path follows the configured ``iss``."""
    bp = Blueprint("signer_public", __name__)
    prefix = urlsplit(issuer_url).path.rstrip("/")

    def _public(response: Response, max_age: int = 300) -> Response:
        response.headers["Cache-Control"] = f"public, max-age={max_age}"
        return response

    @bp.get(f"{prefix}/.well-known/jwks.json")
    def jwks() -> Response:
        return _public(jsonify(_service().jwks()))

    @bp.get(f"{prefix}/.well-known/crl/<kid>.json")
    def crl(kid: str) -> Response:
        body = _service().crl(kid)
        if body is None:
            raise VaxcertError("not_found", "no CRL for that kid")
        response = jsonify(body)
        # The JWKS announces crlVersion N; the CRL fetched after it must have ctr >= N. A CRL
        # kept by a cache for even a minute after the first revocation would list nothing while
        # the JWKS already says 2, and verifiers that key their copy on crlVersion could keep
        # that empty list. So caches revalidate every time; the ETag (kid and ctr) keeps that
        # to a 304 while nothing changed.
        response.headers["Cache-Control"] = "no-cache"
        response.set_etag(f"{kid}.{body['ctr']}")
        response.make_conditional(request)  # 304 without a body when the ETag matches
        return response

    @bp.get(f"{prefix}/.well-known/crl/vdsnc-uvci.jws")
    def uvci_revocations() -> Response:
        # Beside the SHC CRLs: the certificate ids revoked, for VDS-NC (docs/signer.md §4).
        body = _service().uvci_revocations()
        if body is None:
            raise VaxcertError("not_found", "no document signer to sign the list")
        response = Response(body, mimetype="application/jose")
        response.headers["Cache-Control"] = "no-cache"  # as the SHC CRLs: revalidate each time
        response.set_etag(hashlib.sha256(body.encode("ascii")).hexdigest()[:32])
        response.make_conditional(request)
        return response

    @bp.get("/vdsnc/csca.der")
    def csca() -> Response:
        return _public(Response(_service().csca_der(), mimetype="application/pkix-cert"), 3600)

    @bp.get("/vdsnc/crl.der")
    def csca_crl() -> Response:
        return _public(Response(_service().csca_crl_der(), mimetype="application/pkix-crl"), 300)

    return bp
