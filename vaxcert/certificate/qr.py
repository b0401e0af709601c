"""QR codes of both formats, built exactly as formats.md prescribes.

SHC: two segments, ``shc:/`` in byte mode then the digits in numeric mode, error level L, version
≤ 22. (The whole string as one segment would become byte mode, version 29: non-conformant.)
VDS-NC: the JSON text as one byte-mode segment, no ECI, error level M.
"""

from __future__ import annotations

import io
from typing import Any

import segno

from vaxcert.errors import VaxcertError
from vaxcert.formats import shc

SHC_MAX_VERSION = 22


def shc_qr(numeric: str) -> segno.QRCode:
    """The single QR code of a card from its ``shc:/`` numeric text."""
    if not numeric.startswith(shc.PREFIX):
        raise ValueError("numeric text must start with shc:/")
    digits = numeric[len(shc.PREFIX) :]
    segments: Any = [(shc.PREFIX, segno.consts.MODE_BYTE), (digits, segno.consts.MODE_NUMERIC)]
    code = segno.make(
        segments,
        error="l",
        boost_error=False,
        micro=False,
    )
    if int(code.version) > SHC_MAX_VERSION:
        raise VaxcertError("shc_too_large", f"the card needs QR version {code.version} (max 22)")
    return code


def vdsnc_qr(document: str) -> segno.QRCode:
    """The QR code of a VDS-NC document: byte mode, one segment, no ECI, level M."""
    return segno.make(document, mode="byte", error="m", boost_error=False, micro=False, eci=False)


def png(code: segno.QRCode, scale: int = 4, border: int = 4) -> bytes:
    """The code as a PNG (``scale`` pixels per module, quiet zone of ``border`` modules)."""
    buffer = io.BytesIO()
    code.save(buffer, kind="png", scale=scale, border=border)
    return buffer.getvalue()
