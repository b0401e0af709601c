"""`vaxcert card …`: argument checks (`check`/`readers` against pcscd + vpcd: tests/e2e)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from launch.cli import main


def run(*args: str, input: str | None = None) -> Any:
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def test_card_group_is_registered() -> None:
    result = run("card", "--help")
    assert result.exit_code == 0
    for command in ("serve", "readers", "check"):
        assert command in result.output
    assert "locked-card" in run("card", "serve", "--help").output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--resident", "nobody"], "nobody"),
        (["--resident", "canary", "--pin", "12a4"], "4 ASCII digits"),
        (["--resident", "canary", "--pin", "１２３４"], "4 ASCII digits"),
        (["--resident", "canary", "--host", "10.1.2.3"], "loopback"),
    ],
)
def test_serve_refuses_bad_arguments(args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["card", "serve", *args])
    assert result.exit_code == 2
    assert message in result.output


def test_serve_needs_the_dev_ca(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["card", "serve", "--resident", "canary", "--pki-dir", str(tmp_path)]
    )
    assert result.exit_code == 1
    assert "vaxcert certs init" in result.output


def test_config_show_lists_the_card_ca_table_unmasked() -> None:
    import json

    shown = json.loads(run("config", "show").output)
    assert shown["card"]["ca_keys"] == [{"key_id": "9000033/001", "public_key": "jlis-ca.pub.pem"}]
    assert shown["secret_key"] == "********"
