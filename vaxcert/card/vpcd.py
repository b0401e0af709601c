"""Connects a :class:`VirtualKenhojoCard` to vsmartcard's vpcd, so pcscd sees a real reader.

Framing per card.md §10.1: every message is a 2-byte big-endian length and a payload; a 1-byte
payload is a control code (00 power off, 01 power on, 02 reset, 04 get ATR), anything longer a
C-APDU answered with the R-APDU. vpcd starts every exchange. Our own loop instead of the vicc
library: it reads frames whole, sets TCP_QUICKACK before each receive (without it Debian's vpcd
stalls ~40 ms per APDU, §10.3 pitfall 1), and reconnects when pcscd restarts (pitfall 6).
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
from collections.abc import Callable

from vaxcert.card.virtual import CardLogEntry, VirtualKenhojoCard

VPCD_DEFAULT_PORT = 0x8C7B  # 35963, slot 0 of /etc/reader.conf.d/vpcd
_CONTROL_POWER_OFF, _CONTROL_POWER_ON, _CONTROL_RESET, _CONTROL_ATR = 0, 1, 2, 4
_CONNECT_TIMEOUT = 1.0


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses: a vicc never dials anywhere else (§10.3.9)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class VpcdCardClient:
    """Serves one virtual card to a vpcd slot, reconnecting until :meth:`stop`.

    ``remove_after`` (tests): after answering that many APDUs, the next APDU is not answered
    and the connection closes, which pcscd sees as the card leaving mid-command; :meth:`run`
    then returns.
    """

    def __init__(
        self,
        card: VirtualKenhojoCard,
        host: str = "127.0.0.1",
        port: int = VPCD_DEFAULT_PORT,
        *,
        reconnect_delay: float = 0.1,
        remove_after: int | None = None,
        journal: Callable[[CardLogEntry], None] | None = None,
        quickack: bool = True,
    ) -> None:
        if not is_loopback(host):
            raise ValueError("a virtual card connects to vpcd on loopback only")
        self.card = card
        self.host = host
        self.port = port
        self.reconnect_delay = reconnect_delay
        self.remove_after = remove_after
        self.quickack = quickack  # False only to measure the stall it prevents (bench/card.py)
        self.apdus_answered = 0
        self.connected = threading.Event()
        self._journal = journal
        self._journaled = 0
        self._stop = threading.Event()
        self._sock: socket.socket | None = None
        self._sock_lock = threading.Lock()

    def stop(self) -> None:
        """Stop serving; unblocks a pending receive."""
        self._stop.set()
        with self._sock_lock:
            if self._sock is not None:
                with contextlib.suppress(OSError):
                    self._sock.shutdown(socket.SHUT_RDWR)

    def run(self) -> None:
        """Connect, serve, reconnect after vpcd goes away; returns after stop or a removal."""
        while not self._stop.is_set():
            try:
                sock = socket.create_connection((self.host, self.port), timeout=_CONNECT_TIMEOUT)
            except OSError:
                self._stop.wait(self.reconnect_delay)  # pcscd not up yet, or restarting
                continue
            sock.settimeout(None)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._sock_lock:
                self._sock = sock
            self.connected.set()
            try:
                removed = self._serve(sock)
            except OSError:
                removed = False
            finally:
                self.connected.clear()
                with self._sock_lock:
                    self._sock = None
                sock.close()
            if removed:
                return
            self._stop.wait(self.reconnect_delay)

    def _receive(self, sock: socket.socket, size: int) -> bytes | None:
        """Exactly ``size`` bytes, or None at end of stream (vpcd may split frames, pitfall 8)."""
        buffer = bytearray()
        while len(buffer) < size:
            if self.quickack:
                # Linux clears QUICKACK after a while: set it before every receive (pitfall 1).
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
            chunk = sock.recv(size - len(buffer))
            if not chunk:
                return None
            buffer += chunk
        return bytes(buffer)

    def _send(self, sock: socket.socket, payload: bytes) -> None:
        # Length and payload in one send: two sends would meet Nagle on the other side.
        sock.sendall(len(payload).to_bytes(2, "big") + payload)

    def _flush_journal(self) -> None:
        if self._journal is None:
            return
        log = self.card.log
        while self._journaled < len(log):
            self._journal(log[self._journaled])
            self._journaled += 1

    def _serve(self, sock: socket.socket) -> bool:
        """Answer vpcd until it disconnects (False) or the card is removed (True)."""
        while not self._stop.is_set():
            header = self._receive(sock, 2)
            if header is None:
                return False
            size = int.from_bytes(header, "big")
            payload = self._receive(sock, size) if size else b""
            if payload is None:
                return False
            if len(payload) == 1:
                code = payload[0]
                if code == _CONTROL_POWER_OFF:
                    self.card.power_off()
                elif code == _CONTROL_POWER_ON:
                    self.card.power_on()
                elif code == _CONTROL_RESET:
                    self.card.reset()
                elif code == _CONTROL_ATR:
                    self._send(sock, self.card.atr)
                self._flush_journal()
                continue
            if self.remove_after is not None and self.apdus_answered >= self.remove_after:
                return True  # the card leaves with this command unanswered
            response = self.card.execute(payload)
            self._send(sock, response)
            self.apdus_answered += 1
            self._flush_journal()
        return False
