"""The database underneath the store: engines, transactions, SQLite's writer queue and WAL rewind.

:class:`Database` opens SQLite or PostgreSQL with our per-dialect settings and hands out
transactions and autocommit connections. On SQLite, writers of every thread and process queue on a
file lock (:class:`SQLiteWriterQueue`) instead of polling for the database's one write lock, and a
background thread checkpoints the write-ahead log so it rewinds instead of growing. Bulk inserts
skip per-row work (SQLite executemany, PostgreSQL COPY).

Controls carried here: no database error text carries row values into logs (``hide_parameters``,
C13); SQLite overwrites deleted records instead of leaving them in free pages (``secure_delete``,
C19).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    Connection,
    Date,
    DateTime,
    Engine,
    Table,
    create_engine,
    event,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from vaxcert.config import Settings
from vaxcert.errors import ConfigError
from vrs_stub import crypto

_PG_COPY_THRESHOLD = 2000
BUSY_TIMEOUT_MS = 15000
log = logging.getLogger(__name__)

# INSERT … ON CONFLICT per dialect (both have it, under different constructors).
DIALECT_INSERT: dict[str, Callable[[Table], Any]] = {
    "sqlite": sqlite_insert,
    "postgresql": pg_insert,
}


def utcnow() -> dt.datetime:
    """Now, timezone-aware UTC (what every timestamp column stores)."""
    return dt.datetime.now(dt.UTC)


def aware(value: dt.datetime) -> dt.datetime:
    """A stored timestamp as timezone-aware UTC."""
    # SQLite hands back naive datetimes for timezone-aware columns: they were stored as UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


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
                f"busy_timeout={BUSY_TIMEOUT_MS}",
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


class Database:
    """One VRS database: transactions and autocommit connections; on SQLite, the writer queue
    and the background checkpointer that keeps the WAL from growing."""

    CHECKPOINT_SECONDS = 1.0

    def __init__(self, engine: Engine, db_schema: str | None = None) -> None:
        self.engine = engine
        self.db_schema = db_schema if engine.dialect.name == "postgresql" else None
        self._stop = threading.Event()
        self._writers = (
            SQLiteWriterQueue(engine.url.database or "") if self.dialect == "sqlite" else None
        )
        if self.dialect == "sqlite":
            threading.Thread(target=self._checkpoint_loop, daemon=True, name="vrs-wal").start()

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

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

    def checkpoint(self, mode: str = "PASSIVE", wait_ms: int = BUSY_TIMEOUT_MS) -> None:
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
                    conn.exec_driver_sql(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        except Exception:  # a busy database skips one checkpoint; the next one catches up
            log.debug("SQLite checkpoint skipped")

    def dispose(self) -> None:
        """Stop the checkpointer, fold the WAL into the file (SQLite), close pooled connections."""
        self._stop.set()
        self.checkpoint("TRUNCATE")
        self.engine.dispose()
        if self._writers is not None:
            self._writers.close()


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
