"""`vaxcert card check|readers` against pcscd + vpcd and a virtual card process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from launch.cli import main
from vaxcert import residents


@pytest.mark.pcsc
def test_readers_lists_the_vpcd_slots(pcscd: Any) -> None:
    result = CliRunner().invoke(main, ["card", "readers"], catch_exceptions=False)
    assert result.exit_code == 0
    assert "Virtual PCD 00 00" in result.output


@pytest.mark.pcsc
def test_c08_c22_check_reads_and_verifies_without_printing_card_data(
    virtual_card: Any, card_pki: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VAXCERT_PKI_DIR", str(card_pki))
    virtual_card("canary")
    result = CliRunner().invoke(
        main, ["card", "check", "--reader", "Virtual PCD 00 00"], input="1234\n"
    )
    assert result.exit_code == 0, result.output
    assert "PIN tries left: 3" in result.output
    assert "verified by CA 9000033/001" in result.output
    for value in residents.CANARY.canary_values:
        assert value not in result.output
    assert "1234" not in result.output


@pytest.mark.pcsc
def test_check_reports_a_wrong_pin_with_its_code(
    virtual_card: Any, card_pki: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VAXCERT_PKI_DIR", str(card_pki))
    virtual_card("canary")
    result = CliRunner().invoke(
        main, ["card", "check", "--reader", "Virtual PCD 00 00"], input="9999\n"
    )
    assert result.exit_code == 1
    assert "pin_incorrect: 2 tries left" in result.output
    assert "9999" not in result.output.replace("PIN: \n", "")
