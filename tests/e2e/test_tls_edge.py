"""The edge of every listener (launch/edge.py) on real `vaxcert serve` processes on loopback.

Stalled TLS handshakes hold no request thread and are closed at their deadline; a client that
stalls mid-request frees its thread; errors gunicorn answers itself are JSON with reason codes;
TLS listeners send HSTS and plain-http ones do not. One worker with four threads per listener,
so a handful of stalled clients would be enough to take a listener down.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives import serialization

from launch import demo
from launch.surfaces import SERVICES
from vaxcert import pki, reasons, tls
from vaxcert.config import Settings, load_settings

SERVED = ("center-kiosk-api", "center-app-api", "verifier")
HANDSHAKE_TIMEOUT = 2.0
MAX_HANDSHAKES = 16
CLIENT_IO_TIMEOUT = 3.0
THREADS = 4
# Far above anything these answers need on a busy machine; never a claim about speed.
PATIENCE = 30.0
HSTS = "max-age=31536000"
ISSUER = "https://127.0.0.1:8446/issuer"


@dataclass
class Served:
    settings: Settings
    pki_dir: Path

    def address(self, name: str) -> tuple[str, int]:
        listener = getattr(self.settings.listeners, SERVICES[name].listener)
        return listener.host, listener.port

    def client_context(self, name: str) -> ssl.SSLContext:
        """What a real client of ``name`` uses: its pinned CA, and the probe client's certificate
        where the listener wants one."""
        spec = SERVICES[name]
        files = spec.files(self.settings)
        assert files["server_ca"] is not None
        cert = key = None
        if spec.tls == "mtls":
            assert spec.probe_client is not None
            cert = pki.cert_path(self.pki_dir, spec.probe_client)
            key = pki.key_path(self.pki_dir, spec.probe_client)
        context = tls.client_context(files["server_ca"], cert, key)
        context.check_hostname = False  # loopback by address; the CA pin is what is checked
        return context

    def session(self, name: str) -> requests.Session:
        spec = SERVICES[name]
        if spec.tls == "plain":
            session = requests.Session()
            session.trust_env = False
            return session
        files = spec.files(self.settings)
        assert files["server_ca"] is not None
        cert = key = None
        if spec.probe_client:
            cert = pki.cert_path(self.pki_dir, spec.probe_client)
            key = pki.key_path(self.pki_dir, spec.probe_client)
        return tls.client_session(files["server_ca"], cert, key)

    def url(self, name: str, path: str) -> str:
        return self.settings.url(SERVICES[name].listener) + path


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    directory = tmp_path_factory.mktemp("pki")
    pki.init(directory, ISSUER, ["KIOSK-0001"])
    env = {
        "VAXCERT_PKI_DIR": str(directory),
        "VAXCERT_ENVIRONMENT": "test",
        "VAXCERT_WORKERS": "1",
        "VAXCERT_THREADS": str(THREADS),
        "VAXCERT_TLS__HANDSHAKE_TIMEOUT": str(HANDSHAKE_TIMEOUT),
        "VAXCERT_TLS__MAX_HANDSHAKES": str(MAX_HANDSHAKES),
        "VAXCERT_CLIENT_IO_TIMEOUT": str(CLIENT_IO_TIMEOUT),
    }
    for name in SERVED:
        env[f"VAXCERT_LISTENERS__{SERVICES[name].listener.upper()}__PORT"] = str(demo.free_port())
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        settings = load_settings()
    children: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name in SERVED:
            children[name] = demo.start(SERVICES[name], settings, env)
        failed = demo.wait_healthy([SERVICES[n] for n in SERVED], settings, children, 120)
        assert not failed, f"not healthy: {failed}"
        yield Served(settings, directory)
    finally:
        demo.stop(children)


def _stalled(address: tuple[str, int], first_bytes: bytes) -> socket.socket:
    """A TCP connection that sends ``first_bytes`` (three bytes of a TLS record, or nothing)
    and then nothing more."""
    connection = socket.create_connection(address, timeout=PATIENCE)
    if first_bytes:
        connection.sendall(first_bytes)
    return connection


def _closed_by_server(connection: socket.socket, deadline: float) -> bool:
    """Whether the server closes ``connection`` before ``deadline`` (monotonic)."""
    connection.settimeout(max(0.1, deadline - time.monotonic()))
    try:
        while connection.recv(4096):
            pass  # a TLS alert may come first; the end of the stream is what counts
    except TimeoutError:
        return False
    except OSError:
        return True  # reset
    return True


def _answers_healthz(served: Served, name: str) -> dict[str, object]:
    """GET /healthz on a fresh connection (a full handshake of its own), within PATIENCE."""
    with served.session(name) as session:
        response = session.get(served.url(name, "/healthz"), timeout=PATIENCE)
    assert response.status_code == 200
    body: dict[str, object] = response.json()
    return body


def _exchange(connection: socket.socket, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    connection.sendall(raw)
    response = http.client.HTTPResponse(connection)
    response.begin()
    body = response.read()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, body


def _connect(served: Served, name: str) -> socket.socket:
    connection = socket.create_connection(served.address(name), timeout=PATIENCE)
    if SERVICES[name].tls == "plain":
        return connection
    return served.client_context(name).wrap_socket(connection)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["center-kiosk-api", "center-app-api"])
def test_stalled_handshakes_hold_no_request_thread_and_are_closed_at_their_deadline(
    served: Served, name: str
) -> None:
    # Eight times the threads, three bytes of a TLS record each, and a few that send nothing.
    stalled = [_stalled(served.address(name), b"\x16\x03\x01") for _ in range(8 * THREADS)]
    stalled += [_stalled(served.address(name), b"") for _ in range(THREADS)]
    try:
        for _ in range(3):
            body = _answers_healthz(served, name)
            if SERVICES[name].tls == "mtls":
                # The verified client certificate still reaches the application (C09).
                assert body["peer"] == "KIOSK-0001"
        deadline = time.monotonic() + HANDSHAKE_TIMEOUT + PATIENCE
        still_open = [c for c in stalled if not _closed_by_server(c, deadline)]
        assert not still_open, f"{len(still_open)} stalled handshakes outlived their deadline"
    finally:
        for connection in stalled:
            connection.close()


@pytest.mark.slow
def test_a_stalled_handshake_is_closed_at_the_deadline_not_only_when_others_push_it_out(
    served: Served,
) -> None:
    # Fewer than the cap: only the deadline can close it.
    name = "center-app-api"
    connection = _stalled(served.address(name), b"\x16\x03\x01")
    try:
        assert _closed_by_server(connection, time.monotonic() + HANDSHAKE_TIMEOUT + PATIENCE)
    finally:
        connection.close()


@pytest.mark.slow
def test_a_client_that_stalls_mid_request_frees_its_thread(served: Served) -> None:
    # Anyone can finish a handshake with the app API (no client certificate): then three bytes
    # of a request line, and nothing more, from twice as many clients as there are threads.
    name = "center-app-api"
    stalled = [_connect(served, name) for _ in range(2 * THREADS)]
    try:
        for connection in stalled:
            connection.sendall(b"GET")
        _answers_healthz(served, name)
        deadline = time.monotonic() + CLIENT_IO_TIMEOUT + PATIENCE
        still_open = [c for c in stalled if not _closed_by_server(c, deadline)]
        assert not still_open, f"{len(still_open)} stalled requests still hold their connection"
    finally:
        for connection in stalled:
            connection.close()


@pytest.mark.slow
def test_one_mtls_connection_carries_several_requests_with_the_peer_certificate(
    served: Served,
) -> None:
    name = "center-kiosk-api"
    with _connect(served, name) as connection:
        for _ in range(3):
            status, headers, body = _exchange(
                connection, b"GET /healthz HTTP/1.1\r\nHost: center\r\n\r\n"
            )
            assert status == 200
            assert headers.get("connection", "").lower() != "close"
            assert json.loads(body)["peer"] == "KIOSK-0001"


LONG_URI = b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
MANY_HEADERS = (
    b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(200)) + b"\r\n"
)
HUGE_HEADER = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"v" * 9000 + b"\r\n\r\n"
BAD_LINE = b"NOT A REQUEST LINE\r\n\r\n"
BAD_VERSION = b"GET / HTTP/9.7\r\nHost: x\r\n\r\n"
BAD_HEADER_NAME = b"GET / HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n"
EXPECT = b"POST /healthz HTTP/1.1\r\nHost: x\r\nExpect: a-miracle\r\nContent-Length: 1\r\n\r\nx"
TRANSFER_CODING = b"POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: zip\r\n\r\n"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["center-kiosk-api", "center-app-api", "verifier"])
@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [
        (LONG_URI, 414, "uri_too_long"),
        (MANY_HEADERS, 431, "header_fields_too_large"),
        (HUGE_HEADER, 431, "header_fields_too_large"),
        (BAD_LINE, 400, "bad_request"),
        (BAD_VERSION, 400, "bad_request"),
        (BAD_HEADER_NAME, 400, "bad_request"),
        (EXPECT, 417, "expectation_failed"),
        (TRANSFER_CODING, 501, "transfer_coding_unsupported"),
    ],
    ids=[
        "uri-414",
        "many-headers-431",
        "huge-header-431",
        "request-line",
        "version",
        "header-name",
        "expect-417",
        "coding-501",
    ],
)
def test_requests_the_http_server_refuses_get_the_products_json_error(
    served: Served, name: str, raw: bytes, status: int, code: str
) -> None:
    with _connect(served, name) as connection:
        got, headers, body = _exchange(connection, raw)
    assert got == status
    assert headers["content-type"].startswith("application/json")
    error = json.loads(body)["error"]
    assert error["code"] == code
    assert error["message"] and "next_step" in error
    # Nothing of the request comes back (it may hold anything a client put in a URL: C08).
    assert b"aaaa" not in body and b"NOT A REQUEST" not in body
    if SERVICES[name].tls == "plain":
        assert "strict-transport-security" not in headers
    else:
        assert headers["strict-transport-security"] == HSTS


@pytest.mark.slow
@pytest.mark.parametrize("name", SERVED)
def test_c10_tls_listeners_send_hsts_and_plain_http_pages_do_not(served: Served, name: str) -> None:
    with served.session(name) as session:
        ok = session.get(served.url(name, "/healthz"), timeout=PATIENCE)
        missing = session.get(served.url(name, "/no-such-page"), timeout=PATIENCE)
    assert ok.status_code == 200
    assert missing.status_code == 404
    for response in (ok, missing):
        if SERVICES[name].tls == "plain":
            assert "Strict-Transport-Security" not in response.headers
        else:
            assert response.headers["Strict-Transport-Security"] == HSTS


@pytest.mark.slow
def test_a_refusal_of_the_http_server_speaks_the_language_the_client_asked_for(
    served: Served,
) -> None:
    twice_chunked = (
        b"POST /healthz HTTP/1.1\r\nHost: x\r\nAccept-Language: ja\r\n"
        b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    )
    with _connect(served, "center-app-api") as connection:
        status, _, body = _exchange(connection, twice_chunked)
    assert status == 400
    error = json.loads(body)["error"]
    assert error == {
        "code": "bad_request",
        "message": reasons.get("bad_request").message("ja"),
        "next_step": reasons.get("bad_request").next_step("ja"),
    }


@pytest.mark.slow
def test_a_renewed_server_certificate_is_served_from_the_next_connection(served: Served) -> None:
    # The listener keeps one TLS context while its files stay the same (launch/serve.py).
    name = "center-app-api"

    def presented() -> bytes:
        with _connect(served, name) as connection:
            der = connection.getpeercert(binary_form=True)
        assert der is not None
        return der

    first = presented()
    assert presented() == first
    spec = next(s for s in pki.specs(ISSUER, ["KIOSK-0001"]) if s.name == name)
    renewed = pki.issue(served.pki_dir, spec).public_bytes(serialization.Encoding.DER)
    assert renewed != first
    assert presented() == renewed
