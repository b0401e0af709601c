"""Card-use anomaly detection (C21) on real Redis: limits raise an alert metric and an audit event,
refuse mode sends the card to the counter before VRS is asked, and the store keeps nothing that
names a card, a kiosk or a municipality (C08)."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import secrets
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis
from prometheus_client import REGISTRY

from cert_center.app import create_app
from cert_center.card_use import CardUseMonitor, Observation, load_secret
from tests.support.servers import pki_context, serving
from vaxcert import pki
from vaxcert.card import cards
from vaxcert.config import CardUseSettings, load_settings
from vaxcert.errors import ConfigError
from vaxcert.kvstore import RedisStore
from vaxcert.residents import CANARY

TOKYO = ZoneInfo("Asia/Tokyo")
NOON = dt.datetime(2026, 11, 30, 12, 0, tzinfo=TOKYO)


@pytest.fixture(scope="module")
def canary_files(center_pki: Path) -> cards.CardFiles:
    return cards.card_files("canary", cards.CardIssuer.from_pki(center_pki))


def _monitor(
    redis_url: str,
    prefix: str,
    secret: bytes = b"a test secret of enough length",
    clock: Callable[[], dt.datetime] = lambda: NOON,
    **limits: Any,
) -> CardUseMonitor:
    return CardUseMonitor(
        RedisStore(redis_url, prefix), CardUseSettings(**limits), secret, "Asia/Tokyo", clock
    )


def _anomalies(kind: str) -> float:
    return REGISTRY.get_sample_value("vaxcert_center_card_use_anomalies_total", {"kind": kind}) or 0


def _audit(records: Iterable[logging.LogRecord]) -> list[logging.LogRecord]:
    return [r for r in records if r.name == "cert_center.audit"]


def test_c21_one_card_from_three_kiosks_alerts_once_without_personal_data(
    redis_url: str, prefix: str, canary_files: cards.CardFiles, caplog: pytest.LogCaptureFixture
) -> None:
    monitor = _monitor(redis_url, prefix)
    before = _anomalies("kiosks")
    caplog.set_level(logging.INFO)
    for kiosk in ("KIOSK-0001", "KIOSK-0002", "KIOSK-0001", "KIOSK-0003", "KIOSK-0003"):
        seen = monitor.observe(kiosk, "462012", canary_files.ef0003)
    assert seen.counts["kiosks"] == 3 and seen.counts["attempts"] == 5
    assert _anomalies("kiosks") == before + 1
    (event,) = _audit(caplog.records)
    assert event.getMessage() == "card_use_anomaly"
    assert (event.kind, event.count, event.limit, event.kiosk_id) == ("kiosks", 3, 2, "KIOSK-0003")  # type: ignore[attr-defined]
    logged = caplog.text + repr(vars(event))
    for value in CANARY.canary_values:
        assert value not in logged
    assert seen.tag not in logged


def test_c21_four_municipalities_and_too_many_issuances_alert(
    redis_url: str, prefix: str, canary_files: cards.CardFiles
) -> None:
    monitor = _monitor(redis_url, prefix)
    municipalities, issuances = _anomalies("municipalities"), _anomalies("issuances")
    for code in ("462012", "462187", "462012", "131016", "011002"):
        seen = monitor.observe("KIOSK-0001", code, canary_files.ef0003)
    assert seen.counts["municipalities"] == 4
    assert _anomalies("municipalities") == municipalities + 1
    for _ in range(4):
        monitor.issued(seen)
    assert _anomalies("issuances") == issuances + 1
    # At the issuance limit the next presentation is already over it (for refuse mode).
    assert "issuances" in monitor.observe("KIOSK-0001", "462012", canary_files.ef0003).over


def test_c21_alerts_again_at_each_doubling_not_at_every_use(
    redis_url: str, prefix: str, canary_files: cards.CardFiles
) -> None:
    monitor = _monitor(redis_url, prefix, max_attempts=2)
    before = _anomalies("attempts")
    for _ in range(12):
        monitor.observe("KIOSK-0001", "462012", canary_files.ef0003)
    assert _anomalies("attempts") == before + 3  # at 3, 6 and 12


def test_c21_tags_change_with_the_day_and_the_secret(
    redis_url: str, prefix: str, canary_files: cards.CardFiles
) -> None:
    def tag(**kwargs: Any) -> Observation:
        return _monitor(redis_url, prefix, **kwargs).observe(
            "KIOSK-0001", "462012", canary_files.ef0003
        )

    today = tag()
    assert tag().tag == today.tag
    assert tag(clock=lambda: NOON + dt.timedelta(days=1)).tag != today.tag
    assert tag(secret=b"another secret of enough length").tag != today.tag


def test_c08_c21_the_store_holds_only_opaque_counts_that_expire_with_the_day(
    redis_url: str, prefix: str, canary_files: cards.CardFiles, center_pki: Path
) -> None:
    monitor = _monitor(redis_url, prefix)
    other = cards.card_files("elder", cards.CardIssuer.from_pki(center_pki))
    for files in (canary_files, other):
        for kiosk, code in (("KIOSK-0001", "462012"), ("KIOSK-0002", "462187")):
            monitor.issued(monitor.observe(kiosk, code, files.ef0003))
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(f"{prefix}*"))
    assert len(keys) == 2 * (4 + 4)  # per card: 4 counters, 2 kiosk and 2 municipality markers
    forbidden = [v.encode() for v in CANARY.canary_values]
    forbidden += [b"KIOSK-0001", b"KIOSK-0002", b"462012", b"462187"]
    for files in (canary_files, other):
        for name in ("ef0001", "ef0002", "ef0003"):
            data: bytes = getattr(files, name)
            forbidden += [hashlib.sha256(data).hexdigest().encode(), data[:32].hex().encode()]
    forbidden.append(hashlib.sha256(CANARY.my_number.encode()).hexdigest().encode())
    end_of_day = dt.datetime(2026, 12, 1, tzinfo=TOKYO)
    longest = int((end_of_day - NOON).total_seconds()) + 3600
    for key in keys:
        name = key.decode()[len(prefix) :]
        assert re.fullmatch(r"cu:[0-9a-f]{32}(:(kiosks|municipalities|attempts|issuances))?", name)
        blob = key + (client.get(key) or b"")
        for value in forbidden:
            assert value not in blob
        assert 0 < client.ttl(key) <= longest


def test_c21_production_wants_a_private_secret_file(tmp_path: Path) -> None:
    def settings(secret_file: Path | None) -> Any:
        return load_settings(
            environment="test", pki_dir=tmp_path, center={"card_use": {"secret_file": secret_file}}
        ).model_copy(update={"environment": "production"})

    with pytest.raises(ConfigError, match="production needs"):
        load_secret(settings(None))
    path = tmp_path / "card-use.secret"
    path.write_text(secrets.token_urlsafe(32))
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        load_secret(settings(path))
    path.chmod(0o600)
    assert len(load_secret(settings(path))) >= 32


class _CountingVrs:
    """A VRS stand-in behind real mTLS that counts calls and answers an outage."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        self.calls += 1
        start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
        return [b"down"]


def test_c21_refuse_mode_sends_the_card_to_the_counter_before_vrs_is_asked(
    redis_url: str, prefix: str, center_pki: Path, canary_files: cards.CardFiles
) -> None:
    vrs = _CountingVrs()
    with serving(vrs, pki_context(center_pki, "vrs", "lgwan-ca")) as server:
        base = load_settings(environment="test", pki_dir=center_pki)
        settings = base.model_copy(
            update={
                "redis_url": redis_url,
                "redis_prefix": prefix,
                "listeners": base.listeners.model_copy(
                    update={"vrs": base.listeners.vrs.model_copy(update={"port": server.port})}
                ),
                "center": base.center.model_copy(
                    update={
                        "service_hours": "00:00-00:00",
                        "card_use": CardUseSettings(action="refuse", max_attempts=2),
                    }
                ),
            }
        )
        client = create_app(settings, surface="kiosk_api").test_client()
        pem = pki.cert_path(center_pki, "kiosk-KIOSK-0001").read_text()
        codes = []
        for _ in range(4):
            body = {
                "card": canary_files.to_json(),
                "municipality_code": "462012",
                "kind": "domestic",
                "consent": {"terms_version": settings.center.terms_version, "accepted": True},
                "nonce": secrets.token_urlsafe(24),
            }
            response = client.post(
                "/v1/kiosk/certificates", json=body, environ_base={"SSL_CLIENT_CERT": pem}
            )
            assert response.json is not None
            codes.append(response.json["error"]["code"])
    assert codes == ["service_unavailable"] * 2 + ["counter_required"] * 2
    assert vrs.calls == 2
