"""The center's kiosk API in process over a real VRS and a real signer, each served over mTLS on
loopback behind a :class:`Switch` a test flips (down, slow, stalled, or a given answer)."""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

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
PATIENCE = 30.0  # far above anything a step needs on a busy machine; never a speed claim


@dataclass
class Switch:
    """WSGI middleware in front of a peer. ``up`` passes through, ``down`` answers 503, ``slow``
    sleeps first, ``stalled`` holds every call until :attr:`released` is set, ``answer`` replies
    :attr:`answer` (status, JSON body) instead of the peer."""

    app: Callable[..., Iterable[bytes]]
    mode: str = "up"
    calls: int = 0
    answer: tuple[int, bytes] = (200, b"{}")
    entered: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        self.calls += 1
        if self.mode == "down":
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"down"]
        if self.mode == "slow":
            time.sleep(1.5)
        if self.mode == "stalled":
            self.entered.set()
            self.released.wait(PATIENCE)
        if self.mode == "answer":
            status, body = self.answer
            start_response(
                f"{status} Answer",
                [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
            )
            return [body]
        return self.app(environ, start_response)


@dataclass
class CenterRig:
    """The center app and what stands around it."""

    client: FlaskClient
    issuance: IssuanceService
    vrs: Switch
    signer: Switch
    store: Store
    issuer: cards.CardIssuer
    kiosk_pem: str
    settings: Settings

    def body(self, card_key: str = "canary", **overrides: Any) -> dict[str, Any]:
        """A kiosk's certificate request for ``card_key``'s card, with a fresh nonce."""
        body: dict[str, Any] = {
            "card": cards.card_files(card_key, self.issuer).to_json(),
            "municipality_code": "462012",
            "kind": "domestic",
            "consent": {"terms_version": self.settings.center.terms_version, "accepted": True},
            "nonce": secrets.token_urlsafe(24),
        }
        body.update(overrides)
        return body

    def post(self, body: dict[str, Any] | None = None, **headers: str) -> TestResponse:
        """``POST /v1/kiosk/certificates`` as the kiosk, in the calling thread."""
        return self.client.application.test_client().post(
            "/v1/kiosk/certificates",
            json=body if body is not None else self.body(),
            headers=headers,
            environ_base={"SSL_CLIENT_CERT": self.kiosk_pem},
        )

    def issuances(self) -> int:
        """Issuance records in VRS (C20)."""
        with self.store.transaction(write=False) as conn:
            query = select(func.count()).select_from(schema.issuance)
            return int(conn.execute(query).scalar_one())

    def provisions(self) -> int:
        """Provision records in VRS (C16): one per record a query provided."""
        with self.store.transaction(write=False) as conn:
            query = select(func.count()).select_from(schema.provision)
            return int(conn.execute(query).scalar_one())


@contextlib.contextmanager
def center_rig(
    tmp: Path,
    kiosk: dict[str, Any] | None = None,
    redis: tuple[str, str] | None = None,
    surface: str = "kiosk_api",
    **center: Any,
) -> Iterator[CenterRig]:
    """A seeded VRS and a signer behind switches, and the center's kiosk API app over them with
    ``center`` settings (e.g. ``relay_timeout_seconds``, ``admission``) and ``kiosk`` ones;
    ``redis`` = (URL, key prefix) puts the center's shared state there; ``surface="app_api"``
    builds the app API instead of the kiosk API."""
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
    listeners = base.listeners
    settings = load_settings(
        environment="test",
        pki_dir=pki_dir,
        vrs={"data_dir": str(tmp / "vrs")},
        signer={"state_dir": str(tmp / "signer-state")},
        listeners={
            "vrs": {"host": listeners.vrs.host, "port": vrs_server.port},
            "signer_api": {"host": listeners.signer_api.host, "port": signer_server.port},
        },
        center={"service_hours": "00:00-00:00", **center},
        kiosk=kiosk or {},
        **({"redis_url": redis[0], "redis_prefix": redis[1]} if redis else {}),
    )
    app = create_app(settings, surface=surface)  # type: ignore[arg-type]
    try:
        yield CenterRig(
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
        vrs_switch.released.set()
        signer_switch.released.set()
        vrs_server.stop()
        signer_server.stop()
        store.dispose()
