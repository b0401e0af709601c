"""The verifier at the gate, in Debian's Chromium with a fake camera (issue 19).

The camera plays videos the tests make from printed certificates: our signer issues them, the
certificate PDF is rendered (vaxcert/certificate/pdf.py), rasterised with pypdfium2 and written
as a grey-scale YUV4MPEG2 file of two frames that Chromium loops. The page is served over TLS
with the dev CA's `verifier` certificate. The trust store holds what our signer publishes:
its JWKS and rid CRLs and its signed list of revoked certificate ids, after one certificate was
revoked. A fake-camera file is fixed per browser launch, so each video is one launch, and the
viewports (1280×800, 390×844) and languages are spread over the launches rather than crossed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import segno
from PIL import Image

from launch.samples import sample_issued
from signer.samples import example_content
from signer.services import SignerService
from tests.support.qr import pdf_page, read_qr
from tests.support.servers import LiveServer, pki_context, serving
from vaxcert import pki
from vaxcert.certificate import pdf
from vaxcert.config import load_settings
from vaxcert.contracts.kiosk_api import CertificateIssued
from vaxcert.residents import RESIDENTS
from verifier._uvci import parse_uvci_list
from verifier.app import create_app
from verifier.dev_trust import dev_trust_store

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="chromium is in SYSTEM_PACKAGES")

ISSUER = "https://127.0.0.1:8446/issuer"
GENUINE, REVOKED = "9GATE0000001", "9GATEREVOKED"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
# Generous: a busy shared machine; never a claim about speed.
PATIENCE_MS = 30_000


@dataclass
class Gate:
    """The served page and the certificates the videos show."""

    server: LiveServer
    plain: LiveServer  # the same page over plain http, as opened from another host
    videos: Path
    genuine: CertificateIssued
    revoked: CertificateIssued
    other_vdsnc: str  # another person's VDS-NC


@pytest.fixture(scope="module")
def gate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gate]:
    root = tmp_path_factory.mktemp("gate")
    pki_dir = root / "pki"
    pki.init(pki_dir, ISSUER, [], [])
    settings = load_settings(
        environment="test",
        pki_dir=pki_dir,
        issuer_url=ISSUER,
        signer={"state_dir": root / "state"},
        verifier={"result_seconds": 30, "request_timeout_seconds": 3},
    )
    signer = SignerService(settings)
    signer.init()
    genuine = sample_issued(signer, "overseas", 3, certificate_id=GENUINE)
    revoked = sample_issued(signer, "overseas", 3, certificate_id=REVOKED)
    other = signer.issue(
        example_content(RESIDENTS["kirishima"], "overseas", 2, certificate_id="9GATEOTHER01")
    )
    assert other.vdsnc is not None
    signer.revoke(REVOKED)
    # What a verifier fetches from the signer's public surface, put in place as live would.
    store = dev_trust_store(pki_dir, ISSUER)
    now = dt.datetime.now(dt.UTC)
    jwks = signer.jwks()
    crls = [signer.crl(key["kid"]) for key in jwks["keys"]]
    store.replace_shc_keys(ISSUER, jwks, [crl for crl in crls if crl], now)
    published = signer.uvci_revocations()
    assert published is not None
    revocations, anchors = parse_uvci_list(published, store, now)
    store.replace_uvci_list(anchors, revocations, now)
    app = create_app(settings, trust=store)
    with serving(app, pki_context(pki_dir, "verifier")) as server, serving(app) as plain:
        yield Gate(server, plain, root, genuine, revoked, other.vdsnc.document)


# Videos -----------------------------------------------------------------------------------


def _y4m(frame: Image.Image, path: Path, frames: int = 2) -> Path:
    """A YUV4MPEG2 (4:2:0) video of a grey-scale still, as Chromium's fake camera reads it."""
    gray = frame.convert("L")
    width, height = gray.size
    chroma = bytes([128]) * ((width // 2) * (height // 2) * 2)
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F5:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            out.write(b"FRAME\n" + gray.tobytes() + chroma)
    return path


def _printed(issued: CertificateIssued) -> Image.Image:
    """The certificate PDF as a scanner sees the print (100 dpi)."""
    return pdf_page(pdf.render_certificate(issued), 0, 100).convert("L")


def _whole_page(issued: CertificateIssued, path: Path) -> Path:
    """The whole page held landscape in front of a 1920×1080 camera."""
    page = _printed(issued).rotate(90, expand=True)
    scale = 1080 / page.height
    page = page.resize((round(page.width * scale), 1080))
    frame = Image.new("L", (1920, 1080), 235)
    frame.paste(page, ((1920 - page.width) // 2, 0))
    return _y4m(frame, path)


def _one_code(issued: CertificateIssued, prefix: str, path: Path) -> Path:
    """One of the page's codes, filling a 1280×720 camera (the other code out of view)."""
    printed = _printed(issued)
    (code,) = [c for c in read_qr(printed) if c.text.startswith(prefix)]
    xs = [code.position.top_left.x, code.position.bottom_right.x]
    ys = [code.position.top_left.y, code.position.bottom_right.y]
    crop = printed.crop((min(xs) - 20, min(ys) - 20, max(xs) + 20, max(ys) + 20))
    crop = crop.resize((680, 680))
    frame = Image.new("L", (1280, 720), 235)
    frame.paste(crop, (300, 20))
    return _y4m(frame, path)


def _url_code(path: Path) -> Path:
    """A QR code that is not a certificate: a venue's menu URL."""
    buffer = io.BytesIO()
    segno.make("https://example.com/menu?table=7", error="m").save(buffer, kind="png", scale=10)
    image = Image.open(io.BytesIO(buffer.getvalue())).convert("L")
    frame = Image.new("L", (1280, 720), 235)
    frame.paste(image, (400, 100))
    return _y4m(frame, path)


def _forged(document: str) -> str:
    """The VDS-NC with one lot number changed after signing."""
    body = json.loads(document)
    dose = body["data"]["msg"]["ve"][0]["vd"][0]
    dose["lot"] = dose["lot"][:-1] + ("1" if dose["lot"][-1] != "1" else "2")
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


# The browser ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def playwright() -> Iterator[Any]:
    """One Playwright driver for the module (each video still needs its own browser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver


@contextlib.contextmanager
def camera(playwright: Any, video: Path, *extra: str) -> Iterator[Any]:
    """Chromium whose fake camera plays ``video`` (the camera is granted per context)."""
    browser = playwright.chromium.launch(
        executable_path=str(CHROMIUM),
        args=[
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--autoplay-policy=no-user-gesture-required",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={video}",
            *extra,
        ],
    )
    try:
        yield browser
    finally:
        browser.close()


def open_page(
    browser: Any, gate: Gate, viewport: dict[str, int], lang: str, camera_allowed: bool = True
) -> Any:
    """A fresh context (nothing shared between people) on the page over TLS (dev CA)."""
    context = browser.new_context(
        viewport=viewport,
        ignore_https_errors=True,  # the dev CA is not in Chromium's store; TLS is still used
        permissions=["camera"] if camera_allowed else [],
        locale="ja-JP" if lang == "ja" else "en-US",
    )
    page = context.new_page()
    page.goto(f"{gate.server.url}/?lang={lang}")
    return page


def scan(page: Any) -> dict[str, str]:
    """Tap the scan button and wait for the one verdict; returns its data attributes."""
    page.click("#camera-start")
    page.wait_for_selector("#results article.sheet", timeout=PATIENCE_MS)
    sheet = page.locator("#results article.sheet")
    return {
        "verdict": sheet.get_attribute("data-verdict") or "",
        "headline": sheet.get_attribute("data-headline") or "",
        "codes": sheet.get_attribute("data-codes") or "",
        "text": page.inner_text("#results"),
    }


def fits_a_phone(page: Any) -> None:
    """Verdict and "scan next" on the first screen, nothing wider than the screen, every touch
    target at least 44 px."""
    width, height = page.viewport_size["width"], page.viewport_size["height"]
    verdict = page.locator("#results .sheet > .verdict").bounding_box()
    scan_next = page.locator("#scan-next").bounding_box()
    assert verdict is not None and scan_next is not None
    assert verdict["y"] >= 0 and verdict["y"] + verdict["height"] <= height
    assert scan_next["y"] + scan_next["height"] <= height and scan_next["y"] >= 0
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    small = page.evaluate(
        """() => [...document.querySelectorAll('a, button, summary, label.sound')]
             .filter(n => n.offsetParent !== null)
             .map(n => [n.textContent.trim().slice(0, 20), n.getBoundingClientRect()])
             .filter(([, r]) => r.height < 44 || r.width < 44).map(([t]) => t)"""
    )
    assert small == []
    overflowing = page.evaluate(
        """() => [...document.querySelectorAll('table.doses')]
             .filter(t => t.offsetParent !== null)
             .filter(t => t.getBoundingClientRect().right > window.innerWidth
                          || t.scrollWidth > t.parentElement.clientWidth + 1).length"""
    )
    assert overflowing == 0


# The tests --------------------------------------------------------------------------------


def test_a_genuine_page_the_next_person_and_the_ways_a_scan_can_fail(
    gate: Gate, playwright: Any
) -> None:
    video = _whole_page(gate.genuine, gate.videos / "genuine-page.y4m")
    # gate.test: another host name for loopback, where plain http is not a secure context.
    with camera(playwright, video, "--host-resolver-rules=MAP gate.test 127.0.0.1") as browser:
        # 1280×800, English: one green verdict for the two codes, with what to compare.
        page = open_page(browser, gate, DESKTOP, "en")
        page.clock.install()
        verify_requests: list[str] = []
        page.on(
            "request",
            lambda r: verify_requests.append(r.url) if "/api/verify" in r.url else None,
        )
        first = scan(page)
        assert (first["verdict"], first["codes"]) == ("valid", "2"), first["text"]
        assert "SHIKEN HANAKO" in first["text"] and "TZ9990001" in first["text"]
        assert GENUINE in first["text"]  # the certificate id
        assert (
            "The certificate states no expiry date." in first["text"]
            or "Valid until" in (first["text"])
        )
        assert "Checked " in first["text"] and "Trust data updated 0 min ago" in first["text"]
        # The agent's clock first, UTC after, in one sentence.
        checked_at = page.inner_text("#results .checked-at")
        assert checked_at.startswith("Checked ") and checked_at.endswith(" UTC).")
        assert page.is_hidden("#camera-video")  # the camera stops after a result
        # The focused Stop button went away: keyboard focus is on "scan next", not lost.
        assert page.evaluate("document.activeElement.id") == "scan-next"
        assert page.is_checked("#sound")  # a sound on the result, with its switch
        # No BarcodeDetector in this Chromium: frames went to the server to be read.
        decoder = page.evaluate("document.body.dataset.decoder")
        if decoder == "server":
            assert verify_requests and all("frame=1" in url for url in verify_requests)
        assert page.evaluate("document.cookie") == ""

        # The next person: the previous result goes the moment the scan starts.
        page.click("#scan-next")
        assert page.inner_text("#results").strip() == ""
        page.wait_for_selector("#results article.sheet", timeout=PATIENCE_MS)
        # Left alone, the result goes back to the neutral state after result_seconds (30).
        page.clock.fast_forward(31_000)
        page.wait_for_function("document.querySelector('#results').children.length === 0")
        assert page.inner_text("#camera-status") == "Ready for the next person."
        page.context.close()

        # 390×844, Japanese: verdict and "scan next" on the first screen; Japanese names.
        phone = open_page(browser, gate, PHONE, "ja")
        seen = scan(phone)
        assert seen["verdict"] == "valid"
        assert "有効" in seen["text"] and "試験 花子" in seen["text"]
        assert "確認日時 " in seen["text"] and " UTC）。" in seen["text"]
        assert "信頼データの更新：0 分前（" in seen["text"]
        assert "コミナティ" in seen["text"] and "スパイクバックス" in seen["text"]
        fits_a_phone(phone)
        phone.context.close()

        # The server does not answer (a hung connection): the request's deadline
        # (request_timeout_seconds, 3 here) says so, with a retry; then refused at once; then up.
        down = open_page(browser, gate, DESKTOP, "en")
        down.route("**/api/verify**", lambda route: None)  # never answered
        down.click("#camera-start")
        down.wait_for_selector("#retry:visible", timeout=PATIENCE_MS)
        assert "cannot be reached" in down.inner_text("#camera-status")
        assert down.inner_text("#results").strip() == ""
        down.unroute("**/api/verify**")
        down.route("**/api/verify**", lambda route: route.abort("connectionrefused"))
        down.click("#retry")
        down.wait_for_selector("#retry:visible", timeout=PATIENCE_MS)
        assert "cannot be reached" in down.inner_text("#camera-status")
        down.unroute("**/api/verify**")
        down.click("#retry")
        down.wait_for_selector("#results article.sheet[data-verdict=valid]", timeout=PATIENCE_MS)
        down.context.close()

        # Camera refused: its own message, not "looking for a QR code".
        refused = open_page(browser, gate, PHONE, "en", camera_allowed=False)
        refused.click("#camera-start")
        refused.wait_for_selector("#camera-status.problem", timeout=PATIENCE_MS)
        assert "Camera access was refused" in refused.inner_text("#camera-status")
        refused.context.close()

        # Plain http from another host: no camera at all, and the page says why.
        insecure = browser.new_context(viewport=PHONE, permissions=["camera"])
        plain = insecure.new_page()
        port = gate.plain.url.rsplit(":", 1)[1]
        plain.goto(f"http://gate.test:{port}/?lang=ja")
        assert plain.evaluate("window.isSecureContext") is False
        plain.click("#camera-start")
        assert "安全なページ（https）" in plain.inner_text("#camera-status")
        insecure.close()

        # Where the browser can read QR codes itself, only the texts are sent, together.
        reader = open_page(browser, gate, DESKTOP, "en")
        texts = [gate.genuine.shc_qr_text, gate.genuine.vdsnc]
        reader.add_init_script(
            "window.BarcodeDetector = class { static getSupportedFormats() {"
            " return Promise.resolve(['qr_code']); }"
            f" detect() {{ return Promise.resolve({json.dumps(texts)}.map("
            "t => ({rawValue: t}))); } };"
            # The sound's AudioContext, counted: iOS leaves one made outside a tap suspended.
            "window.audioLog = {made: [], tones: 0};"
            "window.AudioContext = class { constructor() {"
            " audioLog.made.push(window.event ? window.event.type : 'no gesture');"
            " this.state = 'suspended'; this.currentTime = 0; this.destination = {}; }"
            " resume() { this.state = 'running'; return Promise.resolve(); }"
            " createOscillator() { audioLog.tones += 1;"
            " return {frequency: {}, connect() {}, start() {}, stop() {}}; }"
            " createGain() { return {gain: {}, connect() {}}; } close() {} };"
        )
        reader.reload()
        bodies: list[str] = []
        reader.on(
            "request",
            lambda r: bodies.append(r.post_data or "") if "/api/verify" in r.url else None,
        )
        assert scan(reader)["verdict"] == "valid"
        assert reader.evaluate("document.body.dataset.decoder") == "browser"
        assert bodies and all(json.loads(body)["texts"] == texts for body in bodies)

        # A refusal in JSON (rate limited, too large) is said with its reason and the retry,
        # never a page left on "Checking…"; the retry works once the server answers again.
        for refusal, words in (
            (429, "Too many checks"),
            (413, "The check cannot be done: the verification server refused"),
        ):
            reader.route("**/api/verify**", _refusing(refusal))
            reader.click("#camera-start")
            reader.wait_for_selector("#retry:visible", timeout=PATIENCE_MS)
            assert words in reader.inner_text("#camera-status")
            assert reader.inner_text("#results").strip() == ""
            reader.unroute("**/api/verify**")
        reader.click("#retry")
        reader.wait_for_selector("#results article.sheet[data-verdict=valid]", timeout=PATIENCE_MS)
        # One AudioContext for the page, made in the first tap and reused for every result.
        audio = reader.evaluate("window.audioLog")
        assert audio["made"] == ["click"] and audio["tones"] == 4, audio
        reader.context.close()


def _refusing(status: int) -> Any:
    """A route handler answering every request with ``status`` and a JSON error body."""

    def answer(route: Any) -> None:
        body = {"error": "refused", "code": "rate_limited" if status == 429 else "too_large"}
        route.fulfill(status=status, content_type="application/json", body=json.dumps(body))

    return answer


def test_each_code_alone(gate: Gate, playwright: Any) -> None:
    shc_video = _one_code(gate.genuine, "shc:/", gate.videos / "shc.y4m")
    with camera(playwright, shc_video) as browser:
        page = open_page(browser, gate, DESKTOP, "ja")
        seen = scan(page)
        assert (seen["verdict"], seen["codes"]) == ("valid", "1"), seen["text"]
        assert "試験 花子" in seen["text"]
    vds_video = _one_code(gate.genuine, "{", gate.videos / "vdsnc.y4m")
    with camera(playwright, vds_video) as browser:
        phone = open_page(browser, gate, PHONE, "en")
        seen = scan(phone)
        # Checked against the issuer's list of revoked ids: a plain VALID, not amber.
        assert (seen["verdict"], seen["codes"]) == ("valid", "1"), seen["text"]
        assert "COMIRNATY" in seen["text"] and "Country" in seen["text"]
        fits_a_phone(phone)  # the English dose table fits
        japanese = open_page(browser, gate, DESKTOP, "ja")
        assert "コミナティ" in scan(japanese)["text"]  # VDS-NC vaccine names in Japanese


def _revoked_shc_beside_genuine_vdsnc(gate: Gate, path: Path) -> Path:
    return _whole_page(
        gate.genuine.model_copy(update={"shc_qr_text": gate.revoked.shc_qr_text}), path
    )


@pytest.mark.parametrize(
    ("case", "viewport", "lang", "headline", "words"),
    [
        ("shc-revoked", DESKTOP, "en", "sheet_revoked", "withdrawn (revoked) by its issuer"),
        ("both-revoked", PHONE, "ja", "sheet_revoked", "発行者によって取り消されています"),
        ("vdsnc-revoked", DESKTOP, "ja", "sheet_revoked", "取り消されています"),
        ("forged-beside-genuine", PHONE, "en", "sheet_damaged", "damaged or has been altered"),
        ("two-people", DESKTOP, "ja", "sheet_mismatch", "別々の人"),
        ("not-a-certificate", PHONE, "en", "sheet_not_certificate", "not a vaccination"),
    ],
)
def test_one_not_valid_verdict_in_words_a_gate_agent_understands(
    gate: Gate,
    playwright: Any,
    case: str,
    viewport: dict[str, int],
    lang: str,
    headline: str,
    words: str,
) -> None:
    path = gate.videos / f"{case}.y4m"
    assert gate.genuine.vdsnc is not None and gate.revoked.vdsnc is not None
    videos = {
        "shc-revoked": lambda: _revoked_shc_beside_genuine_vdsnc(gate, path),
        "both-revoked": lambda: _whole_page(gate.revoked, path),
        "vdsnc-revoked": lambda: _one_code(gate.revoked, "{", path),
        "forged-beside-genuine": lambda: _whole_page(
            gate.genuine.model_copy(update={"vdsnc": _forged(gate.genuine.vdsnc or "")}), path
        ),
        "two-people": lambda: _whole_page(
            gate.genuine.model_copy(update={"vdsnc": gate.other_vdsnc}), path
        ),
        "not-a-certificate": lambda: _url_code(path),
    }
    with camera(playwright, videos[case]()) as browser:
        page = open_page(browser, gate, viewport, lang)
        seen = scan(page)
        assert (seen["verdict"], seen["headline"]) == ("invalid", headline), seen["text"]
        assert words in seen["text"]
        # NOT VALID says nothing about anyone: no holder data in the verdict.
        assert page.locator("#results .sheet > dl.holder").count() == 0
        assert "SHIKEN" not in page.inner_text("#results .sheet > p.verdict")
        if viewport == PHONE:
            fits_a_phone(page)


def test_a_device_without_a_camera_says_so(gate: Gate, playwright: Any) -> None:
    browser = playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox", "--disable-gpu"]
    )
    try:
        page = open_page(browser, gate, PHONE, "en")  # no fake device: no camera at all
        page.click("#camera-start")
        page.wait_for_selector("#camera-status.problem", timeout=PATIENCE_MS)
        assert "No camera was found on this device" in page.inner_text("#camera-status")
    finally:
        browser.close()
