"""Golden relationships of the SMART Health Cards spec examples (formats.md §1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from vaxcert.formats import FormatError, jose, shc

CONFORMANT = ["00", "01", "03"]


def _example(testdata: Path, number: str, part: str) -> Path:
    matches = sorted((testdata / "shc" / "spec-examples").glob(f"example-{number}-{part}-*"))
    assert matches, f"example {number} part {part} missing"
    return matches[0]


def _text(testdata: Path, number: str, part: str) -> str:
    return _example(testdata, number, part).read_text(encoding="utf-8").strip()


def _jwks(testdata: Path) -> dict[str, dict[str, object]]:
    path = testdata / "shc" / "spec-examples" / "issuer" / ".well-known" / "jwks.json"
    return {key["kid"]: key for key in json.loads(path.read_text())["keys"]}


@pytest.mark.parametrize("number", CONFORMANT)
def test_numeric_decodes_to_the_jws_and_back(testdata: Path, number: str) -> None:
    jws = _text(testdata, number, "d")
    numeric = _text(testdata, number, "f")
    assert shc.numeric_to_jws(numeric) == jws
    assert shc.jws_to_numeric(jws) == numeric


@pytest.mark.parametrize("number", CONFORMANT)
def test_file_holds_exactly_the_jws(testdata: Path, number: str) -> None:
    assert shc.parse_file(_text(testdata, number, "e")) == [_text(testdata, number, "d")]


@pytest.mark.parametrize("number", CONFORMANT)
def test_payload_inflates_to_minified_and_deflates_back(testdata: Path, number: str) -> None:
    parts = shc.split_jws(_text(testdata, number, "d"))
    minified = _example(testdata, number, "c").read_bytes().strip()
    assert shc.inflate_raw(parts.payload) == minified
    assert shc.deflate_raw(minified) == parts.payload
    payload = shc.parse_payload(minified)
    assert shc.minify(payload) == minified


@pytest.mark.parametrize("number", CONFORMANT)
def test_kid_is_the_thumbprint_and_signature_verifies(testdata: Path, number: str) -> None:
    parts = shc.split_jws(_text(testdata, number, "d"))
    assert parts.header["alg"] == "ES256" and parts.header["zip"] == "DEF"
    jwk = _jwks(testdata)[parts.header["kid"]]
    assert jose.ec_thumbprint(jwk) == parts.header["kid"]
    key = jose.jwk_public_key(jwk)
    key.verify(jose.raw_to_der(parts.signature), parts.signing_input, ec.ECDSA(hashes.SHA256()))


@pytest.mark.parametrize("number", ["00", "03"])
def test_rid_recomputes_from_the_spec_secret(testdata: Path, number: str) -> None:
    secret = json.loads(
        (testdata / "shc" / "spec-issuer-private" / "issuer.hmac.private.json").read_text()
    )["secret"]
    parts = shc.split_jws(_text(testdata, number, "d"))
    payload = shc.parse_payload(shc.inflate_raw(parts.payload))
    assert shc.rid(secret, parts.header["kid"], f"userid-{number}") == payload["vc"]["rid"]


def test_example_03_is_revoked_by_the_crl(testdata: Path) -> None:
    crl_dir = testdata / "shc" / "spec-examples" / "issuer" / ".well-known" / "crl"
    crl = json.loads(next(crl_dir.glob("*.json")).read_text())
    parts = shc.split_jws(_text(testdata, "03", "d"))
    payload = shc.parse_payload(shc.inflate_raw(parts.payload))
    cutoff = shc.revoked_before(crl["rids"], payload["vc"]["rid"])
    assert cutoff is not None and payload["nbf"] < cutoff
    assert shc.revoked_before(crl["rids"], "not-listed") is None


def test_header_bytes_match_the_spec_form() -> None:
    assert shc.header_bytes("K") == b'{"zip":"DEF","alg":"ES256","kid":"K"}'


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("5676", "shc_prefix_missing"),
        ("shc:/567 6", "shc_whitespace"),
        ("shc:/1/2/5676", "shc_chunked"),
        ("shc:/56a6", "shc_not_numeric"),
        ("shc:/567", "shc_odd_digits"),
        ("shc:/5678", "shc_digit_out_of_range"),
    ],
)
def test_malformed_numeric_text_gets_its_own_code(text: str, code: str) -> None:
    with pytest.raises(FormatError) as caught:
        shc.numeric_to_jws(text)
    assert caught.value.code == code


def test_zlib_wrapped_and_uncompressed_payloads_are_refused() -> None:
    import zlib

    with pytest.raises(FormatError) as wrapped:
        shc.inflate_raw(zlib.compress(b'{"iss":"x"}'))
    assert wrapped.value.code == "payload_zlib_wrapped"
    with pytest.raises(FormatError) as plain:
        shc.inflate_raw(b'{"iss":"x"}')
    assert plain.value.code == "payload_not_compressed"


def test_bom_is_refused() -> None:
    with pytest.raises(FormatError) as caught:
        shc.parse_payload(b'\xef\xbb\xbf{"iss":"x"}')
    assert caught.value.code == "payload_bom"
