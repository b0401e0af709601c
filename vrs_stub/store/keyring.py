"""The municipality keys in use: wrapped under the master key in ``vrs_data_key``, cached unwrapped.

Each municipality has its own data key (AES-GCM for personal columns) and index key (the My
Number's blind index) per key version, stored only wrapped under the master key (C13). A
:class:`Keyring` makes, unwraps and re-wraps them and caches the unwrapped keys per (code,
version), so a partition's keys are one dictionary look-up on the relay's hot path. The
primitives themselves are :mod:`vrs_stub.crypto`; rotating and re-wrapping whole partitions is
:mod:`vrs_stub.store.partitions`.
"""

from __future__ import annotations

import threading

from sqlalchemy import Connection, select

from vrs_stub import crypto, schema
from vrs_stub.crypto import PartitionKeys
from vrs_stub.store.engine import utcnow


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
