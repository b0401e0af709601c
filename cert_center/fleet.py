"""The kiosk fleet as the console shows it: each kiosk's last heartbeat, its device states and the
expiry of its dedicated-line client certificate (C09), without Flask.

Kiosks send ``POST /v1/kiosk/heartbeat`` every ``kiosk.heartbeat_seconds`` (kiosk/services.py,
background loop). :meth:`Fleet.record` keeps the last one per kiosk in the center's shared store
(every worker and replica of the kiosk API writes, the ops surface reads) as one small JSON text
``fleet:<kiosk id>`` that expires ``signals.heartbeat_retention_days`` after it arrived: a kiosk
taken away disappears by itself. What is kept is about the machine only (C08): kiosk id, time,
device states, app version and certificate expiry; nothing about a resident or a session.

Query API (read-only, for ``cert_center/console/sources.py``): :meth:`Fleet.statuses` returns
plain :class:`KioskStatus` dataclasses.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from vaxcert.config import CenterSettings
from vaxcert.contracts.kiosk_api import Heartbeat
from vaxcert.kvstore import KeyValueStore

log = logging.getLogger(__name__)

_DAY = 86_400


@dataclass(frozen=True, slots=True)
class DeviceStates:
    """A kiosk's devices as its last heartbeat reported them.

    ``reader``, ``printer``, ``cash_unit``: ``ok`` | ``warning`` | ``error`` | ``absent``;
    ``paper``: ``ok`` | ``low`` | ``empty``.
    """

    reader: str
    printer: str
    paper: str
    cash_unit: str

    def healthy(self) -> bool:
        """Every device ok and paper not empty (``low`` is still serving)."""
        return (
            self.reader == "ok"
            and self.printer == "ok"
            and self.cash_unit == "ok"
            and self.paper != "empty"
        )


@dataclass(frozen=True, slots=True)
class KioskStatus:
    """One kiosk of the fleet view.

    ``last_heartbeat`` and ``certificate_not_after`` are aware UTC datetimes, None when unknown
    (no heartbeat within the retention). ``silent``: no heartbeat for longer than
    ``signals.silent_after_seconds`` (or none at all).
    """

    kiosk_id: str
    last_heartbeat: dt.datetime | None
    silent: bool
    devices: DeviceStates | None
    app_version: str | None
    certificate_not_after: dt.datetime | None

    def certificate_days_left(self, now: dt.datetime) -> int | None:
        """Whole days until the client certificate expires (negative once expired)."""
        if self.certificate_not_after is None:
            return None
        return (self.certificate_not_after - now).days


class Fleet:
    """Records heartbeats and answers the fleet view."""

    def __init__(
        self,
        store: KeyValueStore,
        settings: CenterSettings,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.store = store
        self.registered = [kiosk.kiosk_id for kiosk in settings.kiosks]
        self.retention_seconds = settings.signals.heartbeat_retention_days * _DAY
        self.silent_after = dt.timedelta(seconds=settings.signals.silent_after_seconds)
        self.clock = clock

    def record(
        self, kiosk_id: str, heartbeat: Heartbeat, certificate_not_after: dt.datetime | None
    ) -> None:
        """Keep ``heartbeat`` as the kiosk's last one (the store raises ``service_unavailable``
        when it is down: the kiosk retries at its next beat)."""
        record = {
            "at": self.clock().astimezone(dt.UTC).isoformat(),
            "reader": heartbeat.reader,
            "printer": heartbeat.printer,
            "paper": heartbeat.paper,
            "cash_unit": heartbeat.cash_unit,
            "app_version": heartbeat.app_version,
            "certificate_not_after": (
                certificate_not_after.astimezone(dt.UTC).isoformat()
                if certificate_not_after is not None
                else None
            ),
        }
        self.store.put(f"fleet:{kiosk_id}", json.dumps(record), self.retention_seconds)

    def statuses(self, kiosk_ids: Sequence[str] | None = None) -> list[KioskStatus]:
        """The status of ``kiosk_ids`` (default: the configured registry), in that order, read
        in one round trip; a kiosk never heard from has every field None and is silent."""
        ids = list(self.registered if kiosk_ids is None else kiosk_ids)
        now = self.clock()
        texts = self.store.get_texts([f"fleet:{kiosk_id}" for kiosk_id in ids])
        return [
            _status(kiosk_id, text, now, self.silent_after)
            for kiosk_id, text in zip(ids, texts, strict=True)
        ]


def _time(value: object) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if isinstance(value, str) else None


def _status(
    kiosk_id: str, text: str | None, now: dt.datetime, silent_after: dt.timedelta
) -> KioskStatus:
    data: dict[str, object] = {}
    if text is not None:
        try:
            loaded = json.loads(text)
            data = loaded if isinstance(loaded, dict) else {}
        except ValueError:
            log.warning("unreadable fleet record ignored", extra={"kiosk_id": kiosk_id})
    last = _time(data.get("at"))
    devices = None
    if last is not None:
        devices = DeviceStates(
            reader=str(data.get("reader")),
            printer=str(data.get("printer")),
            paper=str(data.get("paper")),
            cash_unit=str(data.get("cash_unit")),
        )
    version = data.get("app_version")
    return KioskStatus(
        kiosk_id=kiosk_id,
        last_heartbeat=last,
        silent=last is None or now - last > silent_after,
        devices=devices,
        app_version=version if isinstance(version, str) else None,
        certificate_not_after=_time(data.get("certificate_not_after")),
    )
