"""The signer: SMART Health Card and ICAO VDS-NC issuance, keys in files or a PKCS#11 token.

Public names: :func:`create_app` (the center-only signing API and the public issuer endpoints),
:class:`SignerService` and :class:`KeySigner` (docs/signer.md). The pure issuers are
:mod:`signer.shc_issue` and :mod:`signer.vdsnc_issue`. What it signs is
:class:`vaxcert.contracts.signing.CertificateContent`; its client lives in its caller
(:class:`cert_center.SignerClient`). The rest is internal.
"""

from signer.app import create_app
from signer.interfaces import KeySigner
from signer.services import SignerService

__all__ = ["KeySigner", "SignerService", "create_app"]
