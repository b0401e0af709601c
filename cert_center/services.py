"""The center's domain logic, without Flask: kiosk registry, what kiosks may show (C05), service
hours, rate limits, receipts and heartbeats."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from cert_center import metrics
from cert_center.alerts import Alerts, AuditSink
from cert_center.fleet import Fleet
from cert_center.tallies import Tallies
from vaxcert.config import CenterSettings, KioskEntry, MunicipalityEntry
from vaxcert.contracts.kiosk_api import Heartbeat, KioskConfig, MunicipalityView, Receipt
from vaxcert.errors import VaxcertError
from vaxcert.kvstore import KeyValueStore

log = logging.getLogger(__name__)

# How long a receipt id is remembered: longer than a kiosk keeps retrying one (kiosk.services
# gives up and keeps it for the operator after 28 days), so a late repeat is never counted again.
RECEIPT_DEDUP_SECONDS = 31 * 24 * 3600


@dataclass(frozen=True, slots=True)
class ServiceHours:
    """Opening hours in the center's time zone; ``end`` before ``start`` spans midnight."""

    start: dt.time
    end: dt.time
    zone: ZoneInfo

    @classmethod
    def parse(cls, text: str, zone: str) -> ServiceHours:
        """Parse ``"HH:MM-HH:MM"``."""
        first, _, second = text.partition("-")
        return cls(dt.time.fromisoformat(first), dt.time.fromisoformat(second), ZoneInfo(zone))

    def is_open(self, at: dt.datetime) -> bool:
        """Whether ``at`` (aware) falls inside the hours; equal start and end means all day."""
        local = at.astimezone(self.zone).time()
        if self.start == self.end:
            return True
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


class Center:
    """State-free services of the center; everything kept is aggregate or ephemeral (C08)."""

    def __init__(
        self,
        settings: CenterSettings,
        store: KeyValueStore,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        audit: AuditSink | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.hours = ServiceHours.parse(settings.service_hours, settings.timezone)
        self._kiosks = {k.kiosk_id: k for k in settings.kiosks}
        self._municipalities = {m.code: m for m in settings.municipalities}
        # The console's signals (C21, fleet and issuance views); aggregates only (C08).
        self.alerts = Alerts.from_settings(settings, store, audit)
        self.fleet = Fleet(store, settings, clock)
        self.tallies = Tallies(store, settings, clock)
        # The console's kiosk enable/disable (cert_center/console/kiosks.py); None: config only.
        self.kiosk_enabled: Callable[[str], bool] | None = None

    def authorise_kiosk(self, kiosk_id: str) -> KioskEntry:
        """The registry entry of the calling kiosk (its client cert CN), or a 403 refusal."""
        entry = self._kiosks.get(kiosk_id)
        if entry is None:
            metrics.CLIENT_REFUSALS.labels("kiosk_unknown").inc()
            self.alerts.client_refused("kiosk_unknown", kiosk_id)  # C21
            raise VaxcertError("kiosk_unknown")
        disabled_by_console = self.kiosk_enabled is not None and not self.kiosk_enabled(kiosk_id)
        if not entry.enabled or disabled_by_console:
            metrics.CLIENT_REFUSALS.labels("kiosk_disabled").inc()
            self.alerts.client_refused("kiosk_disabled", kiosk_id)  # C21
            raise VaxcertError("kiosk_disabled")
        window = int(time.time() // 60)
        count = self.store.incr(f"rate:{kiosk_id}:{window}", ttl_seconds=120)
        if count > self.settings.kiosk_requests_per_minute:
            raise VaxcertError("rate_limited")
        return entry

    def participating(self, code: str) -> MunicipalityEntry:
        """The municipality if it takes part in kiosk issuance; refused otherwise (C05)."""
        entry = self._municipalities.get(code)
        if entry is None:
            raise VaxcertError("municipality_not_participating")
        return entry

    def kiosk_config(self, kiosk: KioskEntry) -> KioskConfig:
        """What this kiosk may show now (C05)."""
        s = self.settings
        return KioskConfig(
            kiosk_id=kiosk.kiosk_id,
            store_name=kiosk.store_name,
            municipalities=[
                MunicipalityView(
                    code=m.code, name_ja=m.name_ja, name_en=m.name_en, fee_yen=m.fee_yen
                )
                for m in s.municipalities
            ],
            service_hours=s.service_hours,
            timezone=s.timezone,
            open_now=self.hours.is_open(self.clock()),
            languages=list(s.languages),
            terms_version=s.terms_version,
            terms_ja=s.terms_ja,
            terms_en=s.terms_en,
            terms_zh=s.terms_zh,
            terms_ko=s.terms_ko,
            maintenance=s.maintenance,
            max_copies=s.max_copies,
        )

    def record_receipt(self, kiosk: KioskEntry, receipt: Receipt) -> bool:
        """Count a receipt for fee settlement (aggregate only, C08); False for a repeat.

        Kiosks send a receipt until it is acknowledged, so the same one may arrive again (a
        reply lost to a timeout, a 429 or 503 on the way back): a repeat of a receipt id is
        acknowledged and not counted twice. The key (kiosk id + the kiosk's random receipt id)
        lives in the shared store so that every worker and instance sees it.
        """
        municipality = self.participating(receipt.municipality_code)
        if receipt.copies > self.settings.max_copies:
            raise VaxcertError("invalid_field", "copies exceeds the maximum", field="copies")
        expected = 0 if receipt.outcome == "cancelled" else receipt.copies * municipality.fee_yen
        if receipt.amount_yen != expected:
            log.warning(
                "receipt amount refused",
                extra={"kiosk_id": kiosk.kiosk_id, "outcome": receipt.outcome},
            )
            raise VaxcertError(
                "receipt_amount_mismatch",
                f"{receipt.outcome}: {receipt.amount_yen} yen, expected {expected}",
                field="amount_yen",
            )
        key = f"receipt:{kiosk.kiosk_id}:{receipt.receipt_id}"
        counted = self.tallies.receipt(
            kiosk.kiosk_id,
            municipality.code,
            receipt.outcome,
            receipt.copies,
            receipt.amount_yen,
            receipt.incident_id,
            once=(key, RECEIPT_DEDUP_SECONDS),
        )
        if not counted:
            metrics.RECEIPTS.labels(municipality.code, "duplicate").inc()
            return False
        metrics.RECEIPTS.labels(municipality.code, receipt.outcome).inc()
        if receipt.incident_id is not None:
            # Operators follow a refunded misprint up by its incident number (no personal data).
            log.warning(
                "kiosk incident",
                extra={
                    "kiosk_id": kiosk.kiosk_id,
                    "incident": receipt.incident_id,
                    "outcome": receipt.outcome,
                },
            )
        if receipt.outcome == "printed":
            metrics.FEES.labels(municipality.code).inc(receipt.amount_yen)
        return True

    def record_heartbeat(
        self,
        kiosk: KioskEntry,
        heartbeat: Heartbeat,
        certificate_not_after: dt.datetime | None = None,
    ) -> None:
        """Keep the kiosk's device status (fleet view and metrics) and count its PIN lockouts
        (tallies, C21 alert on a burst)."""
        self.fleet.record(kiosk.kiosk_id, heartbeat, certificate_not_after)
        if certificate_not_after is not None:
            metrics.KIOSK_CERTIFICATE_EXPIRY.labels(kiosk.kiosk_id).set(
                certificate_not_after.timestamp()
            )
        lockouts = {
            code: count
            for code, count in (heartbeat.pin_lockouts or {}).items()
            if code in self._municipalities
        }
        if lockouts:
            total = sum(lockouts.values())
            metrics.PIN_LOCKOUTS.labels(kiosk.kiosk_id).inc(total)
            self.tallies.pin_lockouts(lockouts)
            self.alerts.observe("pin_lockouts", kiosk.kiosk_id, total)
        metrics.HEARTBEAT.labels(kiosk.kiosk_id).set(time.time())
        for device in ("reader", "printer", "cash_unit"):
            ok = getattr(heartbeat, device) == "ok"
            metrics.DEVICE.labels(kiosk.kiosk_id, device).set(1 if ok else 0)
        metrics.DEVICE.labels(kiosk.kiosk_id, "paper").set(1 if heartbeat.paper != "empty" else 0)
