"""The signer's two surfaces over real TLS on loopback: the center-only signing API (mTLS, internal
CA) and the public issuer endpoints (TLS, CORS)."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from signer.app import create_app
from signer.services import SignerService
from tests.signer.conftest import ISSUER as ISSUER_URL
from tests.signer.conftest import verify_shc, verify_vdsnc
from tests.support.servers import LiveServer, pki_context, serving
from vaxcert import pki, tls
from vaxcert.contracts.signing import CertificateContent
from vaxcert.relay import Channel
from vaxcert.residents import CANARY


@pytest.fixture
def api(service: SignerService, pki_dir: Path) -> Iterator[LiveServer]:
    app = create_app(service.settings, "api", service=service)
    with serving(app, pki_context(pki_dir, "signer-api", "internal-ca")) as server:
        yield server


@pytest.fixture
def public(service: SignerService, pki_dir: Path) -> Iterator[LiveServer]:
    app = create_app(service.settings, "public", service=service)
    with serving(app, pki_context(pki_dir, "signer-public")) as server:
        yield server


def _session(pki_dir: Path, client: str | None, ca: str = "internal-ca") -> requests.Session:
    cert = pki.cert_path(pki_dir, client) if client else None
    key = pki.key_path(pki_dir, client) if client else None
    return tls.client_session(pki.cert_path(pki_dir, ca), cert, key)


@pytest.fixture
def center(pki_dir: Path) -> Iterator[requests.Session]:
    with _session(pki_dir, "center-internal-client") as session:
        yield session


@pytest.fixture
def other_internal_client(pki_dir: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A client certificate from the internal CA that is not the center's."""
    spec = pki.Spec("other", "cert-other-service", "client", "internal-ca")
    key = ec.generate_private_key(ec.SECP256R1())
    cert = pki.build_certificate(
        spec,
        key,
        pki.load_cert(pki.cert_path(pki_dir, "internal-ca")),
        pki.load_key(pki.key_path(pki_dir, "internal-ca")),
    )
    cert_file, key_file = tmp_path / "other.crt.pem", tmp_path / "other.key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pki.write_private(
        key_file,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    return cert_file, key_file


def _post(session: requests.Session, url: str, body: Any, **kwargs: Any) -> requests.Response:
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    headers = kwargs.pop("headers", {"Content-Type": "application/json"})
    return session.post(url, data=data, headers=headers, timeout=10, **kwargs)


def _jwks(public: LiveServer, pki_dir: Path) -> dict[str, Any]:
    with _session(pki_dir, None, "public-ca") as session:
        response = session.get(f"{public.url}/issuer/.well-known/jwks.json", timeout=10)
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def _json(content: CertificateContent) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(content.model_dump_json())
    return data


# -- the center-only API ------------------------------------------------------------------------


def test_the_center_gets_a_card_that_verifies_with_the_published_keys(
    api: LiveServer,
    public: LiveServer,
    center: requests.Session,
    domestic: CertificateContent,
    pki_dir: Path,
) -> None:
    response = _post(center, f"{api.url}/v1/shc", _json(domestic))
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"jws", "qr_text", "kid", "nbf"}
    assert body["qr_text"].startswith("shc:/")
    verify_shc(body["jws"], _jwks(public, pki_dir))


def test_the_center_gets_a_vdsnc_for_an_overseas_certificate(
    api: LiveServer,
    center: requests.Session,
    overseas: CertificateContent,
    domestic: CertificateContent,
) -> None:
    response = _post(center, f"{api.url}/v1/vdsnc", _json(overseas))
    assert response.status_code == 200, response.text
    verify_vdsnc(response.json()["document"], (api_pki(api) / "vdsnc-csca.der").read_bytes())
    refused = _post(center, f"{api.url}/v1/vdsnc", _json(domestic))
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "vdsnc_overseas_only"


def api_pki(api: LiveServer) -> Path:
    settings = api.server.app.config["VAXCERT_SETTINGS"]
    path: Path = settings.pki_dir
    return path


def test_both_formats_in_one_call(
    api: LiveServer,
    center: requests.Session,
    overseas: CertificateContent,
    domestic: CertificateContent,
) -> None:
    both = _post(center, f"{api.url}/v1/certificates", _json(overseas)).json()
    assert set(both) == {"kind", "shc", "vdsnc"}
    only_shc = _post(center, f"{api.url}/v1/certificates", _json(domestic)).json()
    assert set(only_shc) == {"kind", "shc"}


def test_c09_a_client_without_a_certificate_is_refused(
    api: LiveServer, pki_dir: Path, domestic: CertificateContent
) -> None:
    with _session(pki_dir, None) as anonymous, pytest.raises(requests.exceptions.ConnectionError):
        _post(anonymous, f"{api.url}/v1/shc", _json(domestic))


def test_c09_a_client_of_another_ca_is_refused(
    api: LiveServer, pki_dir: Path, domestic: CertificateContent
) -> None:
    with (
        _session(pki_dir, "kiosk-KIOSK-0001") as kiosk,
        pytest.raises(requests.exceptions.ConnectionError),
    ):
        _post(kiosk, f"{api.url}/v1/shc", _json(domestic))


def test_c09_another_client_of_the_internal_ca_is_not_the_center(
    api: LiveServer,
    pki_dir: Path,
    other_internal_client: tuple[Path, Path],
    domestic: CertificateContent,
) -> None:
    cert, key = other_internal_client
    with tls.client_session(pki.cert_path(pki_dir, "internal-ca"), cert, key) as other:
        response = _post(other, f"{api.url}/v1/shc", _json(domestic))
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "client_not_allowed"
        # Health stays reachable for probes with any internal-CA certificate.
        assert other.get(f"{api.url}/healthz", timeout=10).status_code == 200


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        (lambda d: d.update(my_number="123456789018"), 422, "unknown_field"),
        (lambda d: d["holder"].update(nickname="x"), 422, "unknown_field"),
        (lambda d: d["doses"][0].update(dose_number="1"), 422, "invalid_field"),
        (lambda d: d.update(doses="three"), 422, "invalid_field"),
        (lambda d: d["holder"].update(birth_date=19800217), 422, "invalid_field"),
        (lambda d: d.pop("certificate_id"), 422, "missing_field"),
        (lambda d: d["holder"].pop("birth_date"), 422, "missing_field"),
        (lambda d: d["doses"][0].update(product="sputnik-v"), 422, "vaccine_product_unknown"),
        (
            lambda d: d["doses"][0].update(product="covid19-unspecified"),
            422,
            "vaccine_not_issuable",
        ),
        # Dose 1 dated after dose 2: numbers that contradict the dates are never signed.
        (lambda d: d["doses"][0].update(date="2021-07-01"), 422, "dose_order_invalid"),
        (lambda d: d["doses"][1].update(date=d["doses"][0]["date"]), 422, "dose_order_invalid"),
    ],
)
def test_bad_content_gets_a_reason_code(
    api: LiveServer,
    center: requests.Session,
    overseas: CertificateContent,
    change: Any,
    status: int,
    code: str,
) -> None:
    data = _json(overseas)
    change(data)
    response = _post(center, f"{api.url}/v1/shc", data)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"] and "next_step" in error
    # C08, C22: refusals never echo what was sent.
    for value in CANARY.canary_values:
        assert value not in response.text


def test_malformed_requests_are_4xx_not_500(api: LiveServer, center: requests.Session) -> None:
    not_json = _post(center, f"{api.url}/v1/shc", b"{not json")
    assert (not_json.status_code, not_json.json()["error"]["code"]) == (400, "bad_request")
    array = _post(center, f"{api.url}/v1/shc", [])
    assert (array.status_code, array.json()["error"]["code"]) == (400, "bad_request")
    plain = _post(center, f"{api.url}/v1/shc", "x", headers={"Content-Type": "text/plain"})
    assert (plain.status_code, plain.json()["error"]["code"]) == (415, "unsupported_media_type")
    wrong_method = center.get(f"{api.url}/v1/shc", timeout=10)
    assert wrong_method.status_code == 405
    huge = _post(center, f"{api.url}/v1/shc", b"[" + b"1," * 600_000 + b"1]")
    assert huge.status_code == 413


def test_c08_no_payload_in_logs_and_an_audit_line_per_signature(
    api: LiveServer,
    center: requests.Session,
    overseas: CertificateContent,
    log_stream: io.StringIO,
) -> None:
    response = _post(center, f"{api.url}/v1/certificates", _json(overseas))
    assert response.status_code == 200
    body = response.json()
    bad = _json(overseas)
    bad["holder"]["birth_date"] = 19800217
    assert _post(center, f"{api.url}/v1/shc", bad).status_code == 422
    logged = log_stream.getvalue()
    for value in CANARY.canary_values:
        assert value not in logged
    assert body["shc"]["jws"] not in logged
    records = [json.loads(line) for line in logged.splitlines() if line.startswith("{")]
    audits = [r for r in records if r["logger"] == "signer.audit"]
    assert [r["event"] for r in audits] == ["shc_signed", "vdsnc_signed"]
    shc_audit, vds_audit = audits
    assert shc_audit["kid"] == body["shc"]["kid"]
    assert shc_audit["certificate_id"] == overseas.certificate_id
    signing_input = body["shc"]["jws"].rpartition(".")[0].encode()
    assert shc_audit["signed_sha256"] == hashlib.sha256(signing_input).hexdigest()
    assert vds_audit["bsc_serial"] == body["vdsnc"]["bsc_serial"]
    assert "ts" in shc_audit


# -- the public surface --------------------------------------------------------------------------


def test_public_endpoints_with_cors(
    public: LiveServer, pki_dir: Path, service: SignerService
) -> None:
    with _session(pki_dir, None, "public-ca") as anyone:
        jwks = anyone.get(f"{public.url}/issuer/.well-known/jwks.json", timeout=10)
        assert jwks.headers["Access-Control-Allow-Origin"] == "*"
        assert jwks.headers["Content-Type"].startswith("application/json")
        keys = jwks.json()["keys"]
        assert keys and all("d" not in key for key in keys)
        assert keys[0]["crlVersion"] == 1
        kid = keys[0]["kid"]
        crl = anyone.get(f"{public.url}/issuer/.well-known/crl/{kid}.json", timeout=10)
        assert crl.json() == {"kid": kid, "method": "rid", "ctr": 1, "rids": []}
        assert crl.headers["Access-Control-Allow-Origin"] == "*"
        missing = anyone.get(f"{public.url}/issuer/.well-known/crl/nope.json", timeout=10)
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
        csca = anyone.get(f"{public.url}/vdsnc/csca.der", timeout=10)
        assert csca.content == (pki_dir / "vdsnc-csca.der").read_bytes()
        assert csca.headers["Content-Type"] == "application/pkix-cert"
        crl_der = anyone.get(f"{public.url}/vdsnc/crl.der", timeout=10)
        assert crl_der.content == (pki_dir / "vdsnc-crl.der").read_bytes()
        assert crl_der.headers["Content-Type"] == "application/pkix-crl"
        # The signing API is not on the public surface.
        assert anyone.post(f"{public.url}/v1/shc", json={}, timeout=10).status_code == 404
        # A revocation shows up at once in the CRL and the JWKS.
        service.revoke("CERT1")
        assert (
            anyone.get(f"{public.url}/issuer/.well-known/crl/{kid}.json", timeout=10).json()["ctr"]
            == 2
        )
        assert (
            anyone.get(f"{public.url}/issuer/.well-known/jwks.json", timeout=10).json()["keys"][0][
                "crlVersion"
            ]
            == 2
        )


# -- the center's client -------------------------------------------------------------------------


def test_the_center_client_over_mtls(
    api: LiveServer,
    service: SignerService,
    overseas: CertificateContent,
    domestic: CertificateContent,
) -> None:
    from cert_center.clients import SignerClient
    from vaxcert.errors import VaxcertError

    port = int(api.url.rsplit(":", 1)[1])
    settings = service.settings.model_copy(
        update={
            "listeners": service.settings.listeners.model_copy(
                update={
                    "signer_api": service.settings.listeners.signer_api.model_copy(
                        update={"port": port}
                    )
                }
            )
        }
    )
    client = SignerClient.from_settings(settings)
    both = client.certificates(overseas)
    assert both.vdsnc is not None and both.kind == "overseas"
    verify_shc(both.shc.jws, service.jwks())
    verify_vdsnc(both.vdsnc.document, service.csca_der())
    assert client.shc(domestic).qr_text.startswith("shc:/")
    with pytest.raises(VaxcertError) as refused:
        client.vdsnc(domestic)
    assert refused.value.code == "vdsnc_overseas_only"
    with pytest.raises(VaxcertError) as down:
        SignerClient(
            Channel(
                "https://127.0.0.1:9",
                pki.cert_path(settings.pki_dir, "internal-ca"),
                None,
                None,
                1,
                "signer",
            )
        ).shc(domestic)
    assert down.value.code == "service_unavailable"


def test_the_signed_list_of_revoked_certificate_ids_beside_the_crls(
    public: LiveServer, pki_dir: Path, service: SignerService
) -> None:
    from verifier._uvci import parse_uvci_list
    from verifier.dev_trust import dev_trust_store

    url = f"{public.url}/issuer/.well-known/crl/vdsnc-uvci.jws"
    store = dev_trust_store(pki_dir, ISSUER_URL)
    with _session(pki_dir, None, "public-ca") as anyone:
        first = anyone.get(url, timeout=10)
        assert first.status_code == 200 and first.headers["Content-Type"] == "application/jose"
        assert first.headers["Access-Control-Allow-Origin"] == "*"
        assert first.headers["Cache-Control"] == "no-cache"
        listed, anchors = parse_uvci_list(first.text, store, dt.datetime.now(dt.UTC))
        assert listed.digests == frozenset() and anchors  # signed by a BSC of the trusted CSCA
        # Unchanged: a conditional GET costs a 304.
        again = anyone.get(url, headers={"If-None-Match": first.headers["ETag"]}, timeout=10)
        assert again.status_code == 304
        service.revoke("CERT1")
        revoked = anyone.get(url, headers={"If-None-Match": first.headers["ETag"]}, timeout=10)
        assert revoked.status_code == 200
        listed, _ = parse_uvci_list(revoked.text, store, dt.datetime.now(dt.UTC))
        # Digests, never the ids themselves.
        assert listed.revokes("CERT1") and "CERT1" not in revoked.text
        assert listed.ctr == 2
