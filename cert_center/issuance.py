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
from typing import TypeVar
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from cert_center import metrics, rules
from cert_center.card_use import CardUseMonitor
from cert_center.clients import SignerClient, VrsClient, breaker_for, guarded
from cert_center.refusal_days import DailyRefusals
from cert_center.services import Center
from vaxcert import vaccines
from vaxcert.card.errors import CardDataError
from vaxcert.card.models import CardFiles, CardRead
from vaxcert.card.verify import CaKeyTable, verify_card_files
from vaxcert.config import KioskEntry, MunicipalityEntry, Settings
from vaxcert.contracts.kiosk_api import (
    CertificateIssued,
    CertificateRequest,
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
    IssuanceRequest,
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


def new_certificate_id() -> str:
    """A fresh random certificate id (60 bits)."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(12))


class IssuanceService:
    """Runs the pipeline for one kiosk request at a time; holds clients, never data."""

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
        """Issue one certificate or raise :class:`VaxcertError` with the public reason."""
        try:
            issued = self._issue(kiosk, request)
        except VaxcertError as refusal:
            # Live, by the public code only: a category here would name the rule the moment a
            # resident was refused (C08); sensitive categories go to the daily aggregates.
            metrics.REFUSALS.labels(refusal.code).inc()
            self.center.tallies.refused(request.municipality_code, refusal.code)
            if refusal.status < 500:  # C21: what residents are refused, not our outages
                self.center.alerts.observe("kiosk_refusals", kiosk.kiosk_id)
            if isinstance(refusal, CardDataError):  # C03 failed: copied or forged card files
                self.center.alerts.observe("card_signature_failures", kiosk.kiosk_id)
            raise
        metrics.ISSUANCES.labels(issued.municipality.code, issued.kind, "kiosk").inc()
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

    def _issue(self, kiosk: KioskEntry, request: CertificateRequest) -> CertificateIssued:
        now = self.clock()
        # Hours, maintenance, participation (C05) and consent (C07), before anything else.
        gate = self.request_policy.verify(
            rules.RequestFacts(
                at=now,
                municipality_code=request.municipality_code,
                consent_accepted=request.consent.accepted,
                terms_version=request.consent.terms_version,
            )
        )
        if isinstance(gate, Failure):
            refusal = rules.one_reason(gate, rules.REQUEST_PRECEDENCE)
            raise VaxcertError(refusal.code, refusal.detail)
        municipality = self.center.participating(request.municipality_code)
        if not self.center.store.add(
            f"nonce:{kiosk.kiosk_id}:{request.nonce}", self.center.settings.nonce_ttl_seconds
        ):
            raise VaxcertError("request_replayed")
        # C03: the one check of the card; kiosks pass the files on as read.
        files = CardFiles.from_json(request.card.model_dump())
        card = verify_card_files(files, self.card_keys)
        # C21: counted once the files are genuine, before VRS is asked.
        use = None
        if self.card_use is not None:
            use = self.card_use.observe(kiosk.kiosk_id, municipality.code, files.ef0003)
            if self.card_use.refuses(use):
                self.daily_refusals.count("card_use")
                raise RuleRefusedError("counter_required")
        match = self._query(card, municipality, request.kind)
        verdict = self.record_policy.verify(_facts(match, request.kind))
        if isinstance(verdict, Failure):
            for finding in verdict.reasons:
                if finding.code == "counter_required":
                    self.daily_refusals.count(rules.category(finding))
            # The public code only: which rule failed (e.g. a support measure) stays inside.
            raise RuleRefusedError(rules.one_reason(verdict, rules.RECORD_PRECEDENCE).code)
        content = self._content(card, match, municipality, request.kind, now)
        signed = self._guarded(
            self.signer_breaker, "signer", lambda: self.signer.certificates(content)
        )
        self._record(match, municipality, content)
        if self.card_use is not None and use is not None:
            self.card_use.issued(use)
        return self._reply(content, signed, municipality)

    def _query(
        self, card: CardRead, municipality: MunicipalityEntry, kind: CertificateKind
    ) -> QueryMatch:
        try:
            query = QueryRequest(
                municipality_code=municipality.code,
                my_number=card.my_number,
                name=card.name,
                birth_date=card.birth_date,
                certificate_kind=kind,
                channel="kiosk",
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
    ) -> CertificateContent:
        family, _, given = card.name.partition("\u3000")
        holder: dict[str, object] = {
            "name": PersonName(family=family, given=given or None),
            "birth_date": card.birth_date,
        }
        if kind == "overseas" and match.passport is not None:
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
        self, match: QueryMatch, municipality: MunicipalityEntry, content: CertificateContent
    ) -> None:
        request = IssuanceRequest(
            municipality_code=municipality.code,
            record_id=match.record_id,
            certificate_id=content.certificate_id,
            issued_on=content.issue_date,
            certificate_kind=content.kind,
            channel="kiosk",
        )
        for attempt in range(_ISSUANCE_ATTEMPTS):
            try:
                self._guarded(self.vrs_breaker, "vrs", lambda: self.vrs.record_issuance(request))
                return
            except VaxcertError as exc:
                if exc.code != "service_unavailable" or attempt + 1 == _ISSUANCE_ATTEMPTS:
                    raise

    def _reply(
        self,
        content: CertificateContent,
        signed: CertificateResult,
        municipality: MunicipalityEntry,
    ) -> CertificateIssued:
        return certificate_issued(content, signed, municipality, self.vaccines)


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


def _facts(match: QueryMatch, kind: str) -> rules.RecordFacts:
    flags = match.flags
    return rules.RecordFacts(
        kind=kind,
        support_measure=flags.support_measure,
        alias_notation=flags.alias_notation,
        moved_out=flags.moved_out,
        deceased=flags.deceased,
        passport_on_file=match.passport is not None,
        dose_count=len(match.doses),
    )
