"""Per-municipality counters for the console's issuance and fee views, without Flask (C08).

Counted per hour and per day of the center's local time (``center.timezone``), per participating
municipality: certificates issued, refusals by PUBLIC reason code, PIN lockouts the kiosks
reported, and the kiosks' receipts (printed, misprint refunded, cancelled, with copies and yen).
Refunded misprints are also listed with their incident number (the kiosk's own opaque number).

Kept as Redis hashes, one per bucket: ``tally:h:<YYYY-MM-DDTHH>`` and ``tally:d:<YYYY-MM-DD>``,
fields ``<municipality>|<measure>`` (``issued``, ``refused:<reason>``, ``pin_lockouts``,
``printed``, ``copies``, ``fee_yen``, ``misprints``, ``refund_yen``, ``cancelled``); incidents
as a list ``tally:incidents:<YYYY-MM-DD>``. Hour buckets expire ``signals.hourly_retention_days``
after their hour, day buckets and incident lists ``signals.daily_retention_days`` after their day.

Aggregates only: no card, certificate, receipt or request id, no time finer than the hour. The
sensitive refusal categories (support measure, moved out, deceased, alias, ...) are never counted
here: a refusal is tallied under its public code (``counter_required``), which is all a kiosk
saw; the categories stay in :mod:`cert_center.refusal_days`, daily and for the auditor only.

Cost on the issuance path: one pipelined round trip per certificate or refusal
(:meth:`KeyValueStore.count_fields`). Counting is best effort: a store outage loses the count
(logged), it never changes the resident's answer.

Query API (read-only, for ``cert_center/console/sources.py``): :meth:`Tallies.hourly`,
:meth:`Tallies.daily`, :meth:`Tallies.fees`, :meth:`Tallies.incidents`, returning plain
dataclasses.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from vaxcert import reasons
from vaxcert.config import CenterSettings
from vaxcert.errors import VaxcertError
from vaxcert.kvstore import FieldCount, KeyValueStore

log = logging.getLogger(__name__)

# Refusals before the municipality is known to take part (a code outside the registry).
OTHER = "other"
_DAY = 86_400
_MAX_INCIDENTS_PER_DAY = 10_000


@dataclass(frozen=True, slots=True)
class Counts:
    """One municipality's counts in one hour or day.

    ``refused`` maps public reason codes (vaxcert/reasons.py) to counts.
    """

    municipality: str
    issued: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    pin_lockouts: int = 0
    misprints_refunded: int = 0

    @property
    def refused_total(self) -> int:
        """All refusals of the period."""
        return sum(self.refused.values())


@dataclass(frozen=True, slots=True)
class Period:
    """One hour or day: its local start and each municipality's :class:`Counts`."""

    start: dt.datetime
    kind: str  # "hour" | "day"
    municipalities: list[Counts]


@dataclass(frozen=True, slots=True)
class FeeDay:
    """One municipality's fees for one local day, reconciled against issuances.

    ``expected_yen`` = ``copies_printed`` × ``fee_yen``; it equals ``collected_yen`` unless a
    kiosk reported an amount the center refused (then nothing was counted) or the fee changed
    during the day. ``unreconciled`` = certificates issued − receipts (printed, refunded,
    cancelled): receipts still on their way from kiosks, or issued the day before.
    """

    day: dt.date
    municipality: str
    fee_yen: int
    certificates_issued: int
    receipts_printed: int
    copies_printed: int
    collected_yen: int
    expected_yen: int
    misprints_refunded: int
    refunded_yen: int
    cancelled: int

    @property
    def unreconciled(self) -> int:
        """Certificates issued that no receipt accounts for (yet)."""
        receipts = self.receipts_printed + self.misprints_refunded + self.cancelled
        return self.certificates_issued - receipts


@dataclass(frozen=True, slots=True)
class Incident:
    """A refunded misprint: the number the kiosk showed the resident, and money data only."""

    at: dt.datetime
    kiosk_id: str
    municipality: str
    incident_id: str
    copies: int
    refunded_yen: int


class Tallies:
    """Counts into hour and day buckets; answers the console's issuance and fee views."""

    def __init__(
        self,
        store: KeyValueStore,
        settings: CenterSettings,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.store = store
        self.zone = ZoneInfo(settings.timezone)
        self.fees_yen = {m.code: m.fee_yen for m in settings.municipalities}
        self.municipalities = [m.code for m in settings.municipalities]
        self.hour_retention = settings.signals.hourly_retention_days * _DAY
        self.day_retention = settings.signals.daily_retention_days * _DAY
        self.clock = clock

    # --- counting ---------------------------------------------------------------------------

    def _municipality(self, code: str | None) -> str:
        return code if code in self.fees_yen else OTHER

    def _steps(self, counts: Mapping[str, int]) -> list[FieldCount]:
        local = self.clock().astimezone(self.zone)
        hour = local.replace(minute=0, second=0, microsecond=0)
        day = dt.datetime.combine(local.date(), dt.time(), self.zone)
        hour_expiry = int((hour + dt.timedelta(hours=1)).timestamp()) + self.hour_retention
        day_expiry = int((day + dt.timedelta(days=1)).timestamp()) + self.day_retention
        hour_key = f"tally:h:{hour.strftime('%Y-%m-%dT%H')}"
        day_key = f"tally:d:{local.date().isoformat()}"
        steps = []
        for name, amount in counts.items():
            steps.append(FieldCount(hour_key, name, amount, hour_expiry))
            steps.append(FieldCount(day_key, name, amount, day_expiry))
        return steps

    def _count(self, counts: Mapping[str, int]) -> None:
        try:
            self.store.count_fields(self._steps(counts))
        except VaxcertError:
            log.warning("a tally could not be counted (store unavailable)")

    def issued(self, municipality: str) -> None:
        """One certificate issued for ``municipality`` (one round trip)."""
        self._count({f"{self._municipality(municipality)}|issued": 1})

    def refused(self, municipality: str | None, reason: str) -> None:
        """One refusal under its PUBLIC reason code (a code outside the catalogue is not a public
        reason and is never counted under its own name)."""
        public = reason if reason in reasons.CATALOGUE else "other"
        self._count({f"{self._municipality(municipality)}|refused:{public}": 1})

    def pin_lockouts(self, counts: Mapping[str, int]) -> None:
        """PIN lockouts a kiosk reported, by municipality."""
        merged: dict[str, int] = {}
        for code, count in counts.items():
            name = f"{self._municipality(code)}|pin_lockouts"
            merged[name] = merged.get(name, 0) + count
        if merged:
            self._count(merged)

    def receipt(
        self,
        kiosk_id: str,
        municipality: str,
        outcome: str,
        copies: int,
        amount_yen: int,
        incident_id: str | None,
        once: tuple[str, int] | None = None,
    ) -> bool:
        """A kiosk's receipt; False when ``once`` (marker key, its TTL) shows it was counted.

        The repeat check and the fee count are one atomic step in the shared store: a replica
        killed between two separate steps would leave a receipt acknowledged but never settled
        (or settled twice). Unlike the other tallies this raises ``service_unavailable`` when
        the store is down, so the kiosk keeps the receipt and sends it again.
        """
        code = self._municipality(municipality)
        if outcome == "printed":
            counts = {f"{code}|printed": 1, f"{code}|copies": copies, f"{code}|fee_yen": amount_yen}
        elif outcome == "misprint_refunded":
            counts = {f"{code}|misprints": 1, f"{code}|refund_yen": amount_yen}
        else:
            counts = {f"{code}|cancelled": 1}
        steps = self._steps(counts)
        if once is None:
            self.store.count_fields(steps)
        elif not self.store.count_fields_once(once[0], once[1], steps):
            return False
        if outcome == "misprint_refunded" and incident_id is not None:
            self._incident(kiosk_id, code, incident_id, copies, amount_yen)
        return True

    def _incident(
        self, kiosk_id: str, municipality: str, incident_id: str, copies: int, amount_yen: int
    ) -> None:
        now = self.clock()
        local = now.astimezone(self.zone)
        day = dt.datetime.combine(local.date(), dt.time(), self.zone)
        ttl = int((day + dt.timedelta(days=1) - local).total_seconds()) + self.day_retention
        record = {
            "at": now.astimezone(dt.UTC).isoformat(),
            "kiosk_id": kiosk_id,
            "municipality": municipality,
            "incident_id": incident_id,
            "copies": copies,
            "refunded_yen": amount_yen,
        }
        try:
            self.store.push(
                f"tally:incidents:{local.date().isoformat()}",
                json.dumps(record),
                ttl,
                _MAX_INCIDENTS_PER_DAY,
            )
        except VaxcertError:
            log.warning("an incident could not be listed (store unavailable)")

    # --- queries ----------------------------------------------------------------------------

    def today(self) -> dt.date:
        """The center's local date now."""
        return self.clock().astimezone(self.zone).date()

    def hourly(self, day: dt.date) -> list[Period]:
        """The 24 hours of the local ``day`` (fewer or more on a DST change), oldest first,
        each with every configured municipality (zeros included) and ``other`` when counted."""
        start = dt.datetime.combine(day, dt.time(), self.zone)
        hours = []
        at = start
        while at.astimezone(self.zone).date() == day:
            hours.append(at.astimezone(self.zone))
            at = at + dt.timedelta(hours=1)
        keys = [f"tally:h:{hour.strftime('%Y-%m-%dT%H')}" for hour in hours]
        found = self.store.read_fields(keys)
        return [
            _period(hour, "hour", f, self.municipalities)
            for hour, f in zip(hours, found, strict=True)
        ]

    def daily(self, first: dt.date, last: dt.date) -> list[Period]:
        """Each local day from ``first`` to ``last`` (inclusive), oldest first."""
        days = _days(first, last)
        found = self.store.read_fields([f"tally:d:{day.isoformat()}" for day in days])
        return [
            _period(dt.datetime.combine(day, dt.time(), self.zone), "day", f, self.municipalities)
            for day, f in zip(days, found, strict=True)
        ]

    def fees(self, first: dt.date, last: dt.date, municipality: str | None = None) -> list[FeeDay]:
        """Fees per configured municipality (or just ``municipality``) per day, oldest first."""
        days = _days(first, last)
        found = self.store.read_fields([f"tally:d:{day.isoformat()}" for day in days])
        codes = [municipality] if municipality is not None else self.municipalities
        result = []
        for day, fields in zip(days, found, strict=True):
            for code in codes:
                fee = self.fees_yen.get(code, 0)

                def get(measure: str, code: str = code, fields: dict[str, int] = fields) -> int:
                    return fields.get(f"{code}|{measure}", 0)

                result.append(
                    FeeDay(
                        day=day,
                        municipality=code,
                        fee_yen=fee,
                        certificates_issued=get("issued"),
                        receipts_printed=get("printed"),
                        copies_printed=get("copies"),
                        collected_yen=get("fee_yen"),
                        expected_yen=get("copies") * fee,
                        misprints_refunded=get("misprints"),
                        refunded_yen=get("refund_yen"),
                        cancelled=get("cancelled"),
                    )
                )
        return result

    def incidents(self, first: dt.date, last: dt.date) -> list[Incident]:
        """Refunded misprints from ``first`` to ``last``, newest first."""
        result = []
        for day in reversed(_days(first, last)):
            for text in self.store.items(f"tally:incidents:{day.isoformat()}"):
                try:
                    data = json.loads(text)
                    result.append(
                        Incident(
                            at=dt.datetime.fromisoformat(data["at"]),
                            kiosk_id=str(data["kiosk_id"]),
                            municipality=str(data["municipality"]),
                            incident_id=str(data["incident_id"]),
                            copies=int(data["copies"]),
                            refunded_yen=int(data["refunded_yen"]),
                        )
                    )
                except (ValueError, KeyError, TypeError):
                    log.warning("unreadable incident record ignored")
        return result


def _days(first: dt.date, last: dt.date) -> list[dt.date]:
    if last < first:
        return []
    return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]


def _period(
    start: dt.datetime, kind: str, fields: dict[str, int], municipalities: list[str]
) -> Period:
    by_code: dict[str, dict[str, object]] = {}
    for name, value in fields.items():
        code, _, measure = name.partition("|")
        entry = by_code.setdefault(code, {"refused": {}})
        if measure.startswith("refused:"):
            refused = entry["refused"]
            assert isinstance(refused, dict)
            refused[measure.removeprefix("refused:")] = value
        else:
            entry[measure] = value
    codes = list(municipalities) + sorted(c for c in by_code if c not in municipalities)
    counts = []
    for code in codes:
        entry = by_code.get(code, {"refused": {}})
        refused = entry["refused"]
        assert isinstance(refused, dict)

        def number(measure: str, entry: dict[str, object] = entry) -> int:
            value = entry.get(measure, 0)
            return value if isinstance(value, int) else 0

        counts.append(
            Counts(
                municipality=code,
                issued=number("issued"),
                refused=dict(sorted(refused.items())),
                pin_lockouts=number("pin_lockouts"),
                misprints_refunded=number("misprints"),
            )
        )
    return Period(start=start, kind=kind, municipalities=counts)
