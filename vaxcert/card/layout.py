"""The Kenhojo AP's files (card.md §2, §5): identifiers, parsers for untrusted bytes, builders.

Parsers raise only :class:`MalformedCardDataError`. Builders make the exact layouts the virtual
card serves: EF0001 with its ``FF FF`` filler, EF0002 with computed absolute offsets, EF0003 with
real digests and an RSA PKCS#1 v1.5 SHA-256 signature, EF0004 a CVC signed by a CA key.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from vaxcert import mynumber
from vaxcert.card import tlv
from vaxcert.card.errors import MalformedCardDataError

# 券面事項入力補助AP (card.md §1).
KENHOJO_AID = bytes.fromhex("D3921000310001010408")

FID_MY_NUMBER = 0x0001
FID_BASIC_INFO = 0x0002
FID_INTEGRITY = 0x0003
FID_CVC = 0x0004
FID_AP_INFO = 0x0005
FID_PIN = 0x0011  # 券面事項入力補助用暗証番号, 4 digits
FID_PIN_A = 0x0014  # 照合番号A = the My Number
FID_PIN_B = 0x0015  # 照合番号B = era YYMMDD + expiry year + security code
DATA_FILES = (FID_MY_NUMBER, FID_BASIC_INFO, FID_INTEGRITY, FID_CVC, FID_AP_INFO)

MY_NUMBER_FILE_SIZE = 17
INTEGRITY_FILE_SIZE = 336
CVC_FILE_SIZE = 568
AP_INFO_FILE_SIZE = 256
SIGNED_DIGESTS_SIZE = 70  # DF31-TLV ‖ DF32-TLV
RSA_MODULUS_SIZE = 256
KEY_ID_SIZE = 16
CVC_BODY_SIZE = 2 * KEY_ID_SIZE + 265

SEX_CODES = frozenset("0129")  # JIS X 0303 / ISO 5218

_TAG_MY_NUMBER = b"\xff\x10"
_TAG_BASIC_INFO = b"\xff\x20"
_TAG_OFFSETS, _TAG_NAME, _TAG_ADDRESS, _TAG_BIRTH, _TAG_SEX = (
    b"\xdf\x21",
    b"\xdf\x22",
    b"\xdf\x23",
    b"\xdf\x24",
    b"\xdf\x25",
)
_TAG_INTEGRITY = b"\xff\x30"
_TAG_MY_NUMBER_DIGEST, _TAG_BASIC_INFO_DIGEST, _TAG_SIGNATURE = (
    b"\xdf\x31",
    b"\xdf\x32",
    b"\xdf\x33",
)
_TAG_CVC, _TAG_CVC_BODY, _TAG_CVC_SIGNATURE = b"\x7f\x21", b"\x5f\x4e", b"\x5f\x37"
_TAG_EXPONENT, _TAG_MODULUS = b"\x90", b"\x91"
_TAG_AP_INFO = b"\xff\x40"
_TAG_AP_VERSION, _TAG_AP_KEY_ID, _TAG_AP_RESERVED = b"\xdf\x41", b"\xdf\x42", b"\xdf\x43"
_FILLER = frozenset((0x00, 0xFF))


@dataclass(frozen=True, slots=True)
class BasicInfo:
    """基本4情報 from EF0002 plus the bytes its DF32 digest covers."""

    name: str = field(repr=False)
    address: str = field(repr=False)
    birth_date: dt.date = field(repr=False)
    sex: str = field(repr=False)
    digest_source: bytes = field(repr=False)  # the FF20 value without the DF21 offset table


@dataclass(frozen=True, slots=True)
class IntegrityRecord:
    """EF0003: the two signed digests and the AP key's signature over them."""

    my_number_digest: bytes
    basic_info_digest: bytes
    signature: bytes
    signed_data: bytes  # DF31-TLV ‖ DF32-TLV, 70 bytes


@dataclass(frozen=True, slots=True)
class Cvc:
    """EF0004: the card-verifiable certificate of the key that signs EF0003."""

    issuer_key_id: bytes
    subject_key_id: bytes
    modulus: int
    exponent: int
    body: bytes  # the 297 signed bytes (5F4E value)
    signature: bytes

    def public_key(self) -> rsa.RSAPublicKey:
        """The certified RSA key."""
        return rsa.RSAPublicNumbers(self.exponent, self.modulus).public_key()


@dataclass(frozen=True, slots=True)
class ApBasicInfo:
    """EF0005: AP version bytes and a key id (not the EF0004 subject)."""

    version: bytes
    key_id: bytes


def key_id_label(raw: bytes) -> str:
    """``"9000033/001"`` for a key id of the card.md §5 form with zero padding, else its hex."""
    if (
        len(raw) == KEY_ID_SIZE
        and raw[7:9] == b"\x08\x05"
        and raw[:7].isdigit()
        and raw[9:12].isdigit()
        and raw[12:] == bytes(4)
    ):
        return f"{raw[:7].decode()}/{raw[9:12].decode()}"
    return raw.hex().upper()


def _outer(data: bytes, tag: bytes, what: str) -> tlv.Tlv:
    """The file's one outer TLV; only filler (00/FF) may follow it."""
    item = tlv.decode_one(data)
    if not (item.is_private and item.tag_number == tlv.tag_number(tag) and len(item.tag) == 2):
        # Match the tag number and class, not the constructed bit (card.md §5, EF0001).
        raise MalformedCardDataError(
            f"{what}: outer tag {item.tag.hex().upper()} is not {tag.hex()}"
        )
    if any(byte not in _FILLER for byte in data[item.end :]):
        raise MalformedCardDataError(f"{what}: unexpected bytes after the outer TLV")
    return item


def _children(parent: tlv.Tlv, tags: tuple[bytes, ...], what: str) -> list[tlv.Tlv]:
    items = tlv.decode_all(parent.value)
    found = tuple(item.tag for item in items)
    if found != tags:
        raise MalformedCardDataError(
            f"{what}: expected tags {[t.hex() for t in tags]}, found {[t.hex() for t in found]}"
        )
    return items


def _text(value: bytes, what: str) -> str:
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedCardDataError(f"{what} is not UTF-8") from None
    if not text.strip() or any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        raise MalformedCardDataError(f"{what} is empty or holds control characters")
    return text


def parse_my_number(ef0001: bytes) -> str:
    """The 12-digit My Number from EF0001 (check digit verified)."""
    item = _outer(ef0001, _TAG_MY_NUMBER, "EF0001")
    value = item.value
    if len(value) != 12 or not all(0x30 <= b <= 0x39 for b in value):
        raise MalformedCardDataError("EF0001 does not hold 12 ASCII digits")
    number = value.decode("ascii")
    if not mynumber.is_valid(number):
        raise MalformedCardDataError("EF0001 check digit is wrong")
    return number


def parse_basic_info(ef0002: bytes) -> BasicInfo:
    """Name, address, birth date and sex of EF0002; the offset table is checked, not trusted."""
    outer = _outer(ef0002, _TAG_BASIC_INFO, "EF0002")
    offsets_tlv, name, address, birth, sex = _children(
        outer, (_TAG_OFFSETS, _TAG_NAME, _TAG_ADDRESS, _TAG_BIRTH, _TAG_SEX), "EF0002"
    )
    if len(offsets_tlv.value) != 8:
        raise MalformedCardDataError("EF0002 offset table is not 8 bytes")
    base = outer.start + outer.header_length
    table = [int.from_bytes(offsets_tlv.value[i : i + 2], "big") for i in range(0, 8, 2)]
    actual = [base + item.start for item in (name, address, birth, sex)]
    if table != actual:
        raise MalformedCardDataError("EF0002 offset table does not match its contents")
    birth_text = birth.value
    if len(birth_text) != 8 or not all(0x30 <= b <= 0x39 for b in birth_text):
        raise MalformedCardDataError("EF0002 birth date is not 8 ASCII digits")
    try:
        birth_date = dt.date(int(birth_text[:4]), int(birth_text[4:6]), int(birth_text[6:]))
    except ValueError:
        raise MalformedCardDataError("EF0002 birth date is not a calendar date") from None
    if len(sex.value) != 1 or chr(sex.value[0]) not in SEX_CODES:
        raise MalformedCardDataError("EF0002 sex code is not one of 0, 1, 2, 9")
    return BasicInfo(
        name=_text(name.value, "EF0002 name"),
        address=_text(address.value, "EF0002 address"),
        birth_date=birth_date,
        sex=chr(sex.value[0]),
        digest_source=outer.value[name.start :],
    )


def basic_info_digest_source(ef0002: bytes) -> bytes:
    """What DF32 hashes: the FF20 value after the DF21 offset table (structure only, card.md §5)."""
    outer = _outer(ef0002, _TAG_BASIC_INFO, "EF0002")
    items = tlv.decode_all(outer.value)
    if not items or items[0].tag != _TAG_OFFSETS:
        raise MalformedCardDataError("EF0002 does not start with the DF21 offset table")
    return outer.value[items[0].end :]


def parse_integrity(ef0003: bytes) -> IntegrityRecord:
    """The DF31/DF32 digests and DF33 signature of EF0003."""
    outer = _outer(ef0003, _TAG_INTEGRITY, "EF0003")
    first, second, signature = _children(
        outer, (_TAG_MY_NUMBER_DIGEST, _TAG_BASIC_INFO_DIGEST, _TAG_SIGNATURE), "EF0003"
    )
    if len(first.value) != 32 or len(second.value) != 32:
        raise MalformedCardDataError("EF0003 digests are not SHA-256 sized")
    if len(signature.value) != RSA_MODULUS_SIZE:
        raise MalformedCardDataError("EF0003 signature is not 256 bytes")
    signed = outer.value[: signature.start]
    if len(signed) != SIGNED_DIGESTS_SIZE:
        raise MalformedCardDataError("EF0003 signed part is not 70 bytes")
    return IntegrityRecord(first.value, second.value, signature.value, signed)


def parse_cvc(ef0004: bytes) -> Cvc:
    """Issuer and subject key ids, RSA key, signed body and signature of the EF0004 CVC."""
    outer = tlv.decode_one(ef0004)
    if outer.tag != _TAG_CVC:
        raise MalformedCardDataError(f"EF0004: outer tag {outer.tag.hex().upper()} is not 7F21")
    if any(byte not in _FILLER for byte in ef0004[outer.end :]):
        raise MalformedCardDataError("EF0004: unexpected bytes after the certificate")
    body, signature = _children(outer, (_TAG_CVC_BODY, _TAG_CVC_SIGNATURE), "EF0004")
    if len(body.value) != CVC_BODY_SIZE:
        raise MalformedCardDataError(f"EF0004 body is {len(body.value)} bytes, not 297")
    if len(signature.value) != RSA_MODULUS_SIZE:
        raise MalformedCardDataError("EF0004 signature is not 256 bytes")
    issuer, subject = body.value[:KEY_ID_SIZE], body.value[KEY_ID_SIZE : 2 * KEY_ID_SIZE]
    key_items = tlv.decode_all(body.value, 2 * KEY_ID_SIZE)
    if tuple(item.tag for item in key_items) != (_TAG_EXPONENT, _TAG_MODULUS):
        raise MalformedCardDataError("EF0004 public key is not 90 e, 91 n")
    exponent_bytes, modulus_bytes = key_items[0].value, key_items[1].value
    if not 1 <= len(exponent_bytes) <= 4 or len(modulus_bytes) != RSA_MODULUS_SIZE:
        raise MalformedCardDataError("EF0004 public key has impossible sizes")
    exponent = int.from_bytes(exponent_bytes, "big")
    modulus = int.from_bytes(modulus_bytes, "big")
    if exponent < 3 or exponent % 2 == 0 or modulus.bit_length() != 8 * RSA_MODULUS_SIZE:
        raise MalformedCardDataError("EF0004 public key is not an RSA-2048 key")
    if modulus % 2 == 0:
        raise MalformedCardDataError("EF0004 modulus is even")
    return Cvc(issuer, subject, modulus, exponent, body.value, signature.value)


def parse_ap_info(ef0005: bytes) -> ApBasicInfo:
    """Version bytes and key id of EF0005 (DF43 optional)."""
    outer = _outer(ef0005, _TAG_AP_INFO, "EF0005")
    items = tlv.decode_all(outer.value)
    tags = tuple(item.tag for item in items)
    if tags not in (
        (_TAG_AP_VERSION, _TAG_AP_KEY_ID),
        (_TAG_AP_VERSION, _TAG_AP_KEY_ID, _TAG_AP_RESERVED),
    ):
        raise MalformedCardDataError("EF0005 does not hold DF41, DF42 (, DF43)")
    if len(items[0].value) != 4 or len(items[1].value) != KEY_ID_SIZE:
        raise MalformedCardDataError("EF0005 fields have impossible sizes")
    return ApBasicInfo(items[0].value, items[1].value)


# --- builders (virtual card and tests) ------------------------------------------------------


def sign_pkcs1_sha256(key: rsa.RSAPrivateKey, data: bytes) -> bytes:
    """RSASSA-PKCS1-v1_5 with SHA-256, the scheme of EF0003 and EF0004."""
    return key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def build_my_number_file(number: str) -> bytes:
    """EF0001: ``FF10 0C`` + 12 ASCII digits + ``FF FF`` filler, 17 bytes."""
    if len(number) != 12 or not number.isascii() or not number.isdigit():
        raise ValueError("a My Number is 12 ASCII digits")
    return tlv.encode(_TAG_MY_NUMBER, number.encode("ascii")) + b"\xff\xff"


def build_basic_info_file(name: str, address: str, birth_date: dt.date, sex: str) -> bytes:
    """EF0002 with a DF21 table of absolute offsets (they move by one with a long-form length)."""
    if sex not in SEX_CODES:
        raise ValueError("sex is one of 0, 1, 2, 9")
    fields = [
        tlv.encode(_TAG_NAME, name.encode("utf-8")),
        tlv.encode(_TAG_ADDRESS, address.encode("utf-8")),
        tlv.encode(_TAG_BIRTH, birth_date.strftime("%Y%m%d").encode("ascii")),
        tlv.encode(_TAG_SEX, sex.encode("ascii")),
    ]
    table_size = 2 + 1 + 8
    content_length = table_size + sum(len(f) for f in fields)
    header_size = len(_TAG_BASIC_INFO) + len(tlv.encode_length(content_length))
    offsets = bytearray()
    position = header_size + table_size
    for item in fields:
        offsets += position.to_bytes(2, "big")
        position += len(item)
    content = tlv.encode(_TAG_OFFSETS, bytes(offsets)) + b"".join(fields)
    return tlv.encode(_TAG_BASIC_INFO, content)


def build_integrity_file(ef0001: bytes, ef0002: bytes, ap_key: rsa.RSAPrivateKey) -> bytes:
    """EF0003: SHA-256 of EF0001 (17 physical bytes) and of EF0002's DF22..DF25, signed."""
    digests = tlv.encode(_TAG_MY_NUMBER_DIGEST, hashlib.sha256(ef0001).digest()) + tlv.encode(
        _TAG_BASIC_INFO_DIGEST, hashlib.sha256(parse_basic_info(ef0002).digest_source).digest()
    )
    signature = sign_pkcs1_sha256(ap_key, digests)
    return tlv.encode(_TAG_INTEGRITY, digests + tlv.encode(_TAG_SIGNATURE, signature))


def build_cvc(
    issuer_key_id: bytes,
    subject_key_id: bytes,
    subject_key: rsa.RSAPublicKey,
    ca_key: rsa.RSAPrivateKey,
) -> bytes:
    """EF0004: ``7F21 { 5F4E body, 5F37 signature }`` with the body signed by ``ca_key``."""
    if len(issuer_key_id) != KEY_ID_SIZE or len(subject_key_id) != KEY_ID_SIZE:
        raise ValueError("key ids are 16 bytes")
    numbers = subject_key.public_numbers()
    exponent = numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")
    body = (
        issuer_key_id
        + subject_key_id
        + tlv.encode(_TAG_EXPONENT, exponent)
        + tlv.encode(_TAG_MODULUS, numbers.n.to_bytes(RSA_MODULUS_SIZE, "big"))
    )
    signature = sign_pkcs1_sha256(ca_key, body)
    return tlv.encode(
        _TAG_CVC, tlv.encode(_TAG_CVC_BODY, body) + tlv.encode(_TAG_CVC_SIGNATURE, signature)
    )


def build_ap_info(key_id: bytes) -> bytes:
    """EF0005: version ``01 03 0E 01``, a key id and DF43, padded with FF to 256 bytes."""
    reserved = bytes(32) + b"\xff" * 96
    content = (
        tlv.encode(_TAG_AP_VERSION, bytes.fromhex("01030E01"))
        + tlv.encode(_TAG_AP_KEY_ID, key_id)
        + tlv.encode(_TAG_AP_RESERVED, reserved)
    )
    data = tlv.encode(_TAG_AP_INFO, content)
    return data + b"\xff" * (AP_INFO_FILE_SIZE - len(data))
