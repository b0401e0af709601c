"""Configuration: typed, validated at start-up, bad values named, secrets masked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from launch.cli import main
from vaxcert.config import load_settings
from vaxcert.errors import ConfigError


def test_defaults_are_the_documented_ports() -> None:
    settings = load_settings()
    ports = {name: listener.port for name, listener in settings.listeners}
    assert ports == {
        "kiosk": 8080,
        "center_kiosk_api": 8443,
        "center_app_api": 8444,
        "center_ops": 8445,
        "vrs": 8441,
        "signer_api": 8442,
        "signer_public": 8446,
        "verifier": 8090,
    }
    assert all(listener.host == "127.0.0.1" for _, listener in settings.listeners)


def test_environment_overrides_nested_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAXCERT_LISTENERS__VRS__PORT", "9441")
    assert load_settings().listeners.vrs.port == 9441


def test_bad_env_value_fails_fast_naming_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAXCERT_LISTENERS__VRS__PORT", "70000")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert caught.value.setting == "VAXCERT_LISTENERS__VRS__PORT"


def test_unknown_setting_is_refused(tmp_path: Path) -> None:
    toml = tmp_path / "vaxcert.toml"
    toml.write_text("workrs = 3\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(toml)
    assert caught.value.setting == "VAXCERT_WORKRS"


def test_toml_file_is_read_and_env_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toml = tmp_path / "vaxcert.toml"
    toml.write_text("workers = 3\nthreads = 5\n[listeners.kiosk]\nport = 18080\n")
    monkeypatch.setenv("VAXCERT_THREADS", "6")
    settings = load_settings(toml)
    assert (settings.workers, settings.threads, settings.listeners.kiosk.port) == (3, 6, 18080)


def test_issuer_url_must_be_https_without_trailing_slash() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(issuer_url="https://example.org/issuer/")
    assert caught.value.setting == "VAXCERT_ISSUER_URL"


def test_cli_reports_bad_config_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAXCERT_WORKERS", "zero")
    result = CliRunner().invoke(main, ["config", "show"])
    assert result.exit_code != 0
    assert "VAXCERT_WORKERS" in result.output


def test_config_show_masks_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAXCERT_SECRET_KEY", "very-secret-value")
    monkeypatch.setenv("VAXCERT_REDIS_URL", "redis://user:hunter2@127.0.0.1:6379/0")
    result = CliRunner().invoke(main, ["config", "show"])
    assert result.exit_code == 0, result.output
    assert "very-secret-value" not in result.output and "hunter2" not in result.output
    shown = json.loads(result.output)
    assert shown["listeners"]["vrs"]["port"] == 8441


def test_municipality_codes_need_their_check_digit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "VAXCERT_CENTER__MUNICIPALITIES",
        '[{"code": "462013", "name_ja": "x", "name_en": "x"}]',
    )
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert caught.value.setting.startswith("VAXCERT_CENTER__MUNICIPALITIES")


@pytest.mark.parametrize("name", ["", "  ", "\u3000"])
def test_municipality_names_are_printed_so_none_is_blank(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The certificate prints both names: a blank one is refused at start-up (the renderer
    would refuse every certificate of that municipality)."""
    for field in ("name_ja", "name_en"):
        entry = {"code": "462012", "name_ja": "鹿児島市", "name_en": "Kagoshima City", field: name}
        monkeypatch.setenv("VAXCERT_CENTER__MUNICIPALITIES", json.dumps([entry]))
        with pytest.raises(ConfigError) as caught:
            load_settings()
        assert caught.value.setting.startswith("VAXCERT_CENTER__MUNICIPALITIES")


def test_the_centers_deadline_must_end_before_the_kiosk_gives_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VAXCERT_CENTER__ADMISSION__DEADLINE_SECONDS", "12")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "VAXCERT_CENTER__ADMISSION__DEADLINE_SECONDS" in caught.value.detail
    assert "VAXCERT_KIOSK__CENTER_TIMEOUT_SECONDS" in caught.value.detail
    monkeypatch.setenv("VAXCERT_KIOSK__CENTER_TIMEOUT_SECONDS", "15")
    assert load_settings().center.admission.deadline_seconds == 12


def test_a_request_may_not_wait_for_its_slot_beyond_its_deadline() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(center={"admission": {"max_wait_seconds": 5, "deadline_seconds": 4}})
    assert caught.value.setting == "VAXCERT_CENTER__ADMISSION"
