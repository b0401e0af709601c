"""Daily aggregates of the sensitive refusal categories, for the auditor only (C08).

A refusal answered ``counter_required`` hides which rule broke (support measure, e.g. DV
protection; alias notation; moved out; deceased; a card or record the kiosk path cannot take).
Counting those categories live would undo that: whoever knows when a person used a kiosk could
read the category off the counter. So live metrics count them under the public code only, and the
category is counted here, per local day, in the center's key-value store: one integer per day and
category (``refusals:<YYYY-MM-DD>:<category>``), no kiosk, no municipality, no time of day. The
auditor reads closed days only, with counts below ``ops.small_count_threshold`` suppressed.

Why the key-value store, not a file of aggregates: it is already the center's shared state
(every gunicorn process and host of the kiosk API counts into the same integer atomically), the
TTL deletes days past the retention window without a clean-up job, and the center writes no file
that a C08 sweep would have to vouch for.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from zoneinfo import ZoneInfo

from vaxcert.config import CenterSettings
from vaxcert.errors import VaxcertError
from vaxcert.kvstore import KeyValueStore

log = logging.getLogger(__name__)

# Every internal category that is answered as counter_required (cert_center/rules.py and the
# issuance pipeline); the auditor view lists exactly these.
SENSITIVE_CATEGORIES = (
    "support_measure",
    "alias_notation",
    "moved_out",
    "deceased",
    "card_content",
    "profile",
    "card_use",
)
_DAY = 86_400


class DailyRefusals:
    """Counts sensitive refusal categories per local day and reports closed days, suppressed."""

    def __init__(
        self,
        store: KeyValueStore,
        settings: CenterSettings,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.store = store
        self.zone = ZoneInfo(settings.timezone)
        self.days = settings.ops.aggregate_days
        self.threshold = settings.ops.small_count_threshold
        self.clock = clock

    def _today(self) -> dt.date:
        return self.clock().astimezone(self.zone).date()

    def count(self, category: str) -> None:
        """Add one refusal of ``category`` to today's aggregate; best effort.

        A store outage must not change the resident's answer (the refusal stands), so it is
        logged, without the category, and the count is lost.
        """
        if category not in SENSITIVE_CATEGORIES:
            raise ValueError(f"not a sensitive refusal category: {category}")
        key = f"refusals:{self._today().isoformat()}:{category}"
        try:
            # The TTL outlives the retention window by two days, so a closed day is complete.
            self.store.incr(key, (self.days + 2) * _DAY)
        except VaxcertError:
            log.warning("a daily refusal aggregate could not be counted (store unavailable)")

    def closed_days(self) -> list[dict[str, object]]:
        """Yesterday back to ``aggregate_days`` ago, newest first; today is never shown.

        Counts below the threshold read ``"<k"`` (zero too, so an empty day is not told apart
        from a day with one visit).
        """
        today = self._today()
        result: list[dict[str, object]] = []
        for back in range(1, self.days + 1):
            day = today - dt.timedelta(days=back)
            counts: dict[str, int | str] = {}
            for category in SENSITIVE_CATEGORIES:
                value = self.store.get_int(f"refusals:{day.isoformat()}:{category}")
                counts[category] = value if value >= self.threshold else f"<{self.threshold}"
            result.append({"date": day.isoformat(), "counts": counts})
        return result
