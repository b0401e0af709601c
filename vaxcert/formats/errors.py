"""The typed error of the format codecs."""

from __future__ import annotations

from vaxcert.errors import VaxcertError


class FormatError(VaxcertError):
    """Input that is not a well-formed SHC or VDS-NC encoding; ``code`` says which rule broke."""
