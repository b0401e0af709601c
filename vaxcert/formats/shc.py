"""SMART Health Card encodings (formats.md §1): numeric QR text, compact JWS, raw DEFLATE, rid.

Strict on input: the verifier's rules (even digit count, pairs ≤ 77, no whitespace, raw DEFLATE
only, no BOM) live here so signer and verifier agree on one reading.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import zlib
from dataclasses import dataclass
from typing import Any

from vaxcert.formats.errors import FormatError
from vaxcert.formats.jose import b64url_decode, b64url_encode

PREFIX = "shc:/"
# At error level L a version-22 QR holds 1195 JWS characters; larger cards are refused, never
# chunked (chunking is deprecated).
MAX_SINGLE_QR_JWS = 1195
HEALTH_CARD_TYPE = "https://smarthealth.cards#health-card"
FILE_CONTENT_TYPE = "application/smart-health-card"
# Inflated payloads beyond this are refused (a decompression bomb guard; real cards are < 4 KiB).
MAX_PAYLOAD_BYTES = 256 * 1024


# Each character c from '-' (45) to 'z' (122) becomes the two digits of ord(c) - 45: one table for
# the tens digit, one for the units, interleaved. Anything else maps to 0xFF and is refused.
_ENCODE_TENS = bytes((0x30 + (b - 45) // 10) if 45 <= b <= 122 else 0xFF for b in range(256))
_ENCODE_UNITS = bytes((0x30 + (b - 45) % 10) if 45 <= b <= 122 else 0xFF for b in range(256))


def jws_to_numeric(jws: str) -> str:
    """``shc:/`` followed by two digits per JWS character (``ord(c) - 45``)."""
    try:
        raw = jws.encode("ascii")
    except UnicodeEncodeError:
        raise FormatError(
            "jws_malformed", "JWS holds a character outside base64url and '.'"
        ) from None
    tens = raw.translate(_ENCODE_TENS)
    if 0xFF in tens:
        raise FormatError("jws_malformed", "JWS holds a character outside base64url and '.'")
    digits = bytearray(2 * len(raw))
    digits[0::2] = tens
    digits[1::2] = raw.translate(_ENCODE_UNITS)
    return PREFIX + digits.decode("ascii")


# Digit pairs are decoded with byte translation and one big-integer addition instead of a Python
# loop per pair: the verifier must stay within 4x one ECDSA verify (design.md §5).
_DECODE_TENS = bytes.maketrans(b"0123456789", bytes(range(0, 100, 10)))
_DECODE_ONES = bytes.maketrans(b"0123456789", bytes(range(10)))
_IN_RANGE = bytes(range(ord("-"), ord("-") + 78))  # '-' (00) … 'z' (77)


def numeric_to_jws(text: str) -> str:
    """Decode the numeric QR text of a single-QR card back to its compact JWS."""
    if not text.startswith(PREFIX):
        raise FormatError("shc_prefix_missing", "text does not start with shc:/")
    body = text[len(PREFIX) :]
    if body and not (body.isascii() and body.isdigit()):
        if any(c.isspace() for c in body):
            raise FormatError("shc_whitespace", "numeric text contains whitespace")
        if "/" in body:
            raise FormatError("shc_chunked", "chunked (multi-QR) cards are not accepted")
        raise FormatError("shc_not_numeric", "numeric text holds non-digit characters")
    if len(body) % 2:
        raise FormatError("shc_odd_digits", "numeric text has an odd number of digits")
    raw = body.encode("ascii")
    count = len(raw) // 2
    # Each byte: tens*10 + ones + 45 <= 144, so the per-byte sums never carry.
    total = (
        int.from_bytes(raw[0::2].translate(_DECODE_TENS), "big")
        + int.from_bytes(raw[1::2].translate(_DECODE_ONES), "big")
        + int.from_bytes(b"-" * count, "big")
    )
    decoded = total.to_bytes(count, "big")
    if decoded.translate(None, _IN_RANGE):  # anything left is a pair above 77
        value = max(decoded) - ord("-")
        raise FormatError("shc_digit_out_of_range", f"digit pair {value} exceeds 77")
    return decoded.decode("ascii")


def deflate_raw(data: bytes, level: int = 6) -> bytes:
    """Raw DEFLATE (no zlib header); level 6 reproduces the spec examples byte for byte."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


def inflate_raw(data: bytes) -> bytes:
    """Inflate a raw DEFLATE payload; zlib-wrapped and uncompressed payloads are refused."""
    if data[:1] in (b"{", b"\xef"):
        raise FormatError("payload_not_compressed", "payload is not DEFLATE-compressed")
    try:
        zlib.decompress(data, 15)
    except zlib.error:
        pass
    else:
        raise FormatError("payload_zlib_wrapped", "payload has a zlib header (raw DEFLATE needed)")
    inflater = zlib.decompressobj(-15)
    try:
        out = inflater.decompress(data, MAX_PAYLOAD_BYTES)
    except zlib.error:
        raise FormatError("payload_inflate_failed", "payload is not valid raw DEFLATE") from None
    if inflater.unconsumed_tail:
        raise FormatError("payload_inflate_failed", "inflated payload is too large")
    if not inflater.eof or inflater.unused_data:
        raise FormatError(
            "payload_inflate_failed", "DEFLATE stream is truncated or has trailing data"
        )
    return out


def minify(payload: dict[str, Any]) -> bytes:
    """The minified UTF-8 JSON issuers must emit."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def parse_payload(raw: bytes) -> dict[str, Any]:
    """UTF-8 JSON object from inflated bytes; a BOM or invalid UTF-8 is refused."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raise FormatError("payload_bom", "payload starts with a byte-order mark")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise FormatError("payload_not_utf8", "payload is not UTF-8") from None
    try:
        payload = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser's stack
        raise FormatError("payload_not_json", "payload is not JSON") from None
    if not isinstance(payload, dict):
        raise FormatError("payload_not_json", "payload is not a JSON object")
    return payload


@dataclass(frozen=True, slots=True)
class CompactJws:
    """The three parts of a compact JWS, decoded but not verified."""

    header: dict[str, Any]
    header_b64: str
    payload_b64: str
    payload: bytes  # still compressed when the header says zip DEF
    signature: bytes
    text: str

    @property
    def signing_input(self) -> bytes:
        """The bytes the signature covers: ``header_b64 '.' payload_b64`` in ASCII."""
        return f"{self.header_b64}.{self.payload_b64}".encode("ascii")


def split_jws(jws: str) -> CompactJws:
    """Split and decode a compact JWS; the header must be a JSON object."""
    parts = jws.split(".")
    if len(parts) != 3 or not all(parts):
        raise FormatError("jws_malformed", "a compact JWS has three non-empty parts")
    header_raw = b64url_decode(parts[0], what="JWS header")
    try:
        header = json.loads(header_raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise FormatError("jws_malformed", "JWS header is not JSON") from None
    if not isinstance(header, dict):
        raise FormatError("jws_malformed", "JWS header is not a JSON object")
    return CompactJws(
        header=header,
        header_b64=parts[0],
        payload_b64=parts[1],
        payload=b64url_decode(parts[1], what="JWS payload"),
        signature=b64url_decode(parts[2], what="JWS signature"),
        text=jws,
    )


def header_bytes(kid: str) -> bytes:
    """The exact protected header SHC issuers emit: ``{"zip":"DEF","alg":"ES256","kid":K}``."""
    return json.dumps({"zip": "DEF", "alg": "ES256", "kid": kid}, separators=(",", ":")).encode()


def signing_input(kid: str, payload: dict[str, Any]) -> str:
    """``b64(header) '.' b64(deflate(minified payload))``, ready to be signed with ES256."""
    return f"{b64url_encode(header_bytes(kid))}.{b64url_encode(deflate_raw(minify(payload)))}"


def rid(secret: str, kid: str, person_id: str) -> str:
    """Revocation id: base64url of the first 64 bits of HMAC-SHA-256(secret‖kid, person id)."""
    mac = hmac.new((secret + kid).encode("utf-8"), person_id.encode("utf-8"), hashlib.sha256)
    return b64url_encode(mac.digest()[:8])


def file_content(jws_list: list[str]) -> str:
    """The ``.smart-health-card`` file body."""
    return json.dumps({"verifiableCredential": jws_list}, separators=(",", ":"))


def parse_file(text: str) -> list[str]:
    """The JWS list of a ``.smart-health-card`` file."""
    try:
        body = json.loads(text)
    except (ValueError, RecursionError):
        raise FormatError("shc_file_invalid", "file is not JSON") from None
    credentials = body.get("verifiableCredential") if isinstance(body, dict) else None
    if not isinstance(credentials, list) or not all(isinstance(c, str) for c in credentials):
        raise FormatError("shc_file_invalid", "file lacks a verifiableCredential list of JWS")
    return list(credentials)


def revoked_before(crl_rids: list[str], card_rid: str) -> float | None:
    """The cut-off for ``card_rid`` from a CRL's ``rids``: cards of that rid with ``nbf`` below it
    are revoked (infinity for a bare ``RID`` entry); None when the rid is not listed."""
    cutoff: float | None = None
    for entry in crl_rids:
        value, _, timestamp = entry.partition(".")
        if value != card_rid:
            continue
        if not timestamp:
            return float("inf")
        try:
            cutoff = max(cutoff or 0.0, float(timestamp))
        except ValueError:
            continue
    return cutoff
