"""Card-use anomaly detection (C21) that keeps no application data (C08).

Card files are static signed data (threat-model §6): a copy gives certificates without the card
or the PIN. The center cannot tell a copy from the card, but it can notice one card's data used
from many kiosks, for many municipalities or too often in one day. Per verified presentation it
derives, from the EF0003 signature (256 bytes per card, not enumerable like a 12-digit number):

    K_day  = HMAC-SHA-256(secret, "vaxcert card-use v1|" + local date)
    tag    = HMAC-SHA-256(K_day, "card|" + signature)[:16]
    marker = HMAC-SHA-256(K_day, "kiosk|" + tag + "|" + kiosk id)[:16]   (and "muni|" + code)

and counts, in the key-value store with a TTL to the end of the local day plus one hour, only
``cu:<tag hex>:<counter>`` integers and ``cu:<marker hex>`` flags. The secret lives in a file and
in this process's memory, never in the store; a tag cannot be linked to another day's tag, nor
to a person without the secret and that person's card files.

Past a limit: ``vaxcert_center_card_use_anomalies_total{kind}`` and an audit event without a tag
or personal data; with ``action = "refuse"`` the request is also refused as ``counter_required``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from cert_center import metrics
from vaxcert import pki
from vaxcert.card import layout
from vaxcert.config import CardUseSettings, Settings
from vaxcert.errors import ConfigError, VaxcertError
from vaxcert.kvstore import KeyValueStore, Tallied, Tally

log = logging.getLogger(__name__)
audit = logging.getLogger("cert_center.audit")

GENERATED_FILE = "card-use.secret"
_SETTING = "VAXCERT_CENTER__CARD_USE__SECRET_FILE"
_TAG_BYTES = 16


@dataclass(frozen=True, slots=True)
class Observation:
    """One verified presentation: the day's tag (kept only in this request) and its counts."""

    tag: str = field(repr=False)
    day: dt.date
    kiosk_id: str
    counts: dict[str, int]
    over: tuple[str, ...]  # the counters above their limit


def load_secret(settings: Settings) -> bytes:
    """The card-use secret: the configured file, or outside production a generated one (0600).

    Production refuses a missing file or one that group or others can read, as VRS does with its
    master key: whoever holds the secret and a card's files can find that card's counts.
    """
    configured = settings.center.card_use.secret_file
    strict = settings.environment == "production"
    if configured is None:
        if strict:
            raise ConfigError(_SETTING, "production needs a card-use secret file")
        path = settings.pki_dir / GENERATED_FILE
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            pki.write_private(path, (secrets.token_urlsafe(32) + "\n").encode())
            log.warning("generated a development card-use secret", extra={"path": str(path)})
    else:
        path = configured if configured.is_absolute() else settings.pki_dir / configured
    if not path.is_file():
        raise ConfigError(_SETTING, f"file {path} does not exist")
    if strict and path.stat().st_mode & 0o077:
        raise ConfigError(_SETTING, f"file {path} must not be readable by others (chmod 600)")
    secret = path.read_bytes().strip()
    if len(secret) < 16:
        raise ConfigError(_SETTING, f"file {path} must hold at least 16 bytes of secret")
    return secret


def _mac(key: bytes, message: str | bytes) -> bytes:
    data = message.encode() if isinstance(message, str) else message
    return hmac.new(key, data, hashlib.sha256).digest()


def _alerts(count: int, limit: int) -> bool:
    """True when ``count`` first passes ``limit`` and at each doubling after that."""
    threshold = limit + 1
    while threshold < count:
        threshold *= 2
    return threshold == count


class CardUseMonitor:
    """Counts card use per keyed daily tag; raises alerts, and refusals in refuse mode."""

    def __init__(
        self,
        store: KeyValueStore,
        settings: CardUseSettings,
        secret: bytes,
        timezone: str,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        on_alert: Callable[[str, int, int], object] | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        # C21: (kind, count, limit) to the center's alerts (cert_center/alerts.py).
        self.on_alert = on_alert
        self.zone = ZoneInfo(timezone)
        self.clock = clock
        self._secret = secret
        self._day_key: tuple[dt.date, bytes] | None = None
        self.limits = {
            "kiosks": settings.max_kiosks,
            "municipalities": settings.max_municipalities,
            "attempts": settings.max_attempts,
            "issuances": settings.max_issuances,
        }

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        store: KeyValueStore,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        on_alert: Callable[[str, int, int], object] | None = None,
    ) -> CardUseMonitor | None:
        """The monitor of this center, or None when switched off."""
        if not settings.center.card_use.enabled:
            return None
        secret = load_secret(settings)
        return cls(
            store, settings.center.card_use, secret, settings.center.timezone, clock, on_alert
        )

    def _key(self, day: dt.date) -> bytes:
        # Cached per date in this process only; never written anywhere.
        if self._day_key is None or self._day_key[0] != day:
            self._day_key = (day, _mac(self._secret, f"vaxcert card-use v1|{day.isoformat()}"))
        return self._day_key[1]

    def _ttl(self, now: dt.datetime) -> int:
        local = now.astimezone(self.zone)
        end = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(), self.zone)
        return int((end - local).total_seconds()) + 3600

    def observe(self, kiosk_id: str, municipality_code: str, ef0003: bytes) -> Observation:
        """Count one verified presentation (after C03 passed); alert on each limit passed."""
        now = self.clock()
        day = now.astimezone(self.zone).date()
        key = self._key(day)
        signature = layout.parse_integrity(ef0003).signature
        tag = _mac(key, b"card|" + signature)[:_TAG_BYTES].hex()
        kiosk_marker = _mac(key, f"kiosk|{tag}|{kiosk_id}")[:_TAG_BYTES].hex()
        muni_marker = _mac(key, f"muni|{tag}|{municipality_code}")[:_TAG_BYTES].hex()
        tallied = self.store.tally(
            [
                Tally(f"cu:{tag}:kiosks", marker=f"cu:{kiosk_marker}"),
                Tally(f"cu:{tag}:municipalities", marker=f"cu:{muni_marker}"),
                Tally(f"cu:{tag}:attempts"),
                Tally(f"cu:{tag}:issuances", amount=0),
            ],
            self._ttl(now),
        )
        steps: dict[str, Tallied] = dict(
            zip(("kiosks", "municipalities", "attempts", "issuances"), tallied, strict=True)
        )
        counts = {kind: step.value for kind, step in steps.items()}
        for kind in ("kiosks", "municipalities", "attempts"):
            # Only a step that counted can pass a limit: a kiosk seen again changes nothing.
            if steps[kind].counted and _alerts(counts[kind], self.limits[kind]):
                self._alert(kind, counts[kind], kiosk_id)
        # Issuances are counted after the fact: at the limit, the next one is already "over".
        over = tuple(
            kind
            for kind in ("kiosks", "municipalities", "attempts")
            if counts[kind] > self.limits[kind]
        )
        if counts["issuances"] >= self.limits["issuances"]:
            over += ("issuances",)
        return Observation(tag, day, kiosk_id, counts, over)

    def refuses(self, observation: Observation) -> bool:
        """Whether refuse mode sends this presentation to the counter."""
        return self.settings.action == "refuse" and bool(observation.over)

    def issued(self, observation: Observation) -> None:
        """Count an issuance recorded in VRS for the observed card (same day as observed)."""
        try:
            ((count, _),) = self.store.tally(
                [Tally(f"cu:{observation.tag}:issuances")], self._ttl(self.clock())
            )
        except VaxcertError:
            # The certificate is signed and recorded: a store outage now must not turn it into
            # a 503 for the resident. The count is lost, and said so.
            log.warning("a card-use issuance could not be counted (store unavailable)")
            return
        if _alerts(count, self.limits["issuances"]):
            self._alert("issuances", count, observation.kiosk_id)

    def _alert(self, kind: str, count: int, kiosk_id: str) -> None:
        metrics.CARD_USE_ANOMALIES.labels(kind).inc()
        # No tag, no card data: the request id (on every log line) leads an investigator to the
        # VRS provision record of the same request (C16), which only its municipality can read.
        audit.warning(
            "card_use_anomaly",
            extra={
                "event": "card_use_anomaly",
                "kind": kind,
                "count": count,
                "limit": self.limits[kind],
                "kiosk_id": kiosk_id,
                "action": self.settings.action,
            },
        )
        if self.on_alert is not None:
            self.on_alert(kind, count, self.limits[kind])
