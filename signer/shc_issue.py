"""SMART Health Card issuance as pure functions (formats.md §1): content → FHIR bundle → payload →
minified, raw-DEFLATEd, ES256-signed compact JWS → ``shc:/`` numeric text.

No Flask and no key material: signatures come from a :class:`signer.interfaces.KeySigner`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from json.encoder import encode_basestring as _encode_string
from typing import Any

from signer.content import doses_in_date_order
from signer.interfaces import KeySigner
from vaxcert.contracts.signing import CertificateContent, Holder
from vaxcert.errors import VaxcertError
from vaxcert.formats import jose, shc
from vaxcert.vaccines import CVX_SYSTEM, VaccineTable

FHIR_VERSION = "4.0.1"
# vc.type as Japan's cards and the spec's vaccination examples list it: verifier apps choose the
# record type from #immunization (without it a widely used app shows "unknown" and no doses).
# Spec 1.4 deprecates the extra types in favour of reading the bundle, but verifiers must ignore
# types they do not know, so listing them costs nothing but about 18 QR characters.
CARD_TYPES = (
    shc.HEALTH_CARD_TYPE,
    "https://smarthealth.cards#immunization",
    "https://smarthealth.cards#covid19",
)
_TYPES_JSON = json.dumps(list(CARD_TYPES), separators=(",", ":"))
_RESOURCE_REF = re.compile(r"^resource:(0|[1-9][0-9]*)$")


@dataclass(frozen=True, slots=True)
class ShcProfile:
    """The issuer-side choices of our SHC profile (from ``Settings``)."""

    iss: str
    passport_identifier_system: str = "http://hl7.org/fhir/sid/passport-{nationality}"
    validity_days: int | None = None
    revocation: bool = True


@dataclass(frozen=True, slots=True)
class IssuedShc:
    """One signed card: the JWS, its QR numeric text and what identifies it."""

    jws: str
    numeric: str
    kid: str
    nbf: int
    rid: str | None

    @property
    def file_content(self) -> str:
        """The ``.smart-health-card`` file holding this card."""
        return shc.file_content([self.jws])


def fhir_bundle(
    content: CertificateContent, vaccines: VaccineTable, profile: ShcProfile
) -> dict[str, Any]:
    """The minimal QR-profile bundle: one Patient, one Immunization per dose (formats.md §1).

    海外用 puts the passport's romanised name first and the card's name second, and adds the
    passport as ``Patient.identifier`` (docs/signer.md §3 says why); no dose numbers
    (``protocolApplied`` is 0..0).
    """
    holder = content.holder
    patient: dict[str, Any] = {
        "resourceType": "Patient",
        "name": [_fhir_name(family, given) for family, given in _names(content.kind, holder)],
    }
    if content.kind == "overseas":
        assert holder.passport_number is not None
        system = profile.passport_identifier_system.format(nationality=holder.nationality)
        patient["identifier"] = [{"system": system, "value": holder.passport_number}]
    patient["birthDate"] = holder.birth_date.isoformat()
    entries: list[dict[str, Any]] = [{"fullUrl": "resource:0", "resource": patient}]
    for index, dose in enumerate(doses_in_date_order(content), start=1):
        product = vaccines.product(dose.product)
        _agrees(dose.cvx, product.cvx, "CVX")
        _agrees(dose.icd11, product.icd11, "ICD-11")
        entries.append(
            {
                "fullUrl": f"resource:{index}",
                "resource": {
                    "resourceType": "Immunization",
                    "status": "completed",
                    "vaccineCode": {"coding": [{"system": CVX_SYSTEM, "code": product.cvx}]},
                    "patient": {"reference": "resource:0"},
                    "occurrenceDateTime": dose.date.isoformat(),
                    "performer": [{"actor": {"display": dose.administering_authority}}],
                    "lotNumber": dose.lot,
                },
            }
        )
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def _names(kind: str, holder: Holder) -> list[tuple[str, str | None]]:
    """``Patient.name`` in order: 国内用 the card's name; 海外用 the passport's name first.

    Abroad a verifier shows ``name[0]`` and compares it with the passport, so the romanised name
    leads; the card's name (kanji) follows, as Japan's 海外用 certificate states both.
    """
    card = (holder.name.family, holder.name.given)
    if kind != "overseas":
        return [card]
    assert holder.name_roman is not None
    return [(holder.name_roman.family, holder.name_roman.given), card]


def _fhir_name(family: str, given: str | None) -> dict[str, Any]:
    return {"family": family, "given": [given]} if given else {"family": family}


def _agrees(stated: str | None, table: str, what: str) -> None:
    if stated is not None and stated != table:
        raise VaxcertError("vaccine_code_mismatch", f"dose {what} code differs from the table")


def payload(
    bundle: dict[str, Any],
    iss: str,
    nbf: float,
    rid: str | None = None,
    exp: float | None = None,
    types: tuple[str, ...] = CARD_TYPES,
) -> dict[str, Any]:
    """The JWS payload around ``bundle`` (key order as in the spec examples)."""
    vc: dict[str, Any] = {
        "type": list(types),
        "credentialSubject": {"fhirVersion": FHIR_VERSION, "fhirBundle": bundle},
    }
    if rid is not None:
        vc["rid"] = rid
    body: dict[str, Any] = {"iss": iss, "nbf": nbf, "vc": vc}
    if exp is not None:
        body["exp"] = exp
    return body


def minified_payload(
    content: CertificateContent,
    vaccines: VaccineTable,
    profile: ShcProfile,
    nbf: int,
    rid: str | None = None,
    exp: int | None = None,
) -> bytes:
    """Byte for byte ``shc.minify(payload(fhir_bundle(content), ...))``, rendered directly.

    Issuance is measured against a raw ECDSA sign (design.md §5) and building ~100 small dicts
    only to serialise them again costs more than the signature; tests prove both paths equal.
    """
    holder = content.holder
    names = [_name_json(family, given) for family, given in _names(content.kind, holder)]
    identifier = ""
    if content.kind == "overseas":
        assert holder.passport_number is not None
        system = profile.passport_identifier_system.format(nationality=holder.nationality)
        identifier = (
            f',"identifier":[{{"system":{_q(system)},"value":{_q(holder.passport_number)}}}]'
        )
    parts = [
        f'{{"iss":{_q(profile.iss)},"nbf":{nbf},"vc":{{"type":{_TYPES_JSON},'
        f'"credentialSubject":{{"fhirVersion":"{FHIR_VERSION}","fhirBundle":'
        '{"resourceType":"Bundle","type":"collection","entry":['
        '{"fullUrl":"resource:0","resource":{"resourceType":"Patient","name":['
        f'{",".join(names)}]{identifier},"birthDate":"{holder.birth_date.isoformat()}"}}}}'
    ]
    for index, dose in enumerate(doses_in_date_order(content), start=1):
        product = vaccines.product(dose.product)
        _agrees(dose.cvx, product.cvx, "CVX")
        _agrees(dose.icd11, product.icd11, "ICD-11")
        parts.append(
            f',{{"fullUrl":"resource:{index}","resource":{{"resourceType":"Immunization",'
            f'"status":"completed","vaccineCode":{{"coding":[{{"system":"{CVX_SYSTEM}",'
            f'"code":{_q(product.cvx)}}}]}},"patient":{{"reference":"resource:0"}},'
            f'"occurrenceDateTime":"{dose.date.isoformat()}","performer":[{{"actor":'
            f'{{"display":{_q(dose.administering_authority)}}}}}],"lotNumber":{_q(dose.lot)}}}}}'
        )
    parts.append("]}}")
    if rid is not None:
        parts.append(f',"rid":{_q(rid)}')
    parts.append("}")
    if exp is not None:
        parts.append(f',"exp":{exp}')
    parts.append("}")
    return "".join(parts).encode("utf-8")


def _q(text: str) -> str:
    # The escaper json.dumps(ensure_ascii=False) uses, so both paths give the same bytes.
    quoted: str = _encode_string(text)
    return quoted


def _name_json(family: str, given: str | None) -> str:
    if given:
        return f'{{"family":{_q(family)},"given":[{_q(given)}]}}'
    return f'{{"family":{_q(family)}}}'


def sign_minified(minified: bytes, key: KeySigner) -> str:
    """Raw-DEFLATE and sign an already minified payload: the compact JWS (≤ 1195 characters)."""
    signing_input = (
        f"{jose.b64url_encode(shc.header_bytes(key.kid))}."
        f"{jose.b64url_encode(shc.deflate_raw(minified))}"
    )
    # 87 = '.' and the 86 base64url characters of a 64-byte signature: refuse before signing.
    if len(signing_input) + 87 > shc.MAX_SINGLE_QR_JWS:
        raise VaxcertError(
            "shc_too_large", f"the card would be {len(signing_input) + 87} JWS characters"
        )
    signature = key.sign(signing_input.encode("ascii"))
    return f"{signing_input}.{jose.b64url_encode(signature)}"


def sign_payload(body: dict[str, Any], key: KeySigner) -> str:
    """Minify, raw-DEFLATE, sign: the compact JWS. A card over 1195 characters is refused.

    The header is built byte for byte as ``{"zip":"DEF","alg":"ES256","kid":K}``; a larger card is
    never chunked (chunking is deprecated).
    """
    return sign_minified(shc.minify(body), key)


def issue(
    content: CertificateContent,
    key: KeySigner,
    vaccines: VaccineTable,
    profile: ShcProfile,
    now: float,
    rid_secret: str | None,
) -> IssuedShc:
    """Sign one card for ``content`` at time ``now`` (``nbf``, an integer as issuers emit it)."""
    nbf = int(now)
    rid = None
    if profile.revocation:
        if not rid_secret:
            raise VaxcertError("signer_state_invalid", "revocation is on but no rid secret is set")
        rid = shc.rid(rid_secret, key.kid, content.certificate_id)
    exp = nbf + profile.validity_days * 86400 if profile.validity_days else None
    jws = sign_minified(minified_payload(content, vaccines, profile, nbf, rid, exp), key)
    return IssuedShc(jws=jws, numeric=shc.jws_to_numeric(jws), kid=key.kid, nbf=nbf, rid=rid)


def bundle_problems(bundle: Any) -> list[str]:
    """Every way ``bundle`` breaks the SHC QR profile (formats.md §1); empty when conformant.

    Collects all problems rather than the first, so a refusal names each of them.
    """
    if not isinstance(bundle, dict):
        return ["the bundle is not a JSON object"]
    problems: list[str] = []
    if bundle.get("resourceType") != "Bundle":
        problems.append("resourceType is not Bundle")
    if bundle.get("type") != "collection":
        problems.append("Bundle.type is not collection")
    entries = bundle.get("entry")
    if not isinstance(entries, list) or not entries:
        return [*problems, "the bundle has no entries"]
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            problems.append(f"entry {index} is not an object")
            continue
        if entry.get("fullUrl") != f"resource:{index}":
            problems.append(f"entry {index}: fullUrl is not resource:{index}")
        resource = entry.get("resource")
        if not isinstance(resource, dict):
            problems.append(f"entry {index} has no resource")
            continue
        for where, node in _walk(resource, f"entry {index}"):
            problems.extend(_node_problems(where, node, len(entries)))
    return problems


def _walk(node: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        yield where, node
        for name, value in node.items():
            yield from _walk(value, f"{where}.{name}")
    elif isinstance(node, list):
        for position, value in enumerate(node):
            yield from _walk(value, f"{where}[{position}]")


def _node_problems(where: str, node: dict[str, Any], entry_count: int) -> Iterator[str]:
    depth_one = where.count(".") == 0
    if depth_one and "id" in node:
        yield f"{where}: resource has an id"
    if "meta" in node and (not isinstance(node["meta"], dict) or set(node["meta"]) != {"security"}):
        yield f"{where}: meta other than a lone meta.security"
    if depth_one and "text" in node:
        yield f"{where}: resource has a narrative text"
    if "coding" in node:
        if "text" in node:
            yield f"{where}: CodeableConcept.text"
        for position, coding in enumerate(node.get("coding") or []):
            if isinstance(coding, dict) and "display" in coding:
                yield f"{where}.coding[{position}]: Coding.display"
    reference = node.get("reference")
    if isinstance(reference, str):
        match = _RESOURCE_REF.match(reference)
        if match is None:
            yield f"{where}: reference {reference!r} is not resource:N"
        elif int(match.group(1)) >= entry_count:
            yield f"{where}: reference {reference!r} points past the last entry"
    if node.get("resourceType") == "Immunization" and len(str(node.get("lotNumber", ""))) > 20:
        yield f"{where}: lotNumber longer than 20 characters"
