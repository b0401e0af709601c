"""The two logs the VRS keeps: provision records (C16) and the operation log (C15).

A provision record says what was provided to whom and when: the recipient (client certificate
CN), the record by its internal id (pseudonymous), the certificate kind, the channel and the 別添2
items. The operation log says who did what, when, and with which outcome: the center's calls that
provided nothing, staff actions and refusals, CLI key management. Neither holds personal data: the
callers pass ids, codes and counts only, and a query that matched nobody logs no trace of the
number it was asked for (C14).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table, select

from vaxcert import lgcode
from vrs_stub import schema
from vrs_stub.store.engine import Database, utcnow
from vrs_stub.store.records import PartitionScope

_INSERT_PROVISION = schema.provision.insert().returning(schema.provision.c.id)
_INSERT_OPERATION = schema.operation.insert()


class ProvisionLog(PartitionScope):
    """Provision records of one partition (C16), and the staff view of both logs."""

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


class OperationLog(Database):
    """The operation log (C15): who, when, what."""

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
