"""The camera path in a real browser: headless Chromium's fake camera plays a video of our two QR
codes, the page posts frames to the server, and the results appear."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from tests.support.servers import serving
from tests.verifier import issuance
from vaxcert.config import load_settings
from verifier import TrustStore
from verifier.app import create_app

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="chromium is in SYSTEM_PACKAGES")


def _y4m(frame: Image.Image, path: Path, frames: int = 3) -> None:
    """A YUV4MPEG2 (4:2:0) video of a grey-scale still, as Chromium's fake camera reads it."""
    gray = frame.convert("L")
    width, height = gray.size
    chroma = bytes([128]) * ((width // 2) * (height // 2) * 2)
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F5:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            out.write(b"FRAME\n" + gray.tobytes() + chroma)


@pytest.fixture
def server(dev_store: TrustStore, dev_pki: Path) -> Iterator[str]:
    settings = load_settings(environment="test", pki_dir=dev_pki, issuer_url=issuance.ISSUER_URL)
    with serving(create_app(settings, trust=dev_store)) as live:
        yield live.url  # plain http: loopback is a secure context


def test_camera_frames_are_decoded_by_the_server_and_shown(
    server: str, dev_pki: Path, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    frame = Image.new("L", (1280, 720), 255)
    frame.paste(issuance.qr_image(issuance.issue_shc(dev_pki), scale=5), (20, 60))
    frame.paste(issuance.qr_image(issuance.issue_vdsnc(dev_pki), scale=4), (650, 60))
    video = tmp_path / "camera.y4m"
    _y4m(frame, video)
    with sync_playwright() as playwright:
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
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-video-capture={video}",
            ],
        )
        try:
            page = browser.new_page()
            frames: list[str] = []
            page.on(
                "request",
                lambda request: (
                    frames.append(request.url) if "/api/verify" in request.url else None
                ),
            )
            page.goto(server + "/?lang=en")
            page.click("#camera-start")
            page.wait_for_selector("article.result", timeout=20_000)
            verdicts = page.locator("article.result").evaluate_all(
                "nodes => nodes.map(n => n.className)"
            )
            # The dev store's SHC key was never fetched from the signer: valid, but revocation
            # not checked (amber); the VDS-NC's document signer is checked against a fresh CRL.
            assert sorted(verdicts) == ["result unchecked", "result valid"]
            assert "VALID — revocation not checked" in page.inner_text("#results")
            assert "YAMADA HANAKO" in page.inner_text("#results")
            assert page.is_hidden("#camera-video")  # the camera stops after a result
            assert frames and all("frame=1" in url for url in frames)
            assert page.evaluate("document.cookie") == ""
        finally:
            browser.close()
