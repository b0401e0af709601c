"""The audit trail of the center's operations (C15): append-only, hash-chained, no personal data.

Every sign-in, sign-out, failed sign-in, lockout, user change, kiosk enable/disable, export and
security event becomes one row of ``ops_audit``: who (an operator id or a component such as
``alerts``), when (UTC), what (an event name and a small detail of ids and codes), from where
(the client address, or the component). Each row carries the hash of the row before it, so a
changed, inserted or removed row breaks the chain at that point (``vaxcert ops audit verify``);
the database refuses UPDATE and DELETE besides (cert_center/console/db.py).

Other parts of the center (the alert rules) append through :func:`record`, the
``AuditSink``-shaped entry point; it needs no Flask and writes to the trail the process
installed (:func:`install`), or only to the audit log when none is.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import SQLAlchemyError

from cert_center.console import db
from cert_center.console.db import CenterDb
from cert_center.metrics import AUDIT_HEAD

log = logging.getLogger("cert_center.audit")

GENESIS = "0" * 64
Detail = dict[str, str | int | bool | None]
_MAX_TEXT = 128
# Serialises appends on PostgreSQL without table privileges beyond INSERT/SELECT (C15).
_PG_LOCK_KEY = 0x7661786F7073  # "vaxops"


class AuditSink(Protocol):
    """What records a security event: the console's trail, or a test's list."""

    def record(self, event: str, actor: str, detail: Detail, source: str) -> object: ...


@dataclass(frozen=True, slots=True)
class Entry:
    """One row of the trail."""

    seq: int
    at: str
    actor: str
    event: str
    detail: str
    source: str
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class Head:
    """The newest entry of the trail as kept outside the database (C15)."""

    seq: int
    hash: str

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"

    @classmethod
    def parse(cls, text: str) -> Head:
        """``SEQ:HASH`` as printed by ``vaxcert ops audit head``; ValueError otherwise."""
        seq, _sep, digest = text.strip().partition(":")
        if not seq.isdigit() or int(seq) < 1 or len(digest) != 64:
            raise ValueError("a head is SEQ:HASH (a sequence number, 64 hex digits)")
        int(digest, 16)
        return cls(int(seq), digest.lower())


def _clip(value: str) -> str:
    return value[:_MAX_TEXT]


def _canonical(detail: Detail) -> str:
    clean = {_clip(key): _clip(v) if isinstance(v, str) else v for key, v in detail.items()}
    return json.dumps(clean, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def chain_hash(
    seq: int, at: str, actor: str, event: str, detail: str, source: str, prev_hash: str
) -> str:
    """SHA-256 over the row's fields and the previous row's hash."""
    material = json.dumps(
        [seq, at, actor, event, detail, source, prev_hash],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(material.encode()).hexdigest()


class AuditTrail:
    """Appends to and reads the ``ops_audit`` table."""

    def __init__(self, database: CenterDb) -> None:
        self.db = database

    def record(self, event: str, actor: str, detail: Detail, source: str) -> Entry:
        """Append one entry, chained to the last one; the audit log gets its seq and hash."""
        at = db.utcnow().isoformat(timespec="milliseconds")
        actor, event, source = _clip(actor), _clip(event), _clip(source)
        body = _canonical(detail)
        with self.db.begin() as conn:
            if self.db.dialect == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
            last = conn.execute(
                select(db.audit.c.seq, db.audit.c.hash).order_by(db.audit.c.seq.desc()).limit(1)
            ).first()
            seq, prev = (last.seq + 1, last.hash) if last is not None else (1, GENESIS)
            digest = chain_hash(seq, at, actor, event, body, source, prev)
            conn.execute(
                insert(db.audit).values(
                    seq=seq,
                    at=at,
                    actor=actor,
                    event=event,
                    detail=body,
                    source=source,
                    prev_hash=prev,
                    hash=digest,
                )
            )
        # The head of the chain also leaves the database: a removed last entry shows against it.
        log.info(
            "audit", extra={"event": event, "actor": actor, "audit_seq": seq, "audit_hash": digest}
        )
        AUDIT_HEAD.set(seq)
        return Entry(seq, at, actor, event, body, source, prev, digest)

    def latest(self, limit: int = 100) -> list[Entry]:
        """The newest entries first."""
        with self.db.read() as conn:
            rows = conn.execute(select(db.audit).order_by(db.audit.c.seq.desc()).limit(limit)).all()
        return [Entry(*row) for row in rows]

    def count(self) -> int:
        with self.db.read() as conn:
            return int(conn.execute(select(func.count()).select_from(db.audit)).scalar_one())

    def head(self) -> Head | None:
        """The newest entry as ``SEQ:HASH`` material (None: the trail is empty)."""
        newest = self.latest(1)
        return Head(newest[0].seq, newest[0].hash) if newest else None

    def verify(self, expected_head: Head | None = None) -> list[str]:
        """Walk the whole chain; each problem found, by sequence number (empty: intact).

        The chain alone cannot show its newest entries removed: ``expected_head``, a head kept
        outside the database (the audit log line, the Prometheus gauge, a copy of
        ``vaxcert ops audit head``), must still be in the table, unchanged.
        """
        problems = self._walk()
        if expected_head is not None:
            problems += self._check_head(expected_head)
        return problems

    def _check_head(self, expected: Head) -> list[str]:
        with self.db.read() as conn:
            row = conn.execute(
                select(db.audit.c.hash).where(db.audit.c.seq == expected.seq)
            ).first()
        if row is None:
            return [f"entry {expected.seq} (the expected head) is missing: the trail was cut"]
        if row.hash != expected.hash:
            return [f"entry {expected.seq}: not the expected head (hash differs)"]
        return []

    def _walk(self) -> list[str]:
        problems: list[str] = []
        expected_seq, prev = 1, GENESIS
        with self.db.read() as conn:
            rows = conn.execute(select(db.audit).order_by(db.audit.c.seq))
            for row in rows:
                entry = Entry(*row)
                if entry.seq != expected_seq:
                    problems.append(f"entries {expected_seq}..{entry.seq - 1} are missing")
                if entry.prev_hash != prev:
                    problems.append(f"entry {entry.seq}: does not follow the entry before it")
                digest = chain_hash(
                    entry.seq,
                    entry.at,
                    entry.actor,
                    entry.event,
                    entry.detail,
                    entry.source,
                    entry.prev_hash,
                )
                if digest != entry.hash:
                    problems.append(f"entry {entry.seq}: its content was changed")
                expected_seq, prev = entry.seq + 1, entry.hash
        return problems


_installed: AuditSink | None = None


def install(sink: AuditSink | None) -> None:
    """Make ``sink`` the trail :func:`record` appends to in this process."""
    global _installed  # one trail per process, set by the app factory
    _installed = sink


def record(event: str, actor: str, detail: Detail, source: str) -> None:
    """Append a security event to this process's audit trail (the alert rules call this).

    Never raises: an unavailable database loses the row, not the caller's request; the event
    still reaches the audit log.
    """
    sink = _installed
    if sink is None:
        log.warning("audit", extra={"event": event, "actor": actor, "source": source})
        return
    try:
        sink.record(event, actor, detail, source)
    except SQLAlchemyError as exc:
        log.error(
            "audit entry not stored",
            extra={"event": event, "actor": actor, "error": type(exc).__name__},
        )
