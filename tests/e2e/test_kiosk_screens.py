"""Every kiosk screen fits every declared panel (docs/kiosk.md, "Screen sizes"), on every path.

One Debian Chromium, the real kiosk process (demo mode: its devices played through /demo/api) over
the real center stack. Each path is walked once; on every screen it reaches, the page is laid out
at each declared size (the viewport is resized, nothing reloads) and measured with JS: the page
itself never scrolls, and every action button and every instruction or notice outside a scroll
region lies inside the viewport and inside every clipping ancestor, i.e. visible without
scrolling. A scroll region (terms, the dose table) must keep a usable height and show its "more
below" hint while content is hidden. axe-core scans each screen once (ja; en where the content is
longest). The longest content the center can send (a 7-dose 海外用 record with a very long name, in
English) is rendered by an in-process kiosk and shown to the same browser.

With ``VAXCERT_KIOSK_SCREENSHOTS=DIR`` the walk also saves each screen at 1024×600 as a small PNG
(the pictures in docs/kiosk.md: ``VAXCERT_KIOSK_SCREENSHOTS=docs/kiosk pytest
tests/e2e/test_kiosk_screens.py``).
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import MakeRig, Rig
from tests.e2e.test_kiosk_browser import (  # noqa: F401 (module fixtures, reused)
    Kiosk,
    _frozen_screens,
    _serve,
    axe_source,
    browser,
    kiosk_url,
)
from vaxcert import reasons
from vaxcert.reasons import Language
from vaxcert.residents import CANARY, RESIDENTS

# docs/kiosk.md, "Screen sizes": the smallest first (the one interactions happen at).
SIZES = ((1024, 600), (1280, 1024), (1080, 1920), (1024, 768), (1366, 768))
SMALLEST = {"width": SIZES[0][0], "height": SIZES[0][1]}
SHOTS = os.environ.get("VAXCERT_KIOSK_SCREENSHOTS")
# Another size for the pictures (e.g. 1080x1920), to look at; the docs show the smallest.
SHOT_SIZE = os.environ.get("VAXCERT_KIOSK_SCREENSHOT_SIZE", "1024x600")
# The screens docs/kiosk.md shows (one picture per screen, Japanese unless the name says).
DOC_SHOTS = frozenset(
    {
        "welcome-ja",
        "terms-ja",
        "municipality-ja",
        "kind-ja",
        "copies-ja",
        "insert-card-ja",
        "pin-last-try-ja",
        "reading",
        "take-card-ja",
        "confirm-ja",
        "confirm-longest-en",
        "payment-paid-ja",
        "printing",
        "take-certificate-ja",
        "refused-no_vaccination_record",
        "refused-counter_required",
        "locked-ja",
        "error-misprint",
        "timeout-warning",
        "welcome-money-returned",
    }
)
# A foreign resident's name as registered (full-width letters): longer than any Japanese name.
LONG_NAME = (
    "ＷＯＬＦＥＳＣＨＬＥＧＥＬＳＴＥＩＮＨＡＵＳＥＮＢＥＲＧＥＲＤＯＲＦＦ"
    "　ＡＬＥＸＡＮＤＲＡ　ＭＡＲＩＡ－ＴＨＥＲＥＳＩＡ"
)
LONG_ROMAN = "WOLFESCHLEGELSTEINHAUSENBERGERDORFF ALEXANDRA MARIA-THERESIA KATHARINA"

# Measures the current layout; returns what does not fit (empty: everything fits).
MEASURE = """
async ([width, height]) => {
  // The viewport was just resized: measure only once the page has the new size and laid out.
  const frame = () => new Promise((resolve) => requestAnimationFrame(resolve));
  for (let i = 0; i < 200 && (window.innerWidth !== width || window.innerHeight !== height); i++) {
    await frame();
  }
  window.dispatchEvent(new Event('resize'));
  await frame();
  const vw = window.innerWidth, vh = window.innerHeight;
  if (vw !== width || vh !== height) return [`the viewport is ${vw}x${vh}`];
  const problems = [];
  const page = document.scrollingElement;
  if (page.scrollHeight > vh + 1 || page.scrollWidth > vw + 1) {
    problems.push(`the page scrolls (${page.scrollWidth}x${page.scrollHeight})`);
  }
  const overlay = document.querySelector('.overlay:not([hidden])');
  const selector = overlay ? '[data-action], [data-prompt]' : 'button[data-action], [data-prompt]';
  const scope = overlay || document;
  const required = [...scope.querySelectorAll(selector)].filter((el) =>
    !el.closest('.scroll') && !el.closest('[hidden]') && (overlay || !el.closest('.overlay')));
  if (!required.some((el) => el.matches('[data-prompt]'))) problems.push('no main instruction');
  const name = (el) => el.dataset.action || el.dataset.prompt;
  for (const el of required) {
    const r = el.getBoundingClientRect();
    let box = {left: 0, top: 0, right: vw, bottom: vh};
    for (let a = el.parentElement; a && a !== document.documentElement; a = a.parentElement) {
      const style = getComputedStyle(a);
      if (style.overflowX !== 'visible' || style.overflowY !== 'visible') {
        const c = a.getBoundingClientRect();
        box = {left: Math.max(box.left, c.left), top: Math.max(box.top, c.top),
               right: Math.min(box.right, c.right), bottom: Math.min(box.bottom, c.bottom)};
      }
    }
    if (r.width === 0 || r.height === 0) problems.push(`${name(el)} has no size`);
    if (r.left < box.left - 1 || r.top < box.top - 1 || r.right > box.right + 1 ||
        r.bottom > box.bottom + 1) {
      problems.push(`${name(el)} not in view: ${Math.round(r.left)},${Math.round(r.top)}-` +
        `${Math.round(r.right)},${Math.round(r.bottom)} of ${vw}x${vh}`);
    }
  }
  if (!overlay) {
    for (const region of document.querySelectorAll('.scroll')) {
      if (region.clientHeight < 48) problems.push(`scroll region ${region.clientHeight}px high`);
      const hidden = region.scrollTop + region.clientHeight < region.scrollHeight - 2;
      const hint = region.nextElementSibling;
      if (hidden && (!hint || hint.hidden)) problems.push('content hidden below without a hint');
    }
  }
  return problems;
}
"""


class Screens(Kiosk):
    """A kiosk browser context that measures each screen it reaches at every declared size."""

    def __init__(self, chromium: Any, url: str, axe: str, clock: bool = False) -> None:
        super().__init__(chromium, url, axe)
        self.page.set_viewport_size(SMALLEST)
        if clock:
            self.page.clock.install()
        self.misfits: dict[str, list[str]] = {}
        self.measured: set[str] = set()
        self.scanned: set[str] = set()

    def fits(self, name: str, scan: bool = True) -> None:
        """Measure the page at every size (and scan it with axe once per ``name``)."""
        for width, height in SIZES:
            self.page.set_viewport_size({"width": width, "height": height})
            problems = self.measure(width, height)
            if problems:
                self.misfits[f"{name} at {width}x{height}"] = problems
        self.page.set_viewport_size(SMALLEST)
        self.measured.add(name)
        if scan and name not in self.scanned:
            self.scanned.add(name)
            self.scan(name)
        if SHOTS and name in DOC_SHOTS:
            self.shoot(name)

    def measure(self, width: int, height: int) -> list[str]:
        from playwright.sync_api import Error

        try:
            problems: list[str] = self.page.evaluate(MEASURE, [width, height])
        except Error as exc:
            # The page followed the server to a new version of the same screen (a poll) while
            # it was measured: measure the new page.
            if "context was destroyed" not in str(exc):
                raise
            self.page.wait_for_load_state()
            problems = self.page.evaluate(MEASURE, [width, height])
        return problems

    def shoot(self, name: str) -> None:
        from PIL import Image

        target = Path(SHOTS or ".") / f"{name}.png"
        if target.exists():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        self.page.evaluate("document.activeElement && document.activeElement.blur()")
        width, height = (int(part) for part in SHOT_SIZE.split("x"))
        self.page.set_viewport_size({"width": width, "height": height})
        image = Image.open(io.BytesIO(self.page.screenshot()))
        self.page.set_viewport_size(SMALLEST)
        # A palette of 64 colours keeps the text sharp and the file small.
        image.convert("RGB").quantize(64).save(target, optimize=True)

    def go(self, action: str, then: str, name: str | None = None) -> None:
        self.act(action, then)
        self.fits(name or then)

    def to_insert_card(
        self, kind: str = "domestic", lang: str = "ja", measure: bool = True
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
            ("copies-3", "insert-card"),
        ]
        if measure:
            self.fits(f"welcome-{lang}")
        for action, screen in steps:
            self.act(action, screen)
            if measure:
                self.fits(f"{screen}-{lang}")

    def post(self, path: str, **form: str) -> None:
        """A screen's form sent without rendering the screen (to get quickly where a test looks;
        the screens on the way are measured by the tests that walk them)."""
        token = self.page.get_attribute('meta[name="csrf-token"]', "content")
        response = self.page.request.post(
            self.url + path, form={"csrf_token": token or "", **form}, max_redirects=0
        )
        assert response.status == 303, response.status

    def skip_to(
        self,
        screen: str,
        municipality: str = "462012",
        kind: str = "domestic",
        copies: int = 1,
        lang: str = "ja",
    ) -> None:
        """Straight to ``screen`` (one of the choice screens up to insert-card) in ``lang``."""
        self.open()
        if lang != "ja":
            self.post("/lang", lang=lang)
        for path, form, then in (
            ("/start", {}, "terms"),
            ("/terms", {}, "municipality"),
            ("/municipality", {"code": municipality}, "kind"),
            ("/kind", {"kind": kind}, "copies"),
            ("/copies", {"copies": str(copies)}, "insert-card"),
        ):
            self.post(path, **form)
            if then == screen:
                break
        self.page.goto(self.url + "/")
        self.wait(screen)

    def card(self, key: str, then: str = "pin") -> None:
        self.device("card", card=key)
        self.wait(then)

    def read(self, key: str, pin: str, then: str = "take-card") -> None:
        self.card(key)
        self.enter_pin(pin)
        self.wait(then)

    def to_payment(self, *coins: int, lang: str = "ja") -> None:
        """The 7-dose resident's card read and confirmed, ``coins`` inserted on payment."""
        self.skip_to("insert-card", lang=lang)
        self.read("elder", RESIDENTS["elder"].pin)
        self.take_card("confirm")
        self.act("confirm", "payment")
        for yen in coins:
            assert self.device("cash", yen=yen)["accepted"]
        inserted = sum(coins)
        self.page.wait_for_selector(f'[data-field="inserted"]:has-text("{inserted:,}")')

    def take_card(self, then: str) -> None:
        self.device("card/remove")
        self.wait(then)

    def done(self) -> None:
        assert self.misfits == {}, self.misfits
        assert self.violations == {}, self.violations


@pytest.fixture
def screens(browser: Any, kiosk_url: str, axe_source: str) -> Iterator[Screens]:  # noqa: F811
    opened = Screens(browser, kiosk_url, axe_source)
    yield opened
    opened.device("card/remove")
    opened.device("paper/take")
    opened.close()


def test_happy_paths_fit_every_size(screens: Screens) -> None:
    """国内用 in Japanese with the 7-dose resident; 海外用 in English; change announced."""
    k = screens
    elder = RESIDENTS["elder"]
    k.to_insert_card()
    assert k.page.inner_text(".step") == "ステップ 5／8"
    k.card("elder")
    k.fits("pin-ja")
    k.enter_pin(elder.pin)
    k.wait("take-card")
    k.fits("take-card-ja")
    k.take_card("confirm")
    assert k.page.locator("tr[data-dose]").count() == 7
    assert k.page.inner_text('[data-action="confirm"]') == "この内容で支払いへ進む"
    k.fits("confirm-ja")
    k.go("confirm", "payment", "payment-ja")
    k.device("cash", yen=500)
    k.page.wait_for_selector('[data-action="pay"]:not([disabled])')
    k.fits("payment-paid-ja")
    k.act("pay", "take-certificate")
    change = k.page.locator('[data-prompt="change"]')
    assert change.get_attribute("data-amount") == "140"
    assert change.inner_text() == "おつり140円もお取りください。"
    k.fits("take-certificate-ja")
    assert len(k.device("paper/take")["documents"]) == 1
    k.wait("welcome")

    k.to_insert_card(kind="overseas", lang="en")
    k.read("canary", CANARY.pin)
    k.take_card("confirm")
    assert k.page.is_visible('[data-field="name-roman"]')
    k.fits("confirm-en")
    k.go("confirm", "payment", "payment-en")
    k.device("cash", yen=1000)
    k.page.wait_for_selector('[data-action="pay"]:not([disabled])')
    k.act("pay", "take-certificate")
    assert "640 yen" in k.page.inner_text('[data-prompt="change"]')
    k.fits("take-certificate-en")
    k.device("paper/take")
    k.wait("welcome")
    k.done()


def test_wrong_pin_to_lock_and_a_locked_card(screens: Screens) -> None:
    k = screens
    k.skip_to("insert-card")
    k.card("canary")
    assert not k.page.locator('[data-notice="last-try"]').count()
    k.enter_pin("9999")
    k.page.wait_for_selector('[data-notice="pin_incorrect"]')
    k.fits("pin-wrong-ja")
    k.enter_pin("9999")
    k.page.wait_for_selector('.tries[data-tries="1"]')
    last = k.page.inner_text('[data-notice="last-try"]')
    assert "あと1回間違えると、カードがロックされます。" in last and "暗証番号の再設定" in last
    k.fits("pin-last-try-ja")
    k.act("lang-en")
    k.page.wait_for_selector('html[lang="en"]')
    assert "One more wrong PIN locks your card." in k.page.inner_text('[data-notice="last-try"]')
    k.fits("pin-last-try-en")
    k.enter_pin("9999")
    k.wait("take-card")
    k.take_card("locked")
    k.fits("locked-en")
    assert not k.page.locator('[data-action="retry"]').count()
    k.act("cancel", "welcome")

    k.skip_to("insert-card")
    k.device("card", card="locked-card")
    k.wait("take-card")
    k.take_card("locked")
    main = k.page.inner_text("main")
    assert reasons.get("pin_locked").ja in main and "暗証番号の再設定" in main
    k.fits("locked-ja")
    k.act("cancel", "welcome")

    # A card that has one try left says so before the first try.
    k.skip_to("insert-card")
    k.card("one-try-left")
    assert k.page.is_visible('[data-notice="last-try"]')
    k.act("cancel", "welcome")
    k.done()


# card, kind, municipality, the refusal shown, where "try again" leads (None: no retry offered).
REFUSALS = (
    ("support-measure", "domestic", "462012", "counter_required", None),
    ("deceased", "domestic", "462012", "counter_required", None),
    ("no-records", "domestic", "462012", "no_vaccination_record", "municipality"),
    ("elder", "domestic", "462187", "no_vaccination_record", "municipality"),
    ("no-passport", "overseas", "462012", "passport_not_on_file", "kind"),
    ("tampered-card", "domestic", "462012", "card_digest_mismatch", None),
    ("unknown-ca-card", "domestic", "462012", "card_ca_unknown", None),
    ("foreign-card", "domestic", "462012", "card_not_my_number", "insert-card"),
)


def test_each_refusal_fits_and_offers_a_retry_where_it_makes_sense(screens: Screens) -> None:
    k = screens
    sensitive: list[str] = []
    for card, kind, municipality, code, retry in REFUSALS:
        k.skip_to("insert-card", municipality=municipality, kind=kind)
        k.device("card", card=card)
        if card != "foreign-card":
            k.wait("pin")
            k.enter_pin(RESIDENTS[card].pin if card in RESIDENTS else CANARY.pin)
        k.wait("take-card")
        k.take_card("refused")
        assert k.page.get_attribute("[data-reason]", "data-reason") == code, card
        r = reasons.get(code)
        main = k.page.inner_text("main")
        assert r.ja in main and r.next_ja in main
        assert "アプリ" not in main  # the app API is off: no pointer to an app that is not there
        assert "改ざん" not in main
        k.fits(f"refused-{code}")
        if retry is None:
            # Sensitive refusals stay dead ends, identical whatever the cause.
            assert not k.page.locator('[data-action="retry"]').count(), card
            if code == "counter_required":
                sensitive.append(k.page.inner_html("main"))
            k.act("cancel", "welcome")
        else:
            # Back to the choice, consent and the other choices kept; the card is read again.
            k.act("retry", retry)
            assert k.page.locator("[data-notice], [data-reason]").count() == 0
            k.fits(f"{retry}-retry", scan=False)
            k.act("cancel", "welcome")
    assert len(sensitive) == 2 and sensitive[0] == sensitive[1]
    k.done()


def test_cancel_at_each_step_and_money_returned(screens: Screens) -> None:
    k = screens
    elder = RESIDENTS["elder"]
    # Before the card: every choice screen.
    for screen in ("terms", "municipality", "kind", "copies", "insert-card"):
        k.skip_to(screen)
        k.act("cancel", "welcome")
    k.skip_to("insert-card")
    k.card("elder")
    k.act("cancel", "welcome")
    k.device("card/remove")
    k.skip_to("insert-card")
    k.read("elder", elder.pin)
    k.act("cancel", "welcome")
    k.device("card/remove")
    k.skip_to("insert-card")
    k.read("elder", elder.pin)
    k.take_card("confirm")
    k.act("cancel", "welcome")
    # On the payment screen: the coins come back, and the welcome screen says so.
    k.to_payment(100, 50)
    k.act("cancel", "welcome")
    returned = k.page.locator('[data-notice="money-returned"]')
    assert returned.get_attribute("data-amount") == "150"
    assert "150円を返却しました。" in returned.inner_text()
    k.fits("welcome-money-returned")
    assert k.page.request.get(k.url + "/demo/api/status").json()["inserted"] == 0
    # The next resident's Start clears it.
    k.act("start", "terms")
    k.act("cancel", "welcome")
    assert not returned.count()
    # The certificate screen ends with Finish.
    k.to_payment(500)
    k.act("pay", "take-certificate")
    k.act("cancel", "welcome")
    k.done()


@pytest.mark.parametrize("lang", ["zh", "ko"])
def test_chinese_and_korean_fit_refusal_last_try_and_money_returned(
    screens: Screens, lang: Language
) -> None:
    """issue 13: the longest-worded walks in 简体中文 and 한국어 at every size, with axe."""
    k = screens
    html_lang = "zh-Hans" if lang == "zh" else lang
    # A refusal with its next step (and a retry).
    k.skip_to("insert-card", lang=lang)
    k.page.wait_for_selector(f'html[lang="{html_lang}"]')
    k.fits(f"insert-card-{lang}")
    k.read("no-records", RESIDENTS["no-records"].pin)
    k.take_card("refused")
    r = reasons.get("no_vaccination_record")
    main = k.page.inner_text("main")
    assert r.message(lang) in main and r.next_step(lang) in main
    k.fits(f"refused-no_vaccination_record-{lang}")
    k.act("cancel", "welcome")
    # Wrong PIN to the last try.
    k.skip_to("insert-card", lang=lang)
    k.card("canary")
    k.enter_pin("9999")
    k.page.wait_for_selector('[data-notice="pin_incorrect"]')
    k.fits(f"pin-wrong-{lang}")
    k.enter_pin("9999")
    k.page.wait_for_selector('.tries[data-tries="1"]')
    k.fits(f"pin-last-try-{lang}")
    k.act("cancel", "welcome")
    k.device("card/remove")
    # Cancel with money inserted: the welcome screen says so in the same language (a new
    # session: the old one was wiped).
    k.to_payment(100, 50, lang=lang)
    k.fits(f"payment-{lang}")
    k.act("cancel", "welcome")
    k.page.wait_for_selector(f'html[lang="{html_lang}"]')
    returned = k.page.locator('[data-notice="money-returned"]')
    assert returned.get_attribute("data-amount") == "150"
    expected = {"zh": "已退还150日元", "ko": "150엔이 반환되었습니다"}[lang]
    assert expected in returned.inner_text()
    k.fits(f"welcome-money-returned-{lang}")
    k.act("start", "terms")
    k.act("cancel", "welcome")
    k.page.wait_for_selector('html[lang="ja"]')
    k.done()


def test_timeout_at_each_step(browser: Any, kiosk_url: str, axe_source: str) -> None:  # noqa: F811
    k = Screens(browser, kiosk_url, axe_source, clock=True)
    elder = RESIDENTS["elder"]
    idle = 61_000
    try:

        def time_out(idle_ms: int = idle, first: bool = False) -> None:
            k.page.clock.fast_forward(idle_ms)
            dialog = k.page.locator('[data-screen="timeout-warning"]')
            dialog.wait_for(state="visible")
            text = k.page.inner_text("#timeout-text")
            assert text.endswith("秒で最初の画面に戻ります。"), text  # full-width period
            if first:
                k.fits("timeout-warning")
                # Focus stays in the dialog.
                for _ in range(3):
                    k.page.keyboard.press("Tab")
                    assert k.page.evaluate("document.activeElement.id") == "continue"
                k.page.keyboard.press("Shift+Tab")
                assert k.page.evaluate("document.activeElement.id") == "continue"
            k.page.clock.fast_forward(21_000)
            k.wait("welcome")

        for screen in ("terms", "municipality", "kind", "copies", "insert-card"):
            k.skip_to(screen)
            time_out(first=screen == "terms")
        k.skip_to("insert-card")
        k.card("elder")
        time_out(121_000)  # the PIN pad allows longer
        k.device("card/remove")
        k.skip_to("insert-card")
        k.read("elder", elder.pin)
        time_out()
        k.device("card/remove")
        k.skip_to("insert-card")
        k.read("elder", elder.pin)
        k.take_card("confirm")
        time_out()
        k.to_payment(100)
        time_out()
        assert k.page.get_attribute('[data-notice="money-returned"]', "data-amount") == "100"
        k.skip_to("insert-card")
        k.read("no-records", RESIDENTS["no-records"].pin)
        k.take_card("refused")
        time_out()
        k.skip_to("insert-card")
        k.device("card", card="locked-card")
        k.wait("take-card")
        k.take_card("locked")
        time_out()
        # take-certificate has no warning: it ends when the paper is taken (or by itself).
    finally:
        k.device("card/remove")
        k.close()
    k.done()


def test_printer_jams_fit(screens: Screens) -> None:
    k = screens
    for jams, then in ((1, "take-certificate"), (2, "error")):
        k.to_payment(1000)
        k.device("printer/jam", times=jams)
        k.act("pay", then)
        if then == "error":
            refunded = k.page.locator('[data-field="refunded"]')
            assert refunded.get_attribute("data-amount") == "1000"
            assert "1,000円を返却しました。" in refunded.inner_text()
            assert not k.page.locator('[data-action="retry"]').count()
            k.fits("error-misprint")
            k.act("cancel", "welcome")
        else:
            k.device("paper/take")
            k.wait("welcome")
    k.done()


def test_the_card_left_notice_appears_and_clears_live(screens: Screens) -> None:
    k = screens
    # The welcome page polls slowly (2 s): its clock is moved to the next poll after each device
    # change instead of waiting for it in real time (the poll itself, and the reload, are real).
    k.page.clock.install()
    k.open()
    poll_ms = int(k.page.get_attribute("body", "data-poll") or 0)
    notice = k.page.locator('[data-notice="card-left"]')
    assert not notice.count()
    k.device("card", card="elder")
    k.page.wait_for_load_state("domcontentloaded")  # kiosk.js (deferred) has set its poll
    k.page.clock.fast_forward(poll_ms)
    notice.wait_for(state="visible")
    k.fits("welcome-card-left")
    k.device("card/remove")
    k.page.wait_for_load_state("domcontentloaded")
    k.page.clock.fast_forward(poll_ms)
    notice.wait_for(state="detached")
    k.done()


def test_card_removed_on_the_pin_pad_fits(screens: Screens) -> None:
    k = screens
    k.to_insert_card(lang="en", measure=False)
    k.card("canary")
    k.take_card("insert-card")
    k.page.wait_for_selector('[data-notice="card_removed"]')
    k.fits("insert-card-removed-en")
    k.act("cancel", "welcome")
    k.done()


def _longest_pages(rig: Rig) -> dict[str, str]:
    """Pages with the longest content the center can send, rendered by an in-process kiosk: a
    7-dose 海外用 record with a very long name (confirm), and payment with its notice."""
    from kiosk.app import create_app

    app = create_app(rig.kiosk.settings, kiosk=rig.kiosk, background=False)
    client = app.test_client()

    def page() -> str:
        return client.get("/").get_data(as_text=True)

    def post(path: str, html: str, **form: str) -> str:
        token = html.split('name="csrf-token" content="')[1].split('"')[0]
        client.post(path, data={"csrf_token": token, **form})
        return page()

    pages = {}
    for lang in ("en", "ja"):
        html = post("/lang", page(), lang=lang)
        for path, form in (
            ("/start", {}),
            ("/terms", {}),
            ("/municipality", {"code": "462012"}),
            ("/kind", {"kind": "domestic"}),
            ("/copies", {"copies": "5"}),
        ):
            html = post(path, html, **form)
        rig.insert("elder")
        html = post("/pin", page(), pin=RESIDENTS["elder"].pin)
        rig.reader.remove()
        session = next(s for s in rig.kiosk.sessions.all() if s.issued is not None)
        assert session.issued is not None and len(session.issued.doses) == 7
        holder = session.issued.holder.model_copy(
            update={
                "name": LONG_NAME,
                "name_roman": LONG_ROMAN,
                "nationality": "DEU",
                "passport_number": "TZ9990009",
            }
        )
        session.issued = session.issued.model_copy(update={"holder": holder, "kind": "overseas"})
        pages[f"confirm-longest-{lang}"] = page()
        html = post("/confirm", pages[f"confirm-longest-{lang}"])
        pages[f"payment-notice-{lang}"] = post("/pay", html)
        post("/cancel", page())
    return pages


def test_the_longest_content_fits(screens: Screens, make_rig: MakeRig) -> None:
    k = screens
    pages = _longest_pages(make_rig())
    for name, html in pages.items():
        screen = name.split("-")[0]
        version = int(html.split('data-version="')[1].split('"')[0])
        assert f'data-screen="{screen}"' in html
        k.page.route(k.url + "/", _serve(body=html))
        k.page.route(
            k.url + "/state", _serve(state={"screen": screen, "version": version, "active": True})
        )
        k.page.goto(k.url + "/")
        k.wait(screen)
        if screen == "confirm":
            assert LONG_NAME in k.page.inner_text('[data-field="name"]')
            # The table scrolls on its own at 1024×600 and says so.
            assert k.page.is_visible(".more-hint")
        else:
            assert k.page.is_visible('[data-notice="payment_incomplete"]')
        k.fits(name)
        k.page.goto("about:blank")
        k.page.unroute_all()
    k.done()


def test_reading_and_printing_fit_with_cancel_disabled(screens: Screens, make_rig: MakeRig) -> None:
    k = screens
    for name, (html, version) in _frozen_screens(make_rig()).items():
        k.page.route(k.url + "/", _serve(body=html))
        k.page.route(
            k.url + "/state", _serve(state={"screen": name, "version": version, "active": True})
        )
        k.page.goto(k.url + "/")
        k.wait(name)
        assert k.page.is_disabled('[data-action="cancel"]')
        k.fits(name)
        k.page.goto("about:blank")
        k.page.unroute_all()
    k.done()


def test_favicon_is_served(screens: Screens) -> None:
    screens.open()
    href = screens.page.get_attribute('link[rel="icon"]', "href")
    assert href is not None
    response = screens.page.request.get(screens.url + href)
    assert response.ok and b"<svg" in response.body()
