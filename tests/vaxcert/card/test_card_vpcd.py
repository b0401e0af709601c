"""The vpcd client against a scripted vpcd on loopback: framing, control codes, reconnects."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from vaxcert.card import apdu, cards, layout
from vaxcert.card.virtual import ATR, CardLogEntry
from vaxcert.card.vpcd import VpcdCardClient, is_loopback


class FakeVpcd:
    """Plays vpcd's side: listens on an ephemeral loopback port and starts every exchange."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.server.getsockname()[1])
        self.server.settimeout(5)

    def accept(self) -> socket.socket:
        connection, _ = self.server.accept()
        connection.settimeout(5)
        return connection

    @staticmethod
    def receive(connection: socket.socket) -> bytes:
        header = b""
        while len(header) < 2:
            header += connection.recv(2 - len(header))
        size = int.from_bytes(header, "big")
        payload = b""
        while len(payload) < size:
            payload += connection.recv(size - len(payload))
        return payload

    @staticmethod
    def send(connection: socket.socket, payload: bytes, split: bool = False) -> None:
        frame = len(payload).to_bytes(2, "big") + payload
        if split:  # as Debian's vpcd does: length and payload in separate sends, and in pieces
            connection.sendall(frame[:2])
            for i in range(2, len(frame), 3):
                connection.sendall(frame[i : i + 3])
        else:
            connection.sendall(frame)

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def vpcd() -> Iterator[FakeVpcd]:
    fake = FakeVpcd()
    yield fake
    fake.close()


def start(client: VpcdCardClient) -> threading.Thread:
    thread = threading.Thread(target=client.run, daemon=True)
    thread.start()
    return thread


def test_framing_control_codes_and_reconnect(vpcd: FakeVpcd, issuer: cards.CardIssuer) -> None:
    card = cards.make_card("canary", issuer)
    journal: list[CardLogEntry] = []
    client = VpcdCardClient(
        card, "127.0.0.1", vpcd.port, reconnect_delay=0.01, journal=journal.append
    )
    thread = start(client)

    connection = vpcd.accept()
    vpcd.send(connection, b"\x04")
    assert vpcd.receive(connection) == ATR
    vpcd.send(connection, b"\x01")  # power on: no reply
    vpcd.send(connection, apdu.select_df(layout.KENHOJO_AID), split=True)
    assert vpcd.receive(connection) == b"\x90\x00"
    vpcd.send(connection, apdu.select_ef(layout.FID_CVC))
    assert vpcd.receive(connection) == b"\x90\x00"
    vpcd.send(connection, bytes.fromhex("00B00000000238"))  # extended Le: 568 + SW in one frame
    assert vpcd.receive(connection) == card.files.ef0004 + b"\x90\x00"
    connection.close()  # pcscd restarting: the card must come back by itself

    again = vpcd.accept()
    vpcd.send(again, b"\x02")  # reset clears the selection
    vpcd.send(again, apdu.select_ef(layout.FID_CVC))
    assert vpcd.receive(again) == b"\x6a\x82"
    client.stop()
    thread.join(5)
    assert not thread.is_alive()
    again.close()
    assert [e.event for e in journal][:2] == ["power_on", "apdu"]
    assert "reset" in [e.event for e in journal]


def test_remove_after_leaves_at_the_next_command(vpcd: FakeVpcd, issuer: cards.CardIssuer) -> None:
    client = VpcdCardClient(
        cards.make_card("canary", issuer), "127.0.0.1", vpcd.port, remove_after=1
    )
    thread = start(client)
    connection = vpcd.accept()
    vpcd.send(connection, apdu.select_df(layout.KENHOJO_AID))
    assert vpcd.receive(connection) == b"\x90\x00"
    vpcd.send(connection, apdu.select_ef(layout.FID_CVC))
    assert connection.recv(2) == b""  # closed without an answer
    thread.join(5)
    assert not thread.is_alive() and client.apdus_answered == 1


def test_client_waits_for_vpcd_and_stops_cleanly(issuer: cards.CardIssuer) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])  # nothing listens here
    client = VpcdCardClient(
        cards.make_card("canary", issuer), "127.0.0.1", port, reconnect_delay=0.01
    )
    thread = start(client)
    thread.join(0.1)
    assert thread.is_alive()  # retrying
    client.stop()
    thread.join(5)
    assert not thread.is_alive()


@pytest.mark.parametrize("host", ["10.0.0.1", "192.168.1.1", "example.com", "0.0.0.0"])
def test_virtual_card_dials_loopback_only(host: str, issuer: cards.CardIssuer) -> None:
    assert not is_loopback(host)
    with pytest.raises(ValueError, match="loopback"):
        VpcdCardClient(cards.make_card("canary", issuer), host)


def test_loopback_forms() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.5.0.1", "::1", "localhost"))
