"""The center's client of the signing API: mTLS with the internal CA, keep-alive per thread.

Refusals come back as :class:`vaxcert.errors.VaxcertError` with the signer's reason code; an
unreachable or failing signer is ``service_unavailable``.
"""

from __future__ import annotations

from pydantic import TypeAdapter

from signer.models import CertificateContent, CertificateResult, ShcResult, VdsncResult
from vaxcert import pki
from vaxcert.config import Settings
from vaxcert.relay import Channel


class SignerClient:
    """Calls ``POST /v1/shc``, ``/v1/vdsnc`` and ``/v1/certificates`` of the signer."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel

    @classmethod
    def from_settings(
        cls, settings: Settings, client: str = "center-internal-client", timeout: float = 5.0
    ) -> SignerClient:
        """The client the center uses: the configured signer URL and its internal-CA certificate."""
        directory = settings.pki_dir
        return cls(
            Channel(
                settings.url("signer_api"),
                pki.cert_path(directory, "internal-ca"),
                pki.cert_path(directory, client),
                pki.key_path(directory, client),
                timeout,
                "signer",
            )
        )

    def certificates(self, content: CertificateContent) -> CertificateResult:
        """Both QR payloads the certificate's kind carries."""
        return self.channel.post_json("/v1/certificates", content, _CERTIFICATES, True)

    def shc(self, content: CertificateContent) -> ShcResult:
        """The SMART Health Card only."""
        return self.channel.post_json("/v1/shc", content, _SHC, True)

    def vdsnc(self, content: CertificateContent) -> VdsncResult:
        """The ICAO VDS-NC only (overseas)."""
        return self.channel.post_json("/v1/vdsnc", content, _VDSNC, True)


_CERTIFICATES: TypeAdapter[CertificateResult] = TypeAdapter(CertificateResult)
_SHC: TypeAdapter[ShcResult] = TypeAdapter(ShcResult)
_VDSNC: TypeAdapter[VdsncResult] = TypeAdapter(VdsncResult)
