"""SMART Health Card verification (formats.md §1, verifier steps), as a set of checks."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from cryptography.hazmat.primitives import hashes

from vaxcert import vaccines
from vaxcert.formats import FormatError, shc
from vaxcert.policy import (
    AllOf,
    Check,
    Failure,
    Finding,
    Outcome,
    Success,
    fail,
    warn,
)
from verifier import _x509, models
from verifier.models import Dose, Result
from verifier.trust import ShcIssuer, TrustedKey, TrustStore, trust_freshness

Origin = Literal["qr", "jws", "file"]
_RESOURCE_N = re.compile(r"resource:(0|[1-9][0-9]*)")
_SHA256 = hashes.SHA256()


@dataclass
class ShcSubject:
    """A decoded (not yet verified) card and what the trust store knows about its issuer."""

    jws: shc.CompactJws
    payload: dict[str, Any]
    origin: Origin
    at: dt.datetime
    clock_skew: dt.timedelta
    trust: TrustStore
    raw: bytes = b""  # the inflated payload, for the reference fast path
    issuer: ShcIssuer | None = None
    key: TrustedKey | None = None
    bundle: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def signature_state(self) -> Literal["verified", "der", "invalid", "no_key"]:
        """Whether the trusted key verifies the JWS (raw r‖s only; DER is refused)."""
        if self.key is None:
            return "no_key"
        signature = self.jws.signature
        if len(signature) != 64:
            return "der" if signature[:1] == b"\x30" else "invalid"
        holds = _x509.ecdsa_raw_holds(
            self.key.public_key, signature, self.jws.signing_input, _SHA256
        )
        return "verified" if holds else "invalid"

    @property
    def nbf(self) -> float | None:
        """``nbf`` as a number (it may be fractional), or None when missing or malformed."""
        return _number(self.payload.get("nbf"))

    @property
    def rid(self) -> str | None:
        """``vc.rid``, the card's revocation id, when it has one."""
        vc = self.payload.get("vc")
        rid = vc.get("rid") if isinstance(vc, dict) else None
        return rid if isinstance(rid, str) else None

    @cached_property
    def revocation(self) -> models.Revocation | None:
        """What the trust store can say about this card's revocation (None: no trusted key).

        A card the data lists is revoked however old the data. Otherwise it counts as checked
        only on data fetched from the issuer within the store's limit: a key never fetched (the
        demo's key derived from the PKI, a one-off JWKS of unknown age) says nothing about
        revocation, even without ``crlVersion``.
        """
        key, issuer = self.key, self.issuer
        if key is None or issuer is None:
            return None
        as_of, rid = issuer.updated_at, self.rid
        crl = issuer.crls.get(key.kid) if key.crl_version is not None else None
        if crl is not None and rid is not None:
            cutoff = shc.revoked_before(list(crl.rids), rid)
            nbf = self.nbf
            if cutoff is not None and nbf is not None and nbf < cutoff:
                return models.Revocation("revoked", "certificate", as_of)

        def unchecked(code: str, detail: str) -> models.Revocation:
            return models.Revocation("not_checked", "certificate", as_of, Finding(code, detail))

        if as_of is None:
            return unchecked("crl_missing", "no keys or revocation list fetched from the issuer")
        if self.at - as_of > self.trust.stale_after:
            return unchecked("trust_stale", f"fetched {as_of:%Y-%m-%d %H:%M} UTC")
        if key.crl_version is None or rid is None:
            # The issuer's current keys say it publishes no revocation list for this key (or
            # the card has no rid): nothing more can be checked.
            return models.Revocation("not_offered", "certificate", as_of)
        if crl is None:
            return unchecked("crl_missing", f"no rid CRL for kid {key.kid}")
        if crl.ctr < key.crl_version:
            return unchecked("crl_stale", f"CRL ctr {crl.ctr} < crlVersion {key.crl_version}")
        return models.Revocation("checked", "certificate", as_of)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


class QrSize(Check[ShcSubject]):
    """A card read from a QR code must fit one QR (chunking is deprecated)."""

    def verify(self, subject: ShcSubject) -> Outcome:
        if subject.origin == "qr" and len(subject.jws.text) > shc.MAX_SINGLE_QR_JWS:
            return fail("shc_too_large", f"{len(subject.jws.text)} JWS characters")
        return Success()


class Header(Check[ShcSubject]):
    """The protected header is ``alg ES256``, ``zip DEF`` and names a ``kid``."""

    def verify(self, subject: ShcSubject) -> Outcome:
        header = subject.jws.header
        reasons = []
        if header.get("alg") != "ES256":
            reasons.append(Finding("jws_alg_unsupported", f"alg {header.get('alg')!r}"))
        if header.get("zip") != "DEF":
            reasons.append(Finding("jws_zip_missing"))
        if not isinstance(header.get("kid"), str) or not header.get("kid"):
            reasons.append(Finding("jws_kid_missing"))
        return Failure(tuple(reasons)) if reasons else Success()


class Claims(Check[ShcSubject]):
    """``iss`` is a string, ``nbf`` a number, ``exp`` (optional) a number, ``vc`` an object."""

    def verify(self, subject: ShcSubject) -> Outcome:
        payload = subject.payload
        problems = []
        if not isinstance(payload.get("iss"), str):
            problems.append("iss")
        if subject.nbf is None:
            problems.append("nbf")
        if "exp" in payload and _number(payload["exp"]) is None:
            problems.append("exp")
        if not isinstance(payload.get("vc"), dict):
            problems.append("vc")
        return fail("payload_claims_invalid", ",".join(problems)) if problems else Success()


class IssuerUrl(Check[ShcSubject]):
    """``iss`` is https and has no trailing slash (SHC spec)."""

    def verify(self, subject: ShcSubject) -> Outcome:
        iss = subject.payload.get("iss")
        if not isinstance(iss, str):
            return Success()  # Claims reports it
        reasons = []
        if not iss.startswith("https://"):
            reasons.append(Finding("iss_not_https"))
        if iss.endswith("/"):
            reasons.append(Finding("iss_trailing_slash"))
        return Failure(tuple(reasons)) if reasons else Success()


class IssuerTrusted(Check[ShcSubject]):
    """``iss`` is listed in the trust store (looked up before any key is used)."""

    def verify(self, subject: ShcSubject) -> Outcome:
        return Success() if subject.issuer is not None else fail("issuer_untrusted")


class KeyKnown(Check[ShcSubject]):
    """The trusted issuer has a key with the header's ``kid``."""

    def verify(self, subject: ShcSubject) -> Outcome:
        if subject.issuer is None or subject.key is not None:
            return Success()  # IssuerTrusted reports an untrusted issuer
        return fail("kid_unknown")


class Signature(Check[ShcSubject]):
    """ES256 over ``header.payload`` verifies with the trusted key; DER signatures are refused."""

    def verify(self, subject: ShcSubject) -> Outcome:
        state = subject.signature_state
        if state == "der":
            return fail("signature_der", f"{len(subject.jws.signature)}-byte DER signature")
        if state == "invalid":
            return fail("signature_invalid")
        return Success()  # "no_key": IssuerTrusted / KeyKnown already failed


class Expiry(Check[ShcSubject]):
    """``exp`` in the past rejects; ``nbf`` too far in the future warns of a wrong clock."""

    def verify(self, subject: ShcSubject) -> Outcome:
        now = subject.at.timestamp()
        exp = _number(subject.payload.get("exp"))
        if exp is not None and exp < now:
            expired_on = dt.datetime.fromtimestamp(exp, dt.UTC).date().isoformat()
            return fail("expired", f"exp {expired_on}")
        nbf = subject.nbf
        if nbf is not None and nbf > now + subject.clock_skew.total_seconds():
            return warn("clock_skew", f"nbf is {int(nbf - now)} s ahead of this clock")
        return Success()


class Revocation(Check[ShcSubject]):
    """When the key has ``crlVersion``: the card's ``rid`` is not revoked by the issuer's CRL."""

    def verify(self, subject: ShcSubject) -> Outcome:
        key, issuer = subject.key, subject.issuer
        if key is None or issuer is None or key.crl_version is None:
            return Success()
        vc = subject.payload.get("vc")
        rid = vc.get("rid") if isinstance(vc, dict) else None
        if not isinstance(rid, str):
            return Success()
        crl = issuer.crls.get(key.kid)
        if crl is None:
            return warn("crl_missing", f"no rid CRL for kid {key.kid}")
        warnings: tuple[Finding, ...] = ()
        if crl.ctr < key.crl_version:
            warnings = (Finding("crl_stale", f"CRL ctr {crl.ctr} < crlVersion {key.crl_version}"),)
        cutoff = shc.revoked_before(list(crl.rids), rid)
        nbf = subject.nbf
        if cutoff is not None and nbf is not None and nbf < cutoff:
            return Failure((Finding("revoked"),), warnings)
        return Success(warnings)


class HealthCard(Check[ShcSubject]):
    """``vc.type`` includes ``#health-card`` (unknown extra types are ignored)."""

    def verify(self, subject: ShcSubject) -> Outcome:
        vc = subject.payload.get("vc")
        types = vc.get("type") if isinstance(vc, dict) else None
        if isinstance(types, list) and shc.HEALTH_CARD_TYPE in types:
            return Success()
        return fail("not_health_card")


class Bundle(Check[ShcSubject]):
    """The FHIR bundle is a collection of ``resource:N`` entries whose references all resolve,
    with a Patient."""

    def verify(self, subject: ShcSubject) -> Outcome:
        bundle = subject.bundle
        entries = bundle.get("entry")
        if bundle.get("resourceType") != "Bundle" or not isinstance(entries, list):
            return fail("bundle_invalid", "not a FHIR Bundle with entries")
        full_urls: set[str] = set()
        reasons: list[Finding] = []
        bad_urls = 0
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get("resource"), dict):
                return fail("bundle_invalid", "an entry has no resource")
            url = entry.get("fullUrl")
            if isinstance(url, str) and _RESOURCE_N.fullmatch(url):
                full_urls.add(url)
            else:
                bad_urls += 1
        invalid, unresolved = 0, 0
        for reference in _references(entries, subject.raw):
            if not _RESOURCE_N.fullmatch(reference):
                invalid += 1
            elif reference not in full_urls:
                unresolved += 1
        if invalid or bad_urls:
            reasons.append(
                Finding(
                    "bundle_reference_invalid",
                    f"{invalid} references and {bad_urls} fullUrls not resource:N",
                )
            )
        if unresolved:
            reasons.append(Finding("bundle_reference_unresolved", f"{unresolved} references"))
        if not any(e["resource"].get("resourceType") == "Patient" for e in entries):
            reasons.append(Finding("bundle_no_patient"))
        return Failure(tuple(reasons)) if reasons else Success()


# Without a backslash in the JSON text no string can hold an escaped quote or a \u escape, so
# every "reference" key is spelled literally and this finds exactly the string-valued ones.
_REFERENCE = re.compile(rb'"reference"\s*:\s*"([^"]*)"')


def _references(node: Any, raw: bytes = b"") -> list[str]:
    """Every string ``reference`` anywhere in ``node`` (``raw``: its JSON text, if known)."""
    if raw and b"\\" not in raw:
        return [m.decode("utf-8") for m in _REFERENCE.findall(raw)]
    found: list[str] = []
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if key == "reference" and isinstance(value, str):
                    found.append(value)
                elif isinstance(value, dict | list):
                    stack.append(value)
        elif isinstance(item, list):
            stack.extend(v for v in item if isinstance(v, dict | list))
    return found


class X5cChain(Check[ShcSubject]):
    """When the key carries ``x5c``: the chain is sound (leaf certifies the key with SAN URI = iss,
    signatures, configured root; checked once when the trust store loads) and every certificate
    is valid at the verification time."""

    def verify(self, subject: ShcSubject) -> Outcome:
        key = subject.key
        if key is None or (not key.x5c and key.x5c_error is None):
            return Success()
        if key.x5c_error is not None:
            return fail("x5c_invalid", key.x5c_error)
        if not all(cert.valid_at(subject.at) for cert in key.x5c):
            return fail("x5c_expired")
        return Success()


class TrustFresh(Check[ShcSubject]):
    """The issuer's trust data is younger than the store's ``stale_after`` (warning)."""

    def verify(self, subject: ShcSubject) -> Outcome:
        issuer = subject.issuer
        if issuer is None:
            return Success()
        return trust_freshness(issuer.updated_at, subject.at, subject.trust.stale_after)


POLICY: AllOf[ShcSubject] = AllOf(
    [
        QrSize(),
        Header(),
        Claims(),
        IssuerUrl(),
        IssuerTrusted(),
        KeyKnown(),
        Signature(),
        Expiry(),
        Revocation(),
        HealthCard(),
        Bundle(),
        X5cChain(),
        TrustFresh(),
    ]
)


def verify_jws(
    jws_text: str,
    origin: Origin,
    source: str,
    trust: TrustStore,
    at: dt.datetime,
    clock_skew: dt.timedelta,
) -> Result:
    """Verify one compact JWS (already decoded from its numeric QR form when it came from one)."""
    try:
        jws = shc.split_jws(jws_text)
        raw = shc.inflate_raw(jws.payload)
        payload = shc.parse_payload(raw)
    except FormatError as exc:
        return Result(False, "shc", source, at, reasons=(Finding(exc.code, exc.detail),))
    subject = ShcSubject(jws, payload, origin, at, clock_skew, trust, raw)
    iss = payload.get("iss")
    # The issuer must be trusted before any of its keys is looked at.
    subject.issuer = trust.shc_issuer(iss) if isinstance(iss, str) else None
    kid = jws.header.get("kid")
    if subject.issuer is not None and isinstance(kid, str):
        subject.key = subject.issuer.keys.get(kid)
    vc = payload.get("vc")
    subject_data = vc.get("credentialSubject") if isinstance(vc, dict) else None
    bundle = subject_data.get("fhirBundle") if isinstance(subject_data, dict) else None
    subject.bundle = bundle if isinstance(bundle, dict) else {}
    outcome = POLICY.verify(subject)
    reasons = outcome.reasons if isinstance(outcome, Failure) else ()
    # Fail closed: valid needs a verified signature by a trusted key, whatever the checks said.
    valid = not reasons and subject.signature_state == "verified"
    if not valid and not reasons:
        reasons = (Finding("signature_invalid", "no verified signature"),)
    shown = _display(subject.bundle)
    return Result(
        valid=valid,
        format="shc",
        source=source,
        checked_at=at,
        reasons=reasons,
        warnings=outcome.warnings,
        issuer=subject.issuer.name if subject.issuer else None,
        issuer_id=iss if isinstance(iss, str) else None,
        names=shown.names,
        birth_date=shown.birth_date,
        doses=shown.doses,
        trust_updated_at=subject.issuer.updated_at if subject.issuer else None,
        nationality=shown.nationality,
        passport_number=shown.passport_number,
        trust_anchor=subject.issuer.name if subject.issuer else None,
        revocation=subject.revocation,
        issued_at=_moment(subject.nbf),
        expires_at=_moment(_number(subject.payload.get("exp"))),
    )


def _moment(value: float | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        return dt.datetime.fromtimestamp(value, dt.UTC)
    except (OverflowError, OSError, ValueError):
        return None


def verify_numeric(
    text: str, source: str, trust: TrustStore, at: dt.datetime, clock_skew: dt.timedelta
) -> Result:
    """Verify the ``shc:/`` numeric text of one QR code."""
    try:
        jws_text = shc.numeric_to_jws(text)
    except FormatError as exc:
        return Result(False, "shc", source, at, reasons=(Finding(exc.code, exc.detail),))
    return verify_jws(jws_text, "qr", source, trust, at, clock_skew)


@dataclass(frozen=True, slots=True)
class _Shown:
    """What the bundle states about its holder and doses (for display only)."""

    names: tuple[str, ...] = ()
    birth_date: str | None = None
    doses: tuple[Dose, ...] = ()
    nationality: str | None = None
    passport_number: str | None = None


# FHIR's identifier-system convention for passports, which our 海外用 cards use
# (docs/signer.md §3): http://hl7.org/fhir/sid/passport-JPN, the issuing country last.
_PASSPORT_SYSTEM = re.compile(r"passport-([A-Za-z]{3})$")


def _display(bundle: dict[str, Any]) -> _Shown:
    """Names, birth date, passport and doses as the bundle states them (never raising)."""
    names: list[str] = []
    birth_date: str | None = None
    passport: tuple[str | None, str | None] = (None, None)
    doses: list[Dose] = []
    entries = bundle.get("entry")
    for entry in entries if isinstance(entries, list) else []:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            continue
        kind = resource.get("resourceType")
        if kind == "Patient":
            patient_names = resource.get("name")
            for name in patient_names if isinstance(patient_names, list) else []:
                if isinstance(name, dict):
                    names.append(_name_text(name))
            if isinstance(resource.get("birthDate"), str):
                birth_date = resource["birthDate"]
            passport = _passport(resource.get("identifier")) or passport
        elif kind == "Immunization":
            doses.append(_dose(resource))
    doses.sort(key=lambda d: d.date or "")
    return _Shown(tuple(n for n in names if n), birth_date, tuple(doses), passport[0], passport[1])


def _passport(identifiers: Any) -> tuple[str | None, str | None] | None:
    """(nationality, passport number) from a Patient's identifiers: a system of the passport
    convention (its last three letters are the nationality), or an identifier typed ``PPN``
    (HL7 v2 table 0203, passport number) without a nationality."""
    for identifier in identifiers if isinstance(identifiers, list) else []:
        if not isinstance(identifier, dict) or not isinstance(identifier.get("value"), str):
            continue
        system = identifier.get("system")
        match = _PASSPORT_SYSTEM.search(system) if isinstance(system, str) else None
        if match is not None:
            return match.group(1).upper(), identifier["value"]
        kind = identifier.get("type")
        codings = kind.get("coding") if isinstance(kind, dict) else None
        if isinstance(codings, list) and any(
            isinstance(c, dict) and c.get("code") == "PPN" for c in codings
        ):
            return None, identifier["value"]
    return None


def _name_text(name: dict[str, Any]) -> str:
    if isinstance(name.get("text"), str):
        return str(name["text"])
    given = name.get("given")
    parts = [name.get("family")] + (given if isinstance(given, list) else [])
    return " ".join(str(p) for p in parts if isinstance(p, str) and p)


def _first(value: Any) -> dict[str, Any]:
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return value[0]
    return {}


def _dose(resource: dict[str, Any]) -> Dose:
    vaccine_code = resource.get("vaccineCode")
    coding = _first(vaccine_code.get("coding") if isinstance(vaccine_code, dict) else None)
    system, code = coding.get("system"), coding.get("code")
    is_cvx = system == vaccines.CVX_SYSTEM and isinstance(code, str)
    product = vaccines.by_cvx(str(code)) if is_cvx else None
    actor = _first(resource.get("performer")).get("actor")
    date, lot = resource.get("occurrenceDateTime"), resource.get("lotNumber")
    # The QR profile has no dose numbers (protocolApplied is 0..0) and ours carry none; a card
    # from an issuer that adds one shows it. Never counted here.
    number = _first(resource.get("protocolApplied")).get("doseNumberPositiveInt")
    return Dose(
        date=date[:10] if isinstance(date, str) else None,
        vaccine=product.en if product else None,
        vaccine_ja=product.ja if product else None,
        vaccine_code=f"CVX {code}" if is_cvx else (str(code) if code is not None else None),
        lot=lot if isinstance(lot, str) else None,
        performer=actor.get("display") if isinstance(actor, dict) else None,
        number=number if isinstance(number, int) and not isinstance(number, bool) else None,
    )
