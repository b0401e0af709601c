"""Bringing a database to the current schema, and removing it.

Schema versions are the explicit steps of :data:`MIGRATIONS`. :meth:`Migrations.migrate` applies
the missing ones in order inside one transaction (SQLite and PostgreSQL both have transactional
DDL, so a step that fails leaves the database as it was), under a PostgreSQL advisory lock so two
gunicorn workers do not race, and records each in ``vrs_schema_version``; a database newer than
the code is refused. It also ties the database to its master key: the first run stores the key's
check value and every later run refuses a different master key before any step opens a key with
it (C13). :meth:`Migrations.drop_all` removes every VRS table (reset and clean-up).

A step never uses today's definition of a table that a later step changes: version 1's person and
move tables are kept here (:data:`V1_PERSON`, :data:`V1_MOVE`) as version 1 made them.
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    Row,
    String,
    Table,
    UniqueConstraint,
    select,
    text,
)

from vaxcert.errors import ConfigError
from vrs_stub import schema
from vrs_stub.models import RESIDENCIES, Move, Residency
from vrs_stub.store.engine import Database, utcnow
from vrs_stub.store.keyring import Keyring
from vrs_stub.store.records import PersonStatus

# --- version 1's tables that version 2 changed, as version 1 created them -------------------

_V1 = MetaData()
_TS = DateTime(timezone=True)
Table("vrs_municipality", _V1, Column("code", String(6), primary_key=True))  # foreign key only

V1_PERSON = Table(
    "vrs_person",
    _V1,
    Column("record_id", String(16), primary_key=True),
    Column("municipality_code", String(6), ForeignKey("vrs_municipality.code"), nullable=False),
    Column("key_version", Integer, nullable=False),
    Column("address_number", String(20), nullable=False),
    Column("my_number_bidx", LargeBinary(32), nullable=False),
    Column("identity_ct", LargeBinary, nullable=False),
    Column("support_measure", Boolean, nullable=False),
    Column("classification", String(32), nullable=False),
    Column("residency", String(16), nullable=False),
    Column("alias_notation", Boolean, nullable=False),
    Column("created_at", _TS, nullable=False),
    Column("updated_at", _TS, nullable=False),
    UniqueConstraint("municipality_code", "my_number_bidx", name="uq_vrs_person_bidx"),
    UniqueConstraint("municipality_code", "address_number", name="uq_vrs_person_address_no"),
)

V1_MOVE = Table(
    "vrs_move",
    _V1,
    Column(
        "record_id",
        String(16),
        ForeignKey("vrs_person.record_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("municipality_code", String(6), nullable=False),
    Column("moved_on", Date, nullable=False),
    Column("reason", String(16), nullable=False),
)

# The plaintext status columns version 2 seals into ``status_ct`` and then drops.
V1_STATUS_COLUMNS = ("support_measure", "alias_notation", "residency", "classification")


@dataclass(frozen=True)
class Migration:
    """One schema version: what it does and the step that brings the previous one to it."""

    version: int
    description: str
    apply: Callable[[Connection, Keyring], None]


def _v1(conn: Connection, _keyring: Keyring) -> None:
    """The initial tables, as version 1 created them (parents first)."""
    s = schema
    before = [s.schema_version, s.meta, s.municipality, s.data_key, s.staff_token]
    s.metadata.create_all(conn, tables=before, checkfirst=True)
    _V1.create_all(conn, tables=[V1_PERSON, V1_MOVE], checkfirst=True)
    after = [s.ticket, s.vaccination, s.passport, s.issuance, s.provision, s.operation]
    s.metadata.create_all(conn, tables=after, checkfirst=True)


def _sealed_statuses(
    conn: Connection, keyring: Keyring, page: int
) -> Iterator[list[tuple[Row[Any], bytes]]]:
    """Version 1's person rows page by page, each with its status sealed under its own key."""
    p, m = V1_PERSON.c, V1_MOVE.c
    last = ""
    while True:
        rows = conn.execute(
            select(V1_PERSON).where(p.record_id > last).order_by(p.record_id).limit(page)
        ).all()
        if not rows:
            return
        ids = [row.record_id for row in rows]
        moves: dict[str, list[Move]] = {}
        for move in conn.execute(
            select(m.record_id, m.moved_on, m.reason)
            .where(m.record_id.in_(ids))
            .order_by(m.record_id, m.seq)
        ):
            moves.setdefault(move.record_id, []).append(Move(move.moved_on, move.reason))
        sealed = []
        for row in rows:
            if row.residency not in RESIDENCIES:
                raise ValueError("vrs_person.residency holds a value version 2 does not know")
            status = PersonStatus(
                support_measure=bool(row.support_measure),
                alias_notation=bool(row.alias_notation),
                residency=cast(Residency, row.residency),
                classification=row.classification,
                moves=tuple(moves.get(row.record_id, ())),
            )
            keys = keyring.get(conn, row.municipality_code, row.key_version)
            sealed.append((row, status.seal(keys, row.record_id)))
        yield sealed
        last = ids[-1]


def _v2(conn: Connection, keyring: Keyring, page: int = 1000) -> None:
    """Seal each person's flags and moves into ``status_ct``; drop their plaintext (C13).

    Dropping a column alone would not remove its values from the storage, so on both databases
    the person table ends up re-written from scratch, inside this transaction.
    """
    if conn.dialect.name == "postgresql":
        _v2_postgresql(conn, keyring, page)
    else:
        _v2_sqlite(conn, keyring, page)


def _v2_postgresql(conn: Connection, keyring: Keyring, page: int) -> None:
    # NOT NULL with a default fills existing rows; every one is overwritten below.
    conn.exec_driver_sql(
        "ALTER TABLE vrs_person ADD COLUMN status_ct BYTEA NOT NULL DEFAULT ''::bytea"
    )
    seal = text("UPDATE vrs_person SET status_ct = :ct WHERE record_id = :rid")
    for sealed in _sealed_statuses(conn, keyring, page):
        conn.execute(seal, [{"rid": row.record_id, "ct": ct} for row, ct in sealed])
    for column in V1_STATUS_COLUMNS:
        conn.exec_driver_sql(f"ALTER TABLE vrs_person DROP COLUMN {column}")
    conn.exec_driver_sql("DROP TABLE vrs_move")
    conn.exec_driver_sql("ALTER TABLE vrs_person ALTER COLUMN status_ct DROP DEFAULT")
    # A dropped column stays in every stored tuple, and the UPDATEs above left the old tuples
    # behind. CLUSTER writes a new copy of the table with dropped columns nulled and then
    # removes the old file; unlike VACUUM FULL it may run inside a transaction.
    conn.exec_driver_sql("CLUSTER vrs_person USING vrs_person_pkey")
    conn.exec_driver_sql("ALTER TABLE vrs_person SET WITHOUT CLUSTER")


def _v2_sqlite(conn: Connection, keyring: Keyring, page: int) -> None:
    # Updating rows in place and DROP COLUMN leave fragments of the old records in the pages
    # (secure_delete zeroes freed pages and cells, not every leftover of a rebalanced page), so
    # the table is built anew and the old one dropped: SQLite's own procedure for changing a
    # table, run with foreign key enforcement off (Migrations._schema_transaction).
    target = MetaData()
    schema.municipality.to_metadata(target)
    new = schema.person.to_metadata(target, name="vrs_person_v2")
    target.create_all(conn, tables=[new])
    copied = [c.name for c in new.columns if c.name != "status_ct"]
    for sealed in _sealed_statuses(conn, keyring, page):
        rows = [{**{c: row._mapping[c] for c in copied}, "status_ct": ct} for row, ct in sealed]
        conn.execute(new.insert(), rows)
    conn.exec_driver_sql("DROP TABLE vrs_move")
    conn.exec_driver_sql("DROP TABLE vrs_person")
    conn.exec_driver_sql("ALTER TABLE vrs_person_v2 RENAME TO vrs_person")


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial schema: persons, tickets, vaccinations, passports, logs, keys", _v1),
    Migration(2, "person flags and moves sealed in status_ct; plaintext columns dropped", _v2),
)
LATEST = MIGRATIONS[-1].version


class SchemaTooNewError(Exception):
    """The database was migrated by a newer vaxcert than this one."""


def current_version(conn: Connection) -> int:
    """The schema version recorded in the database (0: empty)."""
    if not conn.dialect.has_table(conn, schema.schema_version.name):
        return 0
    found = conn.execute(
        select(schema.schema_version.c.version).order_by(schema.schema_version.c.version.desc())
    )
    row = found.first()
    return int(row[0]) if row else 0


def lock_for_migration(conn: Connection) -> None:
    """Serialise concurrent migrators (several gunicorn workers start at once)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(4673001)"))


def apply_pending(
    conn: Connection, keyring: Keyring, now: dt.datetime, target: int = LATEST
) -> list[int]:
    """Apply every migration newer than the database's version up to ``target``.

    Returns the versions applied. ``target`` below the latest is for building old databases in
    tests.
    """
    version = current_version(conn)
    if version > LATEST:
        raise SchemaTooNewError(f"database schema v{version} is newer than this code (v{LATEST})")
    applied = []
    for migration in MIGRATIONS:
        if migration.version <= version or migration.version > target:
            continue
        migration.apply(conn, keyring)
        conn.execute(
            schema.schema_version.insert().values(
                version=migration.version, description=migration.description, applied_at=now
            )
        )
        applied.append(migration.version)
    return applied


class Migrations(Database):
    """Schema versions and the master-key check (C13)."""

    keyring: Keyring

    def migrate(self, target: int = LATEST) -> list[int]:
        """Bring the schema up to date (or to ``target``); returns the versions applied.

        The master key is checked against the stored check value first: a step that re-encrypts
        rows must never run with a key the database was not made with.
        """
        if self.db_schema:
            with self.engine.connect() as conn, conn.begin():
                conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{self.db_schema}"'))
        with self._schema_transaction() as conn:
            lock_for_migration(conn)
            stored = None
            if conn.dialect.has_table(conn, schema.meta.name):
                stored = conn.execute(
                    select(schema.meta.c.value).where(schema.meta.c.name == "master_key_check")
                ).scalar_one_or_none()
            if stored is not None and not hmac.compare_digest(stored, self.keyring.check_value):
                raise ConfigError(
                    "VAXCERT_VRS__MASTER_KEY",
                    "does not match the master key this database was created with",
                )
            applied = apply_pending(conn, self.keyring, utcnow(), target)
            if stored is None:
                conn.execute(
                    schema.meta.insert().values(
                        name="master_key_check", value=self.keyring.check_value
                    )
                )
        return applied

    @contextmanager
    def _schema_transaction(self) -> Iterator[Connection]:
        """A write transaction for schema steps; on SQLite with foreign key enforcement off.

        SQLite changes a table that others refer to by building a new one and dropping the old;
        with enforcement on, that drop would delete every row referring to it (ON DELETE
        CASCADE). As SQLite's documentation prescribes, enforcement is switched off outside the
        transaction, ``foreign_key_check`` must find nothing before the commit, and enforcement
        is switched back on afterwards.
        """
        if self.dialect != "sqlite":
            with self.transaction() as conn:
                yield conn
            return
        with self.write_turn(), self.engine.connect() as conn:
            conn.execution_options(vrs_begin="NONE")
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")  # a no-op inside a transaction
            conn.commit()
            try:
                conn.execution_options(vrs_begin="IMMEDIATE")
                with conn.begin():
                    yield conn
                    if conn.exec_driver_sql("PRAGMA foreign_key_check").first() is not None:
                        raise RuntimeError("a schema step left rows that refer to nothing")
            finally:
                conn.execution_options(vrs_begin="NONE")
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                conn.commit()

    def drop_all(self) -> None:
        """Drop every VRS table, or the whole schema when one was configured (reset, clean-up)."""
        with self.transaction() as conn:
            if self.db_schema:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{self.db_schema}" CASCADE'))
            else:
                # A database left at version 1 still has vrs_move, which refers to vrs_person.
                _V1.drop_all(conn, tables=[V1_MOVE], checkfirst=True)
                schema.metadata.drop_all(conn)
        self.keyring.forget()
