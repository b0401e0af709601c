"""The kiosk's receipt outbox: receipts are money, so each one is kept on disk from the moment the
cash unit settles until the center acknowledges it, and survives a restart of the kiosk.

C08: the file holds money data only: the kiosk's random receipt id, the kiosk id, the
municipality code, copies, amount, outcome, the incident number of a refunded misprint (the
kiosk's own opaque number), the time, and the delivery state. Never the certificate id, never
anything from the card or the certificate (docs/kiosk.md explains why the certificate id is not
kept). The file is replaced atomically (temporary file in the same directory, fsync, rename) and
readable by the kiosk's user only.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import secrets
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from vaxcert.contracts.kiosk_api import Receipt

log = logging.getLogger(__name__)

State = Literal["pending", "refused", "expired"]
# Kept for the operator, not retried; the oldest go once there are more than this.
_MAX_SETTLED = 1000


class OutboxEntry(BaseModel):
    """One receipt and its delivery state, as stored (C08: nothing else)."""

    model_config = ConfigDict(extra="forbid")

    receipt_id: str
    kiosk_id: str
    municipality_code: str
    copies: int
    amount_yen: int
    outcome: Literal["printed", "misprint_refunded", "cancelled"]
    incident_id: str | None = None
    created_at: dt.datetime
    state: State = "pending"
    # The center's reason code when it refused the receipt (4xx): for the operator.
    reason: str | None = None
    attempts: int = Field(default=0, ge=0)

    def receipt(self) -> Receipt:
        """The wire form sent to the center."""
        return Receipt(
            receipt_id=self.receipt_id,
            municipality_code=self.municipality_code,
            copies=self.copies,
            amount_yen=self.amount_yen,
            outcome=self.outcome,
            incident_id=self.incident_id,
        )


def new_receipt_id() -> str:
    """A fresh receipt id: 128 random bits, carrying nothing else (C08)."""
    return secrets.token_urlsafe(16)


class Outbox:
    """Receipts not yet acknowledged, persisted in one JSON file; thread-safe."""

    def __init__(
        self,
        path: Path,
        kiosk_id: str,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.path = path
        self.kiosk_id = kiosk_id
        self.now = now
        self._lock = threading.Lock()
        self._entries: list[OutboxEntry] = self._load()

    def _load(self) -> list[OutboxEntry]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return []
        try:
            data = json.loads(raw)
            return [OutboxEntry.model_validate(item) for item in data]
        except (ValueError, TypeError, ValidationError):
            # Never silently start afresh over money: the unreadable file stays for the operator.
            aside = self.path.with_name(f"{self.path.name}.unreadable-{secrets.token_hex(4)}")
            self.path.replace(aside)
            log.error("receipt outbox unreadable; set aside", extra={"file": aside.name})
            return []

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        data = json.dumps([e.model_dump(mode="json") for e in self._entries], indent=1).encode()
        fd, temp = tempfile.mkstemp(prefix=".receipts-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise

    def add(
        self,
        municipality_code: str,
        copies: int,
        amount_yen: int,
        outcome: Literal["printed", "misprint_refunded", "cancelled"],
        incident_id: str | None = None,
    ) -> OutboxEntry:
        """Keep a new receipt (on disk before this returns)."""
        entry = OutboxEntry(
            receipt_id=new_receipt_id(),
            kiosk_id=self.kiosk_id,
            municipality_code=municipality_code,
            copies=copies,
            amount_yen=amount_yen,
            outcome=outcome,
            incident_id=incident_id,
            created_at=self.now().replace(microsecond=0),
        )
        entry.receipt()  # refuse a malformed receipt here, not at every retry
        with self._lock:
            self._entries.append(entry)
            self._save()
        return entry

    def pending(self) -> list[OutboxEntry]:
        """Receipts still to deliver, oldest first."""
        with self._lock:
            return [e for e in self._entries if e.state == "pending"]

    def entries(self) -> list[OutboxEntry]:
        """Every entry kept (pending, and refused or expired ones for the operator)."""
        with self._lock:
            return list(self._entries)

    def acknowledged(self, entry: OutboxEntry) -> None:
        """The center took it: forget it."""
        with self._lock:
            self._entries = [e for e in self._entries if e.receipt_id != entry.receipt_id]
            self._save()

    def settle(self, entry: OutboxEntry, state: State, reason: str | None) -> None:
        """No more retries (refused by the center, or too old): kept for the operator."""
        with self._lock:
            for kept in self._entries:
                if kept.receipt_id == entry.receipt_id:
                    kept.state = state
                    kept.reason = reason
            settled = [e for e in self._entries if e.state != "pending"]
            for old in settled[: max(0, len(settled) - _MAX_SETTLED)]:
                self._entries.remove(old)
            self._save()

    def attempted(self, entry: OutboxEntry) -> None:
        """One more delivery attempt failed for a reason worth retrying."""
        with self._lock:
            for kept in self._entries:
                if kept.receipt_id == entry.receipt_id:
                    kept.attempts += 1
            self._save()

    def counts(self) -> dict[str, int]:
        """How many receipts are in each state (for the health page)."""
        with self._lock:
            result = {"pending": 0, "refused": 0, "expired": 0}
            for entry in self._entries:
                result[entry.state] += 1
            return result
