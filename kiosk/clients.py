"""The kiosk's calls to the center kiosk API over the dedicated line (mTLS with this kiosk's
client certificate, C09): screen configuration (C05), issuance, receipts and heartbeats."""

from __future__ import annotations

import threading
import time

from pydantic import TypeAdapter

from vaxcert import pki
from vaxcert.config import Settings
from vaxcert.contracts.kiosk_api import (
    Accepted,
    CertificateIssued,
    CertificateRequest,
    Heartbeat,
    KioskConfig,
    Receipt,
)
from vaxcert.relay import Channel

_CONFIG: TypeAdapter[KioskConfig] = TypeAdapter(KioskConfig)
_ISSUED: TypeAdapter[CertificateIssued] = TypeAdapter(CertificateIssued)
_ACCEPTED: TypeAdapter[Accepted] = TypeAdapter(Accepted)


class CenterClient:
    """``/v1/kiosk/*`` of the center; every error is a :class:`VaxcertError` with a reason code
    (the center's own refusal, or ``service_unavailable``)."""

    def __init__(self, channel: Channel, config_ttl: float = 60.0) -> None:
        self.channel = channel
        self.config_ttl = config_ttl
        self._config: tuple[float, KioskConfig] | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> CenterClient:
        """The configured center URL, the dedicated-line CA and this kiosk's client certificate."""
        directory = settings.pki_dir
        name = f"kiosk-{settings.kiosk.kiosk_id}"
        channel = Channel(
            settings.kiosk.center_url or settings.url("center_kiosk_api"),
            pki.cert_path(directory, "dedicated-ca"),
            pki.cert_path(directory, name),
            pki.key_path(directory, name),
            settings.kiosk.center_timeout_seconds,
            "center",
        )
        return cls(channel, settings.kiosk.config_refresh_seconds)

    def config(self, *, fresh: bool = False) -> KioskConfig:
        """What this kiosk may show (C05), cached for ``config_ttl`` seconds."""
        with self._lock:
            cached = self._config
        if cached is not None and not fresh and time.monotonic() - cached[0] < self.config_ttl:
            return cached[1]
        config = self.channel.get_json("/v1/kiosk/config", _CONFIG)
        with self._lock:
            self._config = (time.monotonic(), config)
        return config

    def certificates(self, request: CertificateRequest) -> CertificateIssued:
        """Ask for one certificate; the reply lives only in kiosk memory (C08)."""
        return self.channel.post_json("/v1/kiosk/certificates", request, _ISSUED)

    def receipt(self, receipt: Receipt) -> None:
        """Report what happened at the printer and the cash unit."""
        self.channel.post_json("/v1/kiosk/receipts", receipt, _ACCEPTED)

    def heartbeat(self, heartbeat: Heartbeat) -> None:
        """Report device status."""
        self.channel.post_json("/v1/kiosk/heartbeat", heartbeat, _ACCEPTED, exclude_none=True)
