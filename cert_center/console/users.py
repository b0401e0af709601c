"""Console users (C17): argon2 password hashes, a TOTP second factor, roles, lockout, revocation.

Roles, least privilege first:

- ``viewer``: reads the fleet, health, issuance and fee pages; changes nothing.
- ``admin``: a viewer who may also enable and disable kiosks and export fee CSVs.
- ``auditor``: a viewer who may also read the audit trail and the sensitive refusal aggregates
  (daily, small counts suppressed, C08); changes nothing.

A user's ``epoch`` is written into each of their sessions and compared on every request:
disabling the user, resetting their TOTP, changing their role or signing out bumps it, which
ends every session of theirs at once, in every worker and replica (a copied cookie too).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import secrets
import time
from dataclasses import dataclass
from typing import Literal

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import insert, select, update

from cert_center.console import db
from cert_center.console.db import CenterDb
from vaxcert.errors import VaxcertError
from vaxcert.kvstore import KeyValueStore, MemoryStore

Role = Literal["viewer", "admin", "auditor"]
ROLES: tuple[Role, ...] = ("viewer", "admin", "auditor")
ISSUER = "vaxcert ops"
USER_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
MIN_PASSWORD = 12
_HASHER = PasswordHasher()
# Verified against when the user id is unknown, so that answer takes as long as a wrong password.
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))


class UserError(ValueError):
    """A user command that cannot be done (the message says why)."""


@dataclass(frozen=True, slots=True)
class User:
    """A console user as the session needs it (no secret)."""

    user_id: str
    role: Role
    enabled: bool
    epoch: int


@dataclass(frozen=True, slots=True)
class NewUser:
    """A user just made (or a TOTP just reset): shown once, stored only as the secret itself."""

    user_id: str
    role: Role
    totp_secret: str

    @property
    def otpauth_uri(self) -> str:
        return pyotp.TOTP(self.totp_secret).provisioning_uri(name=self.user_id, issuer_name=ISSUER)


Outcome = Literal["ok", "bad_credentials", "bad_totp", "locked", "disabled"]


@dataclass(frozen=True, slots=True)
class SignIn:
    """The answer to one sign-in attempt; ``user`` only when ``outcome`` is ``ok``."""

    outcome: Outcome
    user: User | None = None
    known: bool = False  # whether the user id exists (for the audit entry, never shown)
    locked_now: bool = False  # this failure locked the user id


class UserStore:
    """The ``ops_users`` table."""

    def __init__(
        self,
        database: CenterDb,
        max_failed: int = 5,
        lockout_minutes: int = 15,
        store: KeyValueStore | None = None,
    ) -> None:
        self.db = database
        self.max_failed = max_failed
        self.lockout = dt.timedelta(minutes=lockout_minutes)
        # Failure counts and locks per (user, address), expiring by themselves (C17).
        self.store: KeyValueStore = store if store is not None else MemoryStore()

    def add(self, user_id: str, role: Role, password: str) -> NewUser:
        """A new enabled user with a fresh TOTP secret."""
        if not USER_ID.match(user_id):
            raise UserError("a user id is 2-64 of a-z 0-9 . _ - (no names: C15)")
        if role not in ROLES:
            raise UserError(f"role must be one of {', '.join(ROLES)}")
        if len(password) < MIN_PASSWORD:
            raise UserError(f"a password has at least {MIN_PASSWORD} characters")
        secret = pyotp.random_base32()
        with self.db.begin() as conn:
            if conn.execute(
                select(db.users.c.user_id).where(db.users.c.user_id == user_id)
            ).first():
                raise UserError(f"user {user_id} exists")
            conn.execute(
                insert(db.users).values(
                    user_id=user_id,
                    role=role,
                    password_hash=_HASHER.hash(password),
                    totp_secret=secret,
                    enabled=True,
                    epoch=1,
                    failed_logins=0,
                    last_totp_step=0,
                    created_at=db.utcnow(),
                )
            )
        return NewUser(user_id, role, secret)

    def _change(self, user_id: str, **values: object) -> None:
        with self.db.begin() as conn:
            result = conn.execute(
                update(db.users)
                .where(db.users.c.user_id == user_id)
                .values(epoch=db.users.c.epoch + 1, **values)
            )
            if result.rowcount != 1:
                raise UserError(f"no user {user_id}")

    def disable(self, user_id: str) -> None:
        """Disable the user and end every session of theirs (C17)."""
        self._change(user_id, enabled=False)

    def end_sessions(self, user_id: str) -> None:
        """End every session of the user (sign-out: a copied cookie dies with it, C17)."""
        self._change(user_id)

    def enable(self, user_id: str) -> None:
        self._change(user_id, enabled=True, failed_logins=0, locked_until=None)

    def set_role(self, user_id: str, role: Role) -> None:
        if role not in ROLES:
            raise UserError(f"role must be one of {', '.join(ROLES)}")
        self._change(user_id, role=role)

    def reset_totp(self, user_id: str) -> NewUser:
        """A new TOTP secret (the old one and every session end)."""
        secret = pyotp.random_base32()
        self._change(user_id, totp_secret=secret, last_totp_step=0)
        user = self.get(user_id)
        assert user is not None
        return NewUser(user_id, user.role, secret)

    def get(self, user_id: str) -> User | None:
        with self.db.read() as conn:
            row = conn.execute(
                select(
                    db.users.c.user_id, db.users.c.role, db.users.c.enabled, db.users.c.epoch
                ).where(db.users.c.user_id == user_id)
            ).first()
        return User(row.user_id, row.role, bool(row.enabled), row.epoch) if row else None

    def all(self) -> list[User]:
        with self.db.read() as conn:
            rows = conn.execute(
                select(
                    db.users.c.user_id, db.users.c.role, db.users.c.enabled, db.users.c.epoch
                ).order_by(db.users.c.user_id)
            ).all()
        return [User(r.user_id, r.role, bool(r.enabled), r.epoch) for r in rows]

    def sign_in(self, user_id: str, password: str, code: str, source: str = "unknown") -> SignIn:
        """Check password and TOTP; lock the user id *from this address* (``source``) after
        ``max_failed`` failures in a row.

        Per address, not per user id: a stranger guessing at an operator's id locks out only
        their own address, never the operator at theirs (C17). Re-enabling the user (or any
        epoch bump) lifts every lock of theirs. A locked or disabled user id gets the same
        wrong-credentials answer as an unknown one would if its password were wrong: the form
        says nothing an attacker could probe with.
        """
        with self.db.begin() as conn:
            row = conn.execute(select(db.users).where(db.users.c.user_id == user_id)).first()
            if row is None:
                _verify(_DUMMY_HASH, password)
                return SignIn("bad_credentials")
            # A hash each time, so that the answer's timing does not tell these apart either.
            if not row.enabled:
                _verify(_DUMMY_HASH, password)
                return SignIn("disabled", known=True)
            where = f"{user_id}:{row.epoch}:{source}"
            if self._is_locked(where):
                _verify(_DUMMY_HASH, password)
                return SignIn("locked", known=True)
            outcome: Outcome = "ok"
            step = 0
            if not _verify(row.password_hash, password):
                outcome = "bad_credentials"
            else:
                step = _totp_step(row.totp_secret, code, row.last_totp_step)
                if step == 0:
                    outcome = "bad_totp"
            if outcome != "ok":
                return SignIn(outcome, known=True, locked_now=self._count_failure(where))
            conn.execute(
                update(db.users).where(db.users.c.user_id == user_id).values(last_totp_step=step)
            )
            self._forget_failures(where)
            return SignIn("ok", User(row.user_id, row.role, True, row.epoch), known=True)

    # The shared store down: no lock is counted or seen (fail open) rather than nobody signing
    # in; the per-address attempt limit (Flask-Limiter, in-memory fallback) still holds.
    def _is_locked(self, where: str) -> bool:
        try:
            return self.store.get_int(f"center:login-lock:{where}") > 0
        except VaxcertError:
            return False

    def _count_failure(self, where: str) -> bool:
        """Count one failure; True when it locks ``where`` now."""
        seconds = int(self.lockout.total_seconds())
        try:
            failed = self.store.incr(f"center:login-fail:{where}", seconds)
            if failed < self.max_failed:
                return False
            self.store.delete(f"center:login-fail:{where}")
            return self.store.add(f"center:login-lock:{where}", seconds)
        except VaxcertError:
            return False

    def _forget_failures(self, where: str) -> None:
        with contextlib.suppress(VaxcertError):
            self.store.delete(f"center:login-fail:{where}")


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _totp_step(secret: str, code: str, last_step: int) -> int:
    """The time step ``code`` is valid for (this one or one either side), if newer than the
    last one used; 0 when it is wrong or a replay."""
    code = code.strip().replace(" ", "")
    if not code.isdigit() or len(code) != 6:
        return 0
    totp = pyotp.TOTP(secret)
    now = int(time.time())
    for offset in (0, -1, 1):
        step = now // totp.interval + offset
        if step > last_step and secrets.compare_digest(totp.at(step * totp.interval), code):
            return step
    return 0
