"""Municipal staff tokens: issued per staff member, scoped to one municipality and some roles.

A token is ``vrs1.<id>.<secret>``; only the secret's SHA-256 is stored, compared in constant
time. A token authenticates only while unexpired and unrevoked, and revocation takes effect at
once. The principal it yields carries one municipality code, and the staff service refuses every
call outside it: a municipality's staff reach only their own partition, and only they can delete
its data (C19).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, select, update

from vrs_stub import schema
from vrs_stub.store.engine import aware, utcnow


@dataclass(frozen=True)
class StaffPrincipal:
    """A municipal staff member authenticated by a token scoped to one municipality (C19)."""

    token_id: str
    municipality_code: str
    staff_id: str
    roles: frozenset[str]


class StaffTokens:
    """Issuing, checking and revoking staff tokens."""

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
        expires = aware(row.expires_at)
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
