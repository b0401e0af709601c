"""Person records: persons, moves, tickets, vaccinations and passport data of one partition.

Holds how a :class:`~vrs_stub.models.PersonRecord` becomes table rows and back: the personal
values as AES-GCM documents sealed with the municipality's data key and bound to their row, the My
Number only as that municipality's blind index (C13); a person's flags and moves as one
:class:`PersonStatus` document of a fixed size (C13); :class:`RowBuilder` (pure, so seeding can
build rows in worker processes); and :class:`PersonRecords`, the reads and writes of records inside
one partition. Every statement filters on the partition's municipality code and refuses rows of
another (C12); deleting a record removes everything under it, and only its own municipality can
(C19). Passport data is kept only for 海外用 certificates (C20).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, bindparam, delete, func, select, update

from vrs_stub import schema
from vrs_stub.crypto import PartitionKeys
from vrs_stub.models import (
    Identity,
    IssuanceRecord,
    Move,
    PassportData,
    PersonRecord,
    Residency,
    Ticket,
    Vaccination,
)
from vrs_stub.store.engine import DIALECT_INSERT, bulk_insert, utcnow
from vrs_stub.store.keyring import Keyring

_P, _PP, _V = schema.person.c, schema.passport.c, schema.vaccination.c
# The relay's one round trip, built once and bound to a municipality code (C12): the person,
# their passport row if any, and their completed doses.
_LOOKUP = (
    select(
        _P.record_id,
        _P.key_version,
        _P.identity_ct,
        _P.status_ct,
        _PP.passport_ct,
        _PP.key_version.label("passport_key_version"),
        _V.dose_number,
        _V.vaccinated_on,
        _V.product_key,
        _V.vaccine_type,
        _V.product_name,
        _V.maker,
        _V.cvx,
        _V.lot_number,
    )
    .select_from(
        schema.person.outerjoin(
            schema.passport,
            (_PP.record_id == _P.record_id) & (_PP.municipality_code == _P.municipality_code),
        ).outerjoin(
            schema.vaccination,
            (_V.record_id == _P.record_id)
            & (_V.municipality_code == _P.municipality_code)
            & (_V.status == "done"),
        )
    )
    .where(_P.municipality_code == bindparam("code"), _P.my_number_bidx == bindparam("bidx"))
    .order_by(_V.dose_number)
)

# Tables a new record fills, parents before children.
INSERT_ORDER = (
    schema.person,
    schema.ticket,
    schema.vaccination,
    schema.passport,
    schema.issuance,
)


@dataclass(frozen=True)
class Lookup:
    """What a relay query needs of one person (decrypted, in memory only for the request)."""

    record_id: str
    identity: Identity
    support_measure: bool
    alias_notation: bool
    residency: Residency
    passport: PassportData | None
    passport_on_file: bool
    doses: list[Vaccination]


# --- (de)serialising the encrypted documents --------------------------------------------------


def _dump(data: dict[str, Any]) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def _identity_doc(identity: Identity) -> bytes:
    return _dump(
        {
            "my_number": identity.my_number,
            "family_kanji": identity.family_kanji,
            "given_kanji": identity.given_kanji,
            "family_kana": identity.family_kana,
            "given_kana": identity.given_kana,
            "birth_date": identity.birth_date.isoformat(),
            "sex": identity.sex,
            "address": identity.address,
            "alias_name": identity.alias_name,
        }
    )


def _identity_from(blob: bytes) -> Identity:
    data = json.loads(blob)
    data["birth_date"] = dt.date.fromisoformat(data["birth_date"])
    return Identity(**data)


def _passport_doc(passport: PassportData) -> bytes:
    return _dump(
        {
            "family_roman": passport.family_roman,
            "given_roman": passport.given_roman,
            "nationality": passport.nationality,
            "number": passport.number,
        }
    )


def _passport_from(blob: bytes) -> PassportData:
    return PassportData(**json.loads(blob))


# A status document is padded with spaces to a multiple of this many bytes. Unpadded, its length
# would tell true from false, one residency or classification from another and a person with a
# move from one without (C13); padded, every person with up to four moves has the same length.
STATUS_BLOCK = 256
STATUS_COLUMN = "person.status"  # the column label in the associated data


@dataclass(frozen=True)
class PersonStatus:
    """The flags and moves of a person, stored only as one sealed document (C13).

    A DV-protected (支援措置), moved-out, deceased or alias-annotated person must not stand out to
    anyone reading the database without the master key. No lookup needs them in the clear: the
    relay opens this document with the identity document of the person it finds.
    """

    support_measure: bool  # item 13 支援措置の有無
    alias_notation: bool  # 旧姓・別姓・別名 on the record (item 27)
    residency: Residency  # resident, moved_out or deceased (items 11, 12)
    classification: str  # item 14 分類区分
    moves: tuple[Move, ...]  # items 11, 12: 異動年月日, 異動事由

    @classmethod
    def of(cls, record: PersonRecord) -> PersonStatus:
        """The status of ``record`` as it is stored."""
        return cls(
            support_measure=record.support_measure,
            alias_notation=bool(record.identity.alias_name),
            residency=record.residency,
            classification=record.classification,
            moves=tuple(record.moves),
        )

    def document(self) -> bytes:
        """The plaintext to seal: JSON, padded with spaces to a multiple of STATUS_BLOCK."""
        doc = _dump(
            {
                "support_measure": self.support_measure,
                "alias_notation": self.alias_notation,
                "residency": self.residency,
                "classification": self.classification,
                "moves": [[m.moved_on.isoformat(), m.reason] for m in self.moves],
            }
        )
        return doc + b" " * (-len(doc) % STATUS_BLOCK)

    @classmethod
    def from_document(cls, blob: bytes) -> PersonStatus:
        """Parse an opened status document (JSON ignores the padding)."""
        data = json.loads(blob)
        return cls(
            support_measure=data["support_measure"],
            alias_notation=data["alias_notation"],
            residency=data["residency"],
            classification=data["classification"],
            moves=tuple(Move(dt.date.fromisoformat(on), reason) for on, reason in data["moves"]),
        )

    def seal(self, keys: PartitionKeys, record_id: str) -> bytes:
        """This status as ``record_id``'s ``status_ct``."""
        return keys.seal(self.document(), STATUS_COLUMN, record_id)

    @classmethod
    def open(cls, keys: PartitionKeys, blob: bytes, record_id: str) -> PersonStatus:
        """``record_id``'s ``status_ct`` opened; a value of another row or partition fails."""
        return cls.from_document(keys.open(blob, STATUS_COLUMN, record_id))


def _private_doc(vaccination: Vaccination) -> bytes | None:
    if vaccination.doctor is None and vaccination.note is None:
        return None
    return _dump({"doctor": vaccination.doctor, "note": vaccination.note})


class RowBuilder:
    """Turns records of one municipality into table rows, encrypting with that municipality's keys.

    Pure computation (no database), so seeding can build rows in worker processes.
    """

    def __init__(self, keys: PartitionKeys) -> None:
        self.keys = keys

    def rows_for(
        self, records: Iterable[PersonRecord], now: dt.datetime
    ) -> dict[str, list[dict[str, Any]]]:
        """Rows of every table for new ``records``, keyed by table name."""
        rows: dict[str, list[dict[str, Any]]] = {t.name: [] for t in INSERT_ORDER}
        code = self.keys.municipality
        for record in records:
            if record.municipality_code != code:
                raise ValueError("record belongs to another partition")  # C12
            rows[schema.person.name].append(self.person_row(record, now))
            self.child_rows(record, now, rows)
            for issued in record.issuances:
                rows[schema.issuance.name].append(
                    {
                        "certificate_id": issued.certificate_id,
                        "municipality_code": code,
                        "record_id": record.record_id,
                        "issued_on": issued.issued_on,
                        "kind": issued.kind,
                        "channel": issued.channel,
                        "recorded_at": now,
                    }
                )
        return rows

    def person_row(self, record: PersonRecord, now: dt.datetime) -> dict[str, Any]:
        """The ``vrs_person`` row of ``record``: identity sealed, My Number as a blind index."""
        keys = self.keys
        return {
            "record_id": record.record_id,
            "municipality_code": self.keys.municipality,
            "key_version": keys.version,
            "address_number": record.address_number,
            "my_number_bidx": keys.blind_index(record.identity.my_number),
            "identity_ct": keys.seal(
                _identity_doc(record.identity), "person.identity", record.record_id
            ),
            "status_ct": PersonStatus.of(record).seal(keys, record.record_id),
            "created_at": now,
            "updated_at": now,
        }

    def child_rows(
        self, record: PersonRecord, now: dt.datetime, rows: dict[str, list[dict[str, Any]]]
    ) -> None:
        """Append ``record``'s ticket, vaccination and passport rows to ``rows``."""
        keys, rid, code = self.keys, record.record_id, self.keys.municipality
        for t in record.tickets:
            rows[schema.ticket.name].append(
                {
                    "record_id": rid,
                    "dose_number": t.dose_number,
                    "municipality_code": code,
                    "ticket_ct": keys.seal(
                        t.ticket_number.encode(), "ticket", rid, str(t.dose_number)
                    ),
                    "issued_on": t.issued_on,
                    "reissued_on": t.reissued_on,
                }
            )
        for v in record.vaccinations:
            private = _private_doc(v)
            rows[schema.vaccination.name].append(
                {
                    "record_id": rid,
                    "dose_number": v.dose_number,
                    "municipality_code": code,
                    "status": v.status,
                    "vaccinated_on": v.vaccinated_on,
                    "product_key": v.product_key,
                    "vaccine_type": v.vaccine_type,
                    "product_name": v.product_name,
                    "maker": v.maker,
                    "cvx": v.cvx,
                    "lot_number": v.lot_number,
                    "place": v.place,
                    "private_ct": (
                        keys.seal(private, "vaccination.private", rid, str(v.dose_number))
                        if private is not None
                        else None
                    ),
                    "adverse_reaction_reported": v.adverse_reaction_reported,
                }
            )
        if record.passport is not None:
            rows[schema.passport.name].append(
                {
                    "record_id": rid,
                    "municipality_code": code,
                    "key_version": keys.version,
                    "passport_ct": keys.seal(_passport_doc(record.passport), "passport", rid),
                    "source": record.passport_source,
                    "updated_at": now,
                }
            )


class PartitionScope:
    """One municipality inside one transaction: what every statement of a partition is bound to.

    Every statement a partition runs names :attr:`code` (C12), and :attr:`keys` open only that
    municipality's ciphertexts (C13).
    """

    def __init__(self, conn: Connection, code: str, keys: PartitionKeys, keyring: Keyring) -> None:
        self.conn = conn
        self.code = code
        self.keys = keys
        self._keyring = keyring

    def _keys_for(self, version: int) -> PartitionKeys:
        if version == self.keys.version:
            return self.keys
        return self._keyring.get(self.conn, self.code, version)


class PersonRecords(PartitionScope):
    """Reads and writes of person records in one partition (C12, C13, C19)."""

    # --- reads ---

    def lookup(self, my_number: str, with_passport: bool) -> Lookup | None:
        """The person with this My Number in this partition, or None (no other one is read)."""
        bidx = self.keys.blind_index(my_number)
        rows = self.conn.execute(_LOOKUP, {"code": self.code, "bidx": bidx}).all()
        if not rows:
            return None
        row = rows[0]
        keys = self._keys_for(row.key_version)
        identity = _identity_from(keys.open(row.identity_ct, "person.identity", row.record_id))
        status = PersonStatus.open(keys, row.status_ct, row.record_id)
        passport = None
        if with_passport and row.passport_ct is not None:
            passport = _passport_from(
                self._keys_for(row.passport_key_version).open(
                    row.passport_ct, "passport", row.record_id
                )
            )
        return Lookup(
            record_id=row.record_id,
            identity=identity,
            support_measure=status.support_measure,
            alias_notation=status.alias_notation,
            residency=status.residency,
            passport=passport,
            passport_on_file=row.passport_ct is not None,
            doses=[
                Vaccination(
                    dose_number=r.dose_number,
                    status="done",
                    vaccinated_on=r.vaccinated_on,
                    product_key=r.product_key,
                    vaccine_type=r.vaccine_type,
                    product_name=r.product_name,
                    maker=r.maker,
                    cvx=r.cvx,
                    lot_number=r.lot_number,
                    place=None,
                )
                for r in rows
                if r.dose_number is not None
            ],
        )

    @staticmethod
    def _vaccination(row: Any, keys: PartitionKeys) -> Vaccination:
        doctor = note = None
        if row.private_ct is not None:
            doc = json.loads(
                keys.open(
                    row.private_ct, "vaccination.private", row.record_id, str(row.dose_number)
                )
            )
            doctor, note = doc["doctor"], doc["note"]
        return Vaccination(
            dose_number=row.dose_number,
            status=row.status,
            vaccinated_on=row.vaccinated_on,
            product_key=row.product_key,
            vaccine_type=row.vaccine_type,
            product_name=row.product_name,
            maker=row.maker,
            cvx=row.cvx,
            lot_number=row.lot_number,
            place=row.place,
            doctor=doctor,
            note=note,
            adverse_reaction_reported=row.adverse_reaction_reported,
        )

    def exists(self, record_id: str) -> bool:
        """True when ``record_id`` is a record of this partition."""
        p = schema.person.c
        found = self.conn.execute(
            select(p.record_id).where(p.municipality_code == self.code, p.record_id == record_id)
        ).first()
        return found is not None

    def record_ids_by_my_number(self, my_numbers: Iterable[str]) -> dict[str, tuple[str, str]]:
        """My Number -> (record id, address number) for those present in this partition."""
        by_bidx = {self.keys.blind_index(n): n for n in my_numbers}
        found: dict[str, tuple[str, str]] = {}
        p = schema.person.c
        keys = list(by_bidx)
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            rows = self.conn.execute(
                select(p.record_id, p.address_number, p.my_number_bidx).where(
                    p.municipality_code == self.code, p.my_number_bidx.in_(chunk)
                )
            )
            for row in rows:
                found[by_bidx[row.my_number_bidx]] = (row.record_id, row.address_number)
        return found

    def record_ids_by_address_number(self, numbers: Iterable[str]) -> dict[str, str]:
        """Address number -> record id for those present in this partition."""
        p = schema.person.c
        wanted = list(numbers)
        found: dict[str, str] = {}
        for start in range(0, len(wanted), 500):
            rows = self.conn.execute(
                select(p.address_number, p.record_id).where(
                    p.municipality_code == self.code,
                    p.address_number.in_(wanted[start : start + 500]),
                )
            )
            found.update({row.address_number: row.record_id for row in rows})
        return found

    def iter_records(self, page: int = 500) -> Iterator[PersonRecord]:
        """Every record of this partition, decrypted, in address-number order (for export)."""
        p = schema.person.c
        last = ""
        while True:
            rows = self.conn.execute(
                select(schema.person)
                .where(p.municipality_code == self.code, p.address_number > last)
                .order_by(p.address_number)
                .limit(page)
            ).all()
            if not rows:
                return
            yield from self._hydrate(rows)
            last = rows[-1].address_number

    def _children(self, table: Table, ids: list[str], order: str) -> dict[str, list[Any]]:
        grouped: dict[str, list[Any]] = {}
        c = table.c
        rows = self.conn.execute(
            select(table)
            .where(c.municipality_code == self.code, c.record_id.in_(ids))
            .order_by(c.record_id, c[order])
        )
        for row in rows:
            grouped.setdefault(row.record_id, []).append(row)
        return grouped

    def _hydrate(self, rows: Sequence[Any]) -> Iterator[PersonRecord]:
        ids = [row.record_id for row in rows]
        tickets = self._children(schema.ticket, ids, "dose_number")
        passports = {
            r[0].record_id: r[0] for r in self._children(schema.passport, ids, "record_id").values()
        }
        issuances = self._children(schema.issuance, ids, "issued_on")
        vaccinations = self._children(schema.vaccination, ids, "dose_number")
        for row in rows:
            keys = self._keys_for(row.key_version)
            rid = row.record_id
            passport_row = passports.get(rid)
            status = PersonStatus.open(keys, row.status_ct, rid)
            yield PersonRecord(
                record_id=rid,
                municipality_code=self.code,
                address_number=row.address_number,
                identity=_identity_from(keys.open(row.identity_ct, "person.identity", rid)),
                classification=status.classification,
                support_measure=status.support_measure,
                moves=list(status.moves),
                tickets=[
                    Ticket(
                        t.dose_number,
                        keys.open(t.ticket_ct, "ticket", rid, str(t.dose_number)).decode(),
                        t.issued_on,
                        t.reissued_on,
                    )
                    for t in tickets.get(rid, [])
                ],
                vaccinations=[self._vaccination(v, keys) for v in vaccinations.get(rid, [])],
                passport=(
                    _passport_from(
                        self._keys_for(passport_row.key_version).open(
                            passport_row.passport_ct, "passport", rid
                        )
                    )
                    if passport_row is not None
                    else None
                ),
                passport_source=passport_row.source if passport_row is not None else "counter",
                issuances=[
                    IssuanceRecord(i.certificate_id, i.issued_on, i.kind, i.channel)
                    for i in issuances.get(rid, [])
                ],
            )

    def count(self) -> int:
        """Number of persons in this partition."""
        p = schema.person.c
        return int(
            self.conn.execute(
                select(func.count())
                .select_from(schema.person)
                .where(p.municipality_code == self.code)
            ).scalar_one()
        )

    # --- writes ---

    def insert(self, records: Sequence[PersonRecord]) -> None:
        """Insert new records (encrypting their personal values) into this partition."""
        self.insert_rows(RowBuilder(self.keys).rows_for(records, utcnow()))

    def insert_rows(self, rows: dict[str, list[dict[str, Any]]]) -> None:
        """Insert rows a :class:`RowBuilder` made with this partition's keys (C12)."""
        for table in INSERT_ORDER:
            batch = rows.get(table.name, [])
            if any(row["municipality_code"] != self.code for row in batch):
                raise ValueError("rows belong to another partition")  # C12
            bulk_insert(self.conn, table, batch)

    def replace(self, record: PersonRecord) -> None:
        """Overwrite an existing record's person data, moves, tickets and doses (import).

        Its record id and issuance records stay; passport data is replaced only when given. Its
        moves are part of the person row's status document.
        """
        now = utcnow()
        rid = record.record_id
        builder = RowBuilder(self.keys)
        values = builder.person_row(record, now)
        del values["created_at"]
        self.conn.execute(
            update(schema.person)
            .where(schema.person.c.municipality_code == self.code, schema.person.c.record_id == rid)
            .values(**values)
        )
        tables = [schema.ticket, schema.vaccination]
        if record.passport is not None:
            tables.append(schema.passport)
        for table in tables:
            self.conn.execute(
                delete(table).where(
                    table.c.municipality_code == self.code, table.c.record_id == rid
                )
            )
        rows: dict[str, list[dict[str, Any]]] = {t.name: [] for t in tables}
        rows.setdefault(schema.passport.name, [])
        builder.child_rows(record, now, rows)
        for table in tables:
            bulk_insert(self.conn, table, rows[table.name])

    def store_passport(self, record_id: str, passport: PassportData, source: str) -> None:
        """Put passport data on file for a record of this partition (replacing older data).

        One upsert, so racing repeats of the same call (a retry) all succeed.
        """
        pp = schema.passport.c
        values = {
            "key_version": self.keys.version,
            "passport_ct": self.keys.seal(_passport_doc(passport), "passport", record_id),
            "source": source,
            "updated_at": utcnow(),
        }
        insert = DIALECT_INSERT[self.conn.dialect.name](schema.passport)
        self.conn.execute(
            insert.values(
                record_id=record_id, municipality_code=self.code, **values
            ).on_conflict_do_update(
                index_elements=["record_id"],
                set_=values,
                where=pp.municipality_code == self.code,  # C12: never another partition's row
            )
        )

    def delete(self, record_id: str) -> bool:
        """Delete one record of this partition and everything under it (C19); False if absent."""
        if not self.exists(record_id):
            return False
        for table in schema.DATA_TABLES:
            self.conn.execute(
                delete(table).where(
                    table.c.municipality_code == self.code, table.c.record_id == record_id
                )
            )
        return True
