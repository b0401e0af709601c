"""The center end to end: real VRS, signer and center processes (gunicorn, mTLS on loopback),
real Redis, virtual-card files signed by the dev J-LIS CA; results checked with the verifier."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis
import requests

from cert_center.refusal_days import SENSITIVE_CATEGORIES
from launch.stack import CENTER_PROCESSES, ISSUER, Stack, remove, start_stack
from tests.support.canary import assert_nothing_kept, canary_values
from vaxcert import pki, tls
from vaxcert.card import cards
from vaxcert.config import Settings
from vaxcert.residents import CANARY, RESIDENTS, SyntheticResident
from verifier import verify
from verifier.dev_trust import dev_trust_store

PROCESSES = (*CENTER_PROCESSES, "center-ops")


@dataclass
class Center:
    """The running stack seen from a kiosk: sessions, URLs and the card issuer."""

    stack: Stack
    issuer: cards.CardIssuer

    @property
    def settings(self) -> Settings:
        return self.stack.settings

    @property
    def pki_dir(self) -> Path:
        return self.stack.pki_dir

    @property
    def logs(self) -> Path:
        return self.stack.logs

    def session(self, kiosk: str = "KIOSK-0001") -> requests.Session:
        return tls.client_session(
            pki.cert_path(self.pki_dir, "dedicated-ca"),
            pki.cert_path(self.pki_dir, f"kiosk-{kiosk}"),
            pki.key_path(self.pki_dir, f"kiosk-{kiosk}"),
        )

    def url(self, path: str) -> str:
        return self.settings.url("center_kiosk_api") + path


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Center]:
    # KIOSK-9999 has a valid certificate but is not in the center's registry.
    started = start_stack(
        tmp_path_factory.mktemp("center-e2e"),
        processes=PROCESSES,
        kiosk_certificates=("KIOSK-0001", "KIOSK-0002", "KIOSK-9999"),
        redis_url=redis_url,
        extra_env={
            "VAXCERT_CENTER__KIOSKS": json.dumps(
                [
                    {"kiosk_id": "KIOSK-0001", "store_name": "A"},
                    {"kiosk_id": "KIOSK-0002", "store_name": "B"},
                ]
            )
        },
    )
    try:
        yield Center(started, cards.CardIssuer.from_pki(started.pki_dir))
    finally:
        remove(started)


def _request(
    stack: Center,
    card_key: str,
    municipality: str = "462012",
    kind: str = "domestic",
    **overrides: Any,
) -> dict[str, Any]:
    files = cards.card_files(card_key, stack.issuer)
    body: dict[str, Any] = {
        "card": files.to_json(),
        "municipality_code": municipality,
        "kind": kind,
        "consent": {"terms_version": stack.settings.center.terms_version, "accepted": True},
        "nonce": secrets.token_urlsafe(24),
    }
    body.update(overrides)
    return body


def _issue(stack: Center, body: dict[str, Any], kiosk: str = "KIOSK-0001") -> requests.Response:
    with stack.session(kiosk) as session:
        return session.post(stack.url("/v1/kiosk/certificates"), json=body, timeout=30)


def test_domestic_issuance_for_the_canary_verifies(stack: Center) -> None:
    response = _issue(stack, _request(stack, "canary"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["kind"] == "domestic" and body["vdsnc"] is None
    assert body["holder"]["name"] == CANARY.name_kanji
    assert body["holder"]["birth_date"] == CANARY.birth_date.isoformat()
    assert body["holder"]["passport_number"] is None
    assert len(body["certificate_id"]) == 12 and body["doses"]
    assert CANARY.my_number not in response.text  # C22
    trust = dev_trust_store(stack.pki_dir, ISSUER)
    result = verify(body["shc_qr_text"], trust)
    assert result.valid, result.reasons
    assert result.birth_date == CANARY.birth_date.isoformat()


def test_overseas_issuance_for_the_canary_verifies_in_both_formats(stack: Center) -> None:
    response = _issue(stack, _request(stack, "canary", kind="overseas"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["holder"]["name_roman"] == CANARY.name_roman
    assert body["holder"]["passport_number"] == CANARY.passport.number  # type: ignore[union-attr]
    trust = dev_trust_store(stack.pki_dir, ISSUER)
    for text, fmt in ((body["shc_qr_text"], "shc"), (body["vdsnc"], "vdsnc")):
        result = verify(text, trust)
        assert result.valid, (fmt, result.reasons)
        assert result.certificate_id in (None, body["certificate_id"])


def test_a_resident_vaccinated_in_two_places_gets_each_municipalitys_doses(stack: Center) -> None:
    kirishima = _issue(stack, _request(stack, "two-municipalities", "462187"))
    assert kirishima.status_code == 200, kirishima.text
    numbers = [d["dose_number"] for d in kirishima.json()["doses"]]
    assert numbers == [3, 4, 5]


@pytest.mark.parametrize(
    ("card_key", "municipality", "kind", "code"),
    [
        ("support-measure", "462012", "domestic", "counter_required"),
        ("old-surname", "462012", "domestic", "counter_required"),
        ("moved-out", "462012", "domestic", "counter_required"),
        ("deceased", "462012", "domestic", "counter_required"),
        ("no-records", "462012", "domestic", "no_vaccination_record"),
        ("no-passport", "462012", "overseas", "passport_not_on_file"),
        ("canary", "462187", "domestic", "no_vaccination_record"),  # C12: another partition
        ("canary", "462039", "domestic", "municipality_not_participating"),  # C05
        ("tampered-card", "462012", "domestic", "card_digest_mismatch"),  # C03
        ("unknown-ca-card", "462012", "domestic", "card_ca_unknown"),  # C03
    ],
)
def test_each_refusal_rule_has_its_code(
    stack: Center, card_key: str, municipality: str, kind: str, code: str
) -> None:
    response = _issue(stack, _request(stack, card_key, municipality, kind))
    assert response.status_code in (403, 404, 422), response.text
    assert response.json()["error"]["code"] == code


def _request_for(stack: Center, resident: SyntheticResident, **overrides: Any) -> dict[str, Any]:
    """A request with a genuinely signed card for ``resident`` (any data, e.g. a wrong name)."""
    files = cards.issue_files(resident, stack.issuer, cards.ap_key(resident.key))
    body = _request(stack, "canary", resident.municipality_code, **overrides)
    body["card"] = files.to_json()
    return body


@pytest.mark.parametrize(
    "changes",
    [
        {"given_kanji": "次郎"},
        {"birth_date": CANARY.birth_date + dt.timedelta(days=1)},
    ],
    ids=["name", "birth-date"],
)
def test_card_name_or_birth_date_unlike_the_record_is_record_mismatch(
    stack: Center, changes: dict[str, Any]
) -> None:
    response = _issue(stack, _request_for(stack, dataclasses.replace(CANARY, **changes)))
    assert response.status_code == 403, response.text
    assert response.json()["error"]["code"] == "record_mismatch"


def test_c08_a_card_vrs_cannot_take_is_counter_required_and_not_logged(stack: Center) -> None:
    long_given = "太郎" * 60  # a genuine card, a name of 122 characters
    response = _issue(
        stack, _request_for(stack, dataclasses.replace(CANARY, given_kanji=long_given))
    )
    assert response.status_code == 403, response.text
    assert response.json()["error"]["code"] == "counter_required"
    center_log = (stack.logs / "center-kiosk-api.log").read_text(errors="replace")
    assert long_given not in center_log and CANARY.family_kanji not in center_log


def test_support_measure_is_indistinguishable_from_another_counter_case(stack: Center) -> None:
    sensitive = _issue(stack, _request(stack, "support-measure"))
    other = _issue(stack, _request(stack, "old-surname"))
    assert sensitive.status_code == other.status_code
    assert sensitive.json() == other.json()
    for lang in ("ja", "en"):
        with stack.session() as session:
            a = session.post(
                stack.url("/v1/kiosk/certificates"),
                timeout=30,
                json=_request(stack, "support-measure"),
                headers={"Accept-Language": lang},
            )
            b = session.post(
                stack.url("/v1/kiosk/certificates"),
                timeout=30,
                json=_request(stack, "moved-out"),
                headers={"Accept-Language": lang},
            )
        assert a.json() == b.json()


def _metrics_token(stack: Center) -> str:
    return stack.stack.env["VAXCERT_CENTER__OPS__METRICS_TOKEN"]


def _ops_get(stack: Center, path: str, token: str | None) -> requests.Response:
    with requests.Session() as ops:
        ops.trust_env = False
        return ops.get(
            stack.settings.url("center_ops") + path,
            timeout=10,
            verify=str(pki.cert_path(stack.pki_dir, "public-ca")),
            headers={"Authorization": f"Bearer {token}"} if token else {},
        )


def test_c08_metrics_need_the_scrapers_token(stack: Center) -> None:
    auditor = stack.stack.env["VAXCERT_CENTER__OPS__AUDITOR_TOKEN"]
    for token in (None, "not-the-token", auditor):
        refused = _ops_get(stack, "/metrics", token)
        assert refused.status_code == 401, token
        assert refused.json()["error"]["code"] == "ops_token_required"
        assert "vaxcert_center" not in refused.text
    assert _ops_get(stack, "/metrics", _metrics_token(stack)).status_code == 200


def test_c08_no_sensitive_category_in_live_metrics_right_after_a_support_measure_refusal(
    stack: Center,
) -> None:
    token = _metrics_token(stack)
    refused = _issue(stack, _request(stack, "support-measure"))
    assert refused.json()["error"]["code"] == "counter_required"
    text = _ops_get(stack, "/metrics", token).text
    for category in SENSITIVE_CATEGORIES:
        assert category not in text, f"{category} visible in live metrics"
    assert "category=" not in text
    assert 'vaxcert_center_refusals_total{reason="counter_required"}' in text
    # The category was counted, as today's aggregate in the center's store, and only there.
    client = redis.Redis.from_url(stack.stack.env["VAXCERT_REDIS_URL"])
    today = dt.datetime.now(ZoneInfo(stack.settings.center.timezone)).date().isoformat()
    key = f"{stack.stack.redis_prefix}center:refusals:{today}:support_measure"
    assert int(client.get(key) or 0) >= 1
    assert 0 < client.ttl(key) <= (stack.settings.center.ops.aggregate_days + 2) * 86_400
    # Today is not closed: the auditor sees it only tomorrow.
    auditor = stack.stack.env["VAXCERT_CENTER__OPS__AUDITOR_TOKEN"]
    view = _ops_get(stack, "/audit/refusals", auditor)
    assert view.status_code == 200
    assert today not in view.text
    assert _ops_get(stack, "/audit/refusals", token).status_code == 401


def test_request_id_travels_to_vrs_and_signer(stack: Center) -> None:
    trace = f"trace-{secrets.token_hex(8)}"
    with stack.session() as session:
        response = session.post(
            stack.url("/v1/kiosk/certificates"),
            timeout=30,
            json=_request(stack, "elder"),
            headers={"X-Request-ID": trace},
        )
    assert response.status_code == 200 and response.headers["X-Request-ID"] == trace
    for name in ("center-kiosk-api", "vrs", "signer-api"):
        assert trace in (stack.logs / f"{name}.log").read_text(), name


def test_replayed_nonce_is_refused(stack: Center) -> None:
    body = _request(stack, "canary")
    assert _issue(stack, body).status_code == 200
    replay = _issue(stack, body)
    assert replay.status_code == 409
    assert replay.json()["error"]["code"] == "request_replayed"


@pytest.mark.parametrize(
    "consent",
    [{"terms_version": "2021-01-01", "accepted": True}, {"terms_version": None, "accepted": False}],
    ids=["old-version", "not-accepted"],
)
def test_c07_consent_to_other_terms_or_none_is_refused(
    stack: Center, consent: dict[str, Any]
) -> None:
    current = stack.settings.center.terms_version
    body = _request(
        stack, "canary", consent={**consent, "terms_version": consent["terms_version"] or current}
    )
    response = _issue(stack, body)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "consent_required"


def test_c02_c04_typed_my_number_field_is_refused(stack: Center) -> None:
    body = _request(stack, "canary", my_number=CANARY.my_number)
    response = _issue(stack, body)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "unknown_field"
    assert CANARY.my_number not in response.text


def test_c09_unknown_kiosk_is_refused(stack: Center) -> None:
    response = _issue(stack, _request(stack, "canary"), kiosk="KIOSK-9999")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "kiosk_unknown"


def test_c08_c22_nothing_of_the_canary_is_kept_after_50_requests(stack: Center) -> None:
    outcomes: list[int] = []
    for index in range(50):
        key = ["canary", "support-measure", "no-records", "tampered-card", "elder"][index % 5]
        kind = "overseas" if index % 10 == 0 else "domestic"
        outcomes.append(_issue(stack, _request(stack, key, kind=kind)).status_code)
    assert outcomes.count(200) >= 10
    with stack.session() as session:
        session.get(stack.settings.url("center_kiosk_api") + "/healthz", timeout=5)
    metrics_text = _ops_get(stack, "/metrics", _metrics_token(stack)).text
    assert "vaxcert_center_issuances_total" in metrics_text
    assert 'reason="counter_required"' in metrics_text
    # C21: the canary's card, presented ten times today, passed the attempts limit (6).
    assert 'vaxcert_center_card_use_anomalies_total{kind="attempts"}' in metrics_text
    audit = [
        json.loads(line)
        for line in (stack.logs / "center-kiosk-api.log").read_text().splitlines()
        if '"card_use_anomaly"' in line
    ]
    assert audit and all(event["kind"] in ("attempts", "issuances") for event in audit)
    canaries = canary_values()
    # Metric labels.
    for value in canaries:
        assert value not in metrics_text, "canary value in a metric label"
    # Redis keys and values of this run, every process's log (VRS and signer too: no component
    # logs personal data), and the files the processes could have written (temp, metrics).
    assert_nothing_kept(stack.stack, canaries)
    assert set(RESIDENTS) >= {"canary", "support-measure"}


def test_issue_date_is_today_in_tokyo(stack: Center) -> None:
    body = _issue(stack, _request(stack, "elder")).json()
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=9))).date().isoformat()
    assert body["issue_date"] == today
