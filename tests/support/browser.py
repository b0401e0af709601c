"""Debian's Chromium through Playwright, and axe-core scans, for the browser tests."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
# axe-core impacts a test fails on.
SERIOUS = ("serious", "critical")
HEADLESS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync")


@contextlib.contextmanager
def chromium(args: Sequence[str] = HEADLESS) -> Iterator[Any]:
    """One Chromium for a module's tests (a browser per test costs seconds)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=list(args))
        try:
            yield launched
        finally:
            launched.close()


def axe_script() -> str:
    """axe-core as bundled with axe-playwright-python (nothing is downloaded at test time)."""
    import axe_playwright_python

    return (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text()


def serious_violations(page: Any, axe: str) -> list[str]:
    """The ids of serious and critical axe-core violations on the page as it is now."""
    page.evaluate(axe)
    result = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".map(v => ({id: v.id, impact: v.impact}))"
    )
    return [v["id"] for v in result if v["impact"] in SERIOUS]
