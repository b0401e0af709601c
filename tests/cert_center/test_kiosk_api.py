"""The center's kiosk API: registry (C09), what kiosks may show (C05), receipts, heartbeats."""

from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from prometheus_client import REGISTRY
from pydantic import SecretStr

from cert_center.app import create_app
from cert_center.services import ServiceHours
from launch.demo import free_port
from vaxcert.config import KioskEntry, OpsSettings, Settings, load_settings


@pytest.fixture(autouse=True)
def _pki_dir(center_pki: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The card CA key and TLS material come from the test PKI, not certs_dev/generated (absent
    in a fresh clone)."""
    monkeypatch.setenv("VAXCERT_PKI_DIR", str(center_pki))


def _client(settings: Settings) -> FlaskClient:
    return create_app(settings, surface="kiosk_api").test_client()


def _settings(**center: object) -> Settings:
    base = load_settings()
    kiosks = [
        KioskEntry(kiosk_id="KIOSK-0001", store_name="A"),
        KioskEntry(kiosk_id="KIOSK-0002", store_name="B", enabled=False),
    ]
    return base.model_copy(
        update={"center": base.center.model_copy(update={"kiosks": kiosks, **center})}
    )


def _as(pem: str) -> dict[str, str]:
    return {"SSL_CLIENT_CERT": pem}


def test_c05_config_lists_only_participating_municipalities(kiosk_pem: dict[str, str]) -> None:
    response = _client(_settings()).get(
        "/v1/kiosk/config", environ_base=_as(kiosk_pem["KIOSK-0001"])
    )
    assert response.status_code == 200
    body = response.json
    assert body["kiosk_id"] == "KIOSK-0001"
    assert [m["code"] for m in body["municipalities"]] == ["462012", "462187"]
    assert all(m["fee_yen"] == 120 for m in body["municipalities"])
    assert body["service_hours"] == "06:30-23:00" and body["timezone"] == "Asia/Tokyo"
    assert body["terms_version"] and body["terms_ja"] and body["terms_en"]
    assert body["max_copies"] == 5 and body["maintenance"] is False


def test_c09_unknown_kiosk_is_refused(kiosk_pem: dict[str, str]) -> None:
    response = _client(_settings()).get(
        "/v1/kiosk/config", environ_base=_as(kiosk_pem["KIOSK-9999"])
    )
    assert response.status_code == 403
    assert response.json["error"]["code"] == "kiosk_unknown"


def test_c09_disabled_kiosk_is_refused(kiosk_pem: dict[str, str]) -> None:
    response = _client(_settings()).get(
        "/v1/kiosk/config", environ_base=_as(kiosk_pem["KIOSK-0002"])
    )
    assert response.status_code == 403
    assert response.json["error"]["code"] == "kiosk_disabled"


def test_rate_limit_per_kiosk(kiosk_pem: dict[str, str]) -> None:
    client = _client(_settings(kiosk_requests_per_minute=3))
    codes = [
        client.get("/v1/kiosk/config", environ_base=_as(kiosk_pem["KIOSK-0001"])).status_code
        for _ in range(4)
    ]
    assert codes[:3] == [200, 200, 200]
    assert codes[3] == 429


def test_receipt_is_accepted_and_validated(kiosk_pem: dict[str, str]) -> None:
    client = _client(_settings())
    env = _as(kiosk_pem["KIOSK-0001"])
    good = {
        "receipt_id": "r-0001-aaaaaaaaaaaa",
        "municipality_code": "462012",
        "copies": 1,
        "amount_yen": 120,
        "outcome": "printed",
    }
    assert client.post("/v1/kiosk/receipts", json=good, environ_base=env).status_code == 202
    unknown = client.post("/v1/kiosk/receipts", json={**good, "name": "x"}, environ_base=env)
    assert unknown.status_code == 422 and unknown.json["error"]["code"] == "unknown_field"
    missing = client.post(
        "/v1/kiosk/receipts",
        json={k: v for k, v in good.items() if k != "copies"},
        environ_base=env,
    )
    assert missing.status_code == 422 and missing.json["error"]["code"] == "missing_field"
    wrong = client.post("/v1/kiosk/receipts", json={**good, "outcome": "lost"}, environ_base=env)
    assert wrong.status_code == 422 and wrong.json["error"]["code"] == "invalid_field"
    other = client.post(
        "/v1/kiosk/receipts", json={**good, "municipality_code": "462039"}, environ_base=env
    )
    assert other.status_code == 403
    assert other.json["error"]["code"] == "municipality_not_participating"
    text = client.post("/v1/kiosk/receipts", data="x", environ_base=env)
    assert text.status_code == 415


def test_heartbeat_is_accepted(kiosk_pem: dict[str, str]) -> None:
    client = _client(_settings())
    body = {
        "reader": "ok",
        "printer": "warning",
        "paper": "low",
        "cash_unit": "ok",
        "app_version": "0.1.0",
    }
    response = client.post(
        "/v1/kiosk/heartbeat", json=body, environ_base=_as(kiosk_pem["KIOSK-0001"])
    )
    assert response.status_code == 202


def test_metrics_on_the_ops_surface_carry_no_personal_labels(kiosk_pem: dict[str, str]) -> None:
    settings = _settings()
    _client(settings).post(
        "/v1/kiosk/heartbeat",
        json={
            "reader": "ok",
            "printer": "ok",
            "paper": "ok",
            "cash_unit": "ok",
            "app_version": "1",
        },
        environ_base=_as(kiosk_pem["KIOSK-0001"]),
    )
    settings = settings.model_copy(
        update={
            "center": settings.center.model_copy(
                update={"ops": OpsSettings(metrics_token=SecretStr("scrape"))}
            )
        }
    )
    ops = create_app(settings, surface="ops").test_client()
    text = ops.get("/metrics", headers={"Authorization": "Bearer scrape"}).get_data(as_text=True)
    assert 'vaxcert_center_kiosk_heartbeat_age_seconds{kiosk="KIOSK-0001"}' in text
    assert "vaxcert_center_requests_total" in text


@pytest.mark.parametrize(
    ("hours", "local", "open_"),
    [
        ("06:30-23:00", "06:29", False),
        ("06:30-23:00", "06:30", True),
        ("06:30-23:00", "22:59", True),
        ("06:30-23:00", "23:00", False),
        ("22:00-02:00", "01:00", True),
        ("22:00-02:00", "12:00", False),
    ],
)
def test_service_hours_in_tokyo_time(hours: str, local: str, open_: bool) -> None:
    tokyo = ServiceHours.parse(hours, "Asia/Tokyo")
    at = dt.datetime.fromisoformat(f"2026-11-26T{local}:00+09:00")
    assert tokyo.is_open(at) is open_


def test_redis_down_is_service_unavailable_not_a_500(kiosk_pem: dict[str, str]) -> None:
    settings = _settings().model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    response = _client(settings).get("/v1/kiosk/config", environ_base=_as(kiosk_pem["KIOSK-0001"]))
    assert response.status_code == 503
    assert response.json["error"]["code"] == "service_unavailable"


def _receipt_counts(municipality: str) -> tuple[float, float, float]:
    """(printed receipts, fees in yen, duplicates) counted so far for ``municipality``."""

    def value(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, {"municipality": municipality, **labels}) or 0.0

    return (
        value("vaxcert_center_receipts_total", outcome="printed"),
        value("vaxcert_center_fees_yen_total"),
        value("vaxcert_center_receipts_total", outcome="duplicate"),
    )


def test_a_repeated_receipt_is_acknowledged_and_counted_once_across_workers(
    kiosk_pem: dict[str, str], redis_url: str
) -> None:
    # Two center processes' apps over one Redis: a repeat may reach either of them.
    settings = _settings().model_copy(
        update={"redis_url": redis_url, "redis_prefix": f"test-{secrets.token_hex(4)}:"}
    )
    first, second = _client(settings), _client(settings)
    env = _as(kiosk_pem["KIOSK-0001"])
    receipt = {
        "receipt_id": secrets.token_urlsafe(16),
        "municipality_code": "462187",
        "copies": 2,
        "amount_yen": 240,
        "outcome": "printed",
    }
    before = _receipt_counts("462187")
    for attempt in range(21):
        client = first if attempt % 2 else second
        response = client.post("/v1/kiosk/receipts", json=receipt, environ_base=env)
        assert response.status_code == 202, response.json
    printed, fees, duplicates = _receipt_counts("462187")
    assert printed - before[0] == 1 and fees - before[1] == 240
    assert duplicates - before[2] == 20
    # Another receipt of the same kiosk, same amounts, is another sale.
    other = {**receipt, "receipt_id": secrets.token_urlsafe(16)}
    assert first.post("/v1/kiosk/receipts", json=other, environ_base=env).status_code == 202
    assert _receipt_counts("462187")[0] - before[0] == 2


def test_a_receipt_whose_amount_is_not_copies_times_the_fee_is_refused(
    kiosk_pem: dict[str, str],
) -> None:
    client = _client(_settings())
    env = _as(kiosk_pem["KIOSK-0001"])
    before = _receipt_counts("462012")
    base = {"municipality_code": "462012", "copies": 2, "outcome": "printed"}
    for outcome, amount in (("printed", 120), ("printed", 0), ("misprint_refunded", 360)):
        body = {**base, "outcome": outcome, "amount_yen": amount}
        response = client.post(
            "/v1/kiosk/receipts",
            json={**body, "receipt_id": secrets.token_urlsafe(16)},
            environ_base=env,
        )
        assert response.status_code == 422, (outcome, amount)
        assert response.json["error"]["code"] == "receipt_amount_mismatch"
    cancelled = {**base, "outcome": "cancelled", "amount_yen": 120}
    response = client.post(
        "/v1/kiosk/receipts",
        json={**cancelled, "receipt_id": secrets.token_urlsafe(16)},
        environ_base=env,
    )
    assert response.json["error"]["code"] == "receipt_amount_mismatch"
    assert _receipt_counts("462012") == before
    for outcome, amount in (("printed", 240), ("misprint_refunded", 240), ("cancelled", 0)):
        body = {**base, "outcome": outcome, "amount_yen": amount}
        response = client.post(
            "/v1/kiosk/receipts",
            json={**body, "receipt_id": secrets.token_urlsafe(16)},
            environ_base=env,
        )
        assert response.status_code == 202, (outcome, amount)
