"""`vaxcert health NAME`: ``GET /healthz`` of one surface over its real channel, from inside its
own container or pod (Docker ``HEALTHCHECK``, Kubernetes exec probes).

A kubelet's HTTPS probe presents no client certificate and checks no server certificate, so on an
mTLS listener it could only fail, and on a TLS listener it would prove less than a client does.
This check connects to the listener's port on loopback, verifies the server certificate against
the surface's CA under the name clients use, presents a probe client certificate where the
surface requires one (C09: /healthz, like every path, needs a certificate of the surface's client
CA) and wants ``200 {"status": "ok"}``.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from launch.surfaces import ServiceSpec
from vaxcert import pki, tls
from vaxcert.config import Settings

# A listener bound to every address is reached on loopback; its certificate names no wildcard.
_WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::", "[::]"})  # noqa: S104 - names, not a bind


class HealthError(Exception):
    """The surface did not answer healthy; the message says how."""


@dataclass(frozen=True)
class Probe:
    """Where and how to probe one surface."""

    host: str
    port: int
    server_name: str
    server_ca: Path | None
    client_cert: Path | None
    client_key: Path | None


def plan(
    spec: ServiceSpec,
    settings: Settings,
    *,
    host: str = "127.0.0.1",
    server_name: str | None = None,
    client: str | None = None,
) -> Probe:
    """The probe of ``spec``: its configured port on ``host``, the server certificate checked
    for ``server_name`` (default: the listener's host, or ``localhost`` when it binds every
    address), and on mTLS the PKI item ``client`` (default: the surface's probe client)."""
    listener = getattr(settings.listeners, spec.listener)
    name = server_name or (listener.host if listener.host not in _WILDCARD_HOSTS else "localhost")
    files = spec.files(settings)
    cert = key = None
    if spec.tls == "mtls":
        item = client or spec.probe_client
        if item is None:
            raise HealthError(f"{spec.name} needs a client certificate: name one with --client")
        cert, key = pki.cert_path(settings.pki_dir, item), pki.key_path(settings.pki_dir, item)
    return Probe(host, listener.port, name, files["server_ca"], cert, key)


def check(probe: Probe, timeout: float = 3.0) -> dict[str, Any]:
    """``GET /healthz`` as ``probe`` says; the JSON body when it is ``200 {"status": "ok"}``."""
    try:
        connection = _connect(probe, timeout)
        try:
            connection.request("GET", "/healthz", headers={"Connection": "close"})
            response = connection.getresponse()
            raw = response.read(64 * 1024)
        finally:
            connection.close()
    except (OSError, http.client.HTTPException) as exc:
        raise HealthError(f"{probe.host}:{probe.port}: {exc}") from None
    if response.status != 200:
        raise HealthError(f"{probe.host}:{probe.port}: HTTP {response.status}")
    try:
        body = json.loads(raw)
    except ValueError:
        raise HealthError(f"{probe.host}:{probe.port}: /healthz answered no JSON") from None
    if not isinstance(body, dict) or body.get("status") != "ok":
        raise HealthError(f"{probe.host}:{probe.port}: not healthy: {body!r}")
    return body


def _connect(probe: Probe, timeout: float) -> http.client.HTTPConnection:
    if probe.server_ca is None:
        return http.client.HTTPConnection(probe.host, probe.port, timeout=timeout)
    for path in (probe.server_ca, probe.client_cert, probe.client_key):
        if path is not None and not path.is_file():
            raise HealthError(f"{path} is missing")
    context = tls.client_context(probe.server_ca, probe.client_cert, probe.client_key)
    raw = socket.create_connection((probe.host, probe.port), timeout=timeout)
    try:
        wrapped: ssl.SSLSocket = context.wrap_socket(raw, server_hostname=probe.server_name)
    except BaseException:
        raw.close()
        raise
    connection = http.client.HTTPSConnection(
        probe.server_name, probe.port, timeout=timeout, context=context
    )
    # Already connected to the loopback address, verified under the name clients use.
    connection.sock = wrapped
    return connection
