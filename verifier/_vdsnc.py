"""ICAO VDS-NC proof-of-vaccination verification (formats.md §2), as a set of checks."""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from vaxcert.formats import FormatError, vdsnc
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
from vaxcert.vaccines import japanese_name_of_nam
from verifier import _x509, models
from verifier.models import Dose, Result
from verifier.trust import TrustedCsca, TrustStore, trust_freshness

_ALGORITHMS: dict[str, tuple[type[ec.EllipticCurve], hashes.HashAlgorithm]] = {
    "ES256": (ec.SECP256R1, hashes.SHA256()),
    "ES384": (ec.SECP384R1, hashes.SHA384()),
    "ES512": (ec.SECP521R1, hashes.SHA512()),
}

# Parsed barcode signer certificates by DER: a verifier sees the same few BSCs again and again,
# and asn1crypto parsing costs more than the ECDSA verify itself (design.md §5 budget).
_BSC_CACHE: OrderedDict[bytes, _x509.Certificate | str] = OrderedDict()
_BSC_CACHE_SIZE = 256


def _parse_bsc(der: bytes) -> _x509.Certificate | str:
    cached = _BSC_CACHE.get(der)
    if cached is not None:
        _BSC_CACHE.move_to_end(der)
        return cached
    try:
        parsed: _x509.Certificate | str = _x509.parse_certificate(der)
    except _x509.X509Error as exc:
        parsed = str(exc)
    _BSC_CACHE[der] = parsed
    if len(_BSC_CACHE) > _BSC_CACHE_SIZE:
        _BSC_CACHE.popitem(last=False)
    return parsed


@dataclass
class VdsSubject:
    """A parsed (not yet verified) VDS-NC, its barcode signer and the CSCAs that may anchor it."""

    document: vdsnc.VdsDocument
    at: dt.datetime
    clock_skew: dt.timedelta
    trust: TrustStore
    bsc: _x509.Certificate | None = None
    bsc_error: str | None = None
    candidates: list[TrustedCsca] = field(default_factory=list)

    @cached_property
    def anchor(self) -> TrustedCsca | None:
        """The first candidate CSCA whose key verifies the BSC (several may share a key id)."""
        if self.bsc is None:
            return None
        for csca in self.candidates:
            if self.trust.chain_holds(self.bsc, csca):
                return csca
        return None

    @cached_property
    def signature_state(self) -> Literal["verified", "invalid", "unsupported", "no_key"]:
        """Whether the BSC's key verifies ``sigvl`` over JCS(data)."""
        if self.bsc is None:
            return "no_key"
        curve, digest = _ALGORITHMS[self.document.alg]
        key = self.bsc.public_key
        if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, curve):
            return "unsupported"
        try:
            signed = self.document.signed_bytes
        except FormatError:
            return "invalid"
        holds = _x509.ecdsa_raw_holds(key, self.document.signature, signed, digest)
        return "verified" if holds else "invalid"

    @cached_property
    def revocation(self) -> models.Revocation | None:
        """What revocation checking says (None: no anchor).

        ICAO's scheme revokes document signers (the CSCA's CRL, ``scope: signer``); where the
        issuer publishes a signed list of revoked certificate ids (:mod:`verifier._uvci`), the
        document itself is checked too (``scope: certificate``). Without such a list the
        certificate's own revocation is not checked.
        """
        signer = self._signer_revocation
        anchor = self.anchor
        if signer is None or anchor is None or signer.status == "revoked":
            return signer
        revocations = anchor.uvci_list
        if revocations is None:
            if signer.status != "checked":
                return signer
            return models.Revocation(
                "not_checked", "signer", signer.as_of, Finding("uvci_list_missing")
            )
        as_of = max(revocations.issued_at, anchor.uvci_list_at or revocations.issued_at)
        uvci = self.document.message.get("uvci")
        if isinstance(uvci, str) and revocations.revokes(uvci):
            return models.Revocation("revoked", "certificate", as_of)
        if signer.status != "checked":
            return signer
        if self.at - as_of > self.trust.stale_after:
            detail = f"list of {as_of:%Y-%m-%d %H:%M} UTC"
            return models.Revocation(
                "not_checked", "certificate", as_of, Finding("trust_stale", detail)
            )
        return models.Revocation("checked", "certificate", min(as_of, signer.as_of or as_of))

    @cached_property
    def _signer_revocation(self) -> models.Revocation | None:
        """What the anchoring CSCA's CRL says about the document signer (None: no anchor).
        Checked only with a CRL inside its window whose data (fetched, or issued when later) is
        within the store's limit."""
        anchor, bsc = self.anchor, self.bsc
        if anchor is None or bsc is None:
            return None
        if anchor.bad_crls:
            return models.Revocation(
                "not_checked", "signer", None, Finding("crl_signature_invalid")
            )
        newest = max(anchor.crls, key=lambda crl: crl.this_update, default=None)
        if newest is None:
            return models.Revocation(
                "not_checked", "signer", None, Finding("crl_missing", "no CSCA CRL")
            )
        as_of = max(newest.this_update, anchor.updated_at or newest.this_update)
        if any(bsc.serial in crl.revoked for crl in anchor.crls):
            return models.Revocation("revoked", "signer", as_of)
        if newest.next_update is not None and newest.next_update < self.at:
            detail = f"nextUpdate {newest.next_update.date().isoformat()}"
            return models.Revocation("not_checked", "signer", as_of, Finding("crl_stale", detail))
        if self.at - as_of > self.trust.stale_after:
            detail = f"CRL of {as_of:%Y-%m-%d %H:%M} UTC"
            return models.Revocation("not_checked", "signer", as_of, Finding("trust_stale", detail))
        return models.Revocation("checked", "signer", as_of)


class HeaderType(Check[VdsSubject]):
    """``hdr`` says ``t: icao.vacc``, ``v: 1`` and names the issuing country."""

    def verify(self, subject: VdsSubject) -> Outcome:
        hdr = subject.document.header
        if hdr.get("t") != vdsnc.DOCUMENT_TYPE or hdr.get("v") != 1:
            return fail("vdsnc_type_unsupported", f"t={hdr.get('t')!r} v={hdr.get('v')!r}")
        if not isinstance(hdr.get("is"), str):
            return fail("vdsnc_structure_invalid", "hdr.is missing")
        return Success()


class MessageShape(Check[VdsSubject]):
    """``msg`` has ``uvci``, ``pid`` and a list of vaccination events."""

    def verify(self, subject: VdsSubject) -> Outcome:
        msg = subject.document.message
        pid, events = msg.get("pid"), msg.get("ve")
        if not isinstance(msg.get("uvci"), str):
            return fail("vdsnc_structure_invalid", "uvci missing")
        if not isinstance(pid, dict) or not isinstance(pid.get("n"), str):
            return fail("vdsnc_structure_invalid", "pid.n missing")
        if not isinstance(events, list) or not all(
            isinstance(e, dict) and isinstance(e.get("vd"), list) for e in events
        ):
            return fail("vdsnc_structure_invalid", "ve is not a list of events with vd")
        return Success()


class SignerCertificate(Check[VdsSubject]):
    """``cer`` is a parsable certificate."""

    def verify(self, subject: VdsSubject) -> Outcome:
        if subject.bsc is None:
            return fail("bsc_malformed", subject.bsc_error or "")
        return Success()


class Signature(Check[VdsSubject]):
    """``sigvl`` verifies over JCS(``data``) with the BSC's key, on the curve ``alg`` names."""

    def verify(self, subject: VdsSubject) -> Outcome:
        state = subject.signature_state
        if state == "unsupported":
            return fail("signature_algorithm_unsupported", f"alg {subject.document.alg}")
        if state == "invalid":
            return fail("signature_invalid")
        return Success()


class SignerProfile(Check[VdsSubject]):
    """The BSC carries the VDS-NC EKU and lists document type ``NV``."""

    def verify(self, subject: VdsSubject) -> Outcome:
        bsc = subject.bsc
        if bsc is None:
            return Success()
        reasons = []
        if _x509.BSC_EKU not in bsc.ekus:
            reasons.append(Finding("bsc_eku_missing"))
        if not _x509.has_nv_document_type(bsc):
            reasons.append(Finding("bsc_nv_missing"))
        return Failure(tuple(reasons)) if reasons else Success()


class TrustAnchor(Check[VdsSubject]):
    """The BSC chains (one hop) to a trusted CSCA: every CSCA with the BSC's authority key id is
    tried; none matching is an unknown trust anchor."""

    def verify(self, subject: VdsSubject) -> Outcome:
        if subject.bsc is None:
            return Success()
        if not subject.candidates:
            return fail(
                "unknown_trust_anchor", f"issuing country {subject.document.header.get('is')}"
            )
        if subject.anchor is None:
            return fail("bsc_chain_invalid", f"{len(subject.candidates)} CSCA(s) tried")
        return Success()


class IssuingCountry(Check[VdsSubject]):
    """``hdr.is`` is the country the anchoring CSCA is trusted for (when the store says)."""

    def verify(self, subject: VdsSubject) -> Outcome:
        anchor = subject.anchor
        issuing = subject.document.header.get("is")
        if anchor is None or anchor.country is None or anchor.country == issuing:
            return Success()
        return fail("issuing_country_mismatch", f"{issuing} vs {anchor.country}")


class Validity(Check[VdsSubject]):
    """BSC and CSCA are valid at the verification time; a BSC from the future warns of the
    device clock instead of failing."""

    def verify(self, subject: VdsSubject) -> Outcome:
        bsc, at = subject.bsc, subject.at
        if bsc is None:
            return Success()
        reasons: list[Finding] = []
        warnings: list[Finding] = []
        if bsc.not_after < at:
            reasons.append(Finding("bsc_expired", f"notAfter {bsc.not_after.date().isoformat()}"))
        if bsc.not_before > at + subject.clock_skew:
            warnings.append(Finding("clock_skew", "barcode signer is not valid yet"))
        anchor = subject.anchor
        if anchor is not None and anchor.cert.not_after < at:
            reasons.append(
                Finding("csca_expired", f"notAfter {anchor.cert.not_after.date().isoformat()}")
            )
        if reasons:
            return Failure(tuple(reasons), tuple(warnings))
        return Success(tuple(warnings))


class Revocation(Check[VdsSubject]):
    """The BSC serial is in no CRL of its CSCA and the uvci in no list of revoked certificate ids
    of the issuer; a CRL with a bad signature fails, a missing or stale CRL warns."""

    def verify(self, subject: VdsSubject) -> Outcome:
        anchor, bsc = subject.anchor, subject.bsc
        if anchor is None or bsc is None:
            return Success()
        if anchor.bad_crls:
            return fail("crl_signature_invalid", f"{len(anchor.bad_crls)} CRL(s)")
        if not anchor.crls:
            return warn("crl_missing")
        if any(bsc.serial in crl.revoked for crl in anchor.crls):
            return fail("bsc_revoked")
        uvci = subject.document.message.get("uvci")
        if (
            anchor.uvci_list is not None
            and isinstance(uvci, str)
            and anchor.uvci_list.revokes(uvci)
        ):
            return fail("revoked", "in the issuer's list of revoked certificate ids")
        newest = max(anchor.crls, key=lambda crl: crl.this_update)
        if newest.next_update is not None and newest.next_update < subject.at:
            return warn("crl_stale", f"nextUpdate {newest.next_update.date().isoformat()}")
        return Success()


class TrustFresh(Check[VdsSubject]):
    """The CSCA's trust data is younger than the store's ``stale_after`` (warning)."""

    def verify(self, subject: VdsSubject) -> Outcome:
        anchor = subject.anchor
        if anchor is None:
            return Success()
        return trust_freshness(anchor.updated_at, subject.at, subject.trust.stale_after)


POLICY: AllOf[VdsSubject] = AllOf(
    [
        HeaderType(),
        MessageShape(),
        SignerCertificate(),
        Signature(),
        SignerProfile(),
        TrustAnchor(),
        IssuingCountry(),
        Validity(),
        Revocation(),
        TrustFresh(),
    ]
)


def verify_text(
    text: str, source: str, trust: TrustStore, at: dt.datetime, clock_skew: dt.timedelta
) -> Result:
    """Verify the JSON text of one VDS-NC."""
    try:
        document = vdsnc.parse(text)
    except FormatError as exc:
        return Result(False, "vdsnc", source, at, reasons=(Finding(exc.code, exc.detail),))
    subject = VdsSubject(document, at, clock_skew, trust)
    parsed = _parse_bsc(document.certificate_der)
    if isinstance(parsed, str):
        subject.bsc_error = parsed
    else:
        subject.bsc = parsed
        subject.candidates = trust.cscas_for(parsed)
    outcome = POLICY.verify(subject)
    reasons = outcome.reasons if isinstance(outcome, Failure) else ()
    # Fail closed: valid needs the document signature and the chain to a trusted CSCA.
    valid = not reasons and subject.signature_state == "verified" and subject.anchor is not None
    if not valid and not reasons:
        reasons = (Finding("unknown_trust_anchor", "no verified chain"),)
    anchor, bsc = subject.anchor, subject.bsc
    names, birth_date, doses, uvci, passport = _display(document.message)
    issuing = document.header.get("is")
    return Result(
        valid=valid,
        format="vdsnc",
        source=source,
        checked_at=at,
        reasons=reasons,
        warnings=outcome.warnings,
        # Who signed it is the document signer; the CSCA only vouches for it (trust_anchor).
        issuer=bsc.subject_text if bsc else None,
        issuer_id=issuing if isinstance(issuing, str) and issuing else None,
        names=names,
        birth_date=birth_date,
        doses=doses,
        certificate_id=uvci,
        trust_updated_at=anchor.updated_at if anchor else None,
        passport_number=passport,
        signer=bsc.subject_text if bsc else None,
        signer_country=bsc.country if bsc else None,
        trust_anchor=anchor.name if anchor else None,
        revocation=subject.revocation,
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _display(
    msg: dict[str, Any],
) -> tuple[tuple[str, ...], str | None, tuple[Dose, ...], str | None, str | None]:
    """Names, birth date, doses, UVCI and passport number (``pid.i``) as the message states
    them. ``icao.vacc`` has no nationality member."""
    pid_value = msg.get("pid")
    pid: dict[str, Any] = pid_value if isinstance(pid_value, dict) else {}
    name = _text(pid.get("n"))
    doses: list[Dose] = []
    events = msg.get("ve")
    for event in events if isinstance(events, list) else []:
        if not isinstance(event, dict):
            continue
        details = event.get("vd")
        for vd in details if isinstance(details, list) else []:
            if not isinstance(vd, dict):
                continue
            seq = vd.get("seq")
            nam = event.get("nam")
            doses.append(
                Dose(
                    date=_text(vd.get("dvc")),
                    vaccine=_text(event.get("nam")),
                    vaccine_code=_text(event.get("des")),
                    vaccine_ja=japanese_name_of_nam(nam) if isinstance(nam, str) else None,
                    lot=_text(vd.get("lot")),
                    performer=_text(vd.get("adm")),
                    country=_text(vd.get("ctr")),
                    number=seq if isinstance(seq, int) and not isinstance(seq, bool) else None,
                )
            )
    doses.sort(key=lambda d: (d.date or "", d.number or 0))
    # pid.n is "FAMILY GIVEN"; some issuers pad with a double space.
    shown = " ".join(name.split()) if name else None
    return (
        (shown,) if shown else (),
        _text(pid.get("dob")),
        tuple(doses),
        _text(msg.get("uvci")),
        _text(pid.get("i")),
    )
