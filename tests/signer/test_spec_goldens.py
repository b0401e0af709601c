"""Issuer-side goldens against the SMART Health Cards spec examples (formats.md §1).

Our signer, given the spec's bundle, iss, nbf, rid and exp, must produce the spec's header and
payload segments byte for byte; signatures are made fresh with the spec private keys (never
hard-coded) and verify with the published JWKS.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from signer import shc_issue
from signer.interfaces import KeySigner
from signer.keys import FileKeySigner
from tests.signer.conftest import verify_shc
from vaxcert.errors import VaxcertError
from vaxcert.formats import jose, shc

CONFORMANT = ["00", "01", "03"]


def _part(testdata: Path, number: str, part: str) -> Path:
    return sorted((testdata / "shc" / "spec-examples").glob(f"example-{number}-{part}-*"))[0]


def _text(testdata: Path, number: str, part: str) -> str:
    return _part(testdata, number, part).read_text(encoding="utf-8").strip()


def _jwks(testdata: Path) -> dict[str, Any]:
    path = testdata / "shc" / "spec-examples" / "issuer" / ".well-known" / "jwks.json"
    result: dict[str, Any] = json.loads(path.read_text())
    return result


def _spec_signer(testdata: Path, kid: str) -> FileKeySigner:
    private = json.loads(
        (testdata / "shc" / "spec-issuer-private" / "issuer.jwks.private.json").read_text()
    )
    jwk = next(key for key in private["keys"] if key["kid"] == kid)
    public = jose.jwk_public_key(jwk)
    d = int.from_bytes(jose.b64url_decode(jwk["d"]), "big")
    from cryptography.hazmat.primitives.asymmetric import ec

    return FileKeySigner(ec.EllipticCurvePrivateNumbers(d, public.public_numbers()).private_key())


def _secret(testdata: Path) -> str:
    path = testdata / "shc" / "spec-issuer-private" / "issuer.hmac.private.json"
    secret: str = json.loads(path.read_text())["secret"]
    return secret


@pytest.mark.parametrize("number", CONFORMANT)
def test_our_signer_reproduces_the_spec_segments_and_signs_with_the_spec_key(
    testdata: Path, number: str
) -> None:
    spec_jws = _text(testdata, number, "d")
    kid = shc.split_jws(spec_jws).header["kid"]
    signer = _spec_signer(testdata, kid)
    assert signer.kid == kid  # kid = RFC 7638 thumbprint of the key

    minified = _part(testdata, number, "c").read_bytes().strip()
    spec = json.loads(minified)
    vc = spec["vc"]
    # nbf is fractional in the examples; our issue() emits integers, _sign_bundle takes nbf as is.
    ours = _sign_bundle(
        vc["credentialSubject"]["fhirBundle"],
        signer,
        spec["iss"],
        spec["nbf"],
        rid=vc.get("rid"),
        exp=spec.get("exp"),
        types=tuple(vc["type"]),
    )
    assert ours.rsplit(".", 1)[0] == spec_jws.rsplit(".", 1)[0]
    assert ours != spec_jws  # a fresh ECDSA signature, never a copied one
    payload = verify_shc(ours, _jwks(testdata))
    assert shc.minify(payload) == minified
    # And the numeric text and the file of our card follow the same rules as the spec's.
    assert shc.numeric_to_jws(shc.jws_to_numeric(ours)) == ours
    assert shc.parse_file(shc.file_content([ours])) == [ours]


@pytest.mark.parametrize("number", ["00", "03"])
def test_rid_of_the_spec_cards_recomputes_from_the_spec_secret(testdata: Path, number: str) -> None:
    payload = verify_shc(_text(testdata, number, "d"), _jwks(testdata))
    kid = shc.split_jws(_text(testdata, number, "d")).header["kid"]
    assert shc.rid(_secret(testdata), kid, f"userid-{number}") == payload["vc"]["rid"]


def test_example_03_is_revoked_by_our_crl_logic_and_expired(testdata: Path) -> None:
    jws = _text(testdata, "03", "d")
    payload = verify_shc(jws, _jwks(testdata))
    kid = shc.split_jws(jws).header["kid"]
    crl_path = testdata / "shc" / "spec-examples" / "issuer" / ".well-known" / "crl" / f"{kid}.json"
    crl = json.loads(crl_path.read_text())
    jwk = next(k for k in _jwks(testdata)["keys"] if k["kid"] == kid)
    assert jwk["crlVersion"] == crl["ctr"]
    cutoff = shc.revoked_before(crl["rids"], payload["vc"]["rid"])
    assert cutoff is not None and payload["nbf"] < cutoff
    # Our revocation rule (cut-off = whole second after the card's nbf) writes the spec's entry.
    ours = f"{shc.rid(_secret(testdata), kid, 'userid-03')}.{int(payload['nbf']) + 1}"
    assert ours in crl["rids"]
    assert payload["exp"] < payload["nbf"] + 366 * 86400 < 2_000_000_000
    import time

    assert payload["exp"] < time.time()


def test_example_02_is_refused_for_its_references_and_its_size(testdata: Path) -> None:
    spec = json.loads(_part(testdata, "02", "c").read_bytes())
    bundle = spec["vc"]["credentialSubject"]["fhirBundle"]
    problems = shc_issue.bundle_problems(bundle)
    assert any("is not resource:N" in p for p in problems), problems
    assert any("Organization/" in p for p in problems)
    signer = _spec_signer(testdata, shc.split_jws(_text(testdata, "02", "d")).header["kid"])
    with pytest.raises(VaxcertError) as nonconformant:
        _sign_bundle(bundle, signer, spec["iss"], spec["nbf"], rid=spec["vc"].get("rid"))
    assert nonconformant.value.code == "shc_bundle_nonconformant"
    # Even with its references ignored it would not fit one QR code: refused, never chunked.
    with pytest.raises(VaxcertError) as too_large:
        shc_issue.sign_payload(spec, signer)
    assert too_large.value.code == "shc_too_large"
    assert len(_text(testdata, "02", "d")) > shc.MAX_SINGLE_QR_JWS
    # The three-chunk numeric texts are refused by the strict decoder.
    chunk = _text(testdata, "02", "f")
    with pytest.raises(VaxcertError) as chunked:
        shc.numeric_to_jws(chunk)
    assert chunked.value.code == "shc_chunked"


@pytest.mark.parametrize("number", CONFORMANT)
def test_spec_bundles_are_conformant_to_our_checker(testdata: Path, number: str) -> None:
    bundle = json.loads(_part(testdata, number, "a").read_text())
    assert shc_issue.bundle_problems(bundle) == []


def _sign_bundle(
    bundle: dict[str, Any],
    key: KeySigner,
    iss: str,
    nbf: float,
    rid: str | None = None,
    exp: float | None = None,
    types: tuple[str, ...] = shc_issue.CARD_TYPES,
) -> str:
    """Sign a bundle built elsewhere (the spec's), after the product's QR-profile check."""
    problems = shc_issue.bundle_problems(bundle)
    if problems:
        raise VaxcertError("shc_bundle_nonconformant", "; ".join(problems[:10]))
    return shc_issue.sign_payload(shc_issue.payload(bundle, iss, nbf, rid, exp, types), key)
