"""The kiosk's device contracts besides the card reader (:class:`vaxcert.card.CardReader`).

Callers ask for a :class:`Printer` or a :class:`CashUnit`; configuration picks the implementation
(:mod:`kiosk.devices`): a simulator with test hooks for the demo and tests, CUPS for a real
printer. No method writes a file (C08): documents travel as bytes in memory.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Literal

DeviceState = Literal["ok", "warning", "error", "absent"]
PaperState = Literal["ok", "low", "empty"]
PrintOutcome = Literal["printed", "jammed", "failed"]


@dataclass(frozen=True, slots=True)
class PrinterStatus:
    """What the printer reports for the heartbeat and the start screen."""

    state: DeviceState
    paper: PaperState


class PrintJob(abc.ABC):
    """One submitted document: its outcome, then whether the paper was taken from the tray."""

    @abc.abstractmethod
    def wait(self, timeout: float) -> PrintOutcome:
        """Block until the job ends; ``failed`` when ``timeout`` seconds pass first."""

    @abc.abstractmethod
    def paper_taken(self) -> bool | None:
        """True once the paper left the tray; None when the printer cannot tell."""


class Printer(abc.ABC):
    """Prints a PDF held in memory."""

    @abc.abstractmethod
    def submit(self, pdf: bytes, *, title: str) -> PrintJob:
        """Start printing ``pdf`` (every page once); raises PrinterError when it cannot start."""

    @abc.abstractmethod
    def status(self) -> PrinterStatus:
        """The printer's state and paper level."""


class CashUnit(abc.ABC):
    """A coin and bill unit: collects a fee, gives change, refunds."""

    @abc.abstractmethod
    def open(self, due_yen: int) -> None:
        """Start accepting money towards ``due_yen`` (the amount inserted starts at 0)."""

    @abc.abstractmethod
    def inserted(self) -> int:
        """Yen inserted since :meth:`open`."""

    @abc.abstractmethod
    def collect(self) -> int:
        """Keep the amount due, pay out the change and close; returns the change in yen."""

    @abc.abstractmethod
    def refund(self) -> int:
        """Pay back everything inserted since :meth:`open` and close; returns the yen paid back."""

    @abc.abstractmethod
    def is_open(self) -> bool:
        """Whether a payment is open (money may be in escrow)."""

    @abc.abstractmethod
    def status(self) -> DeviceState:
        """The unit's state."""
