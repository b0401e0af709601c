"""The certificate-issuance center: the kiosk API, the app API and the ops surface.

Public names: :func:`create_app` (one factory, a surface per listener), :class:`IssuanceService`
(checks the card (C03) and the rules, asks VRS, asks the signer) and the center's clients of VRS
and the signer, :class:`VrsClient` and :class:`SignerClient`. The rest is internal.
"""

from cert_center.app import create_app
from cert_center.clients import SignerClient, VrsClient
from cert_center.issuance import IssuanceService

__all__ = ["IssuanceService", "SignerClient", "VrsClient", "create_app"]
