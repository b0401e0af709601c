"""VDS-NC parsing and canonical bytes against the official samples (formats.md §2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from vaxcert.formats import FormatError, jose, vdsnc

VALID = [
    "aus/jane-sue.json",
    "aus/john.json",
    "aus/jane-catherine-qr-text.json",
    "icao-example/smith-bill-uto.json",
]


def _signature_holds(document: vdsnc.VdsDocument) -> bool:
    # asn1crypto parses national certificates cryptography >= 49 refuses (explicit NULL).
    spki = asn1_x509.Certificate.load(document.certificate_der).public_key.dump()
    key = serialization.load_der_public_key(spki)
    assert isinstance(key, ec.EllipticCurvePublicKey)
    try:
        key.verify(
            jose.raw_to_der(document.signature), document.signed_bytes, ec.ECDSA(hashes.SHA256())
        )
    except InvalidSignature:
        return False
    return True


@pytest.mark.parametrize("name", VALID)
def test_signature_covers_the_canonical_data(testdata: Path, name: str) -> None:
    document = vdsnc.parse((testdata / "vdsnc" / name).read_text())
    assert document.header["t"] == "icao.vacc"
    assert _signature_holds(document)


def test_tampered_name_breaks_the_signature(testdata: Path) -> None:
    document = vdsnc.parse((testdata / "vdsnc" / "aus" / "john-tampered.json").read_text())
    assert not _signature_holds(document)


def test_emit_is_canonical_and_parses_back() -> None:
    data = {
        "msg": {"uvci": "U1", "pid": {"n": "A B"}},
        "hdr": {"v": 1, "t": "icao.vacc", "is": "JPN"},
    }
    text = vdsnc.emit(data, "ES256", "QUJD", jose.b64url_encode(bytes(64)))
    assert text == vdsnc.canonical(json.loads(text)).decode()
    assert vdsnc.parse(text).data == data


def test_floats_and_bad_structure_are_typed_errors() -> None:
    with pytest.raises(FormatError) as floats:
        vdsnc.canonical({"seq": 1.5})
    assert floats.value.code == "vdsnc_structure_invalid"
    with pytest.raises(FormatError) as not_json:
        vdsnc.parse("{not json")
    assert not_json.value.code == "vdsnc_not_json"
    with pytest.raises(FormatError) as no_sig:
        vdsnc.parse('{"data": {"hdr": {}, "msg": {}}}')
    assert no_sig.value.code == "vdsnc_structure_invalid"
