"""The record store: the only code that touches the VRS tables (SQLite or PostgreSQL).

Reading or changing records always goes through a :class:`Partition`, which is bound to one
municipality code and one database transaction; every statement it runs is filtered by that code
(C12, C19), and its keys decrypt only that municipality's ciphertexts (C13). There is no method that
reads persons without a partition.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Boolean,
    Connection,
    Date,
    DateTime,
    Engine,
    Table,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from vaxcert import lgcode
from vaxcert.config import Settings
from vaxcert.errors import ConfigError
from vrs_stub import crypto, schema
from vrs_stub.crypto import PartitionKeys
from vrs_stub.models import (
    Identity,
    IssuanceRecord,
    Move,
    PassportData,
    PersonRecord,
    Ticket,
    Vaccination,
)

_PG_COPY_THRESHOLD = 2000
_BUSY_TIMEOUT_MS = 15000
log = logging.getLogger(__name__)

# The relay query's statements, built once: every one is bound to a municipality code (C12).
_P, _PP, _V = schema.person.c, schema.passport.c, schema.vaccination.c
_ACTIVE_VERSION = select(schema.municipality.c.active_key_version).where(
    schema.municipality.c.code == bindparam("code")
)
# One round trip: the person, their passport row if any, and their completed doses.
_LOOKUP = (
    select(
        _P.record_id,
        _P.key_version,
        _P.identity_ct,
        _P.support_measure,
        _P.alias_notation,
        _P.residency,
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
_INSERT_PROVISION = schema.provision.insert().returning(schema.provision.c.id)


def _add_issuance(insert: Callable[[Table], Any]) -> Any:
    """INSERT the issuance if the record is in the partition and the certificate id is new."""
    i = schema.issuance.c
    source = select(
        bindparam("certificate_id", type_=i.certificate_id.type),
        _P.municipality_code,
        _P.record_id,
        bindparam("issued_on", type_=i.issued_on.type),
        bindparam("kind", type_=i.kind.type),
        bindparam("channel", type_=i.channel.type),
        bindparam("recorded_at", type_=i.recorded_at.type),
    ).where(_P.municipality_code == bindparam("code"), _P.record_id == bindparam("record_id"))
    columns = ["certificate_id", "municipality_code", "record_id", "issued_on", "kind", "channel"]
    return (
        insert(schema.issuance)
        .from_select([*columns, "recorded_at"], source)
        .on_conflict_do_nothing(index_elements=["certificate_id"])
        .returning(schema.issuance.c.certificate_id)  # a row back: inserted (rowcount is -1 on PG)
    )


_DIALECT_INSERT: dict[str, Callable[[Table], Any]] = {
    "sqlite": sqlite_insert,
    "postgresql": pg_insert,
}
_ADD_ISSUANCE = {name: _add_issuance(insert) for name, insert in _DIALECT_INSERT.items()}
_INSERT_OPERATION = schema.operation.insert()


def utcnow() -> dt.datetime:
    """Now, timezone-aware UTC (what every timestamp column stores)."""
    return dt.datetime.now(dt.UTC)


def database_url(settings: Settings) -> str:
    """The configured SQLAlchemy URL, defaulting to a SQLite file in the data dir."""
    if settings.vrs.database_url is not None:
        return normalise_url(settings.vrs.database_url.get_secret_value())
    return f"sqlite:///{crypto.data_dir(settings) / 'vrs.sqlite3'}"


def normalise_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs given without a driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(
    url: str, db_schema: str | None = None, pool: bool = True, durable: bool = True
) -> Engine:
    """An engine with our per-dialect settings (SQLite: WAL, foreign keys, IMMEDIATE writes)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            from pathlib import Path

            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # hide_parameters: a database error's text never carries row values into logs (C13).
        engine = create_engine(url, poolclass=None if pool else NullPool, hide_parameters=True)

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
            # We issue BEGIN ourselves so write transactions take the lock up front.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            for pragma in (
                "journal_mode=WAL",
                "synchronous=NORMAL",
                "foreign_keys=ON",
                # Deleted records' ciphertext is overwritten, not left in free pages (C19).
                "secure_delete=ON",
                f"busy_timeout={_BUSY_TIMEOUT_MS}",
                # Checkpoints run in the store's background thread, not inside a request.
                "wal_autocheckpoint=0",
                # After a checkpoint rewinds the WAL, its file shrinks back to this size.
                f"journal_size_limit={64 * 1024 * 1024}",
            ):
                cursor.execute(f"PRAGMA {pragma}")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Connection) -> None:
            mode = conn.get_execution_options().get("vrs_begin", "IMMEDIATE")
            if mode != "NONE":  # NONE: autocommit, every statement is its own transaction
                conn.exec_driver_sql(f"BEGIN {mode}")

        return engine
    if parsed.get_backend_name() != "postgresql":
        raise ConfigError("VAXCERT_VRS__DATABASE_URL", "only sqlite and postgresql are supported")
    connect_args: dict[str, Any] = {}
    options = [f"-c search_path={db_schema}"] if db_schema else []
    if not durable:
        options.append("-c synchronous_commit=off")
    if options:
        connect_args["options"] = " ".join(options)
    return create_engine(
        url,
        connect_args=connect_args,
        # No pre-ping: it costs a round trip per request; connections are recycled instead.
        pool_recycle=1800,
        pool_size=8,
        max_overflow=8,
        hide_parameters=True,
        poolclass=None if pool else NullPool,
    )


class SQLiteWriterQueue:
    """Makes SQLite writers of every thread and process queue for the database's one write lock.

    SQLite admits one writer at a time and makes the others poll with sleeps of 1 to 100 ms (its
    busy handler), which turned a few lock collisions into a 3x p99 for the center's issuances.
    Writers here wait on a kernel file lock instead and start the moment the previous one is done.
    The file descriptor is opened per process: a descriptor inherited across ``fork`` would be one
    lock shared by parent and child.
    """

    def __init__(self, database: str) -> None:
        self.path = database + "-writer" if database and database != ":memory:" else None
        # Re-entrant: a refusal's operation log gets its own transaction inside a rolled-back one.
        self._threads = threading.RLock()
        self._depth = 0  # only changed by the thread holding _threads
        self._fd: tuple[int, int] | None = None  # (pid, fd)

    def _descriptor(self) -> int | None:
        if self.path is None:
            return None
        if self._fd is None or self._fd[0] != os.getpid():
            self._fd = (os.getpid(), os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
        return self._fd[1]

    def close(self) -> None:
        """Close this process's lock file descriptor (a later turn opens it again)."""
        with self._threads:
            if self._fd is not None and self._fd[0] == os.getpid():
                os.close(self._fd[1])
            self._fd = None

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Hold the write lock for one write transaction or one autocommit write."""
        with self._threads:
            fd = self._descriptor()
            if fd is not None and self._depth == 0:
                fcntl.flock(fd, fcntl.LOCK_EX)
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if fd is not None and self._depth == 0:
                    fcntl.flock(fd, fcntl.LOCK_UN)


@dataclass(frozen=True)
class StaffPrincipal:
    """A municipal staff member authenticated by a token scoped to one municipality (C19)."""

    token_id: str
    municipality_code: str
    staff_id: str
    roles: frozenset[str]


@dataclass(frozen=True)
class Lookup:
    """What a relay query needs of one person (decrypted, in memory only for the request)."""

    record_id: str
    identity: Identity
    support_measure: bool
    alias_notation: bool
    residency: str
    passport: PassportData | None
    passport_on_file: bool
    doses: list[Vaccination]


class Keyring:
    """Unwraps municipality keys with the master key and caches them per (code, version)."""

    def __init__(self, master: bytes) -> None:
        self._master = master
        self._cache: dict[tuple[str, int], PartitionKeys] = {}
        self._lock = threading.Lock()

    @property
    def master(self) -> bytes:
        """The master key (to open a second engine on the same data, e.g. in a benchmark)."""
        return self._master

    @property
    def check_value(self) -> str:
        """The master key check value stored in vrs_meta."""
        return crypto.master_key_check(self._master)

    def create(self, conn: Connection, code: str, version: int) -> PartitionKeys:
        """Make, wrap and store a new key version for ``code``."""
        data_key, index_key = crypto.new_partition_keys()
        conn.execute(
            schema.data_key.insert().values(
                municipality_code=code,
                version=version,
                wrapped_data_key=crypto.wrap(self._master, code, version, "data", data_key),
                wrapped_index_key=crypto.wrap(self._master, code, version, "index", index_key),
                created_at=utcnow(),
            )
        )
        keys = PartitionKeys.from_raw(code, version, data_key, index_key)
        with self._lock:
            self._cache[(code, version)] = keys
        return keys

    def get(self, conn: Connection, code: str, version: int) -> PartitionKeys:
        """The keys of ``code`` at ``version``."""
        cached = self._cache.get((code, version))
        if cached is not None:
            return cached
        row = conn.execute(
            select(schema.data_key.c.wrapped_data_key, schema.data_key.c.wrapped_index_key).where(
                schema.data_key.c.municipality_code == code, schema.data_key.c.version == version
            )
        ).one()
        keys = PartitionKeys.from_raw(
            code,
            version,
            *self.unwrap_pair(code, version, row.wrapped_data_key, row.wrapped_index_key),
        )
        with self._lock:
            self._cache[(code, version)] = keys
        return keys

    def unwrap_pair(
        self, code: str, version: int, wrapped_data: bytes, wrapped_index: bytes
    ) -> tuple[bytes, bytes]:
        """The raw (data key, index key) of one stored key version."""
        return (
            crypto.unwrap(self._master, code, version, "data", wrapped_data),
            crypto.unwrap(self._master, code, version, "index", wrapped_index),
        )

    def wrap_pair(
        self, code: str, version: int, data_key: bytes, index_key: bytes
    ) -> tuple[bytes, bytes]:
        """Wrap a raw key pair under this keyring's master key."""
        return (
            crypto.wrap(self._master, code, version, "data", data_key),
            crypto.wrap(self._master, code, version, "index", index_key),
        )

    def forget(self) -> None:
        """Drop cached keys (after a rotation or rewrap)."""
        with self._lock:
            self._cache.clear()


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


def _private_doc(vaccination: Vaccination) -> bytes | None:
    if vaccination.doctor is None and vaccination.note is None:
        return None
    return _dump({"doctor": vaccination.doctor, "note": vaccination.note})


INSERT_ORDER = (
    schema.person,
    schema.move,
    schema.ticket,
    schema.vaccination,
    schema.passport,
    schema.issuance,
)


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
            "support_measure": record.support_measure,
            "classification": record.classification,
            "residency": record.residency,
            "alias_notation": bool(record.identity.alias_name),
            "created_at": now,
            "updated_at": now,
        }

    def child_rows(
        self, record: PersonRecord, now: dt.datetime, rows: dict[str, list[dict[str, Any]]]
    ) -> None:
        keys, rid, code = self.keys, record.record_id, self.keys.municipality
        for seq, move in enumerate(record.moves, start=1):
            rows[schema.move.name].append(
                {
                    "record_id": rid,
                    "seq": seq,
                    "municipality_code": code,
                    "moved_on": move.moved_on,
                    "reason": move.reason,
                }
            )
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


class Partition:
    """One municipality's records inside one transaction (C12): every statement names the code."""

    def __init__(self, conn: Connection, code: str, keys: PartitionKeys, keyring: Keyring) -> None:
        self.conn = conn
        self.code = code
        self.keys = keys
        self._keyring = keyring

    def _keys_for(self, version: int) -> PartitionKeys:
        if version == self.keys.version:
            return self.keys
        return self._keyring.get(self.conn, self.code, version)

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
            support_measure=row.support_measure,
            alias_notation=row.alias_notation,
            residency=row.residency,
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
        moves = self._children(schema.move, ids, "seq")
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
            yield PersonRecord(
                record_id=rid,
                municipality_code=self.code,
                address_number=row.address_number,
                identity=_identity_from(keys.open(row.identity_ct, "person.identity", rid)),
                classification=row.classification,
                support_measure=row.support_measure,
                moves=[Move(m.moved_on, m.reason) for m in moves.get(rid, [])],
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

        Its record id and issuance records stay; passport data is replaced only when given.
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
        tables = [schema.move, schema.ticket, schema.vaccination]
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
        insert = _DIALECT_INSERT[self.conn.dialect.name](schema.passport)
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

    def find_issuance(self, certificate_id: str, record_id: str) -> IssuanceRecord | None:
        """The issuance ``certificate_id`` of ``record_id`` in this partition, if any."""
        i = schema.issuance.c
        row = self.conn.execute(
            select(schema.issuance).where(
                i.municipality_code == self.code,
                i.certificate_id == certificate_id,
                i.record_id == record_id,
            )
        ).first()
        if row is None:
            return None
        return IssuanceRecord(row.certificate_id, row.issued_on, row.kind, row.channel)

    def add_issuance(self, record_id: str, issued: IssuanceRecord) -> bool:
        """Record a certificate issued from a record of this partition (C20).

        One statement: it inserts only when ``record_id`` is a record of this partition (C12) and
        the certificate id is new. False when nothing was inserted (the caller tells which).
        """
        statement = _ADD_ISSUANCE[self.conn.dialect.name]
        result = self.conn.execute(
            statement,
            {
                "certificate_id": issued.certificate_id,
                "issued_on": issued.issued_on,
                "kind": issued.kind,
                "channel": issued.channel,
                "recorded_at": utcnow(),
                "code": self.code,
                "record_id": record_id,
            },
        )
        return result.first() is not None

    def add_provision(
        self,
        recipient: str,
        record_id: str,
        certificate_kind: str,
        channel: str,
        items: str,
        request_id: str,
    ) -> int:
        """Leave a provision record (C16): to whom, when, which record, which items."""
        result = self.conn.execute(
            _INSERT_PROVISION,
            {
                "at": utcnow(),
                "municipality_code": self.code,
                "recipient": recipient,
                "record_id": record_id,
                "certificate_kind": certificate_kind,
                "channel": channel,
                "items": items,
                "request_id": request_id,
            },
        )
        return int(result.scalar_one())

    def log_rows(self, table: Table, limit: int = 1000) -> list[dict[str, Any]]:
        """The newest provision or operation records of this partition (staff view)."""
        c = table.c
        rows = self.conn.execute(
            select(table).where(c.municipality_code == self.code).order_by(c.id.desc()).limit(limit)
        )
        return [dict(row._mapping) for row in rows]

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


def _sqlite_value(kind: Any) -> Callable[[Any], Any]:
    # The same text forms SQLAlchemy's SQLite types write, so reads parse them as usual.
    if isinstance(kind, DateTime):
        return lambda v: None if v is None else v.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(kind, Date):
        return lambda v: None if v is None else v.isoformat()
    if isinstance(kind, Boolean):
        return lambda v: None if v is None else int(v)
    return lambda v: v


def bulk_insert(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert many rows; large batches skip per-row SQLAlchemy work (SQLite executemany, COPY)."""
    if not rows:
        return
    columns = [c for c in table.columns if c.name in rows[0]]
    names = [c.name for c in columns]
    if conn.dialect.name == "postgresql" and len(rows) >= _PG_COPY_THRESHOLD:
        raw: Any = conn.connection.driver_connection
        with raw.cursor() as cursor:
            statement = f"COPY {table.name} ({', '.join(names)}) FROM STDIN"
            with cursor.copy(statement) as copy:
                for row in rows:
                    copy.write_row([row[c] for c in names])
        return
    if conn.dialect.name == "sqlite" and len(rows) >= 50:
        converters = [_sqlite_value(c.type) for c in columns]
        # Table and column names come from our own schema module, never from input.
        statement = (
            f"INSERT INTO {table.name} ({', '.join(names)}) "  # noqa: S608
            f"VALUES ({', '.join('?' for _ in names)})"
        )
        values = [
            tuple(convert(row[name]) for convert, name in zip(converters, names, strict=True))
            for row in rows
        ]
        conn.exec_driver_sql(statement, values)
        return
    conn.execute(table.insert(), rows)


class Store:
    """The VRS database: schema, municipalities and their keys, tokens, and partitions."""

    CHECKPOINT_SECONDS = 1.0

    def __init__(self, engine: Engine, master_key: bytes, db_schema: str | None = None) -> None:
        self.engine = engine
        self.keyring = Keyring(master_key)
        self.db_schema = db_schema if engine.dialect.name == "postgresql" else None
        self._versions: dict[str, int] = {}
        self._stop = threading.Event()
        self._writers = (
            SQLiteWriterQueue(engine.url.database or "") if self.dialect == "sqlite" else None
        )
        if self.dialect == "sqlite":
            threading.Thread(target=self._checkpoint_loop, daemon=True, name="vrs-wal").start()

    @classmethod
    def from_settings(
        cls, settings: Settings, url: str | None = None, db_schema: str | None = None
    ) -> Store:
        """Open the configured database with the configured master key."""
        chosen_schema = db_schema or settings.vrs.db_schema
        return cls(
            make_engine(
                url or database_url(settings),
                chosen_schema,
                durable=settings.vrs.durable_commits,
            ),
            crypto.load_master_key(settings),
            chosen_schema,
        )

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    def migrate(self) -> list[int]:
        """Bring the schema up to date and check the master key against the stored check value."""
        if self.db_schema:
            with self.engine.connect() as conn, conn.begin():
                conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{self.db_schema}"'))
        with self.transaction() as conn:
            applied = schema.apply_pending(conn, utcnow())
            stored = conn.execute(
                select(schema.meta.c.value).where(schema.meta.c.name == "master_key_check")
            ).scalar_one_or_none()
            if stored is None:
                conn.execute(
                    schema.meta.insert().values(
                        name="master_key_check", value=self.keyring.check_value
                    )
                )
            elif not hmac.compare_digest(stored, self.keyring.check_value):
                raise ConfigError(
                    "VAXCERT_VRS__MASTER_KEY",
                    "does not match the master key this database was created with",
                )
        return applied

    @contextmanager
    def autocommit(self) -> Iterator[Connection]:
        """A connection where every statement commits on its own (the relay's hot path).

        Each statement is atomic by itself; reads take no write lock and a provision record is
        one INSERT, so the relay pays two round trips instead of four.
        """
        with self.engine.connect() as conn:
            if self.dialect == "sqlite":
                conn.execution_options(vrs_begin="NONE")
            else:
                conn.execution_options(isolation_level="AUTOCOMMIT")
            yield conn

    def write_turn(self) -> AbstractContextManager[None]:
        """Wrap a write made on an :meth:`autocommit` connection (SQLite: wait in the queue)."""
        return self._writers.turn() if self._writers is not None else nullcontext()

    @contextmanager
    def transaction(self, write: bool = True, snapshot: bool = False) -> Iterator[Connection]:
        """One database transaction; committed when the block ends without an exception.

        ``snapshot``: every statement sees the same snapshot (PostgreSQL REPEATABLE READ; SQLite's
        transactions always do), for checks that must agree with each other.
        """
        with self.write_turn() if write else nullcontext(), self.engine.connect() as conn:
            conn.execution_options(vrs_begin="IMMEDIATE" if write else "DEFERRED")
            if snapshot and self.dialect == "postgresql":
                conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn

    def partition(self, conn: Connection, code: str, cached: bool = False) -> Partition | None:
        """The partition of ``code`` inside ``conn``'s transaction; None if there is none.

        With ``cached`` the active key version may come from memory (saves a round trip on the
        relay's hot path); a caller that then misses must ask again without it, because a key
        rotation in another process changes every blind index.
        """
        if not lgcode.is_valid(code):
            return None
        version = self._versions.get(code) if cached else None
        if version is None:
            version = conn.execute(_ACTIVE_VERSION, {"code": code}).scalar_one_or_none()
            if version is None:
                return None
            self._versions[code] = version
        return Partition(conn, code, self.keyring.get(conn, code, version), self.keyring)

    def raw_partition_keys(self, code: str) -> tuple[int, bytes, bytes]:
        """(version, data key, index key) of ``code``'s active keys, for seeding workers only."""
        with self.transaction(write=False) as conn:
            version = conn.execute(_ACTIVE_VERSION, {"code": code}).scalar_one()
            row = conn.execute(
                select(schema.data_key).where(
                    schema.data_key.c.municipality_code == code,
                    schema.data_key.c.version == version,
                )
            ).one()
        data_key, index_key = self.keyring.unwrap_pair(
            code, version, row.wrapped_data_key, row.wrapped_index_key
        )
        return version, data_key, index_key

    def ensure_municipality(self, conn: Connection, code: str, name: str | None = None) -> bool:
        """Create the partition of ``code`` with fresh keys unless it exists; True if created."""
        if not lgcode.is_valid(code):
            raise ValueError("invalid municipality code")
        exists = conn.execute(
            select(schema.municipality.c.code).where(schema.municipality.c.code == code)
        ).first()
        if exists:
            return False
        conn.execute(
            schema.municipality.insert().values(
                code=code,
                name=name or lgcode.name_of(code),
                active_key_version=1,
                created_at=utcnow(),
            )
        )
        self.keyring.create(conn, code, 1)
        return True

    def municipality_codes(self, conn: Connection) -> list[str]:
        """Every partition's code."""
        rows = conn.execute(select(schema.municipality.c.code).order_by(schema.municipality.c.code))
        return [row[0] for row in rows]

    @staticmethod
    def log_operation(
        conn: Connection,
        actor_kind: str,
        actor: str,
        municipality_code: str | None,
        action: str,
        outcome: str,
        detail: str = "",
        request_id: str = "",
    ) -> None:
        """Write an operation log entry (C15): who, when, what. Callers pass no personal data."""
        conn.execute(
            _INSERT_OPERATION,
            {
                "at": utcnow(),
                "actor_kind": actor_kind,
                "actor": actor[:96],
                "municipality_code": (
                    municipality_code
                    if municipality_code and lgcode.is_valid(municipality_code)
                    else None
                ),
                "action": action,
                "outcome": outcome,
                "detail": detail[:200],
                "request_id": request_id[:64],
            },
        )

    def log_operation_alone(self, *args: Any, **kwargs: Any) -> None:
        """:meth:`log_operation` in its own transaction (for refusals whose work rolled back)."""
        with self.transaction() as conn:
            self.log_operation(conn, *args, **kwargs)

    # --- staff tokens ---

    def issue_token(
        self, conn: Connection, code: str, staff_id: str, roles: Iterable[str], days: int
    ) -> str:
        """A new staff token scoped to ``code``; only its SHA-256 is stored."""
        token_id = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        now = utcnow()
        conn.execute(
            schema.staff_token.insert().values(
                token_id=token_id,
                secret_sha256=hashlib.sha256(secret.encode()).digest(),
                municipality_code=code,
                staff_id=staff_id,
                roles=",".join(sorted(set(roles))),
                created_at=now,
                expires_at=now + dt.timedelta(days=days),
            )
        )
        return f"vrs1.{token_id}.{secret}"

    def authenticate(self, conn: Connection, token: str) -> StaffPrincipal | None:
        """The principal of a valid, unexpired, unrevoked token, else None."""
        version, _, rest = token.partition(".")
        token_id, _, secret = rest.partition(".")
        if version != "vrs1" or len(token_id) != 16 or not secret:
            return None
        row = conn.execute(
            select(schema.staff_token).where(schema.staff_token.c.token_id == token_id)
        ).first()
        if row is None:
            return None
        digest = hashlib.sha256(secret.encode()).digest()
        if not hmac.compare_digest(digest, bytes(row.secret_sha256)):
            return None
        expires = _aware(row.expires_at)
        if row.revoked_at is not None or expires <= utcnow():
            return None
        return StaffPrincipal(
            token_id, row.municipality_code, row.staff_id, frozenset(row.roles.split(","))
        )

    def revoke_token(self, conn: Connection, token_id: str) -> bool:
        """Revoke a staff token at once; False if unknown."""
        result = conn.execute(
            update(schema.staff_token)
            .where(
                schema.staff_token.c.token_id == token_id,
                schema.staff_token.c.revoked_at.is_(None),
            )
            .values(revoked_at=utcnow())
        )
        return bool(result.rowcount)

    # --- key management ---

    def rotate_partition_keys(self, code: str, page: int = 1000) -> int:
        """New data and index keys for ``code``; re-encrypt all its rows in one transaction."""
        with self.transaction() as conn:
            old = self.partition(conn, code)
            if old is None:
                raise KeyError(code)
            version = (
                conn.execute(
                    select(func.max(schema.data_key.c.version)).where(
                        schema.data_key.c.municipality_code == code
                    )
                ).scalar_one()
                + 1
            )
            new_keys = self.keyring.create(conn, code, version)
            new = Partition(conn, code, new_keys, self.keyring)
            count = 0
            # Pages go by address number, which replace() leaves alone, so paging stays stable.
            for record in old.iter_records(page):
                new.replace(record)
                count += 1
            conn.execute(
                update(schema.data_key)
                .where(
                    schema.data_key.c.municipality_code == code,
                    schema.data_key.c.version < version,
                    schema.data_key.c.retired_at.is_(None),
                )
                .values(retired_at=utcnow())
            )
            conn.execute(
                update(schema.municipality)
                .where(schema.municipality.c.code == code)
                .values(active_key_version=version)
            )
        self._versions.pop(code, None)
        return count

    def rewrap_master(self, new_master: bytes) -> int:
        """Re-wrap every municipality key under a new master key; returns the keys re-wrapped."""
        new_ring = Keyring(new_master)
        dk = schema.data_key.c
        with self.transaction() as conn:
            rows = conn.execute(select(schema.data_key)).all()
            for row in rows:
                code, version = row.municipality_code, row.version
                raw = self.keyring.unwrap_pair(
                    code, version, row.wrapped_data_key, row.wrapped_index_key
                )
                wrapped_data, wrapped_index = new_ring.wrap_pair(code, version, *raw)
                conn.execute(
                    update(schema.data_key)
                    .where(dk.municipality_code == code, dk.version == version)
                    .values(wrapped_data_key=wrapped_data, wrapped_index_key=wrapped_index)
                )
            conn.execute(
                update(schema.meta)
                .where(schema.meta.c.name == "master_key_check")
                .values(value=new_ring.check_value)
            )
        self.keyring = new_ring
        return len(rows)

    def drop_all(self) -> None:
        """Drop every VRS table, or the whole schema when one was configured (reset, clean-up)."""
        with self.transaction() as conn:
            if self.db_schema:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{self.db_schema}" CASCADE'))
            else:
                schema.metadata.drop_all(conn)
        self.keyring.forget()

    def _checkpoint_loop(self) -> None:
        while not self._stop.wait(self.CHECKPOINT_SECONDS):
            # PASSIVE copies what it can without blocking anyone. Alone it never lets the WAL
            # start over while some reader is always active (a busy relay), so the WAL file
            # grew by ~16 MB/s under the center benchmark. RESTART then waits for the readers
            # of old frames (milliseconds) while writers queue, and the next writer rewinds.
            # A long reader (a staff export) must not stall the writers: give up after 50 ms.
            self.checkpoint("PASSIVE")
            with self.write_turn():
                self.checkpoint("RESTART", wait_ms=50)

    def checkpoint(self, mode: str = "PASSIVE", wait_ms: int = _BUSY_TIMEOUT_MS) -> None:
        """SQLite: copy the write-ahead log into the database file (no-op on PostgreSQL)."""
        if self.dialect != "sqlite":
            return
        try:
            with self.engine.connect() as conn:
                conn.execution_options(vrs_begin="NONE")
                conn.exec_driver_sql(f"PRAGMA busy_timeout={wait_ms}")
                try:
                    conn.exec_driver_sql(f"PRAGMA wal_checkpoint({mode})")
                finally:
                    conn.exec_driver_sql(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        except Exception:  # a busy database skips one checkpoint; the next one catches up
            log.debug("SQLite checkpoint skipped")

    def dispose(self) -> None:
        """Stop the checkpointer, fold the WAL into the file (SQLite), close pooled connections."""
        self._stop.set()
        self.checkpoint("TRUNCATE")
        self.engine.dispose()
        if self._writers is not None:
            self._writers.close()


def _aware(value: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes for timezone-aware columns: they were stored as UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
