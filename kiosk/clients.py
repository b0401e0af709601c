"""The kiosk's calls to the center kiosk API over the dedicated line (mTLS with this kiosk's
client certificate, C09): screen configuration (C05), issuance, receipts and heartbeats."""

from __future__ import annotations

import threading
import time
from typing import TypeVar

import requests
from pydantic import BaseModel, TypeAdapter, ValidationError

from cert_center.models import (
    Accepted,
    CertificateIssued,
    CertificateRequest,
    Heartbeat,
    KioskConfig,
    Receipt,
)
from vaxcert import pki
from vaxcert.config import Settings
from vaxcert.errors import VaxcertError
from vaxcert.logging import request_id_var
from vaxcert.relay import post_json, refusal_from
from vaxcert.tls import ThreadLocalSessions

T = TypeVar("T")
_CONFIG: TypeAdapter[KioskConfig] = TypeAdapter(KioskConfig)
_ISSUED: TypeAdapter[CertificateIssued] = TypeAdapter(CertificateIssued)
_ACCEPTED: TypeAdapter[Accepted] = TypeAdapter(Accepted)


class CenterClient:
    """``/v1/kiosk/*`` of the center; every error is a :class:`VaxcertError` with a reason code
    (the center's own refusal, or ``service_unavailable``)."""

    def __init__(
        self,
        base_url: str,
        sessions: ThreadLocalSessions,
        timeout: float,
        config_ttl: float = 60.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.sessions = sessions
        self.timeout = timeout
        self.config_ttl = config_ttl
        self._config: tuple[float, KioskConfig] | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> CenterClient:
        """The configured center URL, the dedicated-line CA and this kiosk's client certificate."""
        directory = settings.pki_dir
        name = f"kiosk-{settings.kiosk.kiosk_id}"
        sessions = ThreadLocalSessions(
            pki.cert_path(directory, "dedicated-ca"),
            pki.cert_path(directory, name),
            pki.key_path(directory, name),
        )
        url = settings.kiosk.center_url or settings.url("center_kiosk_api")
        return cls(
            url,
            sessions,
            settings.kiosk.center_timeout_seconds,
            settings.kiosk.config_refresh_seconds,
        )

    def config(self, *, fresh: bool = False) -> KioskConfig:
        """What this kiosk may show (C05), cached for ``config_ttl`` seconds."""
        with self._lock:
            cached = self._config
        if cached is not None and not fresh and time.monotonic() - cached[0] < self.config_ttl:
            return cached[1]
        try:
            response = self.sessions.get().get(
                self.base_url + "/v1/kiosk/config",
                headers={"X-Request-ID": request_id_var.get() or ""},
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise VaxcertError("service_unavailable", f"center: {type(exc).__name__}") from None
        if response.status_code >= 300:
            raise refusal_from(response, "center")
        try:
            config = _CONFIG.validate_json(response.content)
        except ValidationError:
            raise VaxcertError(
                "service_unavailable", "center answered an unexpected body"
            ) from None
        with self._lock:
            self._config = (time.monotonic(), config)
        return config

    def certificates(self, request: CertificateRequest) -> CertificateIssued:
        """Ask for one certificate; the reply lives only in kiosk memory (C08)."""
        return self._post("/v1/kiosk/certificates", request, _ISSUED)

    def receipt(self, receipt: Receipt) -> None:
        """Report what happened at the printer and the cash unit."""
        self._post("/v1/kiosk/receipts", receipt, _ACCEPTED)

    def heartbeat(self, heartbeat: Heartbeat) -> None:
        """Report device status."""
        self._post("/v1/kiosk/heartbeat", heartbeat, _ACCEPTED)

    def _post(self, path: str, body: BaseModel, answer: TypeAdapter[T]) -> T:
        return post_json(self.sessions, self.base_url + path, body, answer, "center", self.timeout)
