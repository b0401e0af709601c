"""The center's client of the signing API: mTLS with the internal CA, keep-alive per thread.

Refusals come back as :class:`vaxcert.errors.VaxcertError` with the signer's reason code; an
unreachable or failing signer is ``service_unavailable``.
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, TypeAdapter

from signer.models import CertificateContent, CertificateResult, ShcResult, VdsncResult
from vaxcert import pki
from vaxcert.config import Settings
from vaxcert.relay import post_json
from vaxcert.tls import ThreadLocalSessions

ResultT = TypeVar("ResultT", bound=BaseModel)


class SignerClient:
    """Calls ``POST /v1/shc``, ``/v1/vdsnc`` and ``/v1/certificates`` of the signer."""

    def __init__(self, base_url: str, sessions: ThreadLocalSessions, timeout: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.sessions = sessions
        self.timeout = timeout

    @classmethod
    def from_settings(
        cls, settings: Settings, client: str = "center-internal-client", timeout: float = 5.0
    ) -> SignerClient:
        """The client the center uses: the configured signer URL and its internal-CA certificate."""
        directory = settings.pki_dir
        sessions = ThreadLocalSessions(
            pki.cert_path(directory, "internal-ca"),
            pki.cert_path(directory, client),
            pki.key_path(directory, client),
        )
        return cls(settings.url("signer_api"), sessions, timeout)

    def certificates(self, content: CertificateContent) -> CertificateResult:
        """Both QR payloads the certificate's kind carries."""
        return self._post("/v1/certificates", content, CertificateResult)

    def shc(self, content: CertificateContent) -> ShcResult:
        """The SMART Health Card only."""
        return self._post("/v1/shc", content, ShcResult)

    def vdsnc(self, content: CertificateContent) -> VdsncResult:
        """The ICAO VDS-NC only (overseas)."""
        return self._post("/v1/vdsnc", content, VdsncResult)

    def _post(self, path: str, content: CertificateContent, result: type[ResultT]) -> ResultT:
        return post_json(
            self.sessions,
            self.base_url + path,
            content,
            TypeAdapter(result),
            "signer",
            self.timeout,
            exclude_none=True,
        )
