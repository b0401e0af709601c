"""The kiosk's flow, without Flask: welcome → terms (C07) → municipality (C05) → kind → copies →
card → PIN (C01) → reading → take card → confirm → payment → printing → take certificate → wipe.

Sessions live only in this process's memory (:class:`SessionStore`, C08). The browser UI and the
headless ``vaxcert kiosk-sim`` drive the same :class:`Kiosk` methods; long steps (reading the card
and asking the center; printing) run through an injectable runner: a thread for the UI, inline
for the simulator. Every method is called with the session's lock held by the caller
(:meth:`Kiosk.locked`), except the workers, which take it only to publish their result.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import random
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from kiosk.clients import CenterClient
from kiosk.devices import PrinterError
from kiosk.interfaces import CashUnit, DeviceState, Printer, PrintJob, PrintOutcome
from kiosk.models import WORKING, KioskSession, Screen
from kiosk.outbox import Outbox, OutboxEntry
from vaxcert import reasons
from vaxcert.card import CardReader
from vaxcert.card.errors import (
    CardDataError,
    CardError,
    CardRemovedError,
    NoCardError,
    NoReaderError,
    PinLockedError,
    WrongPinError,
)
from vaxcert.config import Settings, user_data_dir
from vaxcert.contracts.kiosk_api import (
    MAX_LOCKOUT_MUNICIPALITIES,
    MAX_LOCKOUTS_PER_MUNICIPALITY,
    CardFilesIn,
    CertificateIssued,
    CertificateRequest,
    Consent,
    Heartbeat,
)
from vaxcert.errors import VaxcertError
from vaxcert.reasons import Language

log = logging.getLogger(__name__)

APP_VERSION = "0.1.0"
Renderer = Callable[[CertificateIssued, int], bytes]
Runner = Callable[[Callable[[], None]], None]
# Extra seconds the server waits beyond the on-screen countdown before it wipes by itself (the
# browser normally wipes first; this covers a browser that crashed or froze).
_SERVER_GRACE_SECONDS = 15.0
_MAX_SESSIONS = 32
# Receipt delivery: retried with exponential backoff (with jitter) from _RETRY_FIRST up to
# _RETRY_MAX seconds; after _RETRY_GIVE_UP a receipt is kept for the operator, no longer sent
# (the center remembers receipt ids longer than that: a late repeat is never counted twice).
_RETRY_FIRST = 0.5
_RETRY_MAX = 300.0
_RETRY_GIVE_UP = dt.timedelta(days=28)
_DEVICE_WAIT: frozenset[Screen] = frozenset(
    {"insert-card", "pin", "take-card", "payment", "take-certificate"}
)


def default_renderer(issued: CertificateIssued, copies: int) -> bytes:
    """The certificate PDF, rendered in memory by the module the center's app API shares."""
    from vaxcert.certificate.pdf import render_certificate

    return render_certificate(issued, copies=copies)


def thread_runner(work: Callable[[], None]) -> None:
    """Run ``work`` in a daemon thread (the UI polls for its result)."""
    threading.Thread(target=work, name="kiosk-worker", daemon=True).start()


def inline_runner(work: Callable[[], None]) -> None:
    """Run ``work`` at once (the headless simulator)."""
    work()


class SessionStore:
    """Sessions by opaque random id, in memory only (C08); a bounded number at a time."""

    def __init__(self, limit: int = _MAX_SESSIONS) -> None:
        self._sessions: dict[str, KioskSession] = {}
        self._lock = threading.Lock()
        self._limit = limit

    @staticmethod
    def new_id() -> str:
        """A fresh id: 256 random bits, carrying nothing else."""
        return secrets.token_urlsafe(32)

    def get(self, session_id: str | None) -> KioskSession | None:
        """The live session with this id, if any."""
        if not session_id:
            return None
        with self._lock:
            return self._sessions.get(session_id)

    def add(self, session: KioskSession) -> list[KioskSession]:
        """Keep ``session``; returns the sessions pushed out by the bound.

        Only sessions still on ``welcome`` are ever pushed out (the oldest first): they hold
        nothing. The resident's session, which the others cannot even start beside, is never
        pushed out by visitors, however many come (``session`` itself is on welcome, so the bound
        always holds).
        """
        with self._lock:
            self._sessions[session.id] = session
            evicted = []
            while len(self._sessions) > self._limit:
                idle = [s for s in self._sessions.values() if s.screen == "welcome"]
                if not idle:
                    break
                oldest = min(idle, key=lambda s: s.last_activity)
                evicted.append(self._sessions.pop(oldest.id))
            return evicted

    def drop(self, session: KioskSession) -> None:
        """Forget ``session`` (its id is then unknown: the next request starts afresh)."""
        with self._lock:
            self._sessions.pop(session.id, None)

    def all(self) -> list[KioskSession]:
        """A snapshot of the live sessions."""
        with self._lock:
            return list(self._sessions.values())


@dataclass
class Devices:
    """The kiosk's devices, each chosen by configuration."""

    reader: CardReader
    printer: Printer
    cash: CashUnit


# Refusals the resident can act on right here, and the screen that lets them try again with what
# the session still holds (terms accepted, choices made). The card itself is never kept (C08), so
# every retry after the card reads it again. Never a sensitive refusal: counter_required (and the
# C03 card checks that send the resident to the counter) stay a dead end, so they look the same
# whatever their cause.
RETRY_SCREEN: dict[str, Screen] = {
    "no_vaccination_record": "municipality",
    "municipality_not_participating": "municipality",
    "passport_not_on_file": "kind",
    "card_not_my_number": "insert-card",
    "card_removed": "insert-card",
    "card_timeout": "insert-card",
    "card_communication_failed": "insert-card",
    "card_not_present": "insert-card",
    "service_unavailable": "insert-card",
    "overloaded": "insert-card",
    "internal_error": "insert-card",
}
# Refusals before the flow began (Start): trying again is pressing Start again.
RETRY_START = frozenset({"kiosk_busy", "service_unavailable", "overloaded", "internal_error"})


def _is_refusal(code: str) -> bool:
    """A refusal the resident can act on (4xx), as opposed to a fault of the system (5xx)."""
    reason = reasons.CATALOGUE.get(code)
    return reason is not None and reason.status < 500


class Kiosk:
    """The resident's flow over the center client and the devices."""

    def __init__(
        self,
        settings: Settings,
        center: CenterClient,
        devices: Devices,
        *,
        render: Renderer = default_renderer,
        run: Runner = thread_runner,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.options = settings.kiosk
        self.center = center
        self.devices = devices
        self.render = render
        self.run = run
        self.clock = clock
        self.sessions = SessionStore()
        self.card_timeout = settings.card.timeout_seconds
        path = self.options.outbox_path or (
            user_data_dir() / "kiosk" / f"receipts-{self.options.kiosk_id}.json"
        )
        self.outbox = Outbox(Path(path), self.options.kiosk_id)
        self._flushing = threading.Lock()
        self._retry_at = 0.0  # clock time of the next delivery attempt
        self._failures = 0  # consecutive failed attempts (the backoff's exponent)
        self._stop = threading.Event()
        self._background: threading.Thread | None = None
        # PIN lockouts by municipality code since the last acknowledged heartbeat: counts only,
        # the center tallies them and alerts on a burst (C21). Nothing about the card (C08).
        self._lockouts: dict[str, int] = {}
        self._lockouts_lock = threading.Lock()
        # Money paid back into the tray by a cancel or timeout (amount, clock time): the welcome
        # screen asks whoever stands there to take it. An amount only, about the tray (C08).
        self._returned: tuple[int, float] | None = None
        # The language of a session that ended leaving money in the tray or its card in the reader
        # (language, clock time): the welcome screen after it shows and says those notices in
        # that language until the next Start. A language only, about the tray (C08).
        self._ended_language: tuple[Language, float] | None = None

    # --- sessions ---------------------------------------------------------------------------

    def new_session(self) -> KioskSession:
        """A session that is not kept until :meth:`keep` (a page with a form was shown)."""
        now = self.clock()
        session = KioskSession(id=SessionStore.new_id(), last_activity=now)
        if self._ended_language is not None:
            lang, at = self._ended_language
            if now - at <= self.options.take_certificate_seconds:
                session.lang = lang
        return session

    def keep(self, session: KioskSession) -> None:
        """Keep ``session`` in memory; sessions pushed out by the bound are cancelled (C08)."""
        for evicted in self.sessions.add(session):
            with self.locked(evicted):
                # Cancel, never a bare wipe: whatever it held is refunded and reported.
                self.cancel(evicted)

    @contextlib.contextmanager
    def locked(self, session: KioskSession) -> Iterator[KioskSession]:
        """Hold ``session``'s lock."""
        with session.lock:
            yield session

    def idle_limit(self, session: KioskSession) -> int | None:
        """Seconds of inactivity before the warning on the current screen; None: no warning."""
        if session.screen in WORKING or session.screen == "take-certificate":
            return None
        if session.screen == "pin":
            return self.options.pin_idle_seconds
        return self.options.idle_seconds

    def touch(self, session: KioskSession) -> None:
        """The resident acted: restart the inactivity clock."""
        session.touch(self.clock())

    def end(self, session: KioskSession) -> None:
        """Wipe ``session`` and forget it (C08); the browser lands on ``welcome``."""
        self.sessions.drop(session)
        left_something = self.money_returned() > 0 or self.card_left()
        self._ended_language = (session.lang, self.clock()) if left_something else None
        session.wipe()

    # --- the screens, in order ---------------------------------------------------------------

    def set_language(self, session: KioskSession, lang: str) -> None:
        """Switch the language (ja, en, zh, ko) on any screen."""
        for known in reasons.LANGUAGES:
            if lang == known:
                session.lang = known
                session.version += 1
        self.touch(session)

    def toggle_speech(self, session: KioskSession) -> None:
        """Spoken prompts off or back on, for this session only (issue 13)."""
        session.speech = not session.speech
        session.version += 1
        self.touch(session)

    def start(self, session: KioskSession) -> None:
        """welcome → terms, with the center's current screen configuration (C05)."""
        if session.screen != "welcome":
            return
        self.touch(session)
        self._returned = None  # whoever starts now stood at the tray
        self._ended_language = None
        # One terminal, one resident: the resident the terminal serves (card in, paying,
        # printing) is never ended by someone else; a newcomer is told the kiosk is in use.
        others = [other for other in self.sessions.all() if other is not session]
        for other in others:
            with self.locked(other):
                if other.holds_terminal:
                    self._fail(session, "kiosk_busy")
                    return
        # A session left half-way before the card (another tab) ends here.
        for other in others:
            with self.locked(other):
                if other.screen not in WORKING:
                    self.cancel(other)
        try:
            config = self.center.config()
        except VaxcertError as exc:
            self._fail(session, exc.code)
            return
        if config.maintenance:
            self._fail(session, "maintenance")
        elif not config.open_now:
            self._fail(session, "outside_service_hours")
        elif not config.municipalities:
            self._fail(session, "municipality_not_participating")
        else:
            session.config = config
            session.show("terms")

    def accept_terms(self, session: KioskSession) -> None:
        """terms → municipality; records which terms were accepted (C07)."""
        if session.screen != "terms" or session.config is None:
            return
        self.touch(session)
        session.consented_terms = session.config.terms_version
        session.show("municipality")

    def choose_municipality(self, session: KioskSession, code: str) -> None:
        """municipality → kind; only a municipality of the center's list is accepted (C05)."""
        if session.screen != "municipality" or session.config is None:
            return
        self.touch(session)
        for municipality in session.config.municipalities:
            if municipality.code == code:
                session.municipality = municipality
                session.show("kind")
                return
        session.show("municipality", notice="municipality_not_participating")

    def choose_kind(self, session: KioskSession, kind: str) -> None:
        """kind → copies."""
        if session.screen != "kind":
            return
        self.touch(session)
        if kind in ("domestic", "overseas"):
            session.kind = "domestic" if kind == "domestic" else "overseas"
            session.show("copies")

    def choose_copies(self, session: KioskSession, copies: int) -> None:
        """copies → insert-card."""
        if session.screen != "copies" or session.config is None:
            return
        self.touch(session)
        if 1 <= copies <= session.config.max_copies:
            session.copies = copies
            session.show("insert-card")

    def back(self, session: KioskSession) -> None:
        """One choice back (terms → welcome cancels)."""
        previous: dict[Screen, Screen] = {
            "municipality": "terms",
            "kind": "municipality",
            "copies": "kind",
            "insert-card": "copies",
        }
        self.touch(session)
        if session.screen == "terms":
            self.cancel(session)
        elif session.screen in previous:
            session.show(previous[session.screen])

    def poll(self, session: KioskSession) -> None:
        """Advance the screens that wait for a device (card placed or taken, coins, paper)."""
        if session.wiped:
            return
        reader = self.devices.reader
        screen = session.screen
        if screen == "insert-card":
            if reader.wait_for_card(0.0):
                self.touch(session)
                self._card_placed(session)
        elif screen == "pin":
            if reader.wait_for_removal(0.0):
                session.show("insert-card", notice="card_removed")
        elif screen == "take-card":
            if reader.wait_for_removal(0.0):
                self.touch(session)
                session.show(session.after_card or "welcome")
                if session.screen == "welcome":
                    self.end(session)
        elif screen == "payment":
            inserted = self.devices.cash.inserted()
            if inserted != session.inserted_yen:
                session.inserted_yen = inserted
                session.version += 1
                self.touch(session)
        elif screen == "take-certificate":
            taken = session.job.paper_taken() if session.job is not None else None
            started = session.printed_at or 0.0
            if taken or self.clock() - started > self.options.take_certificate_seconds:
                self.end(session)

    def _card_placed(self, session: KioskSession) -> None:
        # C07: reaching insert-card needs accepted terms; nothing is read before that.
        assert session.consented_terms is not None
        try:
            tries = self.devices.reader.pin_tries_left(timeout=self.card_timeout)
        except (NoCardError, CardRemovedError):
            return  # it left again: keep waiting
        except CardError as exc:
            self._after_card(session, exc.code)
            return
        if tries == 0:
            # C01: a locked card gets guidance, never a further try.
            self._count_lockout(session)
            session.reason = "pin_locked"
            session.after_card = "locked"
            session.show("take-card")
            return
        session.tries_left = tries
        session.show("pin")

    def submit_pin(self, session: KioskSession, pin: str) -> None:
        """pin → reading; the PIN goes straight to the reading worker and is never stored (C01)."""
        if session.screen != "pin":
            return
        self.touch(session)
        if len(pin) != 4 or not (pin.isascii() and pin.isdigit()):
            # C01: a malformed PIN never reaches the card.
            session.show("pin", notice="pin_format_invalid")
            return
        session.show("reading")
        self.run(lambda: self._read_and_issue(session, pin))

    def _read_and_issue(self, session: KioskSession, pin: str) -> None:
        """Read the card, ask the center, render the PDF; publish under the session's lock."""
        with self.locked(session):
            if session.wiped:
                return
            request_base = (session.municipality, session.kind, session.consented_terms)
            copies = session.copies
        municipality, kind, terms = request_base
        assert municipality is not None and kind is not None and terms is not None
        try:
            # C03, C08, C22: the raw files only; the center alone verifies and parses them, so
            # no parsed My Number ever exists in the kiosk.
            files = self.devices.reader.read_files(pin, timeout=self.card_timeout)
        except WrongPinError as exc:
            with self.locked(session):
                if not session.wiped:
                    session.tries_left = exc.tries_left
                    session.show("pin", notice="pin_incorrect")
            return
        except PinLockedError:
            self._count_lockout(session)
            self._publish_after_card(session, "pin_locked", screen="locked")
            return
        except (NoCardError, CardRemovedError):
            with self.locked(session):
                if not session.wiped:
                    session.show("insert-card", notice="card_removed")
            return
        except (CardError, CardDataError) as exc:
            self._publish_after_card(session, exc.code)
            return
        except Exception as exc:  # a bug: the resident sees the error screen, never a trace
            log.error("card read failed unexpectedly", extra={"error_type": type(exc).__name__})
            self._publish_after_card(session, "internal_error")
            return
        finally:
            del pin
        try:
            issued = self.center.certificates(
                CertificateRequest(
                    card=CardFilesIn(**files.to_json()),
                    municipality_code=municipality.code,
                    kind=kind,
                    consent=Consent(terms_version=terms, accepted=True),
                    nonce=secrets.token_urlsafe(24),
                )
            )
        except VaxcertError as exc:
            self._publish_after_card(session, exc.code)
            return
        except Exception as exc:
            log.error("issuance failed unexpectedly", extra={"error_type": type(exc).__name__})
            self._publish_after_card(session, "internal_error")
            return
        finally:
            del files  # C08: the raw files live no longer than the call that carries them
        try:
            pdf = self.render(issued, copies)
        except Exception as exc:
            # Issued but not printable here (e.g. a character without a glyph): nothing is
            # charged, and the center learns the certificate went out unprinted.
            code = exc.code if isinstance(exc, VaxcertError) else "internal_error"
            log.warning("certificate not printable", extra={"reason": code})
            self._send_receipt(municipality.code, copies, 0, "cancelled")
            self._publish_after_card(session, code)
            return
        with self.locked(session):
            if session.wiped:
                # Cancelled while the center worked: the certificate was issued but not taken.
                self._send_receipt(municipality.code, copies, 0, "cancelled")
                return
            session.issued = issued
            session.pdf = pdf
            session.after_card = "confirm"
            session.show("take-card")

    def _count_lockout(self, session: KioskSession) -> None:
        if session.municipality is None:
            return
        code = session.municipality.code
        with self._lockouts_lock:
            self._lockouts[code] = self._lockouts.get(code, 0) + 1

    def _publish_after_card(
        self, session: KioskSession, code: str, screen: Screen | None = None
    ) -> None:
        with self.locked(session):
            if not session.wiped:
                self._after_card(session, code, screen)

    def _after_card(self, session: KioskSession, code: str, screen: Screen | None = None) -> None:
        session.reason = code
        session.after_card = screen or ("refused" if _is_refusal(code) else "error")
        session.show("take-card")

    def _fail(self, session: KioskSession, code: str) -> None:
        session.reason = code
        session.show("refused" if _is_refusal(code) else "error")

    def confirm(self, session: KioskSession) -> None:
        """confirm → payment: the cash unit opens for fee × copies."""
        if session.screen != "confirm" or session.issued is None:
            return
        self.touch(session)
        session.due_yen = session.fee_yen
        session.inserted_yen = 0
        try:
            self.devices.cash.open(session.due_yen)
        except VaxcertError as exc:
            self._cancel_issued(session)
            self._fail(session, exc.code)
            return
        session.cash_open = True
        session.show("payment")

    def pay(self, session: KioskSession) -> None:
        """payment → printing once the fee is covered; the money stays in escrow until printed."""
        if session.screen != "payment":
            return
        self.touch(session)
        inserted = self.devices.cash.inserted()
        session.inserted_yen = inserted
        if inserted < session.due_yen:
            session.show("payment", notice="payment_incomplete")
            return
        session.show("printing")
        self.run(lambda: self._print(session))

    def _print_once(self, pdf: bytes, title: str) -> tuple[PrintOutcome, PrintJob | None]:
        try:
            job = self.devices.printer.submit(pdf, title=title)
        except PrinterError:
            return "failed", None
        return job.wait(self.options.print_timeout_seconds), job

    def _print(self, session: KioskSession) -> None:
        """Print from memory; a misprint is reprinted once, a second one is refunded."""
        with self.locked(session):
            pdf, issued = session.pdf, session.issued
        if pdf is None or issued is None:
            return
        title = f"certificate {issued.certificate_id}"
        outcome, job = self._print_once(pdf, title)
        if outcome != "printed":
            log.warning("misprint; printing again from memory", extra={"outcome": outcome})
            outcome, job = self._print_once(pdf, title)
        with self.locked(session):
            code = issued.municipality.code
            if outcome == "printed":
                session.change_yen = self.devices.cash.collect()
                session.cash_open = False
                session.paid_yen = session.due_yen
                session.job = job
                session.printed_at = self.clock()
                self._send_receipt(code, session.copies, session.paid_yen, "printed")
                session.pdf = None  # printed: the bytes are no longer needed (C08)
                session.show("take-certificate")
                return
            session.refunded_yen = self.devices.cash.refund()
            session.cash_open = False
            session.incident = self._incident_id()
            log.warning("misprint twice; refunded", extra={"incident": session.incident})
            # The amount is the fee paid back (any overpayment went back with it).
            self._send_receipt(
                code, session.copies, session.due_yen, "misprint_refunded", session.incident
            )
            session.pdf = None
            session.issued = None
            session.reason = "misprint_refunded"
            session.show("error")

    def _incident_id(self) -> str:
        day = dt.datetime.now(dt.UTC).strftime("%y%m%d")
        return f"{self.options.kiosk_id}-{day}-{secrets.token_hex(3).upper()}"

    def cancel(self, session: KioskSession) -> None:
        """Cancel (or inactivity): refund what was inserted, report, wipe (C08)."""
        if session.wiped:
            return
        if session.screen == "printing":
            return  # the printer is working; the flow ends by itself right after
        if session.cash_open:
            # Money in escrow goes back before anything is wiped, whoever ends the session.
            session.refunded_yen = self.devices.cash.refund()
            session.cash_open = False
            log.info("payment cancelled; refunded", extra={"refunded_yen": session.refunded_yen})
            if session.refunded_yen:
                self._returned = (session.refunded_yen, self.clock())
        self._cancel_issued(session)
        self.end(session)

    def _cancel_issued(self, session: KioskSession) -> None:
        if session.issued is not None and session.printed_at is None:
            self._send_receipt(session.issued.municipality.code, session.copies, 0, "cancelled")

    def sweep(self) -> None:
        """Wipe sessions idle past their countdown (the browser normally does it first)."""
        now = self.clock()
        for session in self.sessions.all():
            with self.locked(session):
                if session.screen == "take-certificate":
                    self.poll(session)
                    continue
                limit = self.idle_limit(session)
                if limit is None:
                    continue
                deadline = limit + self.options.warning_seconds + _SERVER_GRACE_SECONDS
                if now - session.last_activity > deadline:
                    self.cancel(session)

    def money_returned(self) -> int:
        """Yen a cancel or timeout paid back into the tray lately (0: none to mention)."""
        if self._returned is None:
            return 0
        amount, at = self._returned
        if self.clock() - at > self.options.take_certificate_seconds:
            self._returned = None
            return 0
        return amount

    def retry_screen(self, session: KioskSession) -> Screen | None:
        """Where "try again" leads from a refusal or error screen; None: no retry offered."""
        if session.screen not in ("refused", "error") or session.reason is None:
            return None
        if session.config is None:
            return "welcome" if session.reason in RETRY_START else None
        if session.consented_terms is None:
            return None
        return RETRY_SCREEN.get(session.reason)

    def retry(self, session: KioskSession) -> None:
        """refused/error → the screen where the resident can try again (:data:`RETRY_SCREEN`)."""
        target = self.retry_screen(session)
        if target is None:
            return
        self.touch(session)
        # Whatever the failed attempt left goes (C08); choices and consent stay.
        session.reason = None
        session.after_card = None
        session.tries_left = None
        session.issued = None
        session.pdf = None
        if target == "welcome":
            session.show("welcome")
            self.start(session)
        else:
            session.show(target)

    def card_left(self) -> bool:
        """Whether a card lies in the reader (the welcome screen then asks to take it)."""
        try:
            return self.devices.reader.wait_for_card(0.0)
        except CardError:
            return False

    # --- reports to the center -------------------------------------------------------------

    def _send_receipt(
        self,
        municipality_code: str,
        copies: int,
        amount: int,
        outcome: Literal["printed", "misprint_refunded", "cancelled"],
        incident: str | None = None,
    ) -> None:
        """Put a receipt in the outbox (on disk at once), then try to deliver it."""
        self.outbox.add(municipality_code, copies, amount, outcome, incident)
        self.run(self._flush_now)

    def _flush_now(self) -> None:
        self.flush_receipts()

    def flush_receipts(self) -> bool:
        """Deliver pending receipts in order, unless backing off; True when none is left.

        A receipt leaves the outbox only when the center acknowledged it (a repeat is
        acknowledged too: the center counts each receipt id once). Outages, 429 and 503 are
        retried with backoff; any other refusal is logged and kept for the operator.
        """
        if self.clock() < self._retry_at:
            return not self.outbox.pending()
        if not self._flushing.acquire(blocking=False):
            return False  # another thread is delivering right now
        try:
            for entry in self.outbox.pending():
                if dt.datetime.now(dt.UTC) - entry.created_at > _RETRY_GIVE_UP:
                    log.error("receipt too old to send; kept", extra={"receipt": entry.receipt_id})
                    self.outbox.settle(entry, "expired", None)
                    continue
                if not self._deliver(entry):
                    return False
            return True
        finally:
            self._flushing.release()

    def _deliver(self, entry: OutboxEntry) -> bool:
        """One attempt; False when the outbox should wait (backoff) before the next one."""
        try:
            self.center.receipt(entry.receipt())
        except VaxcertError as exc:
            if exc.status == 429 or exc.status >= 500:
                self._back_off(entry, exc.code)
                return False
            log.error(
                "receipt refused by the center; kept for the operator",
                extra={"reason": exc.code, "receipt": entry.receipt_id},
            )
            self.outbox.settle(entry, "refused", exc.code)
            return True
        except Exception as exc:  # a bug or an unforeseen transport error: keep and retry
            log.error("receipt delivery failed", extra={"error_type": type(exc).__name__})
            self._back_off(entry, "internal_error")
            return False
        self.outbox.acknowledged(entry)
        self._failures = 0
        self._retry_at = 0.0
        return True

    def _back_off(self, entry: OutboxEntry, code: str) -> None:
        self.outbox.attempted(entry)
        self._failures += 1
        delay = min(_RETRY_MAX, _RETRY_FIRST * 2 ** min(self._failures - 1, 20))
        # Jitter: kiosks that lost the center together do not all come back at once.
        self._retry_at = self.clock() + delay * random.uniform(0.5, 1.0)  # noqa: S311
        log.warning(
            "receipt not delivered; will retry",
            extra={"reason": code, "retry_seconds": round(delay, 1)},
        )

    def device_status(self) -> Heartbeat:
        """Every device's state, as the heartbeat reports it."""
        reader: DeviceState
        try:
            self.devices.reader.wait_for_card(0.0)
            reader = "ok"
        except NoReaderError:
            reader = "absent"
        except CardError:
            reader = "error"
        printer = self.devices.printer.status()
        return Heartbeat(
            reader=reader,
            printer=printer.state,
            paper=printer.paper,
            cash_unit=self._cash_state(),
            app_version=APP_VERSION,
        )

    def _cash_state(self) -> DeviceState:
        cash = self.devices.cash
        if cash.is_open() and not any(s.cash_open for s in self.sessions.all()):
            # Money in escrow that no resident's session accounts for: the unit refuses every
            # later payment until an operator clears it.
            return "error"
        return cash.status()

    def heartbeat(self) -> bool:
        """One heartbeat with device status and the PIN lockouts seen since the last delivered
        one, then any queued receipts; True when delivered."""
        with self._lockouts_lock:
            # Within the contract's bounds; what does not fit goes with a later beat.
            lockouts = {
                code: min(count, MAX_LOCKOUTS_PER_MUNICIPALITY)
                for code, count in list(self._lockouts.items())[:MAX_LOCKOUT_MUNICIPALITIES]
            }
        status = self.device_status().model_copy(update={"pin_lockouts": lockouts or None})
        try:
            self.center.heartbeat(status)
        except VaxcertError as exc:
            # The lockouts stay counted for the next beat.
            log.warning("heartbeat not delivered", extra={"reason": exc.code})
            return False
        with self._lockouts_lock:
            for code, count in lockouts.items():
                left = self._lockouts.get(code, 0) - count
                if left > 0:
                    self._lockouts[code] = left
                else:
                    self._lockouts.pop(code, None)
        self.flush_receipts()
        return True

    def start_background(self) -> None:
        """Start the janitor (inactivity wipes) and the heartbeat every ``heartbeat_seconds``."""
        if self._background is not None:
            return

        def loop() -> None:
            period = self.options.heartbeat_seconds
            next_beat = time.monotonic()
            while not self._stop.wait(1.0):
                try:
                    self.sweep()
                    if self.outbox.pending():
                        self.flush_receipts()  # itself waits out the backoff
                    if period and time.monotonic() >= next_beat:
                        next_beat = time.monotonic() + period
                        self.heartbeat()
                except Exception as exc:  # the loop must survive anything
                    log.error("kiosk background loop", extra={"error_type": type(exc).__name__})

        self._background = threading.Thread(target=loop, name="kiosk-background", daemon=True)
        self._background.start()

    def stop_background(self) -> None:
        """Stop the background loop (tests)."""
        self._stop.set()
        if self._background is not None:
            self._background.join(timeout=5)
            self._background = None
