"""Shared web behaviour: JSON errors with reason codes, no traces, peer identity only from TLS
or a configured trusted terminator (C09)."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from pydantic import BaseModel, ConfigDict, Field

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


class _Small(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    day: dt.date = Field(strict=True)


def _body_app() -> Flask:
    app = web.new_app(__name__, "kiosk")
    web.install(app, load_settings(), "test")

    @app.post("/small")
    def small() -> dict[str, str]:
        return {"name": web.parse_body(_Small, max_bytes=64).name}

    @app.post("/default")
    def default() -> dict[str, str]:
        return {"name": web.parse_body(_Small).name}

    return app


def _chunked(app: Flask, path: str, body: bytes) -> Any:
    """A body without Content-Length, as gunicorn hands a chunked request to the app."""
    return app.test_client().post(
        path,
        input_stream=io.BytesIO(body),
        content_type="application/json",
        environ_overrides={"wsgi.input_terminated": True, "CONTENT_LENGTH": ""},
    )


def test_a_chunked_body_over_the_cap_is_413_like_an_announced_one() -> None:
    app = _body_app()
    big = b'{"name": "' + b"x" * 100 + b'", "day": "2021-01-01"}'
    assert _chunked(app, "/small", big).status_code == 413
    announced = app.test_client().post("/small", data=big, content_type="application/json")
    assert announced.status_code == 413
    ok = _chunked(app, "/small", b'{"name": "a", "day": "2021-01-01"}')
    assert ok.status_code == 200 and ok.json == {"name": "a"}
    huge = b'{"name": "' + b"x" * (2 * 1024 * 1024) + b'", "day": "2021-01-01"}'
    response = _chunked(app, "/default", huge)
    assert response.status_code == 413
    assert response.json["error"]["code"] == "payload_too_large"


def test_a_repeated_key_is_refused_not_last_one_wins() -> None:
    body = b'{"name": "a", "name": "b", "day": "2021-01-01"}'
    response = _body_app().test_client().post("/small", data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.json["error"]["code"] == "bad_request"
    nested = b'{"name": "a", "day": "2021-01-01", "x": {"k": 1, "k": 2}}'
    response = (
        _body_app().test_client().post("/small", data=nested, content_type="application/json")
    )
    assert response.status_code == 400
