"""Issuance records: which certificate was issued from which record, and when (C20).

The center reports every certificate it issued; the VRS keeps its certificate id, issue date,
kind and channel under the record (別添2 items 28 and 29) and nothing else of the certificate.
Recording is one statement that inserts only for a record of this partition (C12) and only a new
certificate id, so racing repeats of one report record it once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Table, bindparam, select

from vrs_stub import schema
from vrs_stub.models import IssuanceRecord
from vrs_stub.store.engine import DIALECT_INSERT, utcnow
from vrs_stub.store.records import PartitionScope


def _add_issuance(insert: Callable[[Table], Any]) -> Any:
    """INSERT the issuance if the record is in the partition and the certificate id is new."""
    i, p = schema.issuance.c, schema.person.c
    source = select(
        bindparam("certificate_id", type_=i.certificate_id.type),
        p.municipality_code,
        p.record_id,
        bindparam("issued_on", type_=i.issued_on.type),
        bindparam("kind", type_=i.kind.type),
        bindparam("channel", type_=i.channel.type),
        bindparam("recorded_at", type_=i.recorded_at.type),
    ).where(p.municipality_code == bindparam("code"), p.record_id == bindparam("record_id"))
    columns = ["certificate_id", "municipality_code", "record_id", "issued_on", "kind", "channel"]
    return (
        insert(schema.issuance)
        .from_select([*columns, "recorded_at"], source)
        .on_conflict_do_nothing(index_elements=["certificate_id"])
        .returning(schema.issuance.c.certificate_id)  # a row back: inserted (rowcount is -1 on PG)
    )


_ADD_ISSUANCE = {name: _add_issuance(insert) for name, insert in DIALECT_INSERT.items()}


class IssuanceRecords(PartitionScope):
    """The issuance records of one partition (C20)."""

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
