"""Municipalities and their partitions: opening one, creating one, and rotating its keys.

A :class:`Partition` is one municipality's data inside one transaction; every statement it runs
is filtered by that municipality's code (C12, C19) and its keys open only that municipality's
ciphertexts (C13). :class:`Partitions` is the store's side: it creates a municipality with fresh
keys, opens its partition at the active key version (cached per process for the relay's hot
path), rotates a municipality's keys by re-encrypting its rows, and re-wraps every key under a
new master key. There is no way to read persons without a partition.
"""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, func, select, update

from vaxcert import lgcode
from vrs_stub import schema
from vrs_stub.store.engine import Database, utcnow
from vrs_stub.store.issuances import IssuanceRecords
from vrs_stub.store.keyring import Keyring
from vrs_stub.store.logs import ProvisionLog
from vrs_stub.store.records import PersonRecords

_ACTIVE_VERSION = select(schema.municipality.c.active_key_version).where(
    schema.municipality.c.code == bindparam("code")
)


class Partition(PersonRecords, IssuanceRecords, ProvisionLog):
    """One municipality's records inside one transaction (C12): every statement names the code."""


class Partitions(Database):
    """The store's municipalities: their partitions and their keys (C12, C13)."""

    keyring: Keyring
    # Active key version per code, so the relay's hot path skips one round trip.
    _versions: dict[str, int]

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
