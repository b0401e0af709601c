"""The kiosk's demo panel is development only: production refuses it, elsewhere it is announced
with a warning."""

from __future__ import annotations

import logging

import pytest

from kiosk.app import create_app
from tests.e2e.conftest import MakeRig
from vaxcert.config import load_settings
from vaxcert.errors import ConfigError


def test_production_refuses_the_demo_panel() -> None:
    with pytest.raises(ConfigError) as caught:
        create_app(load_settings(environment="production", kiosk={"demo": True}))
    assert caught.value.setting == "VAXCERT_KIOSK__DEMO"


def test_demo_mode_warns_and_serves_the_panel(
    make_rig: MakeRig, caplog: pytest.LogCaptureFixture
) -> None:
    rig = make_rig()
    settings = rig.kiosk.settings
    demo = settings.model_copy(update={"kiosk": settings.kiosk.model_copy(update={"demo": True})})
    caplog.set_level(logging.WARNING)
    app = create_app(demo, kiosk=rig.kiosk, background=False)
    assert [r.getMessage() for r in caplog.records if "UNSAFE demo mode" in r.getMessage()]
    assert app.test_client().get("/demo").status_code == 200
