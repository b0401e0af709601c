"""The kiosk issuance pipeline (証明書交付), domain code without Flask.

One request, nothing kept (C08): gate checks (hours, maintenance, participation C05, consent C07,
replay) → card data verified (C03) → VRS query → refusal rules → certificate content → signer →
issuance recorded in VRS (C20) → reply. The My Number lives only in this call's locals and the
VRS request; it is never returned (C22) or logged.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from cert_center import metrics, rules
from cert_center.card_use import CardUseMonitor
from cert_center.clients import SignerClient, VrsClient, breaker_for, guarded
from cert_center.refusal_days import DailyRefusals
from cert_center.services import Center
from vaxcert import passport, vaccines
from vaxcert.card.errors import CardDataError
from vaxcert.card.models import CardFiles, CardRead
from vaxcert.card.verify import CaKeyTable, verify_card_files
from vaxcert.config import KioskEntry, MunicipalityEntry, Settings
from vaxcert.contracts.kiosk_api import (
    CardFilesIn,
    CertificateIssued,
    CertificateRequest,
    Consent,
    DoseView,
    HolderView,
    IssuedMunicipality,
)
from vaxcert.contracts.signing import (
    CertificateContent,
    CertificateResult,
    Dose,
    Holder,
    Municipality,
    PersonName,
    RomanName,
)
from vaxcert.contracts.vrs_relay import (
    CertificateKind,
    Channel,
    IssuanceRequest,
    Passport,
    PassportRequest,
    QueryIdentityMismatch,
    QueryMatch,
    QueryNoMatch,
    QueryRequest,
)
from vaxcert.errors import VaxcertError
from vaxcert.policy import Failure
from vaxcert.relay import NoTimeLeftError
from vaxcert.resilience import CircuitBreaker

log = logging.getLogger(__name__)

# Certificate ids: 12 characters (fits VDS-NC uvci), without 0/O and 1/I look-alikes.
_ID_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
T = TypeVar("T")
_ISSUANCE_ATTEMPTS = 2  # recording an issuance is idempotent on the certificate id: retry once


class RuleRefusedError(VaxcertError):
    """A refusal by the record rules; the public code hides which rule (e.g. support measure)."""


@dataclass(frozen=True, slots=True)
class Application:
    """One application, from a kiosk or the app: what the pipeline needs, nothing more."""

    channel: Channel
    # Who presented the card (C21 counts per terminal): a kiosk id, or "app:" + an instance id.
    terminal_id: str
    municipality_code: str
    kind: CertificateKind
    consent: Consent
    card: CardFilesIn
    # The kiosk's nonce key; the app's replay guard is its single-use challenge (C06) instead.
    replay_key: str | None = None
    # 海外用 by app: the passport's MRZ (TD3) as the app read it.
    passport_mrz: str | None = None


@dataclass(frozen=True, slots=True)
class Issued:
    """A signed certificate, recorded in VRS; kept only until the reply is built (C08)."""

    content: CertificateContent
    signed: CertificateResult
    municipality: MunicipalityEntry


def new_certificate_id() -> str:
    """A fresh random certificate id (60 bits)."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(12))


class IssuanceService:
    """Runs the pipeline for one application at a time; holds clients, never data."""

    def __init__(
        self,
        settings: Settings,
        center: Center,
        card_keys: CaKeyTable,
        vrs: VrsClient,
        signer: SignerClient,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.settings = settings
        self.center = center
        self.card_keys = card_keys
        self.vrs = vrs
        self.signer = signer
        self.clock = clock or center.clock
        self.request_policy = rules.request_policy(center.settings, center.hours)
        self.record_policy = rules.record_policy(settings.center)
        self.vrs_breaker = breaker_for("vrs", settings)
        self.signer_breaker = breaker_for("signer", settings)
        self.vaccines = vaccines.VaccineTable(settings.signer.vaccines)
        self.zone = ZoneInfo(settings.center.timezone)
        self.daily_refusals = DailyRefusals(center.store, settings.center, self.clock)
        self.card_use = CardUseMonitor.from_settings(
            settings, center.store, self.clock, on_alert=center.alerts.card_data_reuse
        )

    def issue(self, kiosk: KioskEntry, request: CertificateRequest) -> CertificateIssued:
        """Issue a certificate to a kiosk, or raise :class:`VaxcertError` (public reason)."""
        issued = self.issue_application(
            Application(
                channel="kiosk",
                terminal_id=kiosk.kiosk_id,
                municipality_code=request.municipality_code,
                kind=request.kind,
                consent=request.consent,
                card=request.card,
                replay_key=f"nonce:{kiosk.kiosk_id}:{request.nonce}",
            )
        )
        return self.reply(issued)

    def issue_application(self, application: Application) -> Issued:
        """Issue one certificate (kiosk or app) or raise :class:`VaxcertError`."""
        try:
            issued = self._issue(application)
        except VaxcertError as refusal:
            # Live, by the public code only: a category here would name the rule the moment a
            # resident was refused (C08); sensitive categories go to the daily aggregates.
            metrics.REFUSALS.labels(refusal.code).inc()
            self.center.tallies.refused(application.municipality_code, refusal.code)
            # C21, per terminal (a kiosk id, or "app:" + an app instance id).
            if refusal.status < 500:  # what residents are refused, not our outages
                self.center.alerts.observe("kiosk_refusals", application.terminal_id)
            if isinstance(refusal, CardDataError):  # C03 failed: copied or forged card files
                self.center.alerts.observe("card_signature_failures", application.terminal_id)
            raise
        metrics.ISSUANCES.labels(
            issued.municipality.code, issued.content.kind, application.channel
        ).inc()
        self.center.tallies.issued(issued.municipality.code)
        return issued

    def _guarded(self, breaker: CircuitBreaker, target: str, call: Callable[[], T]) -> T:
        """:func:`guarded`, with outages of ``target`` fed to the C21 relay alert."""
        try:
            return guarded(breaker, target, call)
        except VaxcertError as exc:
            # Like the breaker: a call never sent because this request ran out of time (an
            # overloaded center) says nothing about the peer.
            if exc.code == "service_unavailable" and not isinstance(exc, NoTimeLeftError):
                self.center.alerts.observe("relay_errors", target)
            raise

    def _issue(self, application: Application) -> Issued:
        now = self.clock()
        # Hours, maintenance, participation (C05) and consent (C07), before anything else.
        gate = self.request_policy.verify(
            rules.RequestFacts(
                at=now,
                municipality_code=application.municipality_code,
                consent_accepted=application.consent.accepted,
                terms_version=application.consent.terms_version,
            )
        )
        if isinstance(gate, Failure):
            refusal = rules.one_reason(gate, rules.REQUEST_PRECEDENCE)
            raise VaxcertError(refusal.code, refusal.detail)
        municipality = self.center.participating(application.municipality_code)
        if application.replay_key is not None and not self.center.store.add(
            application.replay_key, self.center.settings.nonce_ttl_seconds
        ):
            raise VaxcertError("request_replayed")
        mrz = None
        if application.passport_mrz is not None:
            mrz = _checked_passport(application.passport_mrz, now.astimezone(self.zone).date())
        # C03: the one check of the card; kiosks and the app pass the files on as read.
        files = CardFiles.from_json(application.card.model_dump())
        card = verify_card_files(files, self.card_keys)
        # C21: counted once the files are genuine, before VRS is asked.
        use = None
        if self.card_use is not None:
            use = self.card_use.observe(application.terminal_id, municipality.code, files.ef0003)
            if self.card_use.refuses(use):
                self.daily_refusals.count("card_use")
                raise RuleRefusedError("counter_required")
        match = self._query(card, municipality, application.kind, application.channel)
        if mrz is not None:
            _passport_matches(mrz, card, match)
        verdict = self.record_policy.verify(_facts(match, application.kind, mrz is not None))
        if isinstance(verdict, Failure):
            for finding in verdict.reasons:
                if finding.code == "counter_required":
                    self.daily_refusals.count(rules.category(finding))
            # The public code only: which rule failed (e.g. a support measure) stays inside.
            raise RuleRefusedError(rules.one_reason(verdict, rules.RECORD_PRECEDENCE).code)
        content = self._content(card, match, municipality, application.kind, now, mrz)
        signed = self._guarded(
            self.signer_breaker, "signer", lambda: self.signer.certificates(content)
        )
        self._record(match, municipality, content, application.channel)
        if mrz is not None:
            # Items 25-29 (C20): a later kiosk 海外用 application can use the passport on file.
            self._store_passport(match, municipality, mrz)
        if self.card_use is not None and use is not None:
            self.card_use.issued(use)
        return Issued(content, signed, municipality)

    def _query(
        self,
        card: CardRead,
        municipality: MunicipalityEntry,
        kind: CertificateKind,
        channel: Channel,
    ) -> QueryMatch:
        try:
            query = QueryRequest(
                municipality_code=municipality.code,
                my_number=card.my_number,
                name=card.name,
                birth_date=card.birth_date,
                certificate_kind=kind,
                channel=channel,
            )
        except ValidationError:
            # A genuine card whose data VRS cannot take (e.g. a name over 100 characters): the
            # counter can help. The error quotes the card's data, so it is neither logged nor
            # chained (C08).
            log.warning("card data does not fit the VRS query")
            self.daily_refusals.count("card_content")
            raise RuleRefusedError("counter_required") from None
        answer = self._guarded(self.vrs_breaker, "vrs", lambda: self.vrs.query(query))
        if isinstance(answer, QueryNoMatch):
            raise VaxcertError("no_vaccination_record")
        if isinstance(answer, QueryIdentityMismatch):
            raise VaxcertError("record_mismatch")
        return answer

    def _content(
        self,
        card: CardRead,
        match: QueryMatch,
        municipality: MunicipalityEntry,
        kind: str,
        now: dt.datetime,
        mrz: passport.MrzPassport | None = None,
    ) -> CertificateContent:
        family, _, given = card.name.partition("\u3000")
        holder: dict[str, object] = {
            "name": PersonName(family=family, given=given or None),
            "birth_date": card.birth_date,
        }
        if kind == "overseas" and mrz is not None:
            # The passport the app just read is the one the resident travels with.
            holder["name_roman"] = RomanName(family=mrz.family_roman, given=mrz.given_roman or None)
            holder["nationality"] = mrz.nationality
            holder["passport_number"] = mrz.number
        elif kind == "overseas" and match.passport is not None:
            holder["name_roman"] = RomanName(
                family=match.passport.family_roman, given=match.passport.given_roman or None
            )
            holder["nationality"] = match.passport.nationality
            holder["passport_number"] = match.passport.number
        try:
            return CertificateContent(
                kind=kind,
                certificate_id=new_certificate_id(),
                issue_date=now.astimezone(self.zone).date(),
                municipality=Municipality(
                    code=municipality.code,
                    name_ja=municipality.name_ja,
                    name_en=municipality.name_en,
                ),
                holder=Holder(**holder),
                doses=[
                    Dose(
                        date=d.date,
                        product=d.product_key,
                        lot=d.lot_number,
                        dose_number=d.dose_number,
                    )
                    for d in match.doses
                ],
            )
        except ValueError:
            # The record cannot be expressed as a certificate (e.g. a name the profile refuses):
            # the counter can help; the cause stays out of the message (C08).
            log.warning("record does not fit the certificate profile")
            self.daily_refusals.count("profile")
            raise RuleRefusedError("counter_required") from None

    def _record(
        self,
        match: QueryMatch,
        municipality: MunicipalityEntry,
        content: CertificateContent,
        channel: Channel,
    ) -> None:
        request = IssuanceRequest(
            municipality_code=municipality.code,
            record_id=match.record_id,
            certificate_id=content.certificate_id,
            issued_on=content.issue_date,
            certificate_kind=content.kind,
            channel=channel,
        )
        self._idempotent(lambda: self.vrs.record_issuance(request))

    def _store_passport(
        self, match: QueryMatch, municipality: MunicipalityEntry, mrz: passport.MrzPassport
    ) -> None:
        request = PassportRequest(
            municipality_code=municipality.code,
            record_id=match.record_id,
            passport=_vrs_passport(mrz),
        )
        self._idempotent(lambda: self.vrs.store_passport(request))

    def _idempotent(self, call: Callable[[], object]) -> None:
        """A VRS write that may be repeated (same certificate id, same passport): retry once."""
        for attempt in range(_ISSUANCE_ATTEMPTS):
            try:
                self._guarded(self.vrs_breaker, "vrs", call)
                return
            except VaxcertError as exc:
                if exc.code != "service_unavailable" or attempt + 1 == _ISSUANCE_ATTEMPTS:
                    raise

    def reply(self, issued: Issued) -> CertificateIssued:
        """Display fields and QR contents of ``issued`` (never the My Number, C22)."""
        return certificate_issued(issued.content, issued.signed, issued.municipality, self.vaccines)


def certificate_issued(
    content: CertificateContent,
    signed: CertificateResult,
    municipality: MunicipalityEntry,
    table: vaccines.VaccineTable,
) -> CertificateIssued:
    """The kiosk's reply for a signed certificate: display fields (names from the vaccine table)
    and the QR contents; also what the certificate PDF is rendered from."""
    doses = []
    for dose in content.doses_in_order():
        product = table[dose.product]
        doses.append(
            DoseView(
                dose_number=dose.dose_number,
                date=dose.date,
                product_ja=product.name_ja,
                product_en=product.name_en,
                maker_ja=product.maker_ja,
                maker_en=product.maker_en,
                lot=dose.lot,
                country=dose.country,
            )
        )
    holder = content.holder
    return CertificateIssued(
        certificate_id=content.certificate_id,
        kind=content.kind,
        issue_date=content.issue_date,
        municipality=IssuedMunicipality(
            code=municipality.code,
            name_ja=municipality.name_ja,
            name_en=municipality.name_en,
            mayor_ja=municipality.mayor_ja,
            fee_yen=municipality.fee_yen,
        ),
        holder=HolderView(
            name=holder.name.joined(),
            name_roman=holder.name_roman.joined() if holder.name_roman else None,
            birth_date=holder.birth_date,
            nationality=holder.nationality,
            passport_number=holder.passport_number,
        ),
        doses=doses,
        shc_qr_text=signed.shc.qr_text,
        vdsnc=signed.vdsnc.document if signed.vdsnc else None,
    )


def _facts(match: QueryMatch, kind: str, passport_read: bool = False) -> rules.RecordFacts:
    flags = match.flags
    return rules.RecordFacts(
        kind=kind,
        support_measure=flags.support_measure,
        alias_notation=flags.alias_notation,
        moved_out=flags.moved_out,
        deceased=flags.deceased,
        # The app reads the passport itself: its MRZ stands in for passport data on file.
        passport_on_file=match.passport is not None or passport_read,
        dose_count=len(match.doses),
    )


def _vrs_passport(mrz: passport.MrzPassport) -> Passport:
    return Passport(
        family_roman=mrz.family_roman,
        given_roman=mrz.given_roman,
        nationality=mrz.nationality,
        number=mrz.number,
    )


def _checked_passport(text: str, today: dt.date) -> passport.MrzPassport:
    """The MRZ's passport: check digits, a known nationality, not expired, and data VRS and the
    certificate profile can hold (``mrz_invalid`` / ``passport_expired``)."""
    mrz = passport.parse_td3(text, today)
    if mrz.expiry_date < today:
        raise VaxcertError("passport_expired")
    try:
        _vrs_passport(mrz)
        RomanName(family=mrz.family_roman, given=mrz.given_roman or None)
    except ValueError:
        # The error would quote the name: neither logged nor chained (C08).
        raise VaxcertError("mrz_invalid", "name or number outside the profile") from None
    return mrz


def _passport_matches(mrz: passport.MrzPassport, card: CardRead, match: QueryMatch) -> None:
    """The MRZ belongs to the card holder and agrees with the record's roman name (item 27).

    Without passport data on file the record has no roman name: the birth date must agree with
    the card, and the MRZ's name becomes the record's (docs/app-api.md).
    """
    if mrz.birth_date != card.birth_date:
        raise VaxcertError("passport_mismatch", "birth date")
    on_file = match.passport
    if on_file is not None and (
        (on_file.family_roman, on_file.given_roman, on_file.nationality)
        != (mrz.family_roman, mrz.given_roman, mrz.nationality)
    ):
        raise VaxcertError("passport_mismatch", "roman name or nationality")
