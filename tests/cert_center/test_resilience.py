"""VRS down, VRS slow, signer down: a clear reason, no issuance record, the breaker opens and
recovers. Real VRS and signer apps over mTLS on loopback, each behind a switch the test flips."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from cert_center.app import create_app
from cert_center.issuance import IssuanceService
from signer.app import create_app as create_signer
from tests.support.servers import pki_context, start_server
from vaxcert import pki
from vaxcert.card import cards
from vaxcert.config import Settings, load_settings
from vrs_stub import schema, seed
from vrs_stub.app import create_app as create_vrs
from vrs_stub.store import Store

ISSUER = "https://127.0.0.1:8446/issuer"


class Switch:
    """WSGI middleware: ``up`` passes through, ``down`` answers 503, ``slow`` sleeps first."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.mode = "up"
        self.calls = 0

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        self.calls += 1
        if self.mode == "down":
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"down"]
        if self.mode == "slow":
            time.sleep(1.5)
        return self.app(environ, start_response)


@dataclass
class Rig:
    client: FlaskClient
    issuance: IssuanceService
    vrs: Switch
    signer: Switch
    store: Store
    issuer: cards.CardIssuer
    kiosk_pem: str
    settings: Settings


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    tmp = tmp_path_factory.mktemp("resilience")
    pki_dir = tmp / "pki"
    pki.init(pki_dir, ISSUER, ["KIOSK-0001"])
    base = load_settings(
        environment="test",
        pki_dir=pki_dir,
        vrs={"data_dir": str(tmp / "vrs")},
        signer={"state_dir": str(tmp / "signer-state")},
    )
    store = Store.from_settings(base)
    store.migrate()
    seed.seed(store, ["462012"], 5)
    vrs_switch = Switch(create_vrs(base, store).wsgi_app)
    signer_switch = Switch(create_signer(base, surface="api").wsgi_app)
    vrs_server = start_server(vrs_switch, pki_context(pki_dir, "vrs", "lgwan-ca"))
    signer_server = start_server(signer_switch, pki_context(pki_dir, "signer-api", "internal-ca"))
    settings = base.model_copy(
        update={
            "listeners": base.listeners.model_copy(
                update={
                    "vrs": base.listeners.vrs.model_copy(update={"port": vrs_server.port}),
                    "signer_api": base.listeners.signer_api.model_copy(
                        update={"port": signer_server.port}
                    ),
                }
            ),
            "center": base.center.model_copy(
                update={
                    "service_hours": "00:00-00:00",
                    "relay_timeout_seconds": 0.5,
                    "breaker_failures": 2,
                    "breaker_reset_seconds": 0.5,
                }
            ),
        }
    )
    app = create_app(settings, surface="kiosk_api")
    try:
        yield Rig(
            app.test_client(),
            app.extensions["vaxcert_issuance"],
            vrs_switch,
            signer_switch,
            store,
            cards.CardIssuer.from_pki(pki_dir),
            pki.cert_path(pki_dir, "kiosk-KIOSK-0001").read_text(),
            settings,
        )
    finally:
        vrs_server.stop()
        signer_server.stop()
        store.dispose()


def _post(rig: Rig, card_key: str = "canary") -> Any:
    body = {
        "card": cards.card_files(card_key, rig.issuer).to_json(),
        "municipality_code": "462012",
        "kind": "domestic",
        "consent": {"terms_version": rig.settings.center.terms_version, "accepted": True},
        "nonce": secrets.token_urlsafe(24),
    }
    return rig.client.post(
        "/v1/kiosk/certificates", json=body, environ_base={"SSL_CLIENT_CERT": rig.kiosk_pem}
    )


def _issuances(store: Store) -> int:
    with store.transaction(write=False) as conn:
        return int(conn.execute(select(func.count()).select_from(schema.issuance)).scalar_one())


def _recover(rig: Rig) -> None:
    rig.vrs.mode = rig.signer.mode = "up"
    time.sleep(0.6)  # past the breaker's reset time: the next call is the half-open trial
    response = _post(rig)
    assert response.status_code == 200, response.json
    assert rig.issuance.vrs_breaker.state == "closed"
    assert rig.issuance.signer_breaker.state == "closed"


def test_vrs_down_is_a_clear_refusal_and_the_breaker_opens_and_recovers(rig: Rig) -> None:
    _recover(rig)
    before = _issuances(rig.store)
    rig.vrs.mode = "down"
    for _ in range(2):
        response = _post(rig)
        assert response.status_code == 503
        assert response.json["error"]["code"] == "service_unavailable"
        assert "charged" in response.json["error"]["next_step"]
    assert rig.issuance.vrs_breaker.state == "open"
    calls = rig.vrs.calls
    assert _post(rig).json["error"]["code"] == "service_unavailable"
    assert rig.vrs.calls == calls, "an open breaker must not call VRS"
    assert _issuances(rig.store) == before
    _recover(rig)
    assert _issuances(rig.store) == before + 1


def test_vrs_slow_beyond_timeout_is_service_unavailable(rig: Rig) -> None:
    _recover(rig)
    before = _issuances(rig.store)
    rig.vrs.mode = "slow"
    started = time.monotonic()
    response = _post(rig)
    assert response.status_code == 503
    assert response.json["error"]["code"] == "service_unavailable"
    assert time.monotonic() - started < 1.4  # it gave up at the timeout, not after the sleep
    assert _issuances(rig.store) == before
    _recover(rig)


def test_signer_down_leaves_no_issuance_record(rig: Rig) -> None:
    _recover(rig)
    before = _issuances(rig.store)
    rig.signer.mode = "down"
    for _ in range(2):
        response = _post(rig)
        assert response.status_code == 503
        assert response.json["error"]["code"] == "service_unavailable"
    assert rig.issuance.signer_breaker.state == "open"
    assert _issuances(rig.store) == before
    _recover(rig)


def test_refusals_do_not_open_the_breaker(rig: Rig) -> None:
    _recover(rig)
    for _ in range(4):
        assert _post(rig, "no-records").json["error"]["code"] == "no_vaccination_record"
    assert rig.issuance.vrs_breaker.state == "closed"
