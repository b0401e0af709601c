"""Bringing a database to the current schema, and removing it.

:meth:`Migrations.migrate` applies the pending schema versions of :mod:`vrs_stub.schema` (in its
own PostgreSQL schema when one is configured) and ties the database to its master key: the first
run stores the key's check value and every later run refuses a different master key (C13): a
process given the wrong key stops at start instead of failing on every record it reads.
:meth:`Migrations.drop_all` removes every VRS table (reset and clean-up).
"""

from __future__ import annotations

import hmac

from sqlalchemy import select, text

from vaxcert.errors import ConfigError
from vrs_stub import schema
from vrs_stub.store.engine import Database, utcnow
from vrs_stub.store.keyring import Keyring


class Migrations(Database):
    """Schema versions and the master-key check (C13)."""

    keyring: Keyring

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

    def drop_all(self) -> None:
        """Drop every VRS table, or the whole schema when one was configured (reset, clean-up)."""
        with self.transaction() as conn:
            if self.db_schema:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{self.db_schema}" CASCADE'))
            else:
                schema.metadata.drop_all(conn)
        self.keyring.forget()
