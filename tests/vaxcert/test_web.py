"""Shared web behaviour: JSON errors with reason codes, no traces, peer identity only from TLS
or a configured trusted terminator (C09)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest
from flask import Flask

from vaxcert import pki, web
from vaxcert.config import Settings, TlsSettings, load_settings
from vaxcert.residents import CANARY


@pytest.fixture(scope="module")
def client_pem(tmp_path_factory: pytest.TempPathFactory) -> str:
    directory = tmp_path_factory.mktemp("pki")
    pki.init(directory, "https://127.0.0.1:8446/issuer", ["KIOSK-0001"])
    return pki.cert_path(directory, "kiosk-KIOSK-0001").read_text()


def _app(settings: Settings) -> Flask:
    app = web.new_app(__name__, "kiosk")
    web.install(app, settings, "test")
    web.require_client_certificate(app)

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError(f"bug while handling {CANARY.my_number}")

    return app


def test_c09_header_identity_is_ignored_without_a_trusted_terminator(client_pem: str) -> None:
    settings = load_settings()
    response = (
        _app(settings)
        .test_client()
        .get("/healthz", headers={"X-SSL-Client-Cert": quote(client_pem)})
    )
    assert response.status_code == 401
    assert response.json["error"]["code"] == "client_cert_required"


def test_c09_header_identity_is_ignored_from_an_untrusted_address(client_pem: str) -> None:
    settings = load_settings().model_copy(
        update={
            "tls": TlsSettings(
                trusted_proxies=["10.0.0.5/32"], trusted_client_cert_header="X-SSL-Client-Cert"
            )
        }
    )
    response = (
        _app(settings)
        .test_client()
        .get(
            "/healthz",
            headers={"X-SSL-Client-Cert": quote(client_pem)},
            environ_base={"REMOTE_ADDR": "10.0.0.6"},
        )
    )
    assert response.status_code == 401


def test_c09_header_identity_is_used_from_the_trusted_terminator(client_pem: str) -> None:
    settings = load_settings().model_copy(
        update={
            "tls": TlsSettings(
                trusted_proxies=["10.0.0.5/32"], trusted_client_cert_header="X-SSL-Client-Cert"
            )
        }
    )
    response = (
        _app(settings)
        .test_client()
        .get(
            "/healthz",
            headers={"X-SSL-Client-Cert": quote(client_pem)},
            environ_base={"REMOTE_ADDR": "10.0.0.5"},
        )
    )
    assert response.status_code == 200
    assert response.json["peer"] == "KIOSK-0001"


def test_unknown_path_and_method_are_json_with_codes(client_pem: str) -> None:
    client = _app(load_settings()).test_client()
    environ = {"SSL_CLIENT_CERT": client_pem}
    missing = client.get("/nope", environ_base=environ)
    assert missing.status_code == 404 and missing.json["error"]["code"] == "not_found"
    wrong = client.post("/healthz", environ_base=environ)
    assert wrong.status_code == 405 and wrong.json["error"]["code"] == "method_not_allowed"


def test_c22_a_bug_is_a_500_without_trace_or_personal_data(client_pem: str) -> None:
    client = _app(load_settings()).test_client()
    response = client.get(
        "/boom", environ_base={"SSL_CLIENT_CERT": client_pem}, headers={"Accept-Language": "ja"}
    )
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert response.json["error"]["code"] == "internal_error"
    assert "Traceback" not in body and CANARY.my_number not in body
    assert response.json["error"]["message"] == "システムエラーが発生しました。"


def test_templates_root_has_one_folder_per_app() -> None:
    names = {p.name for p in Path(web.TEMPLATES_ROOT).iterdir() if p.is_dir()}
    assert {"kiosk", "cert_center", "signer", "vrs_stub", "verifier"} <= names
