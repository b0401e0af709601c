"""Encoding primitives of the two certificate formats, shared by the signer and the verifier.

Pure functions without keys: :mod:`.jose` (base64url, JWK thumbprints, ECDSA signature forms),
:mod:`.shc` (SMART Health Card numeric QR text, compact JWS, raw DEFLATE, revocation ids) and
:mod:`.vdsnc` (ICAO VDS-NC document parsing and JCS canonical bytes). Every decoding failure raises
:class:`FormatError` with a reason code from the one catalogue.
"""

from vaxcert.formats.errors import FormatError

__all__ = ["FormatError"]
