"""The app API in process over the center rig (real VRS, signer, Redis), and the reference
client's protocol driven through Flask's test client."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient

from app_client.client import AppClient, DevPlatform, InstanceState
from tests.support.center import CenterRig, center_rig
from vaxcert.card import cards


class FlaskTransport:
    """:class:`app_client.client.Transport` over a Flask test client."""

    def __init__(self, client: FlaskClient, remote_addr: str = "127.0.0.1") -> None:
        self.client = client
        self.remote_addr = remote_addr

    def __call__(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        response = self.client.open(
            path,
            method=method,
            data=body,
            headers=headers,
            content_type="application/json" if body is not None else None,
            environ_base={"REMOTE_ADDR": self.remote_addr},
        )
        data = response.get_json(silent=True)
        return response.status_code, data if isinstance(data, dict) else {}, dict(response.headers)


@dataclass
class AppRig:
    """The app API, a client playing the app, and the center rig underneath."""

    rig: CenterRig
    client: AppClient
    platform: DevPlatform
    state_root: Path

    def instance(self, name: str = "phone") -> InstanceState:
        """A registered app instance (key kept under the rig's temp dir)."""
        state = InstanceState.load_or_create(self.state_root / name)
        if state.instance_id is None:
            self.client.register(state, self.platform)
        return state

    def body(self, card_key: str = "canary", **overrides: Any) -> dict[str, Any]:
        """An application for ``card_key``'s card (domestic, Kagoshima City)."""
        body: dict[str, Any] = {
            "consent": {"terms_version": self.rig.settings.center.terms_version, "accepted": True},
            "kind": "domestic",
            "municipality_code": "462012",
            "card": cards.card_files(card_key, self.rig.issuer).to_json(),
        }
        body.update(overrides)
        return body


@contextlib.contextmanager
def app_rig(tmp: Path, redis_url: str | None, **center: Any) -> Iterator[AppRig]:
    """The app API surface over a seeded VRS and a signer (``center`` settings as for
    :func:`center_rig`)."""
    redis = (redis_url, f"vaxcert-rig-{secrets.token_hex(6)}:") if redis_url else None
    with center_rig(tmp, redis=redis, surface="app_api", **center) as rig:
        settings = rig.settings
        yield AppRig(
            rig,
            AppClient(FlaskTransport(rig.client)),
            DevPlatform(settings.pki_dir, settings.center.app.app_id),
            tmp / "app-state",
        )
