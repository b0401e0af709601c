"""The center's ops surface: bearer tokens for the scraper and the auditor, and the auditor's
daily aggregates of sensitive refusal categories (closed days only, small counts suppressed)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from flask import Flask
from pydantic import SecretStr

from cert_center.app import create_app
from cert_center.refusal_days import DailyRefusals
from vaxcert.config import OpsSettings, Settings, load_settings


@pytest.fixture(autouse=True)
def _pki_dir(center_pki: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAXCERT_PKI_DIR", str(center_pki))


def _ops_app(**ops: object) -> Flask:
    base = load_settings()
    settings: Settings = base.model_copy(
        update={"center": base.center.model_copy(update={"ops": OpsSettings(**ops)})}  # type: ignore[arg-type]
    )
    return create_app(settings, surface="ops")


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_c08_without_a_configured_token_nobody_reads_metrics() -> None:
    client = _ops_app().test_client()
    for headers in ({}, _bearer(""), _bearer("anything")):
        response = client.get("/metrics", headers=headers)
        assert response.status_code == 401
        assert response.json is not None
        assert response.json["error"]["code"] == "ops_token_required"
    assert client.get("/audit/refusals").json["error"]["code"] == "auditor_token_required"  # type: ignore[index]


def test_c08_the_metrics_token_can_come_from_a_secret_file(tmp_path: Path) -> None:
    secret = tmp_path / "metrics.token"
    secret.write_text("from-a-file\n")
    client = _ops_app(metrics_token_file=secret).test_client()
    assert client.get("/metrics", headers=_bearer("from-a-file")).status_code == 200
    assert client.get("/metrics", headers=_bearer("from-a-fil")).status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Basic from-a-file"}).status_code == 401


def test_c08_the_auditor_sees_closed_days_only_with_small_counts_suppressed() -> None:
    app = _ops_app(metrics_token=SecretStr("scrape"), auditor_token=SecretStr("audit"))
    daily: DailyRefusals = app.extensions["vaxcert_daily_refusals"]
    now = dt.datetime.now(dt.UTC)
    today = now.astimezone(daily.zone).date()
    yesterday = today - dt.timedelta(days=1)
    # Counted by the issuance pipeline's own class, into the same store the ops surface reads.
    for at, category, times in (
        (now - dt.timedelta(days=1), "alias_notation", 12),
        (now - dt.timedelta(days=1), "support_measure", 3),
        (now, "support_measure", 40),
    ):
        counter = DailyRefusals(daily.store, load_settings().center, clock=lambda at=at: at)
        for _ in range(times):
            counter.count(category)
    client = app.test_client()
    assert client.get("/audit/refusals", headers=_bearer("scrape")).status_code == 401
    response = client.get("/audit/refusals", headers=_bearer("audit"))
    assert response.status_code == 200
    body = response.json
    assert body is not None
    assert body["suppressed_below"] == 10
    dates = [day["date"] for day in body["days"]]
    assert today.isoformat() not in dates and dates[0] == yesterday.isoformat()
    assert len(dates) == 31
    counts = body["days"][0]["counts"]
    assert counts["alias_notation"] == 12
    assert counts["support_measure"] == "<10"
    assert counts["moved_out"] == "<10"  # zero reads like a small count
    assert all(v == "<10" for day in body["days"][1:] for v in day["counts"].values())


def test_c08_only_counter_required_categories_are_counted_daily() -> None:
    app = _ops_app()
    daily: DailyRefusals = app.extensions["vaxcert_daily_refusals"]
    with pytest.raises(ValueError, match="not a sensitive"):
        daily.count("no_doses")
