"""The state of one resident's session at the kiosk, kept only in process memory (C08).

Personal data (the certificate reply and its PDF) is excluded from ``repr`` and dropped by
:meth:`KioskSession.wipe`; the PIN is never stored here at all (it lives in the reading call's
locals only, C01).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from kiosk.interfaces import PrintJob
from vaxcert.contracts.kiosk_api import (
    CertificateIssued,
    CertificateKind,
    KioskConfig,
    MunicipalityView,
)
from vaxcert.reasons import Language

Screen = Literal[
    "welcome",
    "terms",
    "municipality",
    "kind",
    "copies",
    "insert-card",
    "pin",
    "locked",
    "reading",
    "take-card",
    "confirm",
    "payment",
    "printing",
    "take-certificate",
    "refused",
    "error",
]
SCREENS: tuple[Screen, ...] = get_args(Screen)
# Screens where the resident waits for a machine: no inactivity warning there.
WORKING: frozenset[Screen] = frozenset({"reading", "printing"})
# Screens of the one resident the terminal serves: from the card going in until the certificate
# is taken, the session holds the reader, the cash unit or the printer, and no other session may
# end it (only its own Cancel, its inactivity countdown, or the flow's end).
HOLDS_TERMINAL: frozenset[Screen] = frozenset(
    {
        "insert-card",
        "pin",
        "reading",
        "take-card",
        "confirm",
        "payment",
        "printing",
        "take-certificate",
    }
)


@dataclass(eq=False)
class KioskSession:
    """One resident's pass through the flow; only the owner of :attr:`lock` changes it."""

    id: str = field(repr=False)
    lang: Language = "ja"
    screen: Screen = "welcome"
    version: int = 0
    last_activity: float = field(default_factory=time.monotonic)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    # Flask's own session data (the CSRF token), kept here so the cookie holds only the id.
    flask: dict[str, Any] = field(default_factory=dict, repr=False)
    wiped: bool = False
    # Spoken prompts on or off (the resident's toggle, for this session only; issue 13).
    speech: bool = True
    # Choices (what the center let this kiosk show, C05).
    config: KioskConfig | None = field(default=None, repr=False)
    consented_terms: str | None = None  # C07: the terms version accepted
    municipality: MunicipalityView | None = None
    kind: CertificateKind | None = None
    copies: int = 1
    # The card.
    tries_left: int | None = None
    notice: str | None = None  # a reason code shown on the current screen (e.g. wrong PIN)
    after_card: Screen | None = None  # where the flow goes once the card is taken
    # The outcome (personal data: memory only, dropped on wipe, C08).
    issued: CertificateIssued | None = field(default=None, repr=False)
    pdf: bytes | None = field(default=None, repr=False)
    reason: str | None = None
    incident: str | None = None
    # Payment and printing.
    due_yen: int = 0
    inserted_yen: int = 0
    paid_yen: int = 0
    change_yen: int = 0
    refunded_yen: int = 0
    # True from opening the cash unit until its money is collected or refunded: a wipe in
    # between must refund it.
    cash_open: bool = False
    job: PrintJob | None = field(default=None, repr=False)
    printed_at: float | None = None

    def show(self, screen: Screen, *, notice: str | None = None) -> None:
        """Move to ``screen``; polling pages reload when :attr:`version` changes."""
        self.screen = screen
        self.notice = notice
        self.version += 1

    def touch(self, now: float | None = None) -> None:
        """The resident did something: the inactivity clock restarts."""
        self.last_activity = time.monotonic() if now is None else now

    @property
    def holds_terminal(self) -> bool:
        """Whether this session is the resident the terminal serves now."""
        return not self.wiped and (self.screen in HOLDS_TERMINAL or self.cash_open)

    @property
    def fee_yen(self) -> int:
        """Fee for the chosen copies."""
        return (self.municipality.fee_yen if self.municipality else 0) * self.copies

    def wipe(self) -> None:
        """Drop everything this session held (C08); the object stays only as a tombstone.

        ``bytes`` cannot be overwritten in Python: dropping the last reference is what frees
        them, and nothing else holds one (no cache, no file, no log).
        """
        self.wiped = True
        self.flask.clear()
        self.config = None
        self.consented_terms = None
        self.municipality = None
        self.kind = None
        self.tries_left = None
        self.notice = None
        self.after_card = None
        self.issued = None
        self.pdf = None
        self.reason = None
        self.incident = None
        self.job = None
        self.screen = "welcome"
        self.version += 1
