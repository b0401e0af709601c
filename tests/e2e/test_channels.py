"""C09/C10: every mTLS server refuses clients without the right, valid, non-withdrawn certificate.

Real gunicorn processes (`vaxcert serve`) with the development PKI on loopback, on free ports.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives import serialization

from launch import demo
from launch.demo import free_port
from launch.surfaces import SERVICES
from vaxcert import pki, tls
from vaxcert.config import Settings, load_settings

MTLS = ["vrs", "signer-api", "center-kiosk-api"]
# The right client for each server, and a client of another CA.
RIGHT = {
    "vrs": "center-lgwan-client",
    "signer-api": "center-internal-client",
    "center-kiosk-api": "kiosk-KIOSK-0001",
}
RIGHT_CN = {"vrs": "cert-center", "signer-api": "cert-center", "center-kiosk-api": "KIOSK-0001"}
OTHER = {
    "vrs": "kiosk-KIOSK-0001",
    "signer-api": "center-lgwan-client",
    "center-kiosk-api": "center-internal-client",
}


def _issue_client(directory: Path, ca: str, name: str, cn: str, *, expired: bool = False) -> str:
    """Issue a client certificate; returns its SHA-256 fingerprint."""
    now = dt.datetime.now(dt.UTC)
    window = (now - dt.timedelta(days=30), now - dt.timedelta(days=1)) if expired else (None, None)
    cert = pki.issue(directory, pki.Spec(name, cn, "client", ca), *window)
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, Path]]:
    directory = tmp_path_factory.mktemp("pki")
    pki.init(directory, "https://127.0.0.1:8446/issuer", ["KIOSK-0001", "KIOSK-0002"])
    withdrawn: list[str] = []
    for server in MTLS:
        ca = SERVICES[server].client_ca
        assert ca is not None
        _issue_client(directory, ca, f"expired-{server}", "EXPIRED", expired=True)
        withdrawn.append(_issue_client(directory, ca, f"withdrawn-{server}", "WITHDRAWN"))
    env = {
        "VAXCERT_PKI_DIR": str(directory),
        # Not the user's VRS in ~/.local/share: another checkout's schema may be there.
        "VAXCERT_VRS__DATA_DIR": str(tmp_path_factory.mktemp("vrs")),
        "VAXCERT_WORKERS": "1",
        "VAXCERT_THREADS": "4",
        "VAXCERT_TLS__DENIED_CLIENT_FINGERPRINTS": json.dumps(withdrawn),
    }
    names = [*MTLS, "center-app-api"]
    for name in names:
        env[f"VAXCERT_LISTENERS__{SERVICES[name].listener.upper()}__PORT"] = str(free_port())
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        settings = load_settings()
        children: dict[str, subprocess.Popen[bytes]] = {}
        for name in names:
            children[name] = demo.start(SERVICES[name], settings)
        try:
            failed = demo.wait_healthy([SERVICES[n] for n in names], settings, children)
            assert not failed, f"not healthy: {failed}"
            yield settings, directory
        finally:
            demo.stop(children)
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _get(settings: Settings, directory: Path, server: str, client: str | None) -> requests.Response:
    spec = SERVICES[server]
    ca = pki.cert_path(directory, spec.server_ca or "")
    cert = pki.cert_path(directory, client) if client else None
    key = pki.key_path(directory, client) if client else None
    with tls.client_session(ca, cert, key) as session:
        return session.get(settings.url(spec.listener) + "/healthz", timeout=5)


@pytest.mark.parametrize("server", MTLS)
def test_c09_right_client_is_accepted_and_the_view_sees_its_cn(stack, server: str) -> None:
    settings, directory = stack
    response = _get(settings, directory, server, RIGHT[server])
    assert response.status_code == 200
    assert response.json()["peer"] == RIGHT_CN[server]
    assert response.headers["X-Request-ID"]


@pytest.mark.parametrize("server", MTLS)
def test_c09_no_client_certificate_is_refused_at_the_handshake(stack, server: str) -> None:
    settings, directory = stack
    with pytest.raises(requests.exceptions.ConnectionError):
        _get(settings, directory, server, None)


@pytest.mark.parametrize("server", MTLS)
def test_c09_another_cas_client_is_refused(stack, server: str) -> None:
    settings, directory = stack
    with pytest.raises(requests.exceptions.ConnectionError):
        _get(settings, directory, server, OTHER[server])


@pytest.mark.parametrize("server", MTLS)
def test_c09_expired_client_is_refused(stack, server: str) -> None:
    settings, directory = stack
    with pytest.raises(requests.exceptions.ConnectionError):
        _get(settings, directory, server, f"expired-{server}")


@pytest.mark.parametrize("server", MTLS)
def test_c09_deny_listed_client_gets_403_with_reason(stack, server: str) -> None:
    settings, directory = stack
    response = _get(settings, directory, server, f"withdrawn-{server}")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "client_cert_denied"


def test_c09_server_identity_is_pinned(stack) -> None:
    """A client pinned to another CA refuses the server (no trust in the machine's bundle)."""
    settings, directory = stack
    wrong_ca = pki.cert_path(directory, "public-ca")
    cert = pki.cert_path(directory, "center-lgwan-client")
    session = tls.client_session(wrong_ca, cert, pki.key_path(directory, "center-lgwan-client"))
    with session, pytest.raises(requests.exceptions.SSLError):
        session.get(settings.url("vrs") + "/healthz", timeout=5)


@pytest.mark.parametrize("server", [*MTLS, "center-app-api"])
def test_c10_plain_http_is_refused(stack, server: str) -> None:
    settings, _ = stack
    url = settings.url(SERVICES[server].listener).replace("https://", "http://") + "/healthz"
    session = requests.Session()
    session.trust_env = False
    try:
        response = session.get(url, timeout=5)
    except requests.exceptions.ConnectionError:
        return
    assert response.status_code >= 400 and "ok" not in response.text


def test_c10_tls_surface_answers_with_the_public_ca(stack) -> None:
    settings, directory = stack
    response = _get(settings, directory, "center-app-api", None)
    assert response.status_code == 200 and response.json()["status"] == "ok"
