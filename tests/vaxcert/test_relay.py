"""The service-to-service channel (vaxcert/relay.py) over real mutual TLS on loopback."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from vaxcert import pki, tls
from vaxcert.relay import Channel

_BODY = b'{"accepted": true}'


class _KeepAliveHandler(http.server.BaseHTTPRequestHandler):
    """Answers with keep-alive; once the client went idle, drops the connection the way gunicorn
    drops one idle past its keep-alive: a plain close, no TLS close_notify."""

    protocol_version = "HTTP/1.1"
    server: _Server

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.server.requests += 1
        self.send_response(202)
        self.send_header("Content-Length", str(len(_BODY)))
        self.end_headers()
        self.wfile.write(_BODY)
        self.wfile.flush()
        self.server.idle.wait()
        self.server.idle.clear()
        self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


class _Server(http.server.HTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _KeepAliveHandler)
        self.requests = 0
        self.connections = 0
        self.idle = threading.Event()
        self.dropped = threading.Event()

    def get_request(self) -> tuple[Any, Any]:
        self.connections += 1
        return super().get_request()

    def shutdown_request(self, request: Any) -> None:
        super().shutdown_request(request)
        self.dropped.set()


@pytest.fixture(scope="module")
def relay_pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("relay-pki")
    pki.init(directory, "https://127.0.0.1:8446/issuer", ["KIOSK-0001"])
    return directory


@pytest.fixture
def server(relay_pki: Path) -> Iterator[_Server]:
    running = _Server()
    context = tls.server_context(
        pki.cert_path(relay_pki, "center-kiosk-api"),
        pki.key_path(relay_pki, "center-kiosk-api"),
        pki.cert_path(relay_pki, "dedicated-ca"),
    )
    running.socket = context.wrap_socket(running.socket, server_side=True)
    thread = threading.Thread(target=running.serve_forever, daemon=True)
    thread.start()
    yield running
    running.idle.set()
    running.shutdown()
    running.server_close()
    thread.join(timeout=5)


def test_a_kept_alive_connection_the_peer_dropped_is_replaced(
    server: _Server, relay_pki: Path
) -> None:
    channel = Channel(
        f"https://127.0.0.1:{server.server_address[1]}",
        pki.cert_path(relay_pki, "dedicated-ca"),
        pki.cert_path(relay_pki, "kiosk-KIOSK-0001"),
        pki.key_path(relay_pki, "kiosk-KIOSK-0001"),
        5.0,
        "peer",
    )
    assert channel.post("/first", b"{}") == (202, _BODY)
    server.idle.set()  # the client went idle: the server drops the kept-alive connection
    assert server.dropped.wait(5)
    # The next call finds its kept-alive connection gone (SSLEOFError, not RemoteDisconnected):
    # it reconnects once instead of reporting the peer unavailable.
    assert channel.post("/second", b"{}") == (202, _BODY)
    assert (server.connections, server.requests) == (2, 2)
