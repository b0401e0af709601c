"""The product's listening surfaces: which app factory, port, TLS mode and certificates each uses.

`vaxcert serve NAME` runs one of them under gunicorn; `vaxcert demo` runs all of them.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from flask import Flask

from vaxcert import pki
from vaxcert.config import Settings, TlsMode


class AppFactory(Protocol):
    def __call__(self, config: Settings | None = None, **kwargs: Any) -> Flask: ...


@dataclass(frozen=True)
class ServiceSpec:
    """One listening surface."""

    name: str
    listener: str  # attribute of vaxcert.config.Listeners
    factory: str  # "module:function"
    tls: TlsMode
    description: str
    server_cert: str | None = None  # PKI item name
    server_ca: str | None = None  # the CA that signed server_cert (what clients pin)
    client_ca: str | None = None  # mTLS: the only CA whose clients are accepted
    probe_client: str | None = None  # a client cert that may call it (health probes)
    kwargs: dict[str, str] = field(default_factory=dict)

    def load_factory(self) -> AppFactory:
        """Import the app factory."""
        module_name, _, attr = self.factory.partition(":")
        factory: AppFactory = getattr(importlib.import_module(module_name), attr)
        return factory

    def create_app(self, settings: Settings) -> Flask:
        """Build this surface's Flask app."""
        return self.load_factory()(settings, **self.kwargs)

    def files(self, settings: Settings) -> dict[str, Path | None]:
        """Server cert/key and client CA paths in the configured PKI directory."""
        directory = settings.pki_dir
        if self.name == "verifier" and settings.verifier.tls_cert and settings.verifier.tls_key:
            # Production: a real certificate, as phones at the gate trust it (docs/verifier.md).
            return {
                "cert": settings.verifier.tls_cert,
                "key": settings.verifier.tls_key,
                "client_ca": None,
                "server_ca": None,
            }
        listener = getattr(settings.listeners, self.listener)
        client_ca = listener.client_ca or self.client_ca
        return {
            "cert": pki.cert_path(directory, self.server_cert) if self.server_cert else None,
            "key": pki.key_path(directory, self.server_cert) if self.server_cert else None,
            "client_ca": pki.cert_path(directory, client_ca) if client_ca else None,
            "server_ca": pki.cert_path(directory, self.server_ca) if self.server_ca else None,
        }


SERVICES: dict[str, ServiceSpec] = {
    s.name: s
    for s in (
        ServiceSpec(
            "vrs",
            "vrs",
            "vrs_stub.app:create_app",
            "mtls",
            "VRS stub: vaccination records (mTLS, LGWAN CA)",
            "vrs",
            "lgwan-ca",
            "lgwan-ca",
            "center-lgwan-client",
        ),
        ServiceSpec(
            "signer-api",
            "signer_api",
            "signer.app:create_app",
            "mtls",
            "signer API: SHC and VDS-NC signing for the center (mTLS, internal CA)",
            "signer-api",
            "internal-ca",
            "internal-ca",
            "center-internal-client",
            {"surface": "api"},
        ),
        ServiceSpec(
            "signer-public",
            "signer_public",
            "signer.app:create_app",
            "tls",
            "signer public issuer endpoints: JWKS, CRLs, CSCA (TLS, CORS)",
            "signer-public",
            "public-ca",
            kwargs={"surface": "public"},
        ),
        ServiceSpec(
            "center-kiosk-api",
            "center_kiosk_api",
            "cert_center.app:create_app",
            "mtls",
            "center kiosk API (mTLS, dedicated-line CA)",
            "center-kiosk-api",
            "dedicated-ca",
            "dedicated-ca",
            "kiosk-KIOSK-0001",
            {"surface": "kiosk_api"},
        ),
        ServiceSpec(
            "center-app-api",
            "center_app_api",
            "cert_center.app:create_app",
            "tls",
            "center app API for the smartphone app (TLS, app attestation C06; docs/app-api.md)",
            "center-app-api",
            "public-ca",
            kwargs={"surface": "app_api"},
        ),
        ServiceSpec(
            "center-ops",
            "center_ops",
            "cert_center.app:create_app",
            "tls",
            "center ops: /ops console (TOTP login), /metrics and /audit/refusals (tokens) (TLS)",
            "center-ops",
            "public-ca",
            kwargs={"surface": "ops"},
        ),
        ServiceSpec(
            "kiosk",
            "kiosk",
            "kiosk.app:create_app",
            "plain",
            "kiosk terminal UI (loopback http, shown in the store's Chromium)",
        ),
        ServiceSpec(
            "verifier",
            "verifier",
            "verifier.app:create_app",
            "tls",
            "verifier web page (TLS: browsers give a camera only to a secure page)",
            "verifier",
            "public-ca",
        ),
    )
}
