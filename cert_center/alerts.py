"""Intrusion detection and notification over the center's own signals (C21), without Flask.

Rules (thresholds and windows: ``center.alerts`` in vaxcert/config.py; what each means and what
to do: docs/operations.md "Alerts"):

- ``kiosk_refusals``: refusals (4xx answers to certificate requests) from one kiosk;
- ``client_certificate_refusals``: kiosk-API calls without a client certificate, with a
  deny-listed one, or from an unknown or disabled kiosk, per certificate CN;
- ``card_signature_failures``: card files whose C03 signature chain fails, per kiosk;
- ``relay_errors``: outages of VRS or the signer, per target;
- ``pin_lockouts``: PIN lockouts reported by one kiosk;
- ``card_data_reuse``: one card's data used past a daily limit (many kiosks, municipalities,
  attempts or issuances; counted by :mod:`cert_center.card_use`, which keeps no card data).

Each event is counted in a sliding window shared by every process (the key-value store, one
round trip); when the count reaches the rule's threshold the rule fires for that subject, at most
once per ``cooldown_seconds`` (a marker in the store). An alert becomes:

1. an audit event through :class:`AuditSink` (the console's audit trail, C15);
2. ``vaxcert_alerts_total{rule}`` (Prometheus; docker/prometheus/alerts.yml);
3. an entry of :meth:`Alerts.active`, the console's banner, for ``active_seconds``;
4. with ``webhook_url``, a POST of :meth:`Alert.payload` by a background thread with a timeout
   and a bounded queue; failures and overflow are counted, never raised.

No personal data anywhere (C08): a subject is a kiosk id, a certificate CN of the
dedicated-line CA, a relay target or a card-use limit kind; counts, thresholds, times.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

import requests

from cert_center import metrics
from vaxcert.config import AlertRule, AlertSettings, CenterSettings
from vaxcert.errors import VaxcertError
from vaxcert.kvstore import KeyValueStore

log = logging.getLogger(__name__)

# The rules with a window in center.alerts; card_data_reuse is counted by cert_center.card_use.
WINDOW_RULES = (
    "kiosk_refusals",
    "client_certificate_refusals",
    "card_signature_failures",
    "relay_errors",
    "pin_lockouts",
)
RULES = (*WINDOW_RULES, "card_data_reuse")
# How urgent each rule is: the console's banner and docker/prometheus/alerts.yml agree (tested).
SEVERITY: dict[str, Literal["warning", "critical"]] = {
    "kiosk_refusals": "warning",
    "client_certificate_refusals": "critical",
    "card_signature_failures": "critical",
    "relay_errors": "critical",
    "pin_lockouts": "warning",
    "card_data_reuse": "critical",
}
AUDIT_EVENT = "security_alert"
_SLOTS = 10  # a window is counted in this many time slots (see KeyValueStore.window)
_DAY = 86_400
_KEEP_RECENT = 200
NO_CERTIFICATE = "(none)"

# The detail of an audit event: the console's ``cert_center.console.audit.Detail``.
AuditDetail = dict[str, str | int | bool | None]


class AuditSink(Protocol):
    """Where alerts go as audit events (C15). In production the console's trail: the module
    ``cert_center.console.audit`` itself fits (its ``record`` never raises)."""

    def record(self, event: str, actor: str, detail: AuditDetail, source: str) -> object:
        """Append one audit event: ``actor`` and ``source`` say who and where from."""
        ...


class LogAuditSink:
    """The default sink: the ``cert_center.audit`` logger (JSON lines, PII-scrubbed)."""

    def __init__(self) -> None:
        self.log = logging.getLogger("cert_center.audit")

    def record(self, event: str, actor: str, detail: AuditDetail, source: str) -> object:
        """See :meth:`AuditSink.record`."""
        self.log.warning(event, extra={"event": event, "actor": actor, "source": source, **detail})
        return None


@dataclass(frozen=True, slots=True)
class Alert:
    """One raised alert: which rule, about which subject, when, and the counts that fired it."""

    rule: str
    subject: str
    at: dt.datetime  # aware, UTC
    count: int
    threshold: int
    window_seconds: int

    @property
    def severity(self) -> Literal["warning", "critical"]:
        """``warning`` or ``critical`` (:data:`SEVERITY`)."""
        return SEVERITY[self.rule]

    def summary(self) -> str:
        """One line for a banner: ids and counts only, e.g.
        ``kiosk_refusals KIOSK-0001: 30 in 600 s (threshold 30)``."""
        return (
            f"{self.rule} {self.subject}: {self.count} in {self.window_seconds} s "
            f"(threshold {self.threshold})"
        )

    def payload(self) -> dict[str, str | int]:
        """The JSON of the webhook and the active list (no personal data, C08)."""
        return {
            "rule": self.rule,
            "subject": self.subject,
            "at": self.at.isoformat(),
            "count": self.count,
            "threshold": self.threshold,
            "window_seconds": self.window_seconds,
        }

    @classmethod
    def from_payload(cls, data: Mapping[str, object]) -> Alert:
        """The inverse of :meth:`payload`."""
        return cls(
            rule=str(data["rule"]),
            subject=str(data["subject"]),
            at=dt.datetime.fromisoformat(str(data["at"])),
            count=int(str(data["count"])),
            threshold=int(str(data["threshold"])),
            window_seconds=int(str(data["window_seconds"])),
        )


class Webhook:
    """POSTs alerts to a URL from one background thread: never on the request path.

    The queue holds at most ``queue_size`` alerts; when it is full a new one is dropped and
    counted (``vaxcert_alert_webhook_total{outcome="dropped"}``), so a dead or stalled receiver
    costs a request nothing. Each POST gives up after ``timeout`` seconds (connect and read).
    """

    def __init__(self, url: str, timeout: float, queue_size: int) -> None:
        self.url = url
        self.timeout = timeout
        self._queue: queue.Queue[Alert] = queue.Queue(maxsize=queue_size)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._session = requests.Session()
        # Only the configured URL: no proxy from the environment sees the alerts.
        self._session.trust_env = False

    def send(self, alert: Alert) -> bool:
        """Queue ``alert``; False (and counted) when the queue is full."""
        self._start()
        try:
            self._queue.put_nowait(alert)
        except queue.Full:
            metrics.WEBHOOK.labels("dropped").inc()
            log.warning("alert webhook queue full; alert dropped", extra={"rule": alert.rule})
            return False
        return True

    def _start(self) -> None:
        # Started on first use, in the process that uses it (gunicorn forks after import).
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="alert-webhook", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            alert = self._queue.get()
            try:
                response = self._session.post(
                    self.url,
                    data=json.dumps(alert.payload()),
                    headers={"Content-Type": "application/json"},
                    timeout=self.timeout,
                    allow_redirects=False,
                )
                outcome = "delivered" if response.status_code < 300 else "failed"
            except requests.RequestException as exc:
                log.warning("alert webhook failed", extra={"error_type": type(exc).__name__})
                outcome = "failed"
            except Exception as exc:  # the sender must outlive anything
                log.error("alert webhook bug", extra={"error_type": type(exc).__name__})
                outcome = "failed"
            metrics.WEBHOOK.labels(outcome).inc()
            self._queue.task_done()

    def join(self) -> None:
        """Wait until every queued alert was attempted (tests)."""
        self._queue.join()


class Alerts:
    """Counts events per rule and subject, fires alerts and answers the console's banner."""

    def __init__(
        self,
        store: KeyValueStore,
        settings: AlertSettings,
        sink: AuditSink | None = None,
        webhook: Webhook | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.settings = settings
        self.sink: AuditSink = sink or LogAuditSink()
        self.webhook = webhook
        self.clock = clock

    @classmethod
    def from_settings(
        cls, settings: CenterSettings, store: KeyValueStore, sink: AuditSink | None = None
    ) -> Alerts:
        """The center's alerts, with the webhook when one is configured."""
        config = settings.alerts
        webhook = None
        if config.webhook_url is not None:
            webhook = Webhook(
                config.webhook_url.get_secret_value(),
                config.webhook_timeout_seconds,
                config.webhook_queue,
            )
        return cls(store, config, sink, webhook)

    def rule(self, name: str) -> AlertRule:
        """The configured rule ``name`` (one of :data:`WINDOW_RULES`)."""
        rule: AlertRule = getattr(self.settings, name)
        return rule

    def observe(self, rule: str, subject: str, amount: int = 1) -> Alert | None:
        """Count ``amount`` events of ``rule`` for ``subject``; the alert when this fires it.

        Best effort: a store outage is logged and loses the count, it never fails the caller.
        """
        config = self.rule(rule)
        if not config.enabled or amount <= 0:
            return None
        try:
            count = self.store.window(
                f"alert:w:{rule}:{subject}", amount, self.clock(), config.window_seconds, _SLOTS
            )
        except VaxcertError:
            log.warning("an alert signal could not be counted (store unavailable)")
            return None
        if count < config.threshold:
            return None
        return self.fire(rule, subject, count, config.threshold, config.window_seconds)

    def count(self, rule: str, subject: str) -> int:
        """The events of ``rule`` for ``subject`` in its window now."""
        config = self.rule(rule)
        return self.store.window(
            f"alert:w:{rule}:{subject}", 0, self.clock(), config.window_seconds, _SLOTS
        )

    def fire(
        self, rule: str, subject: str, count: int, threshold: int, window_seconds: int
    ) -> Alert | None:
        """Raise an alert unless one of ``rule`` for ``subject`` fired within the cool-down."""
        cooldown = self.settings.cooldown_seconds
        period = int(self.clock() // cooldown)
        try:
            # One alert per rule and subject per cool-down period (on the same clock as the
            # windows, so that every process agrees on the period).
            if not self.store.add(f"alert:cool:{rule}:{subject}:{period}", cooldown + 60):
                return None
        except VaxcertError:
            log.warning("an alert could not be deduplicated (store unavailable); raised anyway")
        alert = Alert(
            rule=rule,
            subject=subject,
            at=dt.datetime.fromtimestamp(self.clock(), dt.UTC),
            count=count,
            threshold=threshold,
            window_seconds=window_seconds,
        )
        metrics.ALERTS.labels(rule).inc()
        try:
            self.store.push(
                "alert:recent",
                json.dumps(alert.payload()),
                self.settings.active_seconds,
                _KEEP_RECENT,
            )
        except VaxcertError:
            log.warning("an alert could not be listed for the console (store unavailable)")
        try:
            self.sink.record(
                AUDIT_EVENT,
                "system",
                {
                    "rule": rule,
                    "subject": subject,
                    "count": count,
                    "threshold": threshold,
                    "window_seconds": window_seconds,
                },
                "cert-center",
            )
        except Exception as exc:  # the alert stands even if the trail is down; say so loudly
            log.error(
                "alert not written to the audit trail", extra={"error_type": type(exc).__name__}
            )
        if self.webhook is not None:
            self.webhook.send(alert)
        return alert

    def active(self) -> list[Alert]:
        """Alerts raised within ``active_seconds``, newest first (the console's banner);
        ``service_unavailable`` when the store is down."""
        since = self.clock() - self.settings.active_seconds
        result = []
        for text in self.store.items("alert:recent"):
            try:
                alert = Alert.from_payload(json.loads(text))
            except (ValueError, KeyError, TypeError):
                continue
            if alert.at.timestamp() >= since:
                result.append(alert)
        return result

    # --- the signals, as the center's code meets them ---------------------------------------

    def client_refused(self, code: str, common_name: str | None) -> Alert | None:
        """A kiosk-API call refused for its certificate (``client_cert_required``,
        ``client_cert_denied``, ``kiosk_unknown``, ``kiosk_disabled``)."""
        subject = common_name or NO_CERTIFICATE
        return self.observe("client_certificate_refusals", subject)

    def card_data_reuse(self, kind: str, count: int, limit: int) -> Alert | None:
        """:mod:`cert_center.card_use` saw one card's data past a daily limit of ``kind``."""
        return self.fire("card_data_reuse", kind, count, limit + 1, _DAY)
