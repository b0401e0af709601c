"""The kiosk's Japanese catalogue is complete and its compiled form is current."""

from __future__ import annotations

import gettext
import re
from pathlib import Path
from typing import Any

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "kiosk" / "translations"
# _("text") and _("text with %(placeholders)s", placeholders=...).
_CALL = re.compile(r"""_\((?:"([^"]+)"|'([^']+)')[,)]""")


def _catalog() -> Any:
    with (TRANSLATIONS / "ja" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale="ja")


def test_the_compiled_catalogue_matches_the_po_file() -> None:
    with (TRANSLATIONS / "ja" / "LC_MESSAGES" / "messages.mo").open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    for message in _catalog():
        if message.id:
            assert compiled.gettext(message.id) == message.string, (
                "stale messages.mo: run .venv/bin/pybabel compile -d kiosk/translations"
            )


def test_every_screen_string_has_a_japanese_translation() -> None:
    catalog = _catalog()
    sources = [*(ROOT / "templates" / "kiosk").glob("*.html"), ROOT / "kiosk" / "views.py"]
    strings = {a or b for path in sources for a, b in _CALL.findall(path.read_text())}
    strings.discard("")
    assert len(strings) > 50
    for text in strings:
        message = catalog.get(text)
        assert message is not None and message.string, f"no Japanese for {text!r}"
