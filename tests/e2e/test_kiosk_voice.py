"""The kiosk's voice and languages in Debian's Chromium (issue 13, C11): every screen plays its
recorded prompt (the Ogg file really loads, 200, and really starts playing), what is said is
what the screen shows, replay repeats it, the session's voice toggle silences it, the timeout
warning and amounts are said, and the happy path works in 简体中文 and 한국어 with axe clean.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kiosk import prompts
from launch.stack import Stack
from tests.e2e import test_kiosk_browser as shared
from tests.e2e.test_kiosk_browser import Kiosk
from vaxcert import reasons
from vaxcert.errors import ConfigError
from vaxcert.residents import CANARY, RESIDENTS

pytestmark = [pytest.mark.slow]
# Every play() is recorded and then really made: the test sees what the page asked for, and
# kiosk.js sets body[data-prompt-played] once the browser actually plays it. Each recording
# plays at Chromium's fastest rate (16, the most play() accepts): a playlist still plays file
# after file, each to its "ended", but a 20 s recording ends in about 1.3 s instead of holding
# the next prompt back for its real length (the recordings are what made this module slow).
PLAYBACK_RATE = 16
PLAY_SPY = f"""
window.__played = [];
const realPlay = HTMLMediaElement.prototype.play;
HTMLMediaElement.prototype.play = function () {{
  window.__played.push(this.src);
  this.defaultPlaybackRate = this.playbackRate = {PLAYBACK_RATE};
  return realPlay.call(this);
}};
"""
_NOT_SAID = re.compile(r"[\s\W_]+")
# The browser, the kiosk process and axe-core of the kiosk's browser tests, one per module.
browser = shared.browser
kiosk_url = shared.kiosk_url
axe_source = shared.axe_source


class VoiceKiosk(Kiosk):
    """A :class:`Kiosk` whose audio really plays, with every audio response's status kept."""

    def __init__(self, browser: Any, url: str, axe: str) -> None:
        super().__init__(browser, url, axe, spy=PLAY_SPY)
        self.audio: dict[str, int] = {}
        self.page.on("response", self._response)
        manifest = self.page.request.get(url + "/static/kiosk/audio/manifest.json")
        assert manifest.ok, "run `make prompts` (vaxcert kiosk-prompts build)"
        self.texts = {k: v["text"] for k, v in manifest.json()["recordings"].items()}

    def _response(self, response: Any) -> None:
        if response.url.endswith(".ogg"):
            self.audio[response.url.split("/static/kiosk/audio/")[1]] = response.status

    def heard(self, prompt: str, lang: str) -> list[str]:
        """Wait until ``prompt`` plays; check its files loaded and say what the page shows."""
        self.page.wait_for_function(
            "id => (document.body.dataset.promptPlayed || '').split(' ').includes(id)", arg=prompt
        )
        played = [src.split("/static/kiosk/audio/")[1] for src in self.page.evaluate("__played")]
        mine = [f for f in played if f.startswith(f"{lang}/")]
        assert mine == played, played  # only the session's language is ever played
        shown = _said(self.page.evaluate("document.body.innerText"))
        for file in played:
            assert self.audio.get(file) in (200, 206), (file, self.audio.get(file))
            key = file.removesuffix(".ogg")
            if not key.split("/")[1].startswith("n-"):  # numbers are checked by their amount
                assert _said(self.texts[key]) in shown, (key, self.texts[key])
        return played

    def played_until(self, file: str) -> list[str]:
        """Wait until the page has asked for ``file`` (a playlist plays one file after another)."""
        self.page.wait_for_function(
            "file => window.__played.some(src => src.endsWith('/audio/' + file))", arg=file
        )
        return [src.split("/static/kiosk/audio/")[1] for src in self.page.evaluate("__played")]

    def replay(self) -> list[str]:
        self.page.evaluate("window.__played = []")
        self.page.click('[data-action="replay"]')
        return [src.split("/static/kiosk/audio/")[1] for src in self.page.evaluate("__played")]


def _said(text: str) -> str:
    """Text without spacing and punctuation (full- or half-width): what a voice says of it."""
    return _NOT_SAID.sub("", unicodedata.normalize("NFKC", text)).lower()


@pytest.fixture
def voice(browser: Any, kiosk_url: str, axe_source: str) -> Iterator[VoiceKiosk]:
    opened = VoiceKiosk(browser, kiosk_url, axe_source)
    yield opened
    opened.device("card/remove")
    opened.close()


def _walk_to_insert_card(k: VoiceKiosk, lang: str, scan: bool = False) -> None:
    k.open()
    if lang != "ja":
        k.act(f"lang-{lang}")
        k.page.wait_for_selector(f'html[lang="{"zh-Hans" if lang == "zh" else lang}"]')
    k.heard("welcome", lang)
    if scan:
        k.scan("welcome")
    for action, screen in (
        ("start", "terms"),
        ("agree", "municipality"),
        ("municipality-462012", "kind"),
        ("kind-domestic", "copies"),
        ("copies-1", "insert-card"),
    ):
        k.act(action, screen)
        k.heard(screen, lang)
        if scan:
            k.scan(screen)


def _pay_and_take(k: VoiceKiosk, lang: str, scan: bool = False) -> None:
    k.act("confirm", "payment")
    k.heard("payment", lang)
    k.heard("payment-due", lang)  # the amount still to pay, said
    assert f"{lang}/n-100.ogg" in k.played_until(f"{lang}/n-20.ogg")  # 120 yen
    if scan:
        k.scan("payment")
    for yen in (100, 100):  # 200 for a 120-yen fee: 80 yen change
        assert k.device("cash", yen=yen)["accepted"]
    k.page.wait_for_selector('[data-action="pay"]:not([disabled])')
    k.heard("payment-ready", lang)
    k.act("pay")
    k.wait("take-certificate")
    k.heard("take-certificate", lang)
    k.heard("change", lang)
    played = k.played_until(f"{lang}/change.1.ogg")
    change = played.index(f"{lang}/change.0.ogg")
    assert played[change : change + 3] == [f"{lang}/change.0.ogg", f"{lang}/n-80.ogg", played[-1]]
    if scan:
        k.scan("take-certificate")
    assert len(k.device("paper/take")["documents"]) == 1
    k.wait("welcome")


def test_c11_every_screen_speaks_replays_and_can_be_silenced(voice: VoiceKiosk) -> None:
    k = voice
    k.open()
    k.heard("welcome", "ja")
    # A notice that appears without a reload (the welcome screen's live "card left") is said.
    k.page.evaluate(
        """text => {
          const notice = document.createElement("div");
          notice.dataset.prompt = "card-left";
          notice.textContent = text;
          document.querySelector("main").append(notice);
        }""",
        k.texts["ja/card-left"],
    )
    k.heard("card-left", "ja")
    _walk_to_insert_card(k, "ja")
    k.device("card", card="canary")
    k.wait("pin")
    k.heard("pin", "ja")
    wrong = f"{(int(CANARY.pin) + 1) % 10000:04d}"
    k.enter_pin(wrong)
    k.page.wait_for_selector('[data-notice="pin_incorrect"]')
    played = k.heard("notice-pin_incorrect", "ja")
    assert played[:2] == ["ja/pin.ogg", "ja/reason-pin_incorrect.0.ogg"]  # instruction, warning
    k.enter_pin(CANARY.pin)
    k.wait("take-card")
    k.heard("take-card", "ja")
    k.device("card/remove")
    k.wait("confirm")
    k.heard("confirm", "ja")
    assert k.replay()[0] == "ja/confirm.ogg"
    k.page.wait_for_selector('body[data-prompt-played~="confirm"]')
    # Voice off: nothing is played, on this screen or the next, until it is turned on again.
    k.act("speech")
    k.page.wait_for_selector('body[data-speech="off"]')
    assert k.page.get_attribute('[data-action="speech"]', "aria-pressed") == "false"
    assert k.page.is_disabled('[data-action="replay"]')
    k.act("confirm", "payment")
    k.page.wait_for_selector('body[data-speech="off"]')
    k.page.wait_for_selector("body[data-prompt-silenced]")
    assert k.page.evaluate("__played") == []
    k.act("speech")
    k.page.wait_for_selector('body[data-speech="on"]')
    k.heard("payment", "ja")
    k.act("cancel", "welcome")


def test_c11_the_timeout_warning_is_said_with_its_seconds(voice: VoiceKiosk) -> None:
    k = voice
    page = k.page
    page.clock.install()
    k.open()
    k.act("start", "terms")
    k.heard("terms", "ja")
    page.clock.fast_forward(61_000)
    page.locator('[data-screen="timeout-warning"]').wait_for(state="visible")
    k.heard("timeout-warning", "ja")
    played = k.played_until("ja/timeout-warning.1.ogg")
    seconds = page.get_attribute("#timeout-text", "data-amount")
    assert seconds == "20"  # one recorded number: にじゅう
    first = played.index("ja/timeout-warning.0.ogg")
    assert played[first : first + 3] == [
        "ja/timeout-warning.0.ogg",
        "ja/n-20.ogg",
        "ja/timeout-warning.1.ogg",
    ]
    k.act("continue")
    page.locator('[data-screen="timeout-warning"]').wait_for(state="hidden")
    k.act("cancel", "welcome")


@pytest.mark.parametrize("lang", ["zh", "ko"])
def test_c11_happy_path_in_chinese_and_korean_says_every_step(voice: VoiceKiosk, lang: str) -> None:
    k = voice
    _walk_to_insert_card(k, lang, scan=True)
    k.device("card", card="canary")
    k.wait("pin")
    k.heard("pin", lang)
    k.scan("pin")
    k.enter_pin(CANARY.pin)
    k.wait("take-card")
    k.heard("take-card", lang)
    k.device("card/remove")
    k.wait("confirm")
    k.heard("confirm", lang)
    k.scan("confirm")
    _pay_and_take(k, lang, scan=True)
    assert k.violations == {}, k.violations


def test_a_refusal_is_said_in_korean(voice: VoiceKiosk) -> None:
    k = voice
    _walk_to_insert_card(k, "ko")
    k.device("card", card="locked-card")
    k.wait("take-card")
    k.device("card/remove")
    k.wait("locked")
    k.heard("reason-pin_locked", "ko")
    played = k.played_until("ko/reason-pin_locked.1.ogg")
    assert played == ["ko/reason-pin_locked.0.ogg", "ko/reason-pin_locked.1.ogg"]
    locked = reasons.get("pin_locked")
    main = k.page.inner_text("main")
    assert locked.ko in main and locked.next_ko in main
    k.act("cancel", "welcome")


def test_without_current_recordings_nothing_is_said_and_production_refuses(
    stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kiosk.app import create_app

    monkeypatch.setattr(prompts, "AUDIO_DIR", tmp_path)  # nothing was recorded here
    app = create_app(stack.settings, background=False)
    client = app.test_client()
    assert client.get("/healthz").get_json()["unplayable_prompts"] > 0
    page = client.get("/").get_data(as_text=True)
    data = json.loads(page.split('id="prompt-data">')[1].split("</script>")[0])
    assert data["prompts"] == {} and "welcome" in data["unplayable"]
    production = stack.settings.model_copy(update={"environment": "production"})
    with pytest.raises(ConfigError, match="spoken prompts"):
        create_app(production, background=False)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_c11_last_try_and_money_returned_are_said_in_the_session_language(
    voice: VoiceKiosk, lang: str
) -> None:
    """The last-try warning is said; after Cancel on payment the welcome screen (a new session:
    the old one is wiped, C08) shows and says the money returned in the ending session's
    language, not in Japanese."""
    k = voice
    _walk_to_insert_card(k, lang)
    k.device("card", card="canary")
    k.wait("pin")
    wrong = f"{(int(CANARY.pin) + 1) % 10000:04d}"
    for _ in range(2):
        k.enter_pin(wrong)
        k.page.wait_for_selector('[data-notice="pin_incorrect"]')
    k.page.wait_for_selector('[data-notice="last-try"]')
    k.heard("pin-last-try", lang)
    k.enter_pin(CANARY.pin)
    k.wait("take-card")
    k.device("card/remove")
    k.wait("confirm")
    k.act("confirm", "payment")
    assert k.device("cash", yen=100)["accepted"]
    k.page.wait_for_selector('[data-field="inserted"]:has-text("100")')
    k.act("cancel", "welcome")
    k.page.wait_for_selector(f'html[lang="{"zh-Hans" if lang == "zh" else lang}"]')
    notice = k.page.locator('[data-notice="money-returned"]')
    assert notice.get_attribute("data-amount") == "100"
    expected = {"zh": "已退还100日元", "en": "100 yen has been returned"}[lang]
    assert expected in notice.inner_text()
    k.heard("money-returned", lang)
    # The amount is composed from recorded numbers: before the text in English, inside it in 中文.
    last = {"zh": "zh/money-returned.1.ogg", "en": "en/money-returned.ogg"}[lang]
    assert f"{lang}/n-100.ogg" in k.played_until(last)
    # The next resident's Start forgets that language: the welcome after is Japanese again.
    k.act("start", "terms")
    k.act("cancel", "welcome")
    k.page.wait_for_selector('html[lang="ja"]')


def test_c11_a_refusal_and_the_timeout_warning_are_said_in_chinese(voice: VoiceKiosk) -> None:
    k = voice
    page = k.page
    page.clock.install()
    _walk_to_insert_card(k, "zh")
    k.device("card", card="no-records")
    k.wait("pin")
    k.enter_pin(RESIDENTS["no-records"].pin)
    k.wait("take-card")
    k.device("card/remove")
    k.wait("refused")
    k.heard("reason-no_vaccination_record", "zh")
    page.clock.fast_forward(61_000)
    page.locator('[data-screen="timeout-warning"]').wait_for(state="visible")
    k.heard("timeout-warning", "zh")
    played = k.played_until("zh/timeout-warning.1.ogg")
    first = played.index("zh/timeout-warning.0.ogg")
    assert played[first + 1] == "zh/n-20.ogg"
    page.clock.fast_forward(21_000)
    k.wait("welcome")
