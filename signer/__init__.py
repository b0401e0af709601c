"""vaxcert: signer. SMART Health Card and ICAO VDS-NC issuance, keys in files or a PKCS#11 token.

Public names: :class:`signer.models.CertificateContent` (and its parts),
:class:`signer.vaccines.VaccineTable`, :class:`signer.services.SignerService`,
:class:`signer.clients.SignerClient`, the pure issuers in :mod:`signer.shc` and :mod:`signer.vdsnc`,
the QR builders in :mod:`signer.qr` and :class:`signer.interfaces.KeySigner` (docs/signer.md).
"""
