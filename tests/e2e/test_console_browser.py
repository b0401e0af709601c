"""The operator console in Debian's Chromium against a real stack (VRS, signer, the center's kiosk
API and ops surface as gunicorn processes over TLS, a shared Redis): sign-in with TOTP, a wrong
code, lockout, each role's limits, a disabled user's live session ending, a kiosk disabled from
the fleet page refused by the kiosk API, every page with data the stack produced, axe-core.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pyotp
import pytest
from click.testing import CliRunner

from cert_center.console.audit import AuditTrail
from cert_center.console.db import CenterDb
from cert_center.console.users import NewUser, Role, UserStore
from kiosk.clients import CenterClient
from launch.cli import main
from launch.stack import CENTER_PROCESSES, Stack, remove, seeded_requests, start_stack
from tests.support.browser import CHROMIUM, axe_script, chromium, serious_violations
from vaxcert.contracts.kiosk_api import CertificateRequest, Heartbeat, Receipt
from vaxcert.errors import VaxcertError

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="chromium is in SYSTEM_PACKAGES"),
]
PASSWORD = "console test password"
STATE_TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def console_stack(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Stack]:
    started = start_stack(
        tmp_path_factory.mktemp("console-stack"),
        processes=(*CENTER_PROCESSES, "center-ops"),
        redis_url=redis_url,
        workers=2,
        threads=4,
        # Every test signs in from 127.0.0.1; the per-address limit has its own test.
        extra_env={"VAXCERT_CENTER__CONSOLE__LOGIN_ATTEMPTS_PER_MINUTE": "200"},
    )
    _PERSON["birth_date"], _PERSON["municipality"] = _traffic(started)
    yield started
    remove(started)


# The resident of the stack's certificate: nothing of theirs may show in the console (C08).
_PERSON: dict[str, str] = {}


def _traffic(stack: Stack) -> tuple[str, str]:
    """What a kiosk does: a heartbeat (with two PIN lockouts), a certificate, its receipt, a
    refunded misprint, a refused request; the resident's birth date and municipality."""
    center = CenterClient.from_settings(stack.settings)
    center.heartbeat(
        Heartbeat(
            reader="ok",
            printer="ok",
            paper="low",
            cash_unit="error",
            app_version="1",
            pin_lockouts={"462012": 2},
        )
    )
    (seeded,) = seeded_requests(stack.settings, 1)
    body = {**seeded.body, "nonce": secrets.token_urlsafe(24)}
    issued = center.certificates(CertificateRequest.model_validate(body))
    code = issued.municipality.code
    for outcome, incident in (("printed", None), ("misprint_refunded", "INC-CONSOLE-1")):
        center.receipt(
            Receipt(
                receipt_id=secrets.token_urlsafe(16),
                municipality_code=code,
                copies=1,
                amount_yen=issued.municipality.fee_yen,
                outcome=outcome,  # type: ignore[arg-type]
                incident_id=incident,
            )
        )
    refused = {**body, "nonce": secrets.token_urlsafe(24), "municipality_code": "131016"}
    with pytest.raises(VaxcertError):
        center.certificates(CertificateRequest.model_validate(refused))
    return seeded.birth_date, code


def _user(stack: Stack, role: Role) -> NewUser:
    users = UserStore(CenterDb.from_settings(stack.settings))
    return users.add(f"{role}-{secrets.token_hex(3)}", role, PASSWORD)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def axe_source() -> str:
    return axe_script()


class Console:
    """One browser context (one operator's browser) on the console."""

    def __init__(self, browser: Any, stack: Stack, axe: str) -> None:
        self.url = stack.settings.url("center_ops") + "/ops"
        self.axe = axe
        # The stack's dev public CA is not in Chromium's store; the channel itself is real TLS.
        self.context = browser.new_context(
            ignore_https_errors=True, locale="en-US", viewport={"width": 1366, "height": 900}
        )
        self.context.set_default_timeout(STATE_TIMEOUT_MS)
        self.page = self.context.new_page()
        self.violations: dict[str, list[str]] = {}

    def sign_in(self, user: NewUser, code: str | None = None, password: str = PASSWORD) -> str:
        """Fill the form; the page the browser lands on (``data-page``)."""
        self.page.goto(self.url + "/login")
        self.page.fill("#user_id", user.user_id)
        self.page.fill("#password", password)
        self.page.fill("#code", code or pyotp.TOTP(user.totp_secret).now())
        self.page.click('[data-action="login"]')
        return self.shown()

    def shown(self) -> str:
        main = self.page.wait_for_selector("main[data-page]")
        assert main is not None
        return str(main.get_attribute("data-page"))

    def visit(self, page: str) -> str:
        self.page.goto(f"{self.url}/{page}")
        return self.shown()

    def scan(self, name: str) -> None:
        """axe-core on the page; and no trace of the stack's resident in it (C08)."""
        assert _PERSON["birth_date"] not in self.page.content()
        bad = serious_violations(self.page, self.axe)
        if bad:
            self.violations[name] = bad

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def console(browser: Any, console_stack: Stack, axe_source: str) -> Iterator[Console]:
    opened = Console(browser, console_stack, axe_source)
    yield opened
    opened.close()


def _events(stack: Stack) -> list[tuple[str, str]]:
    return [(e.event, e.actor) for e in AuditTrail(CenterDb.from_settings(stack.settings)).latest()]


def test_c17_sign_in_with_totp_and_every_page_shows_the_stack(
    console: Console, console_stack: Stack
) -> None:
    admin = _user(console_stack, "admin")
    console.page.goto(console.url + "/fleet")
    assert console.shown() == "login"  # no session: the sign-in page
    console.scan("login")
    wrong = "000000" if pyotp.TOTP(admin.totp_secret).now() != "000000" else "111111"
    assert console.sign_in(admin, code=wrong) == "login"
    assert console.page.is_visible('[data-error="login"]')
    assert ("login_failed", admin.user_id) in _events(console_stack)
    assert console.sign_in(admin) == "fleet"
    console.scan("fleet")
    row = console.page.locator('tr[data-kiosk="KIOSK-0001"]')
    assert "none yet" not in row.locator("[data-heartbeat]").inner_text()
    assert "fault" in row.inner_text()  # the cash unit reported an error
    assert console.visit("health") == "health"
    console.scan("health")
    assert "ok" in console.page.locator('tr[data-check="vrs_latency"]').inner_text()
    assert "ok" in console.page.locator('tr[data-check="database"]').inner_text()
    assert console.visit("issuance") == "issuance"
    console.scan("issuance")
    charts = console.page.locator("svg.chart")
    assert charts.count() >= 4
    assert (
        "municipality_not_participating"
        in console.page.locator('section[data-municipality="all"]').inner_text()
    )
    assert console.page.is_visible('tr[data-incident="INC-CONSOLE-1"]')
    assert "2" in console.page.locator("[data-lockouts]").inner_text()
    assert console.visit("fees") == "fees"
    console.scan("fees")
    row = console.page.locator(f'tr[data-fees="{_PERSON["municipality"]}"]').first.inner_text()
    cells = [cell.strip() for cell in row.split("\t")]
    # certificates paid, fee, expected, collected, refunded misprints, issued
    assert cells[2:8] == ["1", "120", "120", "120", "1", "1"], cells
    with console.page.expect_download() as download:
        console.page.locator("[data-action^='csv-']").first.click()
    assert download.value.suggested_filename.startswith("fees-")
    # ja: the same page in Japanese.
    console.page.goto(console.url + "/lang/ja?next=/ops/fleet")
    assert console.page.get_attribute("html", "lang") == "ja"
    assert "端末" in console.page.inner_text("main")
    console.scan("fleet-ja")
    assert console.violations == {}
    events = _events(console_stack)
    assert ("login", admin.user_id) in events and ("fees_exported", admin.user_id) in events


def test_c17_lockout_after_repeated_failures(console: Console, console_stack: Stack) -> None:
    viewer = _user(console_stack, "viewer")
    limit = console_stack.settings.center.console.max_failed_logins
    assert console.sign_in(viewer, password="not the password") == "login"
    token = console.page.get_attribute("input[name=csrf_token]", "value") or ""
    for _ in range(limit - 1):
        failed = console.page.request.post(
            console.url + "/login",
            form={"csrf_token": token, "user_id": viewer.user_id, "password": "nope", "code": "1"},
            headers={"Referer": console.url + "/login"},
        )
        assert failed.status == 400 or failed.status == 401
    # Locked: the right password and a fresh code are refused too.
    assert console.sign_in(viewer) == "login"
    events = _events(console_stack)
    assert ("user_locked", viewer.user_id) in events
    assert ("login_failed", viewer.user_id) == events[0]


def test_c17_roles_least_privilege(browser: Any, console_stack: Stack, axe_source: str) -> None:
    viewer, auditor = _user(console_stack, "viewer"), _user(console_stack, "auditor")
    as_viewer = Console(browser, console_stack, axe_source)
    as_auditor = Console(browser, console_stack, axe_source)
    try:
        assert as_viewer.sign_in(viewer) == "fleet"
        assert as_viewer.page.locator("[data-action^='disable-']").count() == 0
        token = as_viewer.page.get_attribute("input[name=csrf_token]", "value")
        # Even a forged form post with a valid token changes nothing.
        refused = as_viewer.page.request.post(
            as_viewer.url + "/fleet/KIOSK-0002/disable",
            form={"csrf_token": token or ""},
            headers={"Referer": as_viewer.url + "/fleet"},
        )
        assert refused.status == 403
        assert as_viewer.visit("audit") == "forbidden"
        # A wall screen: the same page, larger, reloading itself.
        assert as_viewer.visit("issuance?wall=1&refresh=5") == "issuance"
        assert as_viewer.page.locator("script[data-seconds]").count() == 1
        as_viewer.page.evaluate("window.__before = true")
        as_viewer.page.wait_for_function("() => window.__before === undefined", timeout=60_000)
        as_viewer.scan("issuance-wall")
        assert as_viewer.page.request.get(as_viewer.url + "/fees/462012.csv").status == 403

        assert as_auditor.sign_in(auditor) == "fleet"
        assert as_auditor.page.locator("[data-action^='disable-']").count() == 0
        assert as_auditor.visit("audit") == "audit"
        as_auditor.scan("audit")
        assert as_auditor.page.is_visible('[data-chain="intact"]')
        # Sensitive categories: closed days, suppressed, never today's live counts (C08).
        assert "support_measure" in as_auditor.page.inner_text("main")
        assert "<10" in as_auditor.page.inner_text("main")
        assert as_viewer.violations == {} and as_auditor.violations == {}
    finally:
        as_viewer.close()
        as_auditor.close()


def test_c17_admin_disables_a_kiosk_and_the_kiosk_api_refuses_it_at_once(
    console: Console, console_stack: Stack
) -> None:
    admin = _user(console_stack, "admin")
    center = CenterClient.from_settings(console_stack.settings)
    center.config(fresh=True)
    assert console.sign_in(admin) == "fleet"
    console.page.click('[data-action="disable-KIOSK-0001"]')
    console.page.wait_for_selector('tr[data-kiosk="KIOSK-0001"] [data-enabled="no"]')
    try:
        with pytest.raises(VaxcertError) as refused:
            center.config(fresh=True)
        assert refused.value.code == "kiosk_disabled"
        assert ("kiosk_disabled", admin.user_id) in _events(console_stack)
    finally:
        console.page.click('[data-action="enable-KIOSK-0001"]')
        console.page.wait_for_selector('tr[data-kiosk="KIOSK-0001"] [data-enabled="yes"]')
    assert center.config(fresh=True).kiosk_id == "KIOSK-0001"


def test_c17_disabling_a_user_ends_their_live_session(
    console: Console, console_stack: Stack
) -> None:
    admin = _user(console_stack, "admin")
    assert console.sign_in(admin) == "fleet"
    assert console.visit("health") == "health"
    result = CliRunner().invoke(
        main, ["ops", "user", "disable", admin.user_id], env=console_stack.env
    )
    assert result.exit_code == 0, result.output
    assert console.visit("fleet") == "login"
    assert ("user_disabled", "cli") in _events(console_stack)
