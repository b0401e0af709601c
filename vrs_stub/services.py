"""The VRS stub's domain logic: the center's relay calls and the municipal staff operations.

No Flask here. Every call opens one transaction, works inside one municipality's partition
(C12, C19) and leaves an operation log entry (C15); each relay reply that provides data leaves a
provision record (C16). Nothing derived from a My Number that did not match is written or logged
(C14).
"""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError

from vaxcert.contracts.vrs_relay import (
    Dose,
    Flags,
    IssuanceRequest,
    IssuanceResponse,
    Passport,
    PassportRequest,
    PassportResponse,
    QueryIdentityMismatch,
    QueryMatch,
    QueryNoMatch,
    QueryRequest,
)
from vaxcert.errors import VaxcertError
from vrs_stub import csvio, schema
from vrs_stub.models import IssuanceRecord, PassportData
from vrs_stub.store import Partition, StaffPrincipal, Store

log = logging.getLogger(__name__)

# 別添2 items a relay reply provides: doses (17 接種回, 18 接種日, 19 ワクチンの種類, 22 ロット番号,
# 25 ワクチン種類, 26 製品名) and the flags derived from 11-13; 27 only with passport data.
_ITEMS_DOSES = "11,12,13,17,18,19,22,25,26"
_ITEMS_PASSPORT = ",27"

QueryResult = QueryMatch | QueryNoMatch | QueryIdentityMismatch


def normalise_name(name: str) -> str:
    """Compare names as the card and the record write them: NFKC, no spaces of any width."""
    folded = unicodedata.normalize("NFKC", name)
    return "".join(ch for ch in folded if not ch.isspace())


@dataclass(frozen=True)
class Caller:
    """Who is calling: the client certificate's CN and this request's id."""

    actor: str
    request_id: str


class RelayService:
    """What the certificate-issuance center may ask of the VRS over LGWAN."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def query(self, request: QueryRequest, caller: Caller) -> QueryResult:
        """Look a person up in one municipality's partition and provide the certificate data."""
        code = request.municipality_code
        overseas = request.certificate_kind == "overseas"
        # Autocommit: the lookup is one SELECT and the provision record one INSERT.
        with self.store.autocommit() as conn:
            partition = self.store.partition(conn, code, cached=True)
            found = None
            if partition is not None:
                # C12: only this partition is searched; the blind index uses its own key.
                found = partition.lookup(request.my_number, with_passport=overseas)
                if found is None:
                    # The cached key version may be stale after a rotation: check once more.
                    fresh = self.store.partition(conn, code)
                    if fresh is not None and fresh.keys.version != partition.keys.version:
                        partition = fresh
                        found = partition.lookup(request.my_number, with_passport=overseas)
            if partition is None or found is None:
                # C14: a miss keeps nothing derived from the number: the log says only "no_match".
                self._log_query(conn, caller, code, "no_match", "")
                return QueryNoMatch()
            identity = found.identity
            card_name_matches = normalise_name(request.name) == normalise_name(
                identity.family_kanji + identity.given_kanji
            )
            if not card_name_matches or request.birth_date != identity.birth_date:
                self._log_query(
                    conn, caller, code, "identity_mismatch", f"record={found.record_id}"
                )
                return QueryIdentityMismatch()
            doses = [
                Dose(
                    dose_number=v.dose_number,
                    date=v.vaccinated_on,
                    product_key=v.product_key,
                    vaccine_type=v.vaccine_type,
                    product_name=v.product_name,
                    maker=v.maker,
                    cvx=v.cvx,
                    lot_number=v.lot_number,
                )
                for v in found.doses
                if v.vaccinated_on is not None
                and v.product_key
                and v.vaccine_type
                and v.product_name
                and v.maker
                and v.cvx
                and v.lot_number
            ]
            passport = None
            if found.passport is not None:  # only looked up for 海外用 (C20)
                passport = Passport(
                    family_roman=found.passport.family_roman,
                    given_roman=found.passport.given_roman,
                    nationality=found.passport.nationality,
                    number=found.passport.number,
                )
            items = _ITEMS_DOSES + (_ITEMS_PASSPORT if passport is not None else "")
            with self.store.write_turn():
                provision_id = partition.add_provision(  # C16
                    caller.actor,
                    found.record_id,
                    request.certificate_kind,
                    request.channel,
                    items,
                    caller.request_id,
                )
            # A match is logged by its provision record (who, when, which record): no second row.
            return QueryMatch(
                record_id=found.record_id,
                provision_id=provision_id,
                flags=Flags(
                    support_measure=found.support_measure,
                    alias_notation=found.alias_notation,
                    moved_out=found.residency == "moved_out",
                    deceased=found.residency == "deceased",
                    passport_on_file=found.passport_on_file,
                ),
                doses=doses,
                passport=passport,
            )

    def _log_query(
        self, conn: Connection, caller: Caller, code: str, outcome: str, detail: str
    ) -> None:
        """A query that provided nothing leaves an operation log entry (C15), in autocommit."""
        with self.store.write_turn():
            self.store.log_operation(
                conn, "center", caller.actor, code, "query", outcome, detail, caller.request_id
            )

    def record_issuance(self, request: IssuanceRequest, caller: Caller) -> IssuanceResponse:
        """Record certificate id, issue date, kind and channel (C20); idempotent on the id."""
        issued = IssuanceRecord(
            request.certificate_id,
            request.issued_on,
            request.certificate_kind,
            request.channel,
        )
        try:
            return self._record_issuance(
                request.municipality_code, request.record_id, issued, caller
            )
        except VaxcertError as refusal:
            self._log_refusal(caller, request.municipality_code, "issuance", refusal)
            raise

    def _log_refusal(self, caller: Caller, code: str, action: str, refusal: VaxcertError) -> None:
        # The refused call's transaction rolled back; its operation log entry gets its own (C15).
        self.store.log_operation_alone(
            "center", caller.actor, code, action, refusal.code, "", caller.request_id
        )

    def _record_issuance(
        self, code: str, record_id: str, issued: IssuanceRecord, caller: Caller
    ) -> IssuanceResponse:
        with self.store.transaction() as conn:
            # The cached key version suffices: an issuance record holds no ciphertext.
            partition = self.store.partition(conn, code, cached=True)
            if partition is None:
                raise VaxcertError("vrs_record_not_found")
            if not partition.add_issuance(record_id, issued):
                # Nothing inserted: no such record here, a repeat, or an id taken (ids are global).
                if not partition.exists(record_id):
                    raise VaxcertError("vrs_record_not_found")
                return self._repeat(partition, record_id, issued)
            self.store.log_operation(
                conn,
                "center",
                caller.actor,
                code,
                "issuance",
                "recorded",
                f"record={record_id} kind={issued.kind} channel={issued.channel}",
                caller.request_id,
            )
            return IssuanceResponse(result="recorded", certificate_id=issued.certificate_id)

    @staticmethod
    def _repeat(partition: Partition, record_id: str, issued: IssuanceRecord) -> IssuanceResponse:
        if partition.find_issuance(issued.certificate_id, record_id) == issued:
            return IssuanceResponse(result="already_recorded", certificate_id=issued.certificate_id)
        raise VaxcertError("vrs_issuance_conflict")

    def store_passport(self, request: PassportRequest, caller: Caller) -> PassportResponse:
        """Put passport data from the app (MRZ) on file for later kiosk 海外用 issuance (C20)."""
        try:
            return self._store_passport(request, caller)
        except VaxcertError as refusal:
            self._log_refusal(caller, request.municipality_code, "passport", refusal)
            raise

    def _store_passport(self, request: PassportRequest, caller: Caller) -> PassportResponse:
        code = request.municipality_code
        with self.store.transaction() as conn:
            partition = self.store.partition(conn, code)
            if partition is None or not partition.exists(request.record_id):
                raise VaxcertError("vrs_record_not_found")
            p = request.passport
            partition.store_passport(
                request.record_id,
                PassportData(p.family_roman, p.given_roman, p.nationality, p.number),
                source="app",
            )
            self.store.log_operation(
                conn,
                "center",
                caller.actor,
                code,
                "passport",
                "stored",
                f"record={request.record_id}",
                caller.request_id,
            )
        return PassportResponse()


class StaffService:
    """What a municipality's own staff may do with its own partition (C15, C18, C19)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def authorise(
        self, principal: StaffPrincipal, code: str, role: str, action: str, caller: Caller
    ) -> None:
        """Refuse (and log) any call outside the token's municipality or roles (C19)."""
        if principal.municipality_code != code or role not in principal.roles:
            self.store.log_operation_alone(
                "staff",
                _actor(principal, caller),
                code,
                action,
                "denied",
                "scope" if principal.municipality_code != code else f"role {role} missing",
                caller.request_id,
            )
            raise VaxcertError("vrs_staff_scope_denied")

    def import_csv(
        self, principal: StaffPrincipal, code: str, data: bytes, caller: Caller
    ) -> dict[str, int]:
        """Validate every line, then commit all records or none (errors name lines, not values)."""
        self.authorise(principal, code, "import", "import", caller)
        parsed = csvio.parse(data, code)
        if parsed.errors:
            self._log_import_rejected(principal, code, f"errors={len(parsed.errors)}", caller)
            raise VaxcertError(
                "vrs_import_invalid",
                errors=[e.as_json() for e in parsed.errors[: csvio.MAX_REPORTED_ERRORS]],
                error_count=len(parsed.errors),
            )
        try:
            return self._import(principal, code, parsed.records, caller)
        except DBAPIError as exc:
            if not _lost_a_race(exc):
                raise
            # Another import wrote the same person or address number after our snapshot
            # (PostgreSQL lets both run); this one rolled back whole. The error's text quotes
            # key values (a blind index), so only the code is kept (C08).
            self._log_import_rejected(principal, code, "concurrent import", caller)
            raise VaxcertError("vrs_import_conflict") from None

    def _log_import_rejected(
        self, principal: StaffPrincipal, code: str, detail: str, caller: Caller
    ) -> None:
        """A refused import leaves its own operation log entry; its work rolled back (C15)."""
        self.store.log_operation_alone(
            "staff",
            _actor(principal, caller),
            code,
            "import",
            "rejected",
            detail,
            caller.request_id,
        )

    def _import(
        self,
        principal: StaffPrincipal,
        code: str,
        records: list[csvio.ParsedRecord],
        caller: Caller,
    ) -> dict[str, int]:
        # One snapshot: the My Number and address-number checks must see the same records, or a
        # concurrent import committing in between reads as "address used by another record".
        with self.store.transaction(snapshot=True) as conn:
            partition = self.store.partition(conn, code)
            if partition is None:
                raise VaxcertError("vrs_record_not_found")
            existing = partition.record_ids_by_my_number(
                r.record.identity.my_number for r in records
            )
            by_address = partition.record_ids_by_address_number(
                r.record.address_number for r in records
            )
            errors = csvio.check_against_existing(records, existing, by_address)
            if errors:
                conn.rollback()
                self._log_import_rejected(principal, code, f"errors={len(errors)}", caller)
                raise VaxcertError(
                    "vrs_import_invalid",
                    errors=[e.as_json() for e in errors[: csvio.MAX_REPORTED_ERRORS]],
                    error_count=len(errors),
                )
            new, replaced = [], 0
            for parsed_record in records:
                record = parsed_record.record
                hit = existing.get(record.identity.my_number)
                if hit is None:
                    new.append(record)
                else:
                    record.record_id = hit[0]
                    partition.replace(record)
                    replaced += 1
            partition.insert(new)
            self.store.log_operation(
                conn,
                "staff",
                _actor(principal, caller),
                code,
                "import",
                "committed",
                f"created={len(new)} replaced={replaced}",
                caller.request_id,
            )
        return {"created": len(new), "replaced": replaced}

    def export_csv(self, principal: StaffPrincipal, code: str, caller: Caller) -> str:
        """The partition as CSV without any My Number (C18)."""
        self.authorise(principal, code, "export", "export", caller)
        with self.store.transaction() as conn:
            partition = self.store.partition(conn, code)
            if partition is None:
                raise VaxcertError("vrs_record_not_found")
            body, count = csvio.export(partition.iter_records())
            self.store.log_operation(
                conn,
                "staff",
                _actor(principal, caller),
                code,
                "export",
                "ok",
                f"records={count}",
                caller.request_id,
            )
        return body

    def delete_record(
        self, principal: StaffPrincipal, code: str, record_id: str, caller: Caller
    ) -> None:
        """Delete one record of the caller's own municipality (C19)."""
        self.authorise(principal, code, "delete", "delete", caller)
        with self.store.transaction() as conn:
            partition = self.store.partition(conn, code)
            deleted = partition is not None and partition.delete(record_id)
            self.store.log_operation(
                conn,
                "staff",
                _actor(principal, caller),
                code,
                "delete",
                "deleted" if deleted else "not_found",
                f"record={record_id}",
                caller.request_id,
            )
        if not deleted:
            raise VaxcertError("vrs_record_not_found")

    def logs(
        self, principal: StaffPrincipal, code: str, which: str, caller: Caller
    ) -> list[dict[str, object]]:
        """The newest provision (C16) or operation (C15) records of the caller's municipality."""
        self.authorise(principal, code, "logs", f"read_{which}", caller)
        table = schema.provision if which == "provisions" else schema.operation
        with self.store.transaction(write=False) as conn:
            partition = self.store.partition(conn, code)
            rows = partition.log_rows(table) if partition is not None else []
        with self.store.transaction() as conn:
            self.store.log_operation(
                conn,
                "staff",
                _actor(principal, caller),
                code,
                f"read_{which}",
                "ok",
                f"rows={len(rows)}",
                caller.request_id,
            )
        return [
            {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}
            for row in rows
        ]


def _lost_a_race(exc: DBAPIError) -> bool:
    """A unique key taken meanwhile, or PostgreSQL's serialization failure (SQLSTATE 40001)."""
    return isinstance(exc, IntegrityError) or getattr(exc.orig, "sqlstate", None) == "40001"


def _actor(principal: StaffPrincipal, caller: Caller) -> str:
    return f"{principal.staff_id}@{caller.actor}"
