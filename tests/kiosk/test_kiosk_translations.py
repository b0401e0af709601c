"""The kiosk's catalogues (ja, zh, ko; English is the msgids) are complete and compiled."""

from __future__ import annotations

import gettext
import re
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po

from kiosk.views import terms_text
from vaxcert.config import CenterSettings
from vaxcert.contracts.kiosk_api import KioskConfig

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "kiosk" / "translations"
CATALOGUES = ("ja", "zh", "ko")
# _("text") and _("text with %(placeholders)s", placeholders=...).
_CALL = re.compile(r"""_\((?:"([^"]+)"|'([^']+)')[,)]""")


def _catalog(lang: str) -> Any:
    with (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale=lang)


def _screen_strings() -> set[str]:
    sources = [*(ROOT / "templates" / "kiosk").glob("*.html"), ROOT / "kiosk" / "views.py"]
    strings = {a or b for path in sources for a, b in _CALL.findall(path.read_text())}
    strings.discard("")
    return strings


@pytest.mark.parametrize("lang", CATALOGUES)
def test_the_compiled_catalogue_matches_the_po_file(lang: str) -> None:
    with (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.mo").open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    for message in _catalog(lang):
        if message.id:
            assert compiled.gettext(message.id) == message.string, (
                "stale messages.mo: run .venv/bin/pybabel compile -d kiosk/translations"
            )


@pytest.mark.parametrize("lang", CATALOGUES)
def test_every_screen_string_has_a_translation(lang: str) -> None:
    catalog = _catalog(lang)
    strings = _screen_strings()
    assert len(strings) > 50
    missing = sorted(t for t in strings if not (catalog.get(t) and catalog.get(t).string))
    assert not missing, f"no {lang} for {missing}"


def test_chinese_and_korean_hold_every_japanese_message() -> None:
    ids = {lang: {m.id for m in _catalog(lang) if m.id} for lang in CATALOGUES}
    assert not {
        lang: sorted(ids["ja"] - ids[lang]) for lang in ("zh", "ko") if ids["ja"] - ids[lang]
    }


@pytest.mark.parametrize("lang", CATALOGUES)
def test_placeholders_survive_translation(lang: str) -> None:
    for message in _catalog(lang):
        if message.id and "%(" in message.id:
            wanted = sorted(re.findall(r"%\(\w+\)s", message.id))
            assert sorted(re.findall(r"%\(\w+\)s", message.string)) == wanted, message.id


def test_the_terms_are_shown_in_every_kiosk_language_or_else_in_english() -> None:
    center = CenterSettings()
    config = KioskConfig(
        kiosk_id="KIOSK-0001",
        store_name="store",
        municipalities=[],
        service_hours=center.service_hours,
        timezone=center.timezone,
        open_now=True,
        languages=list(center.languages),
        terms_version=center.terms_version,
        terms_ja=center.terms_ja,
        terms_en=center.terms_en,
        terms_zh=center.terms_zh,
        terms_ko=center.terms_ko,
        maintenance=False,
        max_copies=center.max_copies,
    )
    assert set(center.languages) == {"ja", "en", "zh", "ko"}
    assert "申請します" in terms_text(config, "ja")
    assert "applying" in terms_text(config, "en")
    assert "申请" in terms_text(config, "zh")
    assert "신청합니다" in terms_text(config, "ko")
    # A center that sends no Korean text (an older one, or a municipality without one).
    assert terms_text(config.model_copy(update={"terms_ko": ""}), "ko") == center.terms_en
