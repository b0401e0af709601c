"""Printer and cash-unit implementations: faithful simulators with test hooks, and CUPS.

The simulators behave like the machines they stand for: a printer whose tray holds the paper until
it is taken (and that can be told to jam), a cash unit that accepts only certain coins and bills,
stops accepting once the fee is covered, and pays change out of a finite coin inventory. Documents
stay in memory; the CUPS driver hands them to ``lp`` on standard input (no temp file, C08).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from kiosk.interfaces import (
    CashUnit,
    DeviceState,
    PaperState,
    Printer,
    PrinterStatus,
    PrintJob,
    PrintOutcome,
)
from vaxcert.config import Settings
from vaxcert.errors import VaxcertError

_PAGE = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")


def page_count(pdf: bytes) -> int:
    """Pages of a PDF by its page objects (good enough for paper accounting)."""
    return max(1, len(_PAGE.findall(pdf)))


class PrinterError(VaxcertError):
    """The printer cannot take a job (no paper, offline, driver missing)."""


class CashError(VaxcertError):
    """The cash unit refused an operation."""


# --- printer simulator --------------------------------------------------------------------


@dataclass
class _SimulatedJob(PrintJob):
    printer: SimulatedPrinter
    pages: int
    outcome: PrintOutcome
    ready_at: float
    taken_at: float | None = None
    document: bytes | None = field(default=None, repr=False)

    def wait(self, timeout: float) -> PrintOutcome:
        delay = self.ready_at - time.monotonic()
        if delay > timeout:
            time.sleep(max(0.0, timeout))
            return "failed"
        if delay > 0:
            time.sleep(delay)
        return self.outcome

    def paper_taken(self) -> bool | None:
        auto = self.printer.auto_take_seconds
        with self.printer.lock:
            if (
                self.taken_at is None
                and auto is not None
                and self.outcome == "printed"
                and time.monotonic() >= self.ready_at + auto
            ):
                self.printer.take_paper()
            return self.taken_at is not None


class SimulatedPrinter(Printer):
    """An A4 printer with an output tray; hooks: :meth:`jam_next`, :meth:`take_paper`,
    :meth:`load_paper`. ``auto_take_seconds`` takes the paper by itself (headless runs)."""

    def __init__(
        self,
        *,
        print_seconds: float = 0.0,
        auto_take_seconds: float | None = None,
        sheets: int = 500,
        low_sheets: int = 50,
    ) -> None:
        self.print_seconds = print_seconds
        self.auto_take_seconds = auto_take_seconds
        self.sheets = sheets
        self.low_sheets = low_sheets
        self.lock = threading.RLock()
        self._jams = 0
        self._tray: list[_SimulatedJob] = []
        self.jobs_submitted = 0

    # Test and demo hooks.
    def jam_next(self, times: int = 1) -> None:
        """The next ``times`` jobs jam (their paper is lost, nothing lands in the tray)."""
        with self.lock:
            self._jams += times

    def take_paper(self) -> list[bytes]:
        """Someone takes everything from the output tray; returns what was there."""
        with self.lock:
            taken = []
            for job in self._tray:
                job.taken_at = time.monotonic()
                if job.document is not None:
                    taken.append(job.document)
                job.document = None  # the printout left with the resident
            self._tray.clear()
            return taken

    def load_paper(self, sheets: int) -> None:
        """Refill the paper."""
        with self.lock:
            self.sheets = sheets

    def tray(self) -> int:
        """Printouts lying in the output tray."""
        with self.lock:
            return len(self._tray)

    # Printer.
    def submit(self, pdf: bytes, *, title: str) -> PrintJob:
        """See :meth:`Printer.submit`."""
        pages = page_count(pdf)
        with self.lock:
            if self.sheets < pages:
                raise PrinterError("printer_unavailable", "out of paper")
            self.jobs_submitted += 1
            jammed = self._jams > 0
            if jammed:
                self._jams -= 1
            self.sheets -= pages
            job = _SimulatedJob(
                self,
                pages,
                "jammed" if jammed else "printed",
                time.monotonic() + self.print_seconds,
                document=None if jammed else pdf,
            )
            if not jammed:
                self._tray.append(job)
            return job

    def status(self) -> PrinterStatus:
        """See :meth:`Printer.status`."""
        with self.lock:
            paper: PaperState = (
                "empty" if self.sheets <= 0 else "low" if self.sheets <= self.low_sheets else "ok"
            )
            state: DeviceState = "error" if paper == "empty" else "ok"
            return PrinterStatus(state, paper)


# --- CUPS -----------------------------------------------------------------------------------

_REQUEST_ID = re.compile(r"request id is (\S+)")


@dataclass
class _CupsJob(PrintJob):
    printer: CupsPrinter
    job_id: str

    def wait(self, timeout: float) -> PrintOutcome:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.job_id not in self.printer.run("lpstat", "-o", self.printer.destination):
                completed = self.printer.run(
                    "lpstat", "-W", "completed", "-o", self.printer.destination
                )
                return "printed" if self.job_id in completed else "failed"
            if "jam" in self.printer.alerts():
                self.printer.run("cancel", self.job_id)
                return "jammed"
            time.sleep(self.printer.poll_seconds)
        self.printer.run("cancel", self.job_id)
        return "failed"

    def paper_taken(self) -> bool | None:
        return None  # CUPS has no paper-taken sensor: the reminder ends by its timeout


class CupsPrinter(Printer):
    """A CUPS destination driven by ``lp``/``lpstat``/``cancel`` (the commands are injectable)."""

    def __init__(
        self,
        destination: str,
        *,
        commands: dict[str, Sequence[str]] | None = None,
        poll_seconds: float = 0.5,
        command_timeout: float = 10.0,
    ) -> None:
        self.destination = destination
        self.commands = {name: [name] for name in ("lp", "lpstat", "cancel")}
        self.commands.update({k: list(v) for k, v in (commands or {}).items()})
        self.poll_seconds = poll_seconds
        self.command_timeout = command_timeout

    def _argv(self, name: str, args: Sequence[str]) -> list[str]:
        argv = list(self.commands[name])
        if shutil.which(argv[0]) is None:
            raise PrinterError("printer_unavailable", f"{name} is not installed")
        return [*argv, *args]

    def run(self, name: str, *args: str, stdin: bytes | None = None) -> str:
        """Run a CUPS command with the C locale; its standard output (errors become '')."""
        try:
            done = subprocess.run(  # noqa: S603 - configured CUPS client commands
                self._argv(name, args),
                input=stdin,
                capture_output=True,
                timeout=self.command_timeout,
                env={"LC_ALL": "C", "PATH": "/usr/local/bin:/usr/bin:/bin"},
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return ""
        return done.stdout.decode(errors="replace") if done.returncode == 0 else ""

    def alerts(self) -> str:
        """The printer's alert keywords (``lpstat -l -p``), lower-case."""
        text = self.run("lpstat", "-l", "-p", self.destination)
        found = re.search(r"Alerts:\s*(.*)", text)
        return found.group(1).lower() if found else ""

    def submit(self, pdf: bytes, *, title: str) -> PrintJob:
        """See :meth:`Printer.submit`: the PDF goes to ``lp`` on standard input."""
        output = self.run(
            "lp", "-d", self.destination, "-t", title, "-o", "media=A4", "-", stdin=pdf
        )
        found = _REQUEST_ID.search(output)
        if found is None:
            raise PrinterError("printer_unavailable", "lp did not accept the job")
        return _CupsJob(self, found.group(1))

    def status(self) -> PrinterStatus:
        """See :meth:`Printer.status`."""
        try:
            self._argv("lpstat", ())
        except PrinterError:
            return PrinterStatus("absent", "ok")
        text = self.run("lpstat", "-l", "-p", self.destination)
        if not text:
            return PrinterStatus("absent", "ok")
        alerts = self.alerts()
        paper: PaperState = (
            "empty" if "media-empty" in alerts else "low" if "media-low" in alerts else "ok"
        )
        if "disabled" in text or "jam" in alerts or paper == "empty":
            return PrinterStatus("error", paper)
        return PrinterStatus("ok", paper)


# --- cash unit simulator --------------------------------------------------------------------

ACCEPTED_YEN = (10, 50, 100, 500, 1000)
_CHANGE_ORDER = (500, 100, 50, 10)


def _change_for(amount: int, inventory: dict[int, int]) -> dict[int, int] | None:
    """Coins paying ``amount`` out of ``inventory`` (greedy works for yen coins), or None."""
    paid: dict[int, int] = {}
    rest = amount
    for coin in _CHANGE_ORDER:
        use = min(rest // coin, inventory.get(coin, 0))
        if use:
            paid[coin] = use
            rest -= use * coin
    return paid if rest == 0 else None


class SimulatedCashUnit(CashUnit):
    """Accepts 10/50/100/500-yen coins and 1000-yen bills; hooks: :meth:`insert`,
    :meth:`set_change`. Every payout is logged in :attr:`payouts` as ``(kind, yen)``."""

    def __init__(self, change: dict[int, int] | None = None, low_coins: int = 10) -> None:
        self._lock = threading.Lock()
        self._change = dict(change or {500: 20, 100: 50, 50: 20, 10: 50})
        self._low = low_coins
        self._due: int | None = None
        self._inserted: list[int] = []
        self.payouts: list[tuple[str, int]] = []

    def set_change(self, change: dict[int, int]) -> None:
        """Replace the change inventory (coins by denomination)."""
        with self._lock:
            self._change = dict(change)

    def insert(self, yen: int) -> bool:
        """A coin or bill goes in; False when it is returned (unknown, not open, fee covered,
        or its change could not be paid)."""
        with self._lock:
            if self._due is None or yen not in ACCEPTED_YEN:
                return False
            total = sum(self._inserted)
            if total >= self._due:
                return False
            over = total + yen - self._due
            if over > 0 and _change_for(over, self._change) is None:
                return False
            self._inserted.append(yen)
            return True

    def is_open(self) -> bool:
        """Whether the unit is accepting money."""
        with self._lock:
            return self._due is not None

    def open(self, due_yen: int) -> None:
        """See :meth:`CashUnit.open`."""
        with self._lock:
            if self._due is not None and self._inserted:
                raise CashError("cash_unit_busy", "a payment is still open")
            self._due = due_yen
            self._inserted = []

    def inserted(self) -> int:
        """See :meth:`CashUnit.inserted`."""
        with self._lock:
            return sum(self._inserted)

    def collect(self) -> int:
        """See :meth:`CashUnit.collect`."""
        with self._lock:
            if self._due is None:
                raise CashError("cash_unit_busy", "no payment is open")
            total = sum(self._inserted)
            if total < self._due:
                raise CashError("payment_incomplete", f"{self._due - total} yen missing")
            for coin in self._inserted:
                if coin in self._change:
                    self._change[coin] += 1
            over = total - self._due
            coins = _change_for(over, self._change) or {}
            for coin, count in coins.items():
                self._change[coin] -= count
            self._due = None
            self._inserted = []
            if over:
                self.payouts.append(("change", over))
            return over

    def refund(self) -> int:
        """See :meth:`CashUnit.refund`: the very coins and bills inserted go back."""
        with self._lock:
            total = sum(self._inserted)
            self._due = None
            self._inserted = []
            if total:
                self.payouts.append(("refund", total))
            return total

    def status(self) -> DeviceState:
        """See :meth:`CashUnit.status`: a warning when some change coin runs low."""
        with self._lock:
            low = any(self._change.get(coin, 0) < self._low for coin in _CHANGE_ORDER)
            return "warning" if low else "ok"


def create_printer(settings: Settings) -> Printer:
    """The configured printer."""
    kiosk = settings.kiosk
    if kiosk.printer == "cups":
        if kiosk.cups_destination is None:
            from vaxcert.errors import ConfigError

            raise ConfigError("VAXCERT_KIOSK__CUPS_DESTINATION", "name the CUPS printer")
        return CupsPrinter(kiosk.cups_destination)
    return SimulatedPrinter()


def create_cash_unit(settings: Settings) -> CashUnit:
    """The configured cash unit (only the simulator exists: real units need a vendor driver)."""
    return SimulatedCashUnit()
