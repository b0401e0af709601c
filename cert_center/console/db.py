"""The center's own database: console users, the audit trail (C15) and kiosk enabled states.

SQLite (``center.sqlite3`` in ``center.data_dir``) by default, PostgreSQL when
``center.database_url`` is set. The audit trail is append-only at the database, not only in our
code (C15): on SQLite a trigger aborts every UPDATE and DELETE of ``ops_audit``; on PostgreSQL
:func:`grant_app_role` (``vaxcert ops db setup --app-role NAME``, run as the tables' owner)
gives the role the app connects as INSERT and SELECT on it and nothing else.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    text,
)
from sqlalchemy.engine import make_url

from vaxcert.config import Settings
from vaxcert.errors import ConfigError

SETTING = "VAXCERT_CENTER__DATABASE_URL"
FILE_NAME = "center.sqlite3"
_BUSY_TIMEOUT_MS = 15000
_ROLE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

metadata = MetaData()

users = Table(
    "ops_users",
    metadata,
    Column("user_id", String(64), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("totp_secret", String(64), nullable=False),
    Column("enabled", Boolean, nullable=False, default=True),
    # Bumped by disable, reset-totp and role changes: every session of the older epoch ends (C17).
    Column("epoch", Integer, nullable=False, default=1),
    # No longer read: failures and locks are per (user, address) in the shared store (C17,
    # cert_center/console/users.py). Kept so that existing databases need no migration.
    Column("failed_logins", Integer, nullable=False, default=0),
    Column("locked_until", DateTime(timezone=True), nullable=True),
    # The last TOTP time step accepted: a code is good once (no replay within its window).
    Column("last_totp_step", Integer, nullable=False, default=0),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

audit = Table(
    "ops_audit",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", String(32), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("event", String(64), nullable=False),
    Column("detail", Text, nullable=False),
    Column("source", String(128), nullable=False),
    Column("prev_hash", String(64), nullable=False, unique=True),
    Column("hash", String(64), nullable=False, unique=True),
)

kiosks = Table(
    "ops_kiosks",
    metadata,
    Column("kiosk_id", String(32), primary_key=True),
    Column("enabled", Boolean, nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
    Column("changed_by", String(64), nullable=False),
)

# C15: the database itself refuses to change or remove an audit entry.
_SQLITE_TRIGGERS = (
    "CREATE TRIGGER IF NOT EXISTS ops_audit_no_update BEFORE UPDATE ON ops_audit "
    "BEGIN SELECT RAISE(ABORT, 'ops_audit is append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS ops_audit_no_delete BEFORE DELETE ON ops_audit "
    "BEGIN SELECT RAISE(ABORT, 'ops_audit is append-only'); END",
)


def utcnow() -> dt.datetime:
    """Now, timezone-aware UTC."""
    return dt.datetime.now(dt.UTC)


def aware(value: dt.datetime) -> dt.datetime:
    """A stored timestamp as aware UTC (SQLite hands back naive ones)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def database_url(settings: Settings) -> str:
    """The configured URL (psycopg 3 for a bare ``postgresql://``) or the SQLite file."""
    configured = settings.center.database_url
    if configured is None:
        return f"sqlite:///{settings.center.data_dir.resolve() / FILE_NAME}"
    url = configured.get_secret_value()
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class CenterDb:
    """An engine on the center's database with our per-dialect settings."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        self.dialect = parsed.get_backend_name()
        if self.dialect == "sqlite":
            self.path = Path(parsed.database) if parsed.database else None
            # hide_parameters: a database error's text never carries row values into logs.
            self.engine: Engine = create_engine(url, hide_parameters=True)
            event.listen(self.engine, "connect", _sqlite_connect)
            event.listen(self.engine, "begin", _sqlite_begin)
        elif self.dialect == "postgresql":
            self.path = None
            self.engine = create_engine(
                url, hide_parameters=True, pool_size=4, max_overflow=4, pool_recycle=1800
            )
        else:
            raise ConfigError(SETTING, "only sqlite and postgresql are supported")

    @classmethod
    def from_settings(cls, settings: Settings) -> CenterDb:
        return cls(database_url(settings))

    def exists(self) -> bool:
        """False only for a SQLite file not made yet (nothing was ever recorded in it)."""
        return self.path is None or self.path.exists()

    def migrate(self) -> None:
        """Create what is missing (idempotent); on SQLite also the append-only triggers."""
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.begin() as conn:
            metadata.create_all(conn)
            if self.dialect == "sqlite":
                for trigger in _SQLITE_TRIGGERS:
                    conn.exec_driver_sql(trigger)

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A write transaction (SQLite: takes the write lock up front)."""
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction (SQLite: no write lock)."""
        with (
            self.engine.connect().execution_options(center_begin="DEFERRED") as conn,
            conn.begin(),
        ):
            yield conn

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
    cursor = dbapi_connection.cursor()
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", f"busy_timeout={_BUSY_TIMEOUT_MS}"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    # IMMEDIATE for writes: the audit chain reads its last entry and appends in one step.
    conn.exec_driver_sql(f"BEGIN {conn.get_execution_options().get('center_begin', 'IMMEDIATE')}")


def grant_app_role(db: CenterDb, role: str) -> None:
    """PostgreSQL: let ``role`` (the app's login) append to and read the audit trail only (C15).

    Users and kiosk states it may also update (sign-in counters, disable); nothing may DELETE.
    """
    if db.dialect != "postgresql":
        raise ConfigError(SETTING, "grants are for PostgreSQL; SQLite uses triggers")
    if not _ROLE.match(role):
        raise ConfigError("--app-role", "a PostgreSQL role name: lower-case letters, digits, _")
    with db.begin() as conn:
        for table in ("ops_audit", "ops_users", "ops_kiosks"):
            conn.execute(text(f"REVOKE ALL ON {table} FROM {role}"))
        conn.execute(text(f"GRANT SELECT, INSERT ON ops_audit TO {role}"))
        conn.execute(text(f"GRANT SELECT, INSERT, UPDATE ON ops_users, ops_kiosks TO {role}"))
