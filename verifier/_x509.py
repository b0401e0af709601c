"""X.509 certificates and CRLs for the verifier, parsed with asn1crypto (formats.md §2).

Real national certificates (Japan's BSC, CSCA and CRL among them) carry an explicit NULL in the
ECDSA AlgorithmIdentifier, and some CSCAs carry explicit EC domain parameters; ``cryptography``
≥ 49 refuses to parse both. So certificates and CRLs are parsed here with asn1crypto, and
``cryptography`` only builds public keys from numbers and checks signatures.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Any, ClassVar

from asn1crypto import core as asn1_core
from asn1crypto import crl as asn1_crl
from asn1crypto import pem as asn1_pem
from asn1crypto import x509 as asn1_x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey

# ICAO Doc 9303 part 13: VDS-NC barcode signer EKU and the document-type-list extension.
BSC_EKU = "2.23.136.1.1.14.2"
DOCUMENT_TYPE_LIST = "2.23.136.1.1.6.2"

_NAMED_CURVES: dict[str, ec.EllipticCurve] = {
    "secp256r1": ec.SECP256R1(),
    "secp384r1": ec.SECP384R1(),
    "secp521r1": ec.SECP521R1(),
    "brainpoolp256r1": ec.BrainpoolP256R1(),
    "brainpoolp384r1": ec.BrainpoolP384R1(),
    "brainpoolp512r1": ec.BrainpoolP512R1(),
}

# Domain parameters (p, a, b, n, Gx, Gy) of the named curves, to recognise a curve that a
# certificate spells out explicitly instead of naming it (SEC 1 / RFC 5639 constants).
_EXPLICIT: dict[str, tuple[int, ...]] = {
    "secp256r1": (
        0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF,
        0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFC,
        0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B,
        0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
        0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
        0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5,
    ),
    "secp384r1": (
        int(
            "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFE"
            "FFFFFFFF0000000000000000FFFFFFFF",
            16,
        ),
        int(
            "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFE"
            "FFFFFFFF0000000000000000FFFFFFFC",
            16,
        ),
        int(
            "B3312FA7E23EE7E4988E056BE3F82D19181D9C6EFE8141120314088F5013875A"
            "C656398D8A2ED19D2A85C8EDD3EC2AEF",
            16,
        ),
        int(
            "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF"
            "581A0DB248B0A77AECEC196ACCC52973",
            16,
        ),
        int(
            "AA87CA22BE8B05378EB1C71EF320AD746E1D3B628BA79B9859F741E082542A38"
            "5502F25DBF55296C3A545E3872760AB7",
            16,
        ),
        int(
            "3617DE4A96262C6F5D9E98BF9292DC29F8F41DBD289A147CE9DA3113B5F0B8C0"
            "0A60B1CE1D7E819D7A431D7C90EA0E5F",
            16,
        ),
    ),
    "secp521r1": (
        2**521 - 1,
        2**521 - 4,
        int(
            "0051953EB9618E1C9A1F929A21A0B68540EEA2DA725B99B315F3B8B489918EF1"
            "09E156193951EC7E937B1652C0BD3BB1BF073573DF883D2C34F1EF451FD46B50"
            "3F00",
            16,
        ),
        int(
            "01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"
            "FA51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E913864"
            "09",
            16,
        ),
        int(
            "00C6858E06B70404E9CD9E3ECB662395B4429C648139053FB521F828AF606B4D"
            "3DBAA14B5E77EFE75928FE1DC127A2FFA8DE3348B3C1856A429BF97E7E31C2E5"
            "BD66",
            16,
        ),
        int(
            "011839296A789A3BC0045C8A5FB42C7D1BD998F54449579B446817AFBD17273E"
            "662C97EE72995EF42640C550B9013FAD0761353C7086A272C24088BE94769FD1"
            "6650",
            16,
        ),
    ),
    "brainpoolp256r1": (
        0xA9FB57DBA1EEA9BC3E660A909D838D726E3BF623D52620282013481D1F6E5377,
        0x7D5A0975FC2C3057EEF67530417AFFE7FB8055C126DC5C6CE94A4B44F330B5D9,
        0x26DC5C6CE94A4B44F330B5D9BBD77CBF958416295CF7E1CE6BCCDC18FF8C07B6,
        0xA9FB57DBA1EEA9BC3E660A909D838D718C397AA3B561A6F7901E0E82974856A7,
        0x8BD2AEB9CB7E57CB2C4B482FFC81B7AFB9DE27E1E3BD23C23A4453BD9ACE3262,
        0x547EF835C3DAC4FD97F8461A14611DC9C27745132DED8E545C1D54C72F046997,
    ),
    "brainpoolp384r1": (
        int(
            "8CB91E82A3386D280F5D6F7E50E641DF152F7109ED5456B412B1DA197FB71123"
            "ACD3A729901D1A71874700133107EC53",
            16,
        ),
        int(
            "7BC382C63D8C150C3C72080ACE05AFA0C2BEA28E4FB22787139165EFBA91F90F"
            "8AA5814A503AD4EB04A8C7DD22CE2826",
            16,
        ),
        int(
            "04A8C7DD22CE28268B39B55416F0447C2FB77DE107DCD2A62E880EA53EEB62D5"
            "7CB4390295DBC9943AB78696FA504C11",
            16,
        ),
        int(
            "8CB91E82A3386D280F5D6F7E50E641DF152F7109ED5456B31F166E6CAC0425A7"
            "CF3AB6AF6B7FC3103B883202E9046565",
            16,
        ),
        int(
            "1D1C64F068CF45FFA2A63A81B7C13F6B8847A3E77EF14FE3DB7FCAFE0CBD10E8"
            "E826E03436D646AAEF87B2E247D4AF1E",
            16,
        ),
        int(
            "8ABE1D7520F9C2A45CB1EB8E95CFD55262B70B29FEEC5864E19C054FF9912928"
            "0E4646217791811142820341263C5315",
            16,
        ),
    ),
    "brainpoolp512r1": (
        int(
            "AADD9DB8DBE9C48B3FD4E6AE33C9FC07CB308DB3B3C9D20ED6639CCA70330871"
            "7D4D9B009BC66842AECDA12AE6A380E62881FF2F2D82C68528AA6056583A48F3",
            16,
        ),
        int(
            "7830A3318B603B89E2327145AC234CC594CBDD8D3DF91610A83441CAEA9863BC"
            "2DED5D5AA8253AA10A2EF1C98B9AC8B57F1117A72BF2C7B9E7C1AC4D77FC94CA",
            16,
        ),
        int(
            "3DF91610A83441CAEA9863BC2DED5D5AA8253AA10A2EF1C98B9AC8B57F1117A7"
            "2BF2C7B9E7C1AC4D77FC94CADC083E67984050B75EBAE5DD2809BD638016F723",
            16,
        ),
        int(
            "AADD9DB8DBE9C48B3FD4E6AE33C9FC07CB308DB3B3C9D20ED6639CCA70330870"
            "553E5C414CA92619418661197FAC10471DB1D381085DDADDB58796829CA90069",
            16,
        ),
        int(
            "81AEE4BDD82ED9645A21322E9C4C6A9385ED9F70B5D916C1B43B62EEF4D0098E"
            "FF3B1F78E2D0D48D50D1687B93B97D5F7C6D5047406A5E688B352209BCB9F822",
            16,
        ),
        int(
            "7DDE385D566332ECC0EABFA9CF7822FDF209F70024A57B1AA000C55B881F8111"
            "B2DCDE494A5F485E5BCA4BD88A2763AED1CA2B2FA8F0540678CD1E0F3AD80892",
            16,
        ),
    ),
}

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


class X509Error(ValueError):
    """A certificate or CRL that cannot be parsed or whose key is not supported."""


@dataclass(frozen=True, slots=True)
class SignatureSpec:
    """How a certificate or CRL is signed: the signed bytes, the scheme and the signature."""

    tbs: bytes
    scheme: str  # "ecdsa" | "rsassa_pkcs1v15" | "rsassa_pss"
    hash_name: str
    signature: bytes
    pss_salt: int | None = None
    pss_mgf_hash: str | None = None


@dataclass(frozen=True, slots=True)
class Certificate:
    """The parts of an X.509 certificate the verifier looks at."""

    der: bytes
    subject: bytes  # DER of the Name: compared, never displayed raw
    issuer: bytes
    subject_text: str
    serial: int
    not_before: dt.datetime
    not_after: dt.datetime
    ski: bytes | None
    aki: bytes | None
    ekus: frozenset[str]
    is_ca: bool
    extensions: dict[str, bytes] = field(repr=False)  # dotted OID -> DER of extnValue contents
    uris: tuple[str, ...]
    country: str | None
    public_key: PublicKey = field(repr=False)
    signed: SignatureSpec = field(repr=False)
    document_types: frozenset[str] = frozenset()  # ICAO document-type list (e.g. {"NV"})

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the DER, hex."""
        return hashlib.sha256(self.der).hexdigest()

    def valid_at(self, when: dt.datetime) -> bool:
        """Whether ``when`` lies inside notBefore … notAfter."""
        return self.not_before <= when <= self.not_after

    def same_key(self, other: PublicKey) -> bool:
        """Whether this certificate certifies ``other`` (compared by public numbers)."""
        return _key_numbers(self.public_key) == _key_numbers(other)


@dataclass(frozen=True, slots=True)
class Crl:
    """The parts of an X.509 CRL the verifier looks at."""

    der: bytes
    issuer: bytes
    issuer_text: str
    aki: bytes | None
    this_update: dt.datetime
    next_update: dt.datetime | None
    revoked: frozenset[int]
    signed: SignatureSpec = field(repr=False)

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the DER, hex."""
        return hashlib.sha256(self.der).hexdigest()


def _key_numbers(key: PublicKey) -> tuple[Any, ...]:
    if isinstance(key, ec.EllipticCurvePublicKey):
        numbers = key.public_numbers()
        return ("ec", key.curve.name, numbers.x, numbers.y)
    rsa_numbers = key.public_numbers()
    return ("rsa", rsa_numbers.n, rsa_numbers.e)


def der_from(data: bytes) -> bytes:
    """DER bytes of a DER or PEM encoded object (the first PEM block)."""
    if asn1_pem.detect(data):
        _, _, der = asn1_pem.unarmor(data)
        return bytes(der)
    return data


def pem_blocks(data: bytes) -> list[bytes]:
    """Every DER object of a PEM bundle, or ``[data]`` when it is DER."""
    if not asn1_pem.detect(data):
        return [data]
    return [bytes(der) for _, _, der in asn1_pem.unarmor(data, multiple=True)]


def _utc(value: Any) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        raise X509Error("time value is not a date and time")
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _signature_spec(algorithm: Any, tbs: bytes, signature: bytes) -> SignatureSpec:
    try:
        scheme = algorithm.signature_algo
        hash_name = algorithm.hash_algo
    except (ValueError, KeyError) as exc:
        raise X509Error(f"unsupported signature algorithm: {exc}") from None
    if scheme == "rsassa_pss":
        params = algorithm["parameters"]
        mgf = params["mask_gen_algorithm"]["parameters"]["algorithm"].native
        return SignatureSpec(
            tbs, scheme, hash_name, signature, int(params["salt_length"].native), str(mgf)
        )
    if scheme not in ("ecdsa", "rsassa_pkcs1v15") or hash_name not in _HASHES:
        raise X509Error(f"unsupported signature algorithm {scheme}/{hash_name}")
    return SignatureSpec(tbs, scheme, hash_name, signature)


def _public_key(info: Any) -> PublicKey:
    algorithm = info["algorithm"]["algorithm"].native
    if algorithm == "rsa":
        parsed = info["public_key"].parsed
        return rsa.RSAPublicNumbers(
            int(parsed["public_exponent"].native), int(parsed["modulus"].native)
        ).public_key()
    if algorithm != "ec":
        raise X509Error(f"unsupported public key algorithm {algorithm}")
    params = info["algorithm"]["parameters"]
    if params.name == "named":
        curve = _NAMED_CURVES.get(str(params.chosen.native))
        if curve is None:
            raise X509Error(f"unsupported named curve {params.chosen.native}")
    elif params.name == "specified":
        curve = _explicit_curve(params.chosen)
    else:
        raise X509Error("implicitly-CA EC parameters are not supported")
    point = bytes(info["public_key"].native)
    try:
        return fast_key(ec.EllipticCurvePublicKey.from_encoded_point(curve, point))
    except ValueError:
        raise X509Error("EC public key is not a point on its curve") from None


def fast_key(key: ec.EllipticCurvePublicKey) -> ec.EllipticCurvePublicKey:
    """The same key, re-loaded from its named-curve SPKI: OpenSSL verifies about 25% faster with
    a key loaded that way than with one built from coordinates (measured; design.md §5)."""
    loaded = serialization.load_der_public_key(
        key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    assert isinstance(loaded, ec.EllipticCurvePublicKey)
    return loaded


def _explicit_curve(specified: Any) -> ec.EllipticCurve:
    """The named curve whose parameters a certificate spells out explicitly."""
    if specified["field_id"]["field_type"].native != "prime_field":
        raise X509Error("only prime-field EC parameters are supported")
    prime = int(specified["field_id"]["parameters"].native)
    a = int.from_bytes(bytes(specified["curve"]["a"].native), "big")
    b = int.from_bytes(bytes(specified["curve"]["b"].native), "big")
    order = int(specified["order"].native)
    base = bytes(specified["base"].native)
    for name, (p, ca, cb, n, gx, gy) in _EXPLICIT.items():
        if (prime, a, b, order) != (p, ca, cb, n):
            continue
        size = (p.bit_length() + 7) // 8
        x = int.from_bytes(base[1 : 1 + size], "big")
        if base[:1] == b"\x04":
            y = int.from_bytes(base[1 + size :], "big")
            if (x, y) == (gx, gy):
                return _NAMED_CURVES[name]
        elif base[:1] in (b"\x02", b"\x03") and x == gx and (base[0] & 1) == (gy & 1):
            return _NAMED_CURVES[name]
    raise X509Error("explicit EC parameters match no supported named curve")


def parse_certificate(data: bytes) -> Certificate:
    """Parse a DER or PEM certificate; anything unsupported raises :class:`X509Error`."""
    der = der_from(data)
    try:
        cert = asn1_x509.Certificate.load(der, strict=True)
        tbs = cert["tbs_certificate"]
        # Touch every field we rely on: asn1crypto parses lazily.
        validity = tbs["validity"]
        not_before = _utc(validity["not_before"].native)
        not_after = _utc(validity["not_after"].native)
        extensions: dict[str, bytes] = {}
        for extension in tbs["extensions"]:
            extensions[extension["extn_id"].dotted] = extension["extn_value"].contents
        eku_value = cert.extended_key_usage_value
        ekus = frozenset(purpose.dotted for purpose in (eku_value or []))
        basic = cert.basic_constraints_value
        san = cert.subject_alt_name_value
        uris = tuple(
            str(name.native)
            for name in (san if san is not None else [])
            if name.name == "uniform_resource_identifier"
        )
        country = None
        for rdn in tbs["subject"].chosen:
            for attribute in rdn:
                if attribute["type"].native == "country_name":
                    country = str(attribute["value"].native)
        signed = _signature_spec(
            cert["signature_algorithm"], tbs.dump(), bytes(cert["signature_value"].native)
        )
        aki_value = cert.authority_key_identifier
        return Certificate(
            der=der,
            subject=tbs["subject"].dump(),
            issuer=tbs["issuer"].dump(),
            subject_text=str(tbs["subject"].human_friendly),
            serial=int(tbs["serial_number"].native),
            not_before=not_before,
            not_after=not_after,
            ski=bytes(cert.key_identifier) if cert.key_identifier else None,
            aki=bytes(aki_value) if aki_value else None,
            ekus=ekus,
            is_ca=bool(basic is not None and basic["ca"].native),
            extensions=extensions,
            uris=uris,
            country=country,
            public_key=_public_key(tbs["subject_public_key_info"]),
            signed=signed,
            document_types=_document_types(extensions.get(DOCUMENT_TYPE_LIST)),
        )
    except X509Error:
        raise
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
        raise X509Error(f"not a parsable X.509 certificate: {type(exc).__name__}") from None


def parse_crl(data: bytes) -> Crl:
    """Parse a DER or PEM CRL; anything unsupported raises :class:`X509Error`."""
    der = der_from(data)
    try:
        crl = asn1_crl.CertificateList.load(der, strict=True)
        tbs = crl["tbs_cert_list"]
        next_update = tbs["next_update"].native
        revoked = frozenset(
            int(entry["user_certificate"].native) for entry in tbs["revoked_certificates"]
        )
        aki_value = crl.authority_key_identifier
        return Crl(
            der=der,
            issuer=tbs["issuer"].dump(),
            issuer_text=str(tbs["issuer"].human_friendly),
            aki=bytes(aki_value) if aki_value else None,
            this_update=_utc(tbs["this_update"].native),
            next_update=_utc(next_update) if next_update is not None else None,
            revoked=revoked,
            signed=_signature_spec(
                crl["signature_algorithm"], tbs.dump(), bytes(crl["signature"].native)
            ),
        )
    except X509Error:
        raise
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
        raise X509Error(f"not a parsable X.509 CRL: {type(exc).__name__}") from None


def signature_holds(signed: SignatureSpec, key: PublicKey) -> bool:
    """Whether ``key`` produced ``signed``; a scheme that does not fit the key is a failure."""
    digest = _HASHES[signed.hash_name]()
    try:
        if signed.scheme == "ecdsa":
            if not isinstance(key, ec.EllipticCurvePublicKey):
                return False
            key.verify(signed.signature, signed.tbs, ec.ECDSA(digest))
        elif signed.scheme == "rsassa_pkcs1v15":
            if not isinstance(key, rsa.RSAPublicKey):
                return False
            key.verify(signed.signature, signed.tbs, padding.PKCS1v15(), digest)
        elif signed.scheme == "rsassa_pss":
            mgf_hash = _HASHES.get(signed.pss_mgf_hash or "")
            if not isinstance(key, rsa.RSAPublicKey) or mgf_hash is None:
                return False
            pss = padding.PSS(mgf=padding.MGF1(mgf_hash()), salt_length=signed.pss_salt or 0)
            key.verify(signed.signature, signed.tbs, pss, digest)
        else:
            return False
    except (InvalidSignature, ValueError):
        return False
    return True


def ecdsa_raw_holds(
    key: PublicKey, raw: bytes, message: bytes, digest: hashes.HashAlgorithm
) -> bool:
    """Whether the raw r‖s ``raw`` over ``message`` verifies with the EC ``key``."""
    if not isinstance(key, ec.EllipticCurvePublicKey):
        return False
    size = (key.curve.key_size + 7) // 8
    if len(raw) != 2 * size:
        return False
    der = encode_dss_signature(int.from_bytes(raw[:size], "big"), int.from_bytes(raw[size:], "big"))
    try:
        key.verify(der, message, ec.ECDSA(digest))
    except InvalidSignature:
        return False
    return True


def has_nv_document_type(cert: Certificate) -> bool:
    """Whether the ICAO document-type-list extension lists ``NV`` (proof of vaccination)."""
    return "NV" in cert.document_types


def _document_types(value: bytes | None) -> frozenset[str]:
    if value is None:
        return frozenset()
    try:
        types = _DocumentTypeList.load(value)["doc_type_list"].native
    except (ValueError, TypeError, KeyError):
        return frozenset()
    return frozenset(str(t) for t in types or [])


class _DocumentTypes(asn1_core.SetOf):  # type: ignore[misc]
    _child_spec = asn1_core.PrintableString


class _DocumentTypeList(asn1_core.Sequence):  # type: ignore[misc]
    """ICAO ``DocumentTypeListSyntax``: version INTEGER, docTypeList SET OF PrintableString."""

    _fields: ClassVar[list[tuple[str, Any]]] = [
        ("version", asn1_core.Integer),
        ("doc_type_list", _DocumentTypes),
    ]
