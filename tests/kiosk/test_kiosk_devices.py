"""Device simulators and the CUPS driver (against stand-in lp/lpstat/cancel commands)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from kiosk.devices import CupsPrinter, PrinterError, SimulatedCashUnit, SimulatedPrinter

PDF = b"%PDF-1.4\n<< /Type /Pages >>\n<< /Type /Page >>\n<< /Type /Page >>\n"


def test_cash_unit_accepts_only_its_coins_and_bills() -> None:
    cash = SimulatedCashUnit()
    assert not cash.insert(100)  # not open
    cash.open(240)
    assert not cash.insert(5) and not cash.insert(1) and not cash.insert(5000)
    assert cash.insert(100) and cash.insert(100) and cash.insert(1000)
    assert not cash.insert(10)  # the fee is covered: the unit stops accepting
    assert cash.inserted() == 1200
    assert cash.collect() == 960
    assert cash.payouts == [("change", 960)]


def test_cash_unit_refuses_money_it_cannot_change() -> None:
    cash = SimulatedCashUnit(change={500: 0, 100: 0, 50: 0, 10: 3})
    cash.open(120)
    assert not cash.insert(500)  # 380 change impossible
    assert cash.insert(100) and cash.insert(50)  # 30 change: three 10-yen coins
    assert cash.collect() == 30
    assert cash.status() == "warning"  # change coins run low


def test_cash_unit_refund_returns_everything_inserted() -> None:
    cash = SimulatedCashUnit()
    cash.open(120)
    cash.insert(50)
    cash.insert(10)
    assert cash.refund() == 60 and cash.payouts == [("refund", 60)]
    assert cash.inserted() == 0 and not cash.is_open()


def test_printer_tray_holds_the_paper_until_taken() -> None:
    printer = SimulatedPrinter(sheets=3, low_sheets=1)
    job = printer.submit(PDF, title="t")
    assert job.wait(1.0) == "printed" and job.paper_taken() is False
    assert printer.status().paper == "low"
    assert printer.take_paper() == [PDF] and job.paper_taken() is True
    with pytest.raises(PrinterError):
        printer.submit(PDF, title="t")  # one sheet left, two pages


def test_printer_jams_when_told() -> None:
    printer = SimulatedPrinter()
    printer.jam_next(1)
    assert printer.submit(PDF, title="t").wait(1.0) == "jammed"
    assert printer.tray() == 0
    assert printer.submit(PDF, title="t").wait(1.0) == "printed"


def _script(path: Path, body: str) -> list[str]:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return [str(path)]


def test_cups_driver_pipes_the_pdf_to_lp_and_follows_the_job(tmp_path: Path) -> None:
    received = tmp_path / "received.pdf"
    args = tmp_path / "args"
    lp = _script(
        tmp_path / "lp",
        f'echo "$@" > {args}\ncat > {received}\necho "request id is kiosk-7 (1 file(s))"\n',
    )
    lpstat = _script(
        tmp_path / "lpstat",
        'case "$*" in\n'
        '  *completed*) echo "kiosk-7 root 1024 now";;\n'
        '  *-l*) echo "printer kiosk is idle."; echo "    Alerts: none";;\n'
        "  *) ;;\n"
        "esac\n",
    )
    printer = CupsPrinter(
        "kiosk", commands={"lp": lp, "lpstat": lpstat, "cancel": ["true"]}, poll_seconds=0.01
    )
    job = printer.submit(PDF, title="certificate X")
    assert received.read_bytes() == PDF  # on standard input: no file of ours (C08)
    assert args.read_text().split() == [
        "-d",
        "kiosk",
        "-t",
        "certificate",
        "X",
        "-o",
        "media=A4",
        "-",
    ]
    assert job.wait(2.0) == "printed"
    assert job.paper_taken() is None  # CUPS cannot tell: the reminder ends by its timeout
    assert printer.status().state == "ok"


def test_cups_driver_reports_a_jam_and_an_empty_tray(tmp_path: Path) -> None:
    lp = _script(tmp_path / "lp", 'cat > /dev/null\necho "request id is kiosk-8 (1 file(s))"\n')
    lpstat = _script(
        tmp_path / "lpstat",
        'case "$*" in\n'
        '  *-l*) echo "printer kiosk now printing kiosk-8.";'
        ' echo "  Alerts: media-jam media-empty";;\n'
        '  *-o*) echo "kiosk-8 root 1024 now";;\n'
        "esac\n",
    )
    cancelled = tmp_path / "cancelled"
    cancel = _script(tmp_path / "cancel", f'echo "$@" > {cancelled}\n')
    printer = CupsPrinter(
        "kiosk", commands={"lp": lp, "lpstat": lpstat, "cancel": cancel}, poll_seconds=0.01
    )
    assert printer.submit(PDF, title="t").wait(2.0) == "jammed"
    assert cancelled.read_text().strip() == "kiosk-8"
    status = printer.status()
    assert (status.state, status.paper) == ("error", "empty")


def test_cups_driver_without_cups_is_absent(tmp_path: Path) -> None:
    printer = CupsPrinter("kiosk", commands={"lpstat": [str(tmp_path / "missing")]})
    assert printer.status().state == "absent"
