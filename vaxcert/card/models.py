"""What a card read yields: the raw Kenhojo files and the holder data parsed from them.

Personal fields are excluded from ``repr`` so a stray log line or traceback cannot carry them
(C08, C22).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from vaxcert.card.errors import MalformedCardDataError

# The files a reader returns and the center verifies (card.md §2), by JSON name.
FILE_NAMES = ("ef0001", "ef0002", "ef0003", "ef0004", "ef0005")
# Generous upper bound per file for untrusted input (the largest real file is 568 bytes).
MAX_FILE_BYTES = 4096


@dataclass(frozen=True, slots=True)
class CardFiles:
    """The five Kenhojo EFs exactly as read (EF0001 with its filler, EF0005 with its padding)."""

    ef0001: bytes = field(repr=False)  # My Number
    ef0002: bytes = field(repr=False)  # 基本4情報
    ef0003: bytes = field(repr=False)  # digests + signature
    ef0004: bytes = field(repr=False)  # CVC of the signing key
    ef0005: bytes = field(repr=False)  # AP basic information

    def to_json(self) -> dict[str, str]:
        """Base64 of each file, for the kiosk/app → center request."""
        return {name: base64.b64encode(getattr(self, name)).decode() for name in FILE_NAMES}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CardFiles:
        """Parse :meth:`to_json` output from an untrusted body; typed error on anything else."""
        unknown = set(data) - set(FILE_NAMES)
        if unknown:
            # Names are not echoed: an unknown key could itself carry personal data (C08).
            raise MalformedCardDataError(f"{len(unknown)} unknown card file field(s)")
        decoded: dict[str, bytes] = {}
        for name in FILE_NAMES:
            value = data.get(name)
            if not isinstance(value, str) or len(value) > MAX_FILE_BYTES * 2:
                raise MalformedCardDataError(f"{name} must be a base64 string")
            try:
                decoded[name] = base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                raise MalformedCardDataError(f"{name} is not valid base64") from None
            if not decoded[name] or len(decoded[name]) > MAX_FILE_BYTES:
                raise MalformedCardDataError(f"{name} has an impossible size")
        return cls(**decoded)


@dataclass(frozen=True, slots=True)
class CardRead:
    """A completed read: raw files plus My Number and the basic 4 information parsed from them.

    ``verified_by`` is the CVC issuer key id (e.g. ``9000033/001``) when the files passed the
    C03 chain, and ``None`` when they were only parsed.
    """

    files: CardFiles = field(repr=False)
    my_number: str = field(repr=False)
    name: str = field(repr=False)
    address: str = field(repr=False)
    birth_date: dt.date = field(repr=False)
    sex: str = field(repr=False)  # JIS X 0303: 1 male, 2 female, 9 not applicable, 0 unknown
    verified_by: str | None = None

    @property
    def verified(self) -> bool:
        """True when the C03 verification chain passed."""
        return self.verified_by is not None
