"""SMART Health Cards: the spec examples, every single-fault mutation of example 00 with its own
reason code, and our own issued cards."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from tests.verifier import issuance
from tests.verifier.conftest import X5C_AT
from vaxcert.formats import jose, shc
from verifier import Result, TrustStore, verify, verify_all

PARTS = {
    "qr": "f-qr-code-numeric-value-0.txt",
    "jws": "d-jws.txt",
    "file": "e-file.smart-health-card",
}


def _example(spec_dir: Path, number: str, part: str) -> Path:
    return spec_dir / f"example-{number}-{PARTS[part]}"


@pytest.mark.parametrize("part", sorted(PARTS))
def test_example_00_is_valid_from_qr_text_jws_and_file(
    spec_dir: Path, official_store: TrustStore, part: str
) -> None:
    result = verify(_example(spec_dir, "00", part), official_store)
    assert result.valid, result.reasons
    assert result.format == "shc"
    assert result.reasons == ()
    assert result.warnings == ()
    assert result.issuer == "SMART Health Cards spec example issuer"
    assert result.issuer_id == issuance.SPEC_ISS
    assert result.names == ("Anyperson John B.",)
    assert result.birth_date == "1951-01-20"
    assert [d.date for d in result.doses] == ["2021-01-01", "2021-01-29", "2022-09-05"]
    assert result.doses[0].vaccine_code == "CVX 207"
    assert result.doses[0].lot == "0000001"
    assert result.doses[0].performer == "ABC General Hospital"


@pytest.mark.parametrize("part", sorted(PARTS))
def test_example_01_is_valid_inside_its_x5c_leaf_life(
    spec_dir: Path, official_store: TrustStore, part: str
) -> None:
    result = verify(_example(spec_dir, "01", part), official_store, at=X5C_AT)
    assert result.valid, result.reasons
    # Signed in 2023 (nbf) but checked in 2022, where its x5c leaf lives: the clock warning.
    assert result.warning_codes == ["clock_skew"]


def test_example_01_today_fails_on_its_expired_x5c_leaf(
    spec_dir: Path, official_store: TrustStore
) -> None:
    result = verify(_example(spec_dir, "01", "jws"), official_store)
    assert not result.valid
    assert result.codes == ["x5c_expired"]


@pytest.mark.parametrize("part", sorted(PARTS))
def test_example_03_is_revoked_and_expired(
    spec_dir: Path, official_store: TrustStore, part: str
) -> None:
    result = verify(_example(spec_dir, "03", part), official_store)
    assert not result.valid
    assert set(result.codes) == {"revoked", "expired"}


def test_example_02_chunked_qr_texts_are_refused(
    spec_dir: Path, official_store: TrustStore
) -> None:
    for chunk in sorted(spec_dir.glob("example-02-f-*")):
        result = verify(chunk, official_store)
        assert not result.valid
        assert result.codes == ["shc_chunked"]


@pytest.mark.parametrize("part", ["jws", "file"])
def test_example_02_non_conformant_bundle_is_refused_with_reasons(
    spec_dir: Path, official_store: TrustStore, part: str
) -> None:
    result = verify(_example(spec_dir, "02", part), official_store)
    assert not result.valid
    # The signature is good; the bundle breaks the QR profile.
    assert "signature_invalid" not in result.codes
    assert "bundle_reference_invalid" in result.codes
    assert "bundle_no_patient" in result.codes


def test_example_02_as_one_numeric_qr_is_too_large(
    spec_dir: Path, official_store: TrustStore
) -> None:
    text = shc.jws_to_numeric(_example(spec_dir, "02", "jws").read_text().strip())
    result = verify(text, official_store)
    assert "shc_too_large" in result.codes


# Single-fault mutations of example 00 ------------------------------------------------------

Mutation = Callable[[str, dict[str, Any], ec.EllipticCurvePrivateKey, str], str]


def _resigned(change: Callable[[dict[str, Any]], None]) -> Mutation:
    def mutate(_: str, payload: dict[str, Any], key: ec.EllipticCurvePrivateKey, kid: str) -> str:
        change(payload)
        return shc.jws_to_numeric(issuance.sign_jws(key, payload, kid=kid))

    return mutate


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(payload: dict[str, Any]) -> None:
        node: Any = payload
        *parents, last = path.split(".")
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return change


def _digits(change: Callable[[str], str]) -> Mutation:
    return lambda numeric, _p, _k, _kid: change(numeric)


def _signed_body(body: Callable[[dict[str, Any]], bytes], **options: Any) -> Mutation:
    def mutate(_: str, payload: dict[str, Any], key: ec.EllipticCurvePrivateKey, kid: str) -> str:
        jws = issuance.sign_jws(key, payload, kid=kid, body=body(payload), **options)
        return shc.jws_to_numeric(jws)

    return mutate


def _signed(**options: Any) -> Mutation:
    def mutate(_: str, payload: dict[str, Any], key: ec.EllipticCurvePrivateKey, kid: str) -> str:
        return shc.jws_to_numeric(issuance.sign_jws(key, payload, kid=kid, **options))

    return mutate


def _tampered(numeric: str, _p: dict[str, Any], _k: ec.EllipticCurvePrivateKey, _kid: str) -> str:
    parts = shc.numeric_to_jws(numeric).split(".")
    payload = shc.parse_payload(shc.inflate_raw(jose.b64url_decode(parts[1])))
    payload["vc"]["credentialSubject"]["fhirBundle"]["entry"][0]["resource"]["birthDate"] = (
        "1961-01-20"
    )
    parts[1] = jose.b64url_encode(shc.deflate_raw(shc.minify(payload)))
    return shc.jws_to_numeric(".".join(parts))


def _big(payload: dict[str, Any]) -> None:
    # Incompressible filler so the JWS exceeds one version-22 QR code.
    patient = payload["vc"]["credentialSubject"]["fhirBundle"]["entry"][0]["resource"]
    patient["name"][0]["given"].append(secrets.token_urlsafe(900))


BOM = b"\xef\xbb\xbf"
PATIENT_REF = "vc.credentialSubject.fhirBundle.entry.1.resource.patient.reference"
MUTATIONS: dict[str, tuple[Mutation, list[str]]] = {
    # name: (mutation, expected reason codes, exactly)
    "der_signature": (_signed(der_signature=True), ["signature_der"]),
    "zlib_wrapped": (_signed_body(issuance.zlib_body), ["payload_zlib_wrapped"]),
    "uncompressed": (_signed_body(shc.minify), ["payload_not_compressed"]),
    "bom": (_signed_body(lambda p: shc.deflate_raw(BOM + shc.minify(p))), ["payload_bom"]),
    "whitespace": (_digits(lambda t: t[:40] + " " + t[40:]), ["shc_whitespace"]),
    "newline": (_digits(lambda t: t[:40] + "\n" + t[40:]), ["shc_whitespace"]),
    "odd_digits": (_digits(lambda t: t[:-1]), ["shc_odd_digits"]),
    "digit_pair_over_77": (_digits(lambda t: "shc:/78" + t[7:]), ["shc_digit_out_of_range"]),
    "iss_http": (
        _resigned(_set("iss", issuance.SPEC_ISS.replace("https", "http"))),
        ["iss_not_https", "issuer_untrusted"],
    ),
    "iss_trailing_slash": (
        _resigned(_set("iss", issuance.SPEC_ISS + "/")),
        ["iss_trailing_slash", "issuer_untrusted"],
    ),
    "iss_untrusted": (_resigned(_set("iss", "https://example.org/issuer")), ["issuer_untrusted"]),
    "kid_unknown": (
        lambda _n, p, k, _kid: shc.jws_to_numeric(issuance.sign_jws(k, p, kid="A" * 43)),
        ["kid_unknown"],
    ),
    "expired": (_resigned(_set("exp", 1687450800)), ["expired"]),
    "revoked_rid": (_resigned(_set("vc.rid", "FKDIxsTCGlU")), ["revoked"]),
    "reference_not_resource_n": (
        _resigned(_set(PATIENT_REF, "Patient/0")),
        ["bundle_reference_invalid"],
    ),
    "reference_unresolved": (
        _resigned(_set(PATIENT_REF, "resource:9")),
        ["bundle_reference_unresolved"],
    ),
    "tampered": (_tampered, ["signature_invalid"]),
    "alg_es384": (
        lambda _n, p, k, kid: shc.jws_to_numeric(
            issuance.sign_jws(k, p, header={"zip": "DEF", "alg": "ES384", "kid": kid})
        ),
        ["jws_alg_unsupported"],
    ),
    "zip_missing": (
        lambda _n, p, k, kid: shc.jws_to_numeric(
            issuance.sign_jws(k, p, header={"alg": "ES256", "kid": kid})
        ),
        ["jws_zip_missing"],
    ),
    "not_health_card": (
        _resigned(_set("vc.type", ["https://smarthealth.cards#immunization"])),
        ["not_health_card"],
    ),
    "nbf_missing": (_resigned(lambda p: p.pop("nbf")), ["payload_claims_invalid"]),
    "too_large_for_one_qr": (_resigned(_big), ["shc_too_large"]),
}


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_single_fault_mutation_of_example_00_gives_its_own_code(
    spec_dir: Path,
    official_store: TrustStore,
    spec_private_keys: dict[str, ec.EllipticCurvePrivateKey],
    name: str,
) -> None:
    numeric = _example(spec_dir, "00", "qr").read_text().strip()
    jws = shc.split_jws(shc.numeric_to_jws(numeric))
    payload = shc.parse_payload(shc.inflate_raw(jws.payload))
    kid = jws.header["kid"]
    mutate, expected = MUTATIONS[name]
    result = verify(mutate(numeric, payload, spec_private_keys[kid], kid), official_store)
    assert not result.valid
    assert result.codes == expected


def test_mutation_codes_are_distinct() -> None:
    firsts = [codes[0] for _, codes in MUTATIONS.values()]
    duplicates = {code for code in firsts if firsts.count(code) > 1}
    assert duplicates == {"shc_whitespace"}  # a space and a newline are the same fault


def test_resigning_unchanged_example_00_stays_valid(
    spec_dir: Path,
    official_store: TrustStore,
    spec_private_keys: dict[str, ec.EllipticCurvePrivateKey],
) -> None:
    # Guards the mutation test: the re-signing path itself yields a valid card.
    jws = shc.split_jws(_example(spec_dir, "00", "jws").read_text().strip())
    payload = shc.parse_payload(shc.inflate_raw(jws.payload))
    kid = jws.header["kid"]
    result = verify(issuance.sign_jws(spec_private_keys[kid], payload, kid=kid), official_store)
    assert result.valid, result.reasons


def test_nbf_in_the_future_warns_about_the_clock_instead_of_failing(
    spec_dir: Path,
    official_store: TrustStore,
    spec_private_keys: dict[str, ec.EllipticCurvePrivateKey],
) -> None:
    jws = shc.split_jws(_example(spec_dir, "00", "jws").read_text().strip())
    payload = shc.parse_payload(shc.inflate_raw(jws.payload))
    kid = jws.header["kid"]
    payload["nbf"] = dt.datetime.now(dt.UTC).timestamp() + 3 * 3600.123456
    result = verify(issuance.sign_jws(spec_private_keys[kid], payload, kid=kid), official_store)
    assert result.valid
    assert result.warning_codes == ["clock_skew"]
    assert result.warnings[0].reason.en.endswith("the device clock may be wrong.")


def test_nbf_slightly_ahead_is_within_tolerance(
    spec_dir: Path,
    official_store: TrustStore,
    spec_private_keys: dict[str, ec.EllipticCurvePrivateKey],
) -> None:
    jws = shc.split_jws(_example(spec_dir, "00", "jws").read_text().strip())
    payload = shc.parse_payload(shc.inflate_raw(jws.payload))
    kid = jws.header["kid"]
    payload["nbf"] = dt.datetime.now(dt.UTC).timestamp() + 60
    result = verify(issuance.sign_jws(spec_private_keys[kid], payload, kid=kid), official_store)
    assert result.valid and result.warnings == ()


def test_non_minified_payload_is_accepted(
    spec_dir: Path,
    official_store: TrustStore,
    spec_private_keys: dict[str, ec.EllipticCurvePrivateKey],
) -> None:
    # Japan's real cards were not minified: accept them (never emit them).
    expanded = (spec_dir / "example-00-b-jws-payload-expanded.json").read_bytes()
    kid = shc.split_jws(_example(spec_dir, "00", "jws").read_text().strip()).header["kid"]
    result = verify(issuance.sign_jws(spec_private_keys[kid], expanded, kid=kid), official_store)
    assert result.valid, result.reasons


def test_all_reasons_are_listed_not_just_the_first(
    spec_dir: Path,
    official_store: TrustStore,
    spec_private_keys: dict[str, ec.EllipticCurvePrivateKey],
) -> None:
    jws = shc.split_jws(_example(spec_dir, "00", "jws").read_text().strip())
    payload = shc.parse_payload(shc.inflate_raw(jws.payload))
    kid = jws.header["kid"]
    payload["exp"] = 1687450800
    payload["vc"]["rid"] = "FKDIxsTCGlU"
    payload["vc"]["type"] = ["https://smarthealth.cards#immunization"]
    _set(PATIENT_REF, "Patient/0")(payload)
    result = verify(issuance.sign_jws(spec_private_keys[kid], payload, kid=kid), official_store)
    assert result.codes == ["expired", "revoked", "not_health_card", "bundle_reference_invalid"]


def test_revocation_needs_the_crl_and_warns_without_it(spec_dir: Path, testdata: Path) -> None:
    jwks = json.loads((spec_dir / "issuer" / ".well-known" / "jwks.json").read_text())
    store = TrustStore()
    store.add_shc_issuer(issuance.SPEC_ISS, "spec", jwks)  # crlVersion 1 but no CRL held
    result = verify(_example(spec_dir, "03", "jws"), store)
    assert result.codes == ["expired"]
    assert result.warning_codes == ["crl_missing"]


def test_an_outdated_crl_warns(spec_dir: Path) -> None:
    well_known = spec_dir / "issuer" / ".well-known"
    jwks = json.loads((well_known / "jwks.json").read_text())
    crl = json.loads(next((well_known / "crl").glob("*.json")).read_text())
    jwks["keys"][0]["crlVersion"] = 2  # the issuer has published a newer CRL than we hold
    store = TrustStore()
    store.add_shc_issuer(issuance.SPEC_ISS, "spec", jwks, [crl])
    result = verify(_example(spec_dir, "00", "jws"), store)
    assert result.valid
    assert result.warning_codes == ["crl_stale"]


def test_keys_of_an_untrusted_issuer_are_not_used(spec_dir: Path, dev_store: TrustStore) -> None:
    # The dev store does not trust the spec issuer: its card is refused before any key lookup.
    result = verify(_example(spec_dir, "00", "qr"), dev_store)
    assert result.codes == ["issuer_untrusted"]
    assert result.issuer is None


# Our own cards (signer stand-in: tests/verifier/issuance.py) ------------------------------


def test_our_issued_shc_is_valid_against_the_dev_trust_store(
    dev_pki: Path, dev_store: TrustStore
) -> None:
    result: Result = verify(issuance.issue_shc(dev_pki), dev_store)
    assert result.valid, result.reasons
    assert result.warnings == ()
    assert result.names == ("山田 花子",)
    assert result.birth_date == "1985-04-01"
    assert [d.lot for d in result.doses] == ["3002337", "3004229"]
    assert result.doses[0].vaccine_ja == "スパイクバックス(モデルナ)"
    assert result.issuer is not None and "vaxcert" in result.issuer


def test_our_issued_shc_x5c_chain_is_checked_against_the_dev_root(
    dev_pki: Path, dev_store: TrustStore
) -> None:
    key = next(iter(dev_store.shc[issuance.ISSUER_URL].keys.values()))
    assert len(key.x5c) == 2  # leaf + root from shc-issuer.chain.pem
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=3 * 365)
    result = verify(issuance.issue_shc(dev_pki), dev_store, at=later)
    assert result.codes == ["x5c_expired"]


def test_a_smart_health_card_file_with_two_cards_gives_two_results(
    dev_pki: Path, dev_store: TrustStore
) -> None:
    first = shc.numeric_to_jws(issuance.issue_shc(dev_pki))
    second = issuance.sign_jws(
        issuance.issuer_key(dev_pki), issuance.jp_shc_payload(exp=1_000_000_000)
    )
    results = verify_all(shc.file_content([first, second]), dev_store)
    assert [r.valid for r in results] == [True, False]
    assert results[1].codes == ["expired"]
    assert verify(shc.file_content([first, second]), dev_store).codes == ["multiple_certificates"]


def test_x5c_leaf_must_name_the_issuer_and_end_at_a_configured_root(
    dev_pki: Path, aus_dir: Path
) -> None:
    from verifier.dev_trust import dev_jwks

    other = "https://other.example/issuer"
    store = TrustStore()
    store.add_shc_issuer(other, "other", dev_jwks(dev_pki))
    card = issuance.issue_shc(dev_pki, issuance.jp_shc_payload(iss=other))
    assert verify(card, store).codes == ["x5c_invalid"]  # leaf SAN URI is the dev issuer URL
    wrong_root = TrustStore()
    wrong_root.add_shc_issuer(
        issuance.ISSUER_URL,
        "dev",
        dev_jwks(dev_pki),
        x5c_roots=[(aus_dir / "csca-aus-16f2.der").read_bytes()],
    )
    assert verify(issuance.issue_shc(dev_pki), wrong_root).codes == ["x5c_invalid"]


def test_reference_fast_path_agrees_with_the_structural_walk(spec_dir: Path, dev_pki: Path) -> None:
    from verifier._shc import _references

    jws_texts = [_example(spec_dir, n, "jws").read_text().strip() for n in ("00", "01", "02", "03")]
    jws_texts.append(shc.numeric_to_jws(issuance.issue_shc(dev_pki)))
    for text in jws_texts:
        raw = shc.inflate_raw(shc.split_jws(text).payload)
        entries = shc.parse_payload(raw)["vc"]["credentialSubject"]["fhirBundle"]["entry"]
        assert sorted(_references(entries, raw)) == sorted(_references(entries))
    # With an escape anywhere in the text, only the walk is trusted.
    escaped = (
        b'{"entry":[{"resource":{"a":{"\\u0072eference":"Patient/1"},"reference":"resource:0"}}]}'
    )
    entries = json.loads(escaped)["entry"]
    assert sorted(_references(entries, escaped)) == ["Patient/1", "resource:0"]
