"""The verifier's Japanese catalogue is complete (page templates and the verdict and revocation
texts the page and `vaxcert verify` share) and its compiled form is current."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

from babel.messages.pofile import read_po

TRANSLATIONS = Path(__file__).resolve().parents[2] / "verifier" / "translations"
TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "verifier"


def _catalog() -> object:
    with (TRANSLATIONS / "ja" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale="ja")


def test_the_compiled_catalogue_matches_the_po_file() -> None:
    with (TRANSLATIONS / "ja" / "LC_MESSAGES" / "messages.mo").open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    for message in _catalog():  # type: ignore[attr-defined]
        if message.id:
            assert compiled.gettext(message.id) == message.string, (
                "stale messages.mo: run .venv/bin/pybabel compile -d verifier/translations"
            )


def test_every_template_string_has_a_japanese_translation() -> None:
    catalog = _catalog()
    used = set()
    for template in TEMPLATES.glob("*.html"):
        used |= set(re.findall(r"""_\((?:"([^"]+)"|'([^']+)')\)""", template.read_text()))
    strings = {a or b for a, b in used}
    assert strings
    for text in strings:
        message = catalog.get(text)  # type: ignore[attr-defined]
        assert message is not None and message.string, f"no Japanese for {text!r}"


def test_every_verdict_and_revocation_text_has_a_japanese_translation() -> None:
    from verifier import texts

    catalog = _catalog()
    for text in texts.MESSAGES:
        message = catalog.get(text)  # type: ignore[attr-defined]
        assert message is not None and message.string, f"no Japanese for {text!r}"
        if "%(when)s" in text:
            assert "%(when)s" in message.string, f"the Japanese of {text!r} drops the time"
    ja = texts.translations("ja").gettext
    assert ja(texts.VERDICTS["valid_revocation_unchecked"]) == "有効（失効は未確認）"
