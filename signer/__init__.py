"""vaxcert: signer. SMART Health Card and ICAO VDS-NC issuance, keys in files or a PKCS#11 token.

Public names: :class:`vaxcert.contracts.signing.CertificateContent` (and its parts),
:class:`signer.services.SignerService`, the pure issuers in :mod:`signer.shc_issue` and
:mod:`signer.vdsnc_issue` and :class:`signer.interfaces.KeySigner` (docs/signer.md). Its client
lives in its caller (:class:`cert_center.clients.SignerClient`); the vaccine table is
:mod:`vaxcert.vaccines` and the QR builders are :mod:`vaxcert.certificate.qr`.
"""
