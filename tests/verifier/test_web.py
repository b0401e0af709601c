"""The verifier page through Flask's test client: ja/en, no-store, no content in logs (C08),
uploads, pasted text, camera frames, and 4xx (never 500) for bad requests."""

from __future__ import annotations

import io
import json
import logging
import os
import time
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.verifier import issuance
from vaxcert.config import load_settings
from verifier import TrustStore
from verifier.app import create_app
from verifier.dev_trust import write_dev_trust_store


@pytest.fixture
def app(dev_store: TrustStore, dev_pki: Path) -> Flask:
    settings = load_settings(environment="test", pki_dir=dev_pki, issuer_url=issuance.ISSUER_URL)
    return create_app(settings, trust=dev_store)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture(scope="module")
def page(dev_pki: Path) -> bytes:
    # A 海外用 page: the SHC and the VDS-NC of one person and certificate.
    overseas = issuance.issue_shc(dev_pki, issuance.overseas_shc_payload())
    return issuance.certificate_page_png(overseas, issuance.issue_vdsnc(dev_pki))


@pytest.mark.parametrize(
    ("lang", "title"),
    [("ja", "ワクチン接種証明書の確認"), ("en", "Verify a vaccination certificate")],
)
def test_the_page_in_japanese_and_english(client: FlaskClient, lang: str, title: str) -> None:
    response = client.get(f"/?lang={lang}")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert f"<title>{title}</title>" in body
    assert f'<html lang="{lang}">' in body


def test_browser_language_is_used_without_a_choice(client: FlaskClient) -> None:
    body = client.get("/", headers={"Accept-Language": "en-US,en;q=0.9"}).get_data(as_text=True)
    assert "Start camera" in body
    body = client.get("/", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert "カメラを起動" in body  # Japanese by default


def test_every_response_is_no_store_and_sets_no_cookie(client: FlaskClient, page: bytes) -> None:
    responses = [
        client.get("/"),
        client.get("/static/verifier/camera.js"),
        client.post("/", data={"text": "shc:/56"}),
        client.post("/api/verify", data=page, content_type="image/png"),
        client.get("/healthz"),
    ]
    for response in responses:
        assert response.headers["Cache-Control"] == "no-store"
        assert "Set-Cookie" not in response.headers
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]


def test_pasted_valid_text_shows_green_result_with_holder(
    client: FlaskClient, dev_pki: Path
) -> None:
    response = client.post("/", data={"text": issuance.issue_vdsnc(dev_pki), "lang": "en"})
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert 'class="result valid"' in body
    assert "YAMADA HANAKO" in body and "1985-04-01" in body
    assert "JP0000000123" in body
    assert "TK1234567" in body and "Passport number" in body
    assert "Compare the name, date of birth and passport number with the holder" in body
    assert "Document signer" in body and "JP dev VDS-NC signer" in body
    # The issuer's list of revoked certificate ids was checked, not only the document signer.
    assert "Not revoked: checked against the issuer" in body


def test_pasted_invalid_text_shows_red_result_with_reasons_in_both_languages(
    client: FlaskClient, aus_dir: Path
) -> None:
    response = client.post("/", data={"text": (aus_dir / "john-tampered.json").read_text()})
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert 'class="result invalid"' in body
    assert 'data-code="unknown_trust_anchor"' in body  # the dev store does not trust AUS
    assert "信頼された国の署名者ではありません" in body and "Unknown trust anchor" in body
    assert "JOHNX" not in body  # nothing of an invalid certificate is shown as if it were true


def test_uploaded_page_with_two_codes_shows_two_results(client: FlaskClient, page: bytes) -> None:
    response = client.post(
        "/", data={"file": (io.BytesIO(page), "page.png")}, content_type="multipart/form-data"
    )
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    # This store's SHC key was never fetched: that card is valid, revocation not checked.
    assert body.count('class="result unchecked"') == 1
    assert body.count('class="result valid"') == 1
    assert "有効（失効は未確認）" in body
    assert "山田 花子" in body and "YAMADA HANAKO" in body


def test_uploaded_pdf(client: FlaskClient, dev_pki: Path) -> None:
    pdf = issuance.certificate_page_pdf(issuance.issue_shc(dev_pki), issuance.issue_vdsnc(dev_pki))
    response = client.post(
        "/?lang=en",
        data={"file": (io.BytesIO(pdf), "certificate.pdf")},
        content_type="multipart/form-data",
    )
    body = response.get_data(as_text=True)
    assert body.count('class="result valid"') + body.count('class="result unchecked"') == 2


def test_empty_form_is_a_400_page(client: FlaskClient) -> None:
    response = client.post("/", data={"text": "  "})
    assert response.status_code == 400
    assert "必要な項目がありません" in response.get_data(as_text=True)


def test_api_camera_frames(client: FlaskClient, page: bytes) -> None:
    import PIL.Image

    blank = io.BytesIO()
    PIL.Image.new("RGB", (640, 480), (90, 90, 90)).save(blank, format="JPEG")
    nothing = client.post("/api/verify?frame=1", data=blank.getvalue(), content_type="image/jpeg")
    assert nothing.status_code == 200
    assert nothing.json is not None
    assert (nothing.json["valid"], nothing.json["verdict"], nothing.json["results"]) == (
        False,
        None,
        [],
    )
    found = client.post("/api/verify?frame=1&html=1&lang=en", data=page, content_type="image/png")
    assert found.json is not None
    assert found.json["valid"] is True
    assert found.json["verdict"] == "valid_revocation_unchecked"  # the SHC's, the worse one
    assert [r["format"] for r in found.json["results"]] == ["shc", "vdsnc"]
    assert [r["verdict"] for r in found.json["results"]] == ["valid_revocation_unchecked", "valid"]
    assert found.json["results"][0]["verdict_text"] == "VALID — revocation not checked"
    assert found.json["html"].count('class="result unchecked"') == 1
    assert found.json["html"].count('class="result valid"') == 1


def test_api_text_and_invalid_results_carry_no_holder_data(
    client: FlaskClient, dev_pki: Path
) -> None:
    expired = issuance.issue_shc(dev_pki, issuance.jp_shc_payload(exp=1_000_000_000))
    response = client.post("/api/verify?lang=ja", json={"text": expired})
    assert response.status_code == 200
    result = response.json["results"][0]  # type: ignore[index]
    assert result["valid"] is False
    assert [r["code"] for r in result["reasons"]] == ["expired"]
    assert result["reasons"][0]["message"] == "証明書の有効期限が切れています。"
    assert result["names"] == [] and result["birth_date"] is None and result["doses"] == []


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"data": b"x", "content_type": "text/plain"}, 415, "unsupported_media_type"),
        ({"json": {"nope": 1}}, 422, "missing_field"),
        ({"json": {"text": "shc:/56", "extra": 1}}, 422, "unknown_field"),
        ({"data": b"", "content_type": "image/png"}, 422, "missing_field"),
    ],
)
def test_api_bad_requests_are_4xx_with_a_reason(
    client: FlaskClient, kwargs: dict[str, object], status: int, code: str
) -> None:
    response = client.post("/api/verify", **kwargs)  # type: ignore[arg-type]
    assert response.status_code == status
    assert response.json is not None and response.json["error"]["code"] == code


def test_garbage_image_is_a_result_not_a_500(client: FlaskClient) -> None:
    response = client.post("/api/verify", data=b"\x89PNG\r\n\x1a\nbroken", content_type="image/png")
    assert response.status_code == 200
    assert response.json["results"][0]["reasons"][0]["code"] == "image_unreadable"  # type: ignore[index]


def test_too_large_uploads_are_413(dev_store: TrustStore, dev_pki: Path) -> None:
    settings = load_settings(
        environment="test", pki_dir=dev_pki, verifier={"max_upload_bytes": 64 * 1024}
    )
    client = create_app(settings, trust=dev_store).test_client()
    big = b"\x89PNG\r\n\x1a\n" + b"\0" * (100 * 1024)
    assert client.post("/api/verify", data=big, content_type="image/png").status_code == 413
    form = client.post(
        "/", data={"file": (io.BytesIO(big), "big.png")}, content_type="multipart/form-data"
    )
    assert form.status_code == 413


def test_c08_nothing_but_the_outcome_is_logged(
    client: FlaskClient, page: bytes, dev_pki: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client.post("/", data={"file": (io.BytesIO(page), "p.png")}, content_type="multipart/form-data")
    client.post("/api/verify", json={"text": issuance.issue_vdsnc(dev_pki)})
    access = [r for r in caplog.records if r.name == "vaxcert.access"]
    # The shared request line names the route and status only, never the content.
    assert {(r.__dict__["route"], r.__dict__["status"]) for r in access} == {
        ("/", 200),
        ("/api/verify", 200),
    }
    records = [
        r
        for r in caplog.records
        if r.name.startswith(("verifier", "vaxcert"))
        # The request lines above, and the warning that this store trusts the development PKI.
        and r.name not in ("vaxcert.access", "verifier.dev_trust")
    ]
    assert [(r.getMessage(), r.__dict__["outcome"]) for r in records] == [
        ("verification", "valid"),
        ("verification", "valid"),
        ("verification", "valid"),
    ]
    everything = " ".join(
        json.dumps({k: str(v) for k, v in r.__dict__.items()}, ensure_ascii=False)
        for r in caplog.records
    )
    for personal in (
        "山田",
        "花子",
        "YAMADA",
        "1985-04-01",
        "JP0000000123",
        "TK1234567",
        "3002337",
    ):
        assert personal not in everything


def test_a_configured_store_is_reloaded_after_a_refresh(tmp_path: Path, dev_pki: Path) -> None:
    store_dir = tmp_path / "trust"
    write_dev_trust_store(dev_pki, issuance.ISSUER_URL, store_dir)
    settings = load_settings(
        environment="test",
        pki_dir=dev_pki,
        issuer_url=issuance.ISSUER_URL,
        verifier={"trust": str(store_dir)},
    )
    client = create_app(settings).test_client()
    card = issuance.issue_shc(dev_pki)
    assert client.post("/api/verify", json={"text": card}).json["valid"] is True  # type: ignore[index]
    # A refresh that removed the key (e.g. after a compromise): the page stops trusting it.
    (store_dir / "shc" / "dev" / "jwks.json").write_text(json.dumps({"keys": []}))
    later = time.time() + 5
    os.utime(store_dir / "state.json", (later, later))
    reply = client.post("/api/verify", json={"text": card}).json
    assert reply["results"][0]["reasons"][0]["code"] == "kid_unknown"  # type: ignore[index]


def test_production_without_a_trust_store_refuses_to_start(dev_pki: Path) -> None:
    from vaxcert.errors import ConfigError

    with pytest.raises(ConfigError) as caught:
        create_app(load_settings(environment="production", pki_dir=dev_pki))
    assert caught.value.setting == "VAXCERT_VERIFIER__TRUST"


def test_the_demo_default_trusts_our_dev_issuer(dev_pki: Path) -> None:
    settings = load_settings(
        environment="development", pki_dir=dev_pki, issuer_url=issuance.ISSUER_URL
    )
    client = create_app(settings).test_client()
    reply = client.post("/api/verify", json={"text": issuance.issue_vdsnc(dev_pki)}).json
    assert reply["valid"] is True  # type: ignore[index]


def test_c08_large_uploads_stay_in_memory(app: Flask) -> None:
    # Werkzeug spools uploads over 500 kB to a temp file by default; ours never touch the disk.
    from flask import request

    big = b"\x89PNG\r\n\x1a\n" + b"\0" * (2 * 1024 * 1024)
    with app.test_request_context(
        "/", method="POST", data={"file": (io.BytesIO(big), "photo.png")}
    ):
        stream = request.files["file"].stream
        assert isinstance(stream, io.BytesIO)
        assert stream.getvalue() == big


def test_deeply_nested_json_body_is_a_400_not_a_500(client: FlaskClient) -> None:
    nested = b'{"text": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    response = client.post("/api/verify", data=nested, content_type="application/json")
    assert response.status_code == 400
    assert response.json is not None and response.json["error"]["code"] == "bad_request"


def test_deeply_nested_text_by_form_and_upload_is_a_result(client: FlaskClient) -> None:
    text = '{"sig": 1, "data": ' + "[" * 100_000 + "]" * 100_000 + "}"
    upload = {"file": (io.BytesIO(text.encode()), "card.json")}
    by_upload = client.post("/api/verify", data=upload, content_type="multipart/form-data")
    assert by_upload.status_code == 200
    assert by_upload.json["results"][0]["reasons"][0]["code"] == "vdsnc_not_json"  # type: ignore[index]
    by_form = client.post("/?lang=en", data={"text": text})
    assert by_form.status_code == 422
    assert "The VDS-NC is not JSON." in by_form.get_data(as_text=True)


def test_a_500_promises_nothing_about_charges(app: Flask) -> None:
    """A 500 cannot know whether a payment happened before it (nor is the verifier a till)."""

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("a bug")

    response = app.test_client().get("/boom")
    assert response.status_code == 500
    assert response.json is not None and response.json["error"]["code"] == "internal_error"
    assert "charged" not in response.get_data(as_text=True)
