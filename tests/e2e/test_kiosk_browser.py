"""The kiosk in Debian's Chromium (Playwright as a library) against a running stack: center, VRS
and signer processes, and the kiosk process in demo mode (its devices played through /demo/api).

Covers the whole flow in ja and en, 海外用 with two QR codes, wrong then right PIN, a locked card,
refusals, the inactivity countdown, the spoken reminders (C11), misprints, an axe-core scan of
every screen, and afterwards the C08 scan of the kiosk's directories and cookie.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from launch.stack import Stack
from tests.support.qr import pdf_qr_texts
from vaxcert import reasons
from vaxcert.residents import CANARY, RESIDENTS

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="chromium is in SYSTEM_PACKAGES"),
]
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
# Spies (C11): speechSynthesis.speak and audio playback are recorded; voices can be faked.
SPY = """
window.__spoken = [];
window.__played = [];
if (window.speechSynthesis) {
  speechSynthesis.getVoices = () => (window.__fakeVoices ? [
    {lang: 'ja-JP', name: 'fake-ja', voiceURI: 'fake-ja', default: true, localService: true},
    {lang: 'en-US', name: 'fake-en', voiceURI: 'fake-en', default: false, localService: true},
  ] : []);
  speechSynthesis.speak = (u) => { window.__spoken.push({text: u.text, lang: u.lang}); };
  speechSynthesis.cancel = () => {};
}
HTMLMediaElement.prototype.play = function () {
  window.__played.push(this.src);
  return Promise.resolve();
};
"""
WITH_VOICES = "window.__fakeVoices = true;"
SERIOUS = ("serious", "critical")
# Every wait is for a state (a screen, a page flag), so its limit is only a safety net: generous
# enough for a CI machine under load, where one step can take several seconds.
STATE_TIMEOUT_MS = 60_000
# Screens a flow ends on: a wait for another screen stops at once when one of them shows.
DEAD_ENDS = ("error", "refused", "locked")


@pytest.fixture(scope="module")
def kiosk_url(stack: Stack) -> Iterator[str]:
    stack.start_kiosk()
    yield stack.kiosk_url()
    stack.stop_kiosk()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def axe_source() -> str:
    import axe_playwright_python

    return (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text()


class Kiosk:
    """One browser context on the kiosk: screens, actions and the demo devices."""

    def __init__(
        self, browser: Any, url: str, axe: str, voices: bool = False, spy: str = SPY
    ) -> None:
        self.url = url
        self.axe = axe
        self.context = browser.new_context(locale="ja-JP", viewport={"width": 1280, "height": 1024})
        self.context.set_default_timeout(STATE_TIMEOUT_MS)
        self.context.add_init_script(spy)
        if voices:
            self.context.add_init_script(WITH_VOICES)
        self.page = self.context.new_page()
        self.violations: dict[str, list[str]] = {}

    def open(self) -> None:
        self.page.goto(self.url + "/")
        self.wait("welcome")

    def wait(self, screen: str) -> None:
        """Wait for ``screen``; fail at once, naming the reason, when the flow ended elsewhere."""
        ends = [end for end in DEAD_ENDS if end != screen]
        selector = ", ".join(f'main[data-screen="{name}"]' for name in (screen, *ends))
        main = self.page.wait_for_selector(selector)
        shown = main.get_attribute("data-screen") if main is not None else None
        if shown in ends:
            reason = self.page.evaluate("document.querySelector('[data-reason]')?.dataset.reason")
            pytest.fail(f"waited for the {screen} screen; the kiosk shows {shown}: {reason}")

    def act(self, action: str, then: str | None = None) -> None:
        self.page.click(f'[data-action="{action}"]')
        if then:
            self.wait(then)

    def device(self, path: str, **body: Any) -> Any:
        response = self.page.request.post(
            f"{self.url}/demo/api/{path}", data=body, headers={"X-Kiosk-Demo": "1"}
        )
        assert response.ok, response.status
        return response.json()

    def scan(self, name: str) -> None:
        """axe-core on the current page; serious/critical violations are collected by screen."""
        self.page.evaluate(self.axe)
        result = self.page.evaluate(
            "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
            ".map(v => ({id: v.id, impact: v.impact}))"
        )
        bad = [v["id"] for v in result if v["impact"] in SERIOUS]
        if bad:
            self.violations[name] = bad

    def enter_pin(self, pin: str) -> None:
        # The pad's buttons exist before kiosk.js has bound them: a digit pressed earlier is
        # lost (seen under load, when the submit button then never enabled).
        self.page.wait_for_function("document.readyState === 'complete'")
        for digit in pin:
            self.page.click(f'[data-action="digit-{digit}"]')
        if len(pin) == 4:
            self.page.wait_for_selector('[data-action="submit-pin"]:not([disabled])')
        self.act("submit-pin")

    def to_pin(
        self, card: str, kind: str = "domestic", lang: str = "ja", scan: bool = False
    ) -> None:
        self.open()
        if lang == "en":
            self.act("lang-en")
            self.page.wait_for_selector('html[lang="en"]')
        steps = [
            ("start", "terms"),
            ("agree", "municipality"),
            ("municipality-462012", "kind"),
            (f"kind-{kind}", "copies"),
            ("copies-1", "insert-card"),
        ]
        if scan:
            self.scan("welcome")
        for action, screen in steps:
            self.act(action, screen)
            if scan:
                self.scan(screen)
        self.device("card", card=card)
        self.wait("pin")
        if scan:
            self.scan("pin")

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def kiosk(browser: Any, kiosk_url: str, axe_source: str) -> Iterator[Kiosk]:
    opened = Kiosk(browser, kiosk_url, axe_source)
    yield opened
    opened.device("card/remove")
    opened.close()


def _spoken_or_played(k: Kiosk, prompt: str) -> None:
    k.page.wait_for_function("() => window.__spoken.length + window.__played.length > 0")
    played = k.page.evaluate("window.__played")
    spoken = k.page.evaluate("window.__spoken")
    assert any(src.endswith(f"/{prompt}.ogg") for src in played), (spoken, played)


def _full_flow(k: Kiosk, lang: str, kind: str = "domestic", scan: bool = False) -> bytes:
    k.to_pin("canary", kind=kind, lang=lang, scan=scan)
    k.enter_pin(CANARY.pin)
    k.wait("take-card")
    assert k.page.is_visible('[data-reminder="take-card"]')
    _spoken_or_played(k, "take-card")
    if scan:
        k.scan("take-card")
    k.device("card/remove")
    k.wait("confirm")
    text = k.page.inner_text("main")
    assert CANARY.name_kanji in text and CANARY.my_number not in text  # C22
    assert k.page.locator("tr[data-dose]").count() >= 2
    if scan:
        k.scan("confirm")
    k.act("confirm", "payment")
    assert k.page.is_disabled('[data-action="pay"]')
    for yen in (100, 10, 10):
        assert k.device("cash", yen=yen)["accepted"]
    k.page.wait_for_selector('[data-action="pay"]:not([disabled])')
    if scan:
        k.scan("payment")
    k.act("pay")
    k.wait("take-certificate")
    assert k.page.is_visible('[data-reminder="take-certificate"]')
    _spoken_or_played(k, "take-certificate")
    if scan:
        k.scan("take-certificate")
    documents = k.device("paper/take")["documents"]
    assert len(documents) == 1
    k.wait("welcome")
    return base64.b64decode(documents[0])


def _check_pdf(pdf: bytes, stack: Stack, formats: int) -> None:
    from pypdf import PdfReader

    from verifier import verify
    from verifier.dev_trust import dev_trust_store

    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    texts = pdf_qr_texts(pdf)
    assert len(texts) == formats, texts
    trust = dev_trust_store(stack.settings.pki_dir, stack.settings.issuer_url)
    ids = set()
    for text in texts:
        result = verify(text, trust)
        assert result.valid, result.reasons
        ids.add(result.certificate_id)
    page_text = reader.pages[0].extract_text()
    assert CANARY.family_kanji in page_text, page_text[:400]
    assert all(i in page_text for i in ids if i), (ids, page_text[:400])


def test_domestic_flow_in_japanese_with_axe_scan(kiosk: Kiosk, stack: Stack) -> None:
    pdf = _full_flow(kiosk, "ja", scan=True)
    _check_pdf(pdf, stack, formats=1)
    assert kiosk.violations == {}, kiosk.violations


def test_domestic_flow_in_english_with_a_voice(
    browser: Any, kiosk_url: str, axe_source: str, stack: Stack
) -> None:
    k = Kiosk(browser, kiosk_url, axe_source, voices=True)
    try:
        pdf = _full_flow(k, "en")
    finally:
        k.close()
    _check_pdf(pdf, stack, formats=1)


def test_overseas_certificate_has_two_qr_codes(kiosk: Kiosk, stack: Stack) -> None:
    pdf = _full_flow(kiosk, "en", kind="overseas")
    _check_pdf(pdf, stack, formats=2)


def test_c01_wrong_pin_then_right_pin(kiosk: Kiosk) -> None:
    kiosk.to_pin("canary")
    assert kiosk.page.get_attribute(".tries", "data-tries") == "3"
    kiosk.enter_pin("9999")
    kiosk.page.wait_for_selector('[data-notice="pin_incorrect"]')
    assert kiosk.page.get_attribute(".tries", "data-tries") == "2"
    kiosk.scan("pin-wrong")
    kiosk.enter_pin(CANARY.pin)
    kiosk.wait("take-card")
    kiosk.device("card/remove")
    kiosk.wait("confirm")
    kiosk.act("cancel", "welcome")
    assert kiosk.violations == {}


def test_c01_locked_card_shows_guidance(kiosk: Kiosk) -> None:
    kiosk.open()
    for action, screen in (
        ("start", "terms"),
        ("agree", "municipality"),
        ("municipality-462012", "kind"),
        ("kind-domestic", "copies"),
        ("copies-1", "insert-card"),
    ):
        kiosk.act(action, screen)
    kiosk.device("card", card="locked-card")
    kiosk.wait("take-card")
    kiosk.device("card/remove")
    kiosk.wait("locked")
    assert reasons.get("pin_locked").ja in kiosk.page.inner_text("main")
    kiosk.scan("locked")
    assert kiosk.violations == {}
    kiosk.act("cancel", "welcome")


@pytest.mark.parametrize(
    ("card", "kind", "code"),
    [
        ("support-measure", "domestic", "counter_required"),
        ("no-records", "domestic", "no_vaccination_record"),
        ("no-passport", "overseas", "passport_not_on_file"),
        ("tampered-card", "domestic", "card_digest_mismatch"),
        ("deceased", "domestic", "counter_required"),
    ],
)
def test_each_refusal_shows_its_text(kiosk: Kiosk, card: str, kind: str, code: str) -> None:
    pin = RESIDENTS[card].pin if card in RESIDENTS else CANARY.pin
    kiosk.to_pin(card, kind=kind)
    kiosk.enter_pin(pin)
    kiosk.wait("take-card")
    kiosk.device("card/remove")
    kiosk.wait("refused")
    reason = reasons.get(code)
    main = kiosk.page.inner_text("main")
    assert reason.ja in main and reason.next_ja in main
    assert kiosk.page.get_attribute("[data-reason]", "data-reason") == code
    kiosk.scan("refused")
    assert kiosk.violations == {}
    kiosk.act("cancel", "welcome")


def test_c08_idle_timeout_warns_then_wipes_to_welcome(kiosk: Kiosk) -> None:
    page = kiosk.page
    page.clock.install()
    kiosk.open()
    kiosk.act("start", "terms")
    first = {c["name"]: c["value"] for c in kiosk.context.cookies()}
    page.clock.fast_forward(61_000)
    warning = page.locator('[data-screen="timeout-warning"]')
    warning.wait_for(state="visible")
    seconds = int(page.inner_text("#countdown"))
    assert seconds >= 20  # WCAG 2.2.1: at least 20 s to answer
    kiosk.scan("timeout-warning")
    kiosk.act("continue")
    warning.wait_for(state="hidden")
    assert page.locator('main[data-screen="terms"]').count() == 1
    page.clock.fast_forward(61_000)
    warning.wait_for(state="visible")
    page.clock.fast_forward(21_000)
    kiosk.wait("welcome")
    after = {c["name"]: c["value"] for c in kiosk.context.cookies()}
    assert after["kiosk_session"] != first["kiosk_session"]  # the old session is gone
    state = page.request.get(kiosk.url + "/state").json()
    assert state["screen"] == "welcome"
    assert kiosk.violations == {}


def test_printer_jam_twice_refunds_with_an_incident_number(kiosk: Kiosk) -> None:
    kiosk.to_pin("elder")
    kiosk.enter_pin(RESIDENTS["elder"].pin)
    kiosk.wait("take-card")
    kiosk.device("card/remove")
    kiosk.wait("confirm")
    kiosk.act("confirm", "payment")
    kiosk.device("cash", yen=500)
    kiosk.page.wait_for_selector('[data-action="pay"]:not([disabled])')
    kiosk.device("printer/jam", times=2)
    kiosk.act("pay")
    kiosk.wait("error")
    assert kiosk.page.inner_text('[data-field="incident"]').startswith("KIOSK-0001-")
    assert "500" in kiosk.page.inner_text('[data-field="refunded"]')
    kiosk.scan("error")
    assert kiosk.violations == {}
    kiosk.act("cancel", "welcome")


def test_printer_jam_once_is_reprinted(kiosk: Kiosk) -> None:
    kiosk.to_pin("elder")
    kiosk.enter_pin(RESIDENTS["elder"].pin)
    kiosk.wait("take-card")
    kiosk.device("card/remove")
    kiosk.wait("confirm")
    kiosk.act("confirm", "payment")
    kiosk.device("cash", yen=1000)
    kiosk.page.wait_for_selector('[data-action="pay"]:not([disabled])')
    kiosk.device("printer/jam", times=1)
    kiosk.act("pay")
    kiosk.wait("take-certificate")
    assert "880" in kiosk.page.inner_text('[data-field="change"]')
    assert len(kiosk.device("paper/take")["documents"]) == 1
    kiosk.wait("welcome")


def test_payment_cancelled_is_refunded(kiosk: Kiosk) -> None:
    kiosk.to_pin("elder")
    kiosk.enter_pin(RESIDENTS["elder"].pin)
    kiosk.wait("take-card")
    kiosk.device("card/remove")
    kiosk.wait("confirm")
    kiosk.act("confirm", "payment")
    kiosk.device("cash", yen=100)
    kiosk.page.wait_for_selector('[data-field="inserted"]:has-text("100")')
    kiosk.act("cancel", "welcome")
    status = kiosk.page.request.get(kiosk.url + "/demo/api/status").json()
    assert status["inserted"] == 0


def test_c08_nothing_of_the_canary_is_left_behind(kiosk: Kiosk, stack: Stack) -> None:
    """After the flows above: no file under the kiosk's working, temp or home directory holds
    the canary's name, number or birth date, and the cookie holds only the session id."""
    kiosk.open()
    cookies = kiosk.context.cookies()
    assert [c["name"] for c in cookies] == ["kiosk_session"]
    assert len(cookies[0]["value"]) == 43 and cookies[0]["httpOnly"]
    canaries = [
        CANARY.name_kanji,
        CANARY.family_kanji + CANARY.given_kanji,
        CANARY.name_roman,
        CANARY.my_number,
        CANARY.birth_date.isoformat(),
        CANARY.birth_date.strftime("%Y%m%d"),
    ]
    encoded = [value.encode() for value in canaries]
    encoded += [value.encode("utf-16-le") for value in canaries[:2]]
    for directory in stack.kiosk_dirs.values():
        for path in directory.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                for value in encoded:
                    assert value not in data, f"canary value in {path}"
    log = (stack.logs / "kiosk.log").read_text(errors="replace")
    for value in canaries:
        assert value not in log, "canary value in the kiosk log"


def _frozen_screens(rig: Any) -> dict[str, tuple[str, int]]:
    """The reading and printing pages (each lasts a blink in a real flow), rendered by an
    in-process kiosk whose workers are held back, with their state versions."""
    from kiosk.app import create_app

    held: list[Any] = []
    rig.kiosk.run = held.append
    app = create_app(rig.kiosk.settings, kiosk=rig.kiosk, background=False)
    client = app.test_client()
    pages: dict[str, tuple[str, int]] = {}

    def page() -> str:
        return client.get("/").get_data(as_text=True)

    def post(path: str, html: str, **form: str) -> str:
        token = html.split('name="csrf-token" content="')[1].split('"')[0]
        client.post(path, data={"csrf_token": token, **form})
        return page()

    html = page()
    for path, form in (
        ("/start", {}),
        ("/terms", {}),
        ("/municipality", {"code": "462012"}),
        ("/kind", {"kind": "domestic"}),
        ("/copies", {"copies": "1"}),
    ):
        html = post(path, html, **form)
    rig.insert("canary")
    html = page()
    html = post("/pin", html, pin=CANARY.pin)
    session = next(iter(rig.kiosk.sessions.all()))
    pages["reading"] = (html, session.version)
    held.pop()()
    rig.reader.remove()
    html = post("/confirm", page())
    rig.cash.insert(500)
    html = post("/pay", page())
    pages["printing"] = (html, session.version)
    held.pop()()
    return pages


def _serve(body: str | None = None, state: dict[str, Any] | None = None) -> Any:
    def handle(route: Any) -> None:
        if state is not None:
            route.fulfill(json=state)
        else:
            route.fulfill(body=body, content_type="text/html")

    return handle


def test_axe_scan_of_the_reading_and_printing_screens(kiosk: Kiosk, make_rig: Any) -> None:
    frozen = _frozen_screens(make_rig())
    page = kiosk.page
    for name, (html, version) in frozen.items():
        assert f'data-screen="{name}"' in html
        page.route(kiosk.url + "/", _serve(body=html))
        page.route(
            kiosk.url + "/state", _serve(state={"screen": name, "version": version, "active": True})
        )
        page.goto(kiosk.url + "/")
        kiosk.wait(name)
        kiosk.scan(name)
        # Leave the page while its polls still see the frozen state: once unrouted, its next
        # poll would reach the real kiosk and reload the page, racing the next goto.
        page.goto("about:blank")
        page.unroute_all()
    assert kiosk.violations == {}


def test_demo_panel_frames_the_kiosk_and_inserts_a_chosen_card(kiosk: Kiosk) -> None:
    page = kiosk.page
    errors: list[str] = []
    page.on(
        "console", lambda message: errors.append(message.text) if "Policy" in message.text else None
    )
    page.goto(kiosk.url + "/demo")
    frame = page.frame_locator("#kiosk-frame")
    for action in ("start", "agree", "municipality-462012", "kind-domestic", "copies-1"):
        frame.locator(f'[data-action="{action}"]').click()
    frame.locator('main[data-screen="insert-card"]').wait_for()
    page.select_option("#card-key", "elder")
    page.click("#insert-card")
    frame.locator('main[data-screen="pin"]').wait_for()
    page.click("#remove-card")
    frame.locator('main[data-screen="insert-card"]').wait_for()
    frame.locator('[data-action="cancel"]').click()
    frame.locator('main[data-screen="welcome"]').wait_for()
    assert errors == []  # nothing blocked by the CSP
