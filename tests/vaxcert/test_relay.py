"""The relay channel over real mutual TLS on loopback, against a peer that behaves like gunicorn.

gunicorn closes a kept-alive connection after its idle time by closing the socket: no TLS
close_notify. A client that reuses such a connection reads ``ssl.SSLEOFError`` (platform.md).
A kiosk at night must never see that as an outage.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from vaxcert import pki, relay, tls
from vaxcert.errors import VaxcertError
from vaxcert.relay import Channel


@dataclass
class GunicornLikePeer:
    """Answers each request with keep-alive, then drops idle connections without close_notify."""

    context: ssl.SSLContext
    idle_seconds: float
    listener: socket.socket = field(default_factory=socket.socket)
    connections: int = 0
    requests: int = 0
    idle_closes: int = 0
    closed: int = 0
    stopping: threading.Event = field(default_factory=threading.Event)

    @property
    def port(self) -> int:
        return int(self.listener.getsockname()[1])

    def serve(self) -> None:
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                raw, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._handle, args=(raw,), daemon=True).start()

    def _handle(self, raw: socket.socket) -> None:
        try:
            self._exchange(raw)
        finally:
            self.closed += 1

    def _exchange(self, raw: socket.socket) -> None:
        try:
            conn = self.context.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError):
            raw.close()
            return
        buffer = b""
        conn.settimeout(self.idle_seconds)
        while True:
            try:
                while b"\r\n\r\n" not in buffer:
                    chunk = conn.recv(65536)
                    if not chunk:
                        conn.close()
                        return
                    buffer += chunk
            except TimeoutError:
                self.idle_closes += 1
                # What gunicorn does after keepalive: close the socket without unwrap(), so no
                # TLS close_notify is sent.
                conn.close()
                return
            head, _, buffer = buffer.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            while len(buffer) < length:
                chunk = conn.recv(65536)
                if not chunk:
                    conn.close()
                    return
                buffer += chunk
            buffer = buffer[length:]
            self.requests += 1
            body = json.dumps({"served": self.requests}).encode()
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Connection: keep-alive\r\nContent-Length: "
                + str(len(body)).encode()
                + b"\r\n\r\n"
                + body
            )


@pytest.fixture(scope="module")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("relay-pki")
    pki.init(directory, "https://127.0.0.1:8446/issuer", ["KIOSK-0001"], ["127.0.0.1"])
    return directory


@pytest.fixture
def peer(pki_dir: Path) -> Iterator[GunicornLikePeer]:
    context = tls.server_context(
        pki.cert_path(pki_dir, "signer-api"),
        pki.key_path(pki_dir, "signer-api"),
        pki.cert_path(pki_dir, "internal-ca"),
    )
    server = GunicornLikePeer(context, idle_seconds=0.5)
    server.serve()
    yield server
    server.stopping.set()
    server.listener.close()


def _channel(pki_dir: Path, port: int) -> Channel:
    return Channel(
        f"https://127.0.0.1:{port}",
        pki.cert_path(pki_dir, "internal-ca"),
        pki.cert_path(pki_dir, "center-internal-client"),
        pki.key_path(pki_dir, "center-internal-client"),
        5.0,
        "signer",
    )


def _wait_for(condition: object, seconds: float = 10.0) -> None:
    end = time.monotonic() + seconds
    while not condition() and time.monotonic() < end:  # type: ignore[operator]
        time.sleep(0.05)
    assert condition(), "the peer did not reach the expected state"  # type: ignore[operator]


def test_a_connection_closed_without_close_notify_is_replaced_not_an_outage(
    peer: GunicornLikePeer, pki_dir: Path
) -> None:
    channel = _channel(pki_dir, peer.port)
    assert channel.post("/v1/x", b"{}") == (200, b'{"served": 1}')
    _wait_for(lambda: peer.idle_closes == 1)
    # The quiet spell is over: the next call must go through like any other.
    for expected in (2, 3, 4):
        status, body = channel.post("/v1/x", b"{}")
        assert status == 200 and json.loads(body)["served"] == expected
    assert peer.connections == 2


def test_a_burst_after_a_quiet_spell_all_succeeds(peer: GunicornLikePeer, pki_dir: Path) -> None:
    channel = _channel(pki_dir, peer.port)
    results: list[int] = []
    errors: list[VaxcertError] = []

    def call() -> None:
        try:
            results.append(channel.post("/v1/x", b"{}")[0])
        except VaxcertError as exc:
            errors.append(exc)

    for _ in range(2):
        threads = [threading.Thread(target=call) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        _wait_for(lambda: peer.closed == peer.connections)
    assert errors == [] and results == [200] * 16


def test_a_peer_that_is_gone_is_still_an_outage(pki_dir: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(VaxcertError) as refused:
        _channel(pki_dir, port).post("/v1/x", b"{}")
    assert refused.value.code == "service_unavailable"


def test_a_close_that_races_the_check_is_still_replaced(
    peer: GunicornLikePeer, pki_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The peer may close between the idle check and the send: SSLEOFError is stale too."""
    monkeypatch.setattr(relay, "_closed_by_peer", lambda _connection: False)
    channel = _channel(pki_dir, peer.port)
    assert channel.post("/v1/x", b"{}")[0] == 200
    _wait_for(lambda: peer.idle_closes == 1)
    assert channel.post("/v1/x", b"{}")[0] == 200
    assert peer.connections == 2


def test_a_call_with_no_time_left_before_the_deadline_is_never_sent(
    peer: GunicornLikePeer, pki_dir: Path
) -> None:
    channel = _channel(pki_dir, peer.port)
    assert channel.post("/v1/x", b"{}")[0] == 200
    token = relay.deadline_var.set(time.monotonic() - 0.001)
    try:
        with pytest.raises(relay.NoTimeLeftError) as refused:
            channel.post("/v1/x", b"{}")
    finally:
        relay.deadline_var.reset(token)
    assert refused.value.code == "service_unavailable"
    assert peer.requests == 1, "the peer must never see a call made after the deadline"
    assert channel.post("/v1/x", b"{}")[0] == 200  # without a deadline, calls go on as before


def test_a_stalled_peer_is_given_up_on_at_the_deadline_not_at_the_channel_timeout(
    pki_dir: Path,
) -> None:
    # A peer whose TCP backlog takes the connection but which never answers the TLS handshake.
    with socket.socket() as stalled:
        stalled.bind(("127.0.0.1", 0))
        stalled.listen(8)
        channel = Channel(
            f"https://127.0.0.1:{stalled.getsockname()[1]}",
            pki.cert_path(pki_dir, "internal-ca"),
            pki.cert_path(pki_dir, "center-internal-client"),
            pki.key_path(pki_dir, "center-internal-client"),
            120.0,
            "signer",
        )
        started = time.monotonic()
        token = relay.deadline_var.set(started + 0.3)
        try:
            with pytest.raises(VaxcertError) as refused:
                channel.post("/v1/x", b"{}")
        finally:
            relay.deadline_var.reset(token)
        assert refused.value.code == "service_unavailable"
        # Far from the channel's own 120 s: the deadline bounded the wait.
        assert time.monotonic() - started < 60
