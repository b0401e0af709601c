"""The record store: the only code that touches the VRS tables (SQLite or PostgreSQL).

Reading or changing records always goes through a :class:`Partition`, which is bound to one
municipality code and one database transaction; every statement it runs is filtered by that code
(C12, C19), and its keys decrypt only that municipality's ciphertexts (C13). There is no method that
reads persons without a partition.

:class:`Store` is the one entry point; its parts live in modules named after what they hold:

- :mod:`~vrs_stub.store.engine`: engines, transactions, SQLite's writer queue and WAL checkpoints;
- :mod:`~vrs_stub.store.keyring`: municipality keys wrapped under the master key (C13);
- :mod:`~vrs_stub.store.partitions`: municipalities, their partitions and key rotation (C12);
- :mod:`~vrs_stub.store.records`: person records and their encrypted documents (C12, C13, C19);
- :mod:`~vrs_stub.store.issuances`: issuance records (C20);
- :mod:`~vrs_stub.store.logs`: provision records (C16) and the operation log (C15);
- :mod:`~vrs_stub.store.staff`: municipal staff tokens (C19);
- :mod:`~vrs_stub.store.migrations`: schema versions and the master-key check.
"""

from __future__ import annotations

from sqlalchemy import Engine

from vaxcert.config import Settings
from vrs_stub import crypto
from vrs_stub.store.engine import database_url, make_engine, normalise_url, utcnow
from vrs_stub.store.keyring import Keyring
from vrs_stub.store.logs import OperationLog
from vrs_stub.store.migrations import Migrations
from vrs_stub.store.partitions import Partition, Partitions
from vrs_stub.store.records import Lookup, RowBuilder
from vrs_stub.store.staff import StaffPrincipal, StaffTokens

__all__ = [
    "Lookup",
    "Partition",
    "RowBuilder",
    "StaffPrincipal",
    "Store",
    "database_url",
    "make_engine",
    "normalise_url",
    "utcnow",
]


class Store(Partitions, Migrations, OperationLog, StaffTokens):
    """The VRS database: schema, municipalities and their keys, tokens, logs and partitions."""

    def __init__(self, engine: Engine, master_key: bytes, db_schema: str | None = None) -> None:
        self.keyring = Keyring(master_key)
        self._versions = {}
        super().__init__(engine, db_schema)

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
