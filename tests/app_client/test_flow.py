"""The reference client's order of steps and its output, with the app API played by a stub
transport (the real API is exercised end to end in tests/e2e/test_app_api.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app_client import flow
from app_client.client import AppClient
from vaxcert import pki
from vaxcert.config import load_settings

ISSUER = "https://127.0.0.1:8446/issuer"


class _Api:
    """Answers registration; config as told; records every call."""

    def __init__(self, config_status: int) -> None:
        self.config_status = config_status
        self.calls: list[str] = []

    def __call__(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        self.calls.append(path)
        if path.endswith("/challenges"):
            return 201, {"challenge": "A" * 43, "expires_in_seconds": 120}, {}
        if path.endswith("/instances"):
            return 201, {"instance_id": "B" * 43, "expires_in_days": 400}, {}
        if path.endswith("/config"):
            if self.config_status != 200:
                return self.config_status, {"error": {"code": "service_unavailable"}}, {}
            return 200, {"terms_version": "2022-07-26"}, {}
        return 401, {"error": {"code": "app_attestation_missing"}}, {}


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Any:
    directory = tmp_path_factory.mktemp("pki")
    pki.init(directory, ISSUER, [])
    return load_settings(environment="test", pki_dir=directory)


def test_c07_the_card_is_not_read_before_the_terms_are_shown(
    settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[str] = []
    monkeypatch.setattr(flow, "read_card", lambda *args, **kwargs: reads.append("read") or {})
    api = _Api(config_status=503)
    result = flow.run(
        settings, resident="canary", pin="1234", municipality="462012", kind="domestic",
        out=tmp_path, client=AppClient(api),
    )  # fmt: skip
    assert (result.outcome, result.reason) == ("error", "service_unavailable")
    assert reads == []  # no terms, no card
    assert not (tmp_path / "certificate.pdf").exists()


def test_c01_a_wrong_pin_sends_no_application(settings: Any, tmp_path: Path) -> None:
    api = _Api(config_status=200)
    result = flow.run(
        settings, resident="canary", pin="9999", municipality="462012", kind="domestic",
        out=tmp_path, client=AppClient(api),
    )  # fmt: skip
    assert (result.outcome, result.reason) == ("refused", "pin_incorrect")
    assert not any(path.endswith("/certificates") for path in api.calls)


def test_a_refused_application_writes_nothing(settings: Any, tmp_path: Path) -> None:
    api = _Api(config_status=200)
    result = flow.run(
        settings, resident="canary", pin="1234", municipality="462012", kind="domestic",
        out=tmp_path, client=AppClient(api),
    )  # fmt: skip
    assert (result.outcome, result.reason) == ("refused", "app_attestation_missing")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".app-instance"]


def test_c08_the_certificate_files_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    # The holder's name, birth date and doses: not for the other users of a shared machine.
    issued = {
        "pdf": "JVBERg==",
        "image_png": "iVBORw==",
        "certificate": {"shc_qr_text": "shc:/56", "vdsnc": '{"data": {}}'},
    }
    flow.write_certificate(tmp_path / "out", issued)
    modes = {p.name: p.stat().st_mode & 0o777 for p in (tmp_path / "out").iterdir()}
    assert modes == dict.fromkeys(
        ["certificate.pdf", "certificate.png", "shc.txt", "vdsnc.json"], 0o600
    )
    assert (tmp_path / "out").stat().st_mode & 0o077 == 0
