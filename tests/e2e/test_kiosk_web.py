"""The kiosk's web layer through Flask's test client: the cookie, CSRF, no free text, every screen
renders in both languages (the real center behind; the PDF step stubbed)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from kiosk.app import COOKIE, create_app
from kiosk.models import SCREENS
from tests.e2e.conftest import MakeRig, Rig
from vaxcert import reasons
from vaxcert.residents import CANARY

_CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')
_SCREEN = re.compile(r'<main data-screen="([a-z-]+)"')
_INPUT = re.compile(r"<(input|textarea|select)\b([^>]*)>")


@pytest.fixture
def rig(make_rig: MakeRig) -> Rig:
    return make_rig()


@pytest.fixture
def app(rig: Rig) -> Iterator[Flask]:
    flask_app = create_app(rig.kiosk.settings, kiosk=rig.kiosk, background=False)
    flask_app.testing = True
    yield flask_app


class Screen:
    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.html = ""
        self.refresh()

    def refresh(self) -> str:
        response = self.client.get("/")
        if response.status_code == 303:
            response = self.client.get("/")
        assert response.status_code == 200
        self.html = response.get_data(as_text=True)
        return self.name

    @property
    def name(self) -> str:
        found = _SCREEN.search(self.html)
        assert found, self.html[:300]
        return found.group(1)

    def post(self, path: str, **form: str) -> str:
        token = _CSRF.search(self.html)
        assert token
        response = self.client.post(path, data={"csrf_token": token.group(1), **form})
        assert response.status_code == 303
        return self.refresh()


def _assert_no_free_text(html: str) -> None:
    # C04: the only inputs are hidden (CSRF token, the PIN pad's value); no text fields.
    for tag, attributes in _INPUT.findall(html):
        assert tag == "input" and 'type="hidden"' in attributes, (tag, attributes)


def test_c08_cookie_holds_only_an_opaque_session_id(app: Flask) -> None:
    client = app.test_client()
    response = client.get("/")
    cookies = response.headers.getlist("Set-Cookie")
    assert len(cookies) == 1
    name, _, rest = cookies[0].partition("=")
    value = rest.split(";")[0]
    assert name == COOKIE and re.fullmatch(r"[A-Za-z0-9_-]{43}", value)
    assert "HttpOnly" in cookies[0] and "SameSite=Strict" in cookies[0]


def test_polling_never_creates_a_session(app: Flask, rig: Rig) -> None:
    before = len(rig.kiosk.sessions.all())
    response = app.test_client().get("/state")
    assert response.get_json() == {"screen": "welcome", "version": -1, "active": False}
    assert "Set-Cookie" not in response.headers
    assert len(rig.kiosk.sessions.all()) == before


def test_a_post_without_csrf_token_changes_nothing(app: Flask) -> None:
    client = app.test_client()
    screen = Screen(client)
    response = client.post("/start", data={})
    assert response.status_code == 303
    assert screen.refresh() == "welcome"


def test_c04_every_screen_in_both_languages_without_free_text(app: Flask, rig: Rig) -> None:
    seen: set[str] = set()
    for lang in ("en", "ja"):
        screen = Screen(app.test_client())
        screen.post("/lang", lang=lang)
        assert f'<html lang="{lang}">' in screen.html

        def visit(s: Screen) -> None:
            seen.add(s.name)
            _assert_no_free_text(s.html)
            assert 'data-action="' in s.html

        visit(screen)
        for path, form in (
            ("/start", {}),
            ("/terms", {}),
            ("/municipality", {"code": "462012"}),
            ("/kind", {"kind": "domestic"}),
            ("/copies", {"copies": "1"}),
        ):
            screen.post(path, **form)
            visit(screen)
        rig.insert("canary")
        screen.refresh()
        visit(screen)
        assert screen.name == "pin" and 'data-tries="3"' in screen.html
        screen.post("/pin", pin=CANARY.pin)
        visit(screen)
        assert screen.name == "take-card"
        rig.reader.remove()
        screen.refresh()
        visit(screen)
        assert screen.name == "confirm"
        assert CANARY.name_kanji in screen.html
        assert CANARY.my_number not in screen.html  # C22
        screen.post("/confirm")
        visit(screen)
        rig.cash.insert(500)
        screen.refresh()
        visit(screen)
        assert 'data-field="change"' in screen.html
        screen.post("/pay")
        visit(screen)
        assert screen.name == "take-certificate"
        rig.printer.take_paper()
        assert screen.refresh() == "welcome"
    assert seen >= {
        "welcome",
        "terms",
        "municipality",
        "kind",
        "copies",
        "pin",
        "take-card",
        "confirm",
        "payment",
        "take-certificate",
    }
    assert set(SCREENS) >= seen


def test_japanese_is_the_default_and_texts_are_translated(app: Flask) -> None:
    screen = Screen(app.test_client())
    assert '<html lang="ja">' in screen.html and "申請を始める" in screen.html
    screen.post("/lang", lang="en")
    assert "Start" in screen.html and "申請を始める" not in screen.html


def test_cancel_wipes_and_a_new_session_id_follows(app: Flask, rig: Rig) -> None:
    client = app.test_client()
    screen = Screen(client)
    first = client.get_cookie(COOKIE)
    assert first is not None
    screen.post("/start")
    assert screen.name == "terms"
    screen.post("/cancel")
    assert screen.name == "welcome"
    assert rig.kiosk.sessions.get(first.value) is None
    second = client.get_cookie(COOKIE)
    assert second is not None and second.value != first.value


def test_the_demo_panel_is_off_unless_demo_mode(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/demo").status_code == 404
    response = client.post("/demo/api/card", json={"card": "canary"}, headers={"X-Kiosk-Demo": "1"})
    assert response.status_code in (400, 404)


def test_security_headers(app: Flask) -> None:
    response = app.test_client().get("/")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_cookieless_requests_mid_payment_never_evict_the_paying_resident(
    app: Flask, rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[tuple[str, int]] = []
    real = rig.kiosk.center.receipt
    monkeypatch.setattr(
        rig.kiosk.center, "receipt", lambda r: (sent.append((r.outcome, r.amount_yen)), real(r))
    )
    resident = Screen(app.test_client())
    for path, form in (
        ("/start", {}),
        ("/terms", {}),
        ("/municipality", {"code": "462012"}),
        ("/kind", {"kind": "domestic"}),
        ("/copies", {"copies": "1"}),
    ):
        resident.post(path, **form)
    rig.insert("canary")
    assert resident.refresh() == "pin"
    assert resident.post("/pin", pin=CANARY.pin) == "take-card"
    rig.reader.remove()
    assert resident.refresh() == "confirm"
    assert resident.post("/confirm") == "payment"
    assert rig.cash.insert(100)
    # The attack: more cookie-less visitors than the kiosk keeps sessions.
    for _ in range(40):
        visitor = app.test_client()
        response = visitor.get("/")
        assert response.status_code == 200
        assert 'data-screen="welcome"' in response.get_data(as_text=True)
    # A visitor who presses Start is told the kiosk is in use; the resident is not ended.
    newcomer = Screen(app.test_client())
    assert newcomer.post("/start") == "refused"
    assert reasons.get("kiosk_busy").ja in newcomer.html
    assert rig.kiosk.device_status().cash_unit == "ok"
    assert resident.refresh() == "payment"
    assert rig.cash.insert(50)
    assert resident.post("/pay") == "take-certificate"
    assert rig.cash.payouts == [("change", 30)]
    assert sent == [("printed", 120)]
    rig.printer.take_paper()
    assert resident.refresh() == "welcome"
    # The next resident is served (the cash unit is free).
    assert newcomer.post("/cancel") == "welcome"
    assert Screen(app.test_client()).post("/start") == "terms"
