"""Kiosk enabled states: the database decides, the shared key-value store answers fast.

An admin disables a kiosk in the console; every kiosk API process of every replica must refuse
it from its next request on (``kiosk_disabled``), while the issuance path (~270 requests/s)
pays one key-value lookup per request and no database query. So the state is written to the
database (authoritative, audited) and at once to ``kiosk-state:<id>`` in the shared store
(``enabled`` or ``disabled``) with a TTL of ``console.kiosk_state_cache_seconds``. A kiosk API
process reads that key; when it is missing (expired, evicted, a fresh Redis) it reads the
database once and puts the key back. Without Redis (the embedded in-process store), each
process keeps its own copy for one second, so a change reaches the other processes within it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from cert_center.console import db
from cert_center.console.db import CenterDb
from vaxcert.config import KioskEntry
from vaxcert.errors import VaxcertError
from vaxcert.kvstore import KeyValueStore, MemoryStore

log = logging.getLogger(__name__)
ENABLED, DISABLED = "enabled", "disabled"


@dataclass(frozen=True, slots=True)
class KioskState:
    """What the fleet page shows of the registry for one kiosk."""

    kiosk_id: str
    store_name: str
    enabled: bool
    changed_by: str | None


class KioskStates:
    """The registry's enabled states (configuration, then the console's changes)."""

    def __init__(
        self,
        database: CenterDb,
        store: KeyValueStore,
        configured: list[KioskEntry],
        cache_seconds: int,
    ) -> None:
        self.db = database
        self.store = store
        self.configured = {entry.kiosk_id: entry for entry in configured}
        self.ttl = 1 if isinstance(store, MemoryStore) else cache_seconds

    @staticmethod
    def _key(kiosk_id: str) -> str:
        return f"kiosk-state:{kiosk_id}"

    def is_enabled(self, kiosk_id: str) -> bool:
        """The kiosk API's check on every request: one store lookup while the copy lives."""
        (cached,) = self.store.get_texts([self._key(kiosk_id)])
        if cached is not None:
            return cached == ENABLED
        enabled = self._stored(kiosk_id)
        self.store.put(self._key(kiosk_id), ENABLED if enabled else DISABLED, self.ttl)
        return enabled

    def _stored(self, kiosk_id: str) -> bool:
        if not self.db.exists():  # no console change was ever recorded
            return True
        try:
            with self.db.read() as conn:
                row = conn.execute(
                    select(db.kiosks.c.enabled).where(db.kiosks.c.kiosk_id == kiosk_id)
                ).first()
        except SQLAlchemyError as exc:
            # Fail closed: a kiosk disabled for cause must not come back with a database outage.
            log.error("kiosk registry unavailable", extra={"error": type(exc).__name__})
            raise VaxcertError("service_unavailable", "center database") from None
        return True if row is None else bool(row.enabled)

    def set_enabled(self, kiosk_id: str, enabled: bool, actor: str) -> None:
        """Write the state to the database, then to the shared copy (effective at once)."""
        if kiosk_id not in self.configured:
            raise VaxcertError("kiosk_unknown")
        values = {"enabled": enabled, "changed_at": db.utcnow(), "changed_by": actor}
        with self.db.begin() as conn:
            done = conn.execute(
                update(db.kiosks).where(db.kiosks.c.kiosk_id == kiosk_id).values(**values)
            )
            if done.rowcount == 0:
                conn.execute(insert(db.kiosks).values(kiosk_id=kiosk_id, **values))
        self.store.put(self._key(kiosk_id), ENABLED if enabled else DISABLED, self.ttl)

    def all(self) -> list[KioskState]:
        """Every configured kiosk with its effective state, by id."""
        changes: dict[str, tuple[bool, str]] = {}
        if self.db.exists():
            with self.db.read() as conn:
                for row in conn.execute(select(db.kiosks)):
                    changes[row.kiosk_id] = (bool(row.enabled), row.changed_by)
        states = []
        for kiosk_id, entry in sorted(self.configured.items()):
            enabled, by = changes.get(kiosk_id, (True, None))
            states.append(KioskState(kiosk_id, entry.store_name, entry.enabled and enabled, by))
        return states
