"""The recorded prompts (kiosk/prompts.py): texts from the catalogues, numbers composed from
recorded pieces, a recording made for another text is refused, and a real espeak-ng render."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from kiosk import prompts
from vaxcert import reasons

PIECES = {
    ("ja", 1230): ["1000", "200", "30"],
    ("zh", 1050): ["1000", "0", "50"],
    ("ko", 20): ["20"],
    ("en", 15): ["15"],
    ("en", 2990): ["2000", "900", "90"],
    ("en", 12010): ["12", "1000x", "10"],
    ("zh", 10010): ["10000", "0", "10"],
}


@pytest.mark.parametrize(("lang", "value"), sorted(PIECES))
def test_numbers_are_composed_from_recorded_pieces(lang: prompts.Language, value: int) -> None:
    parts = prompts.number_parts(value, lang)
    assert parts == PIECES[(lang, value)]
    assert set(parts) <= set(prompts.recorded_numbers(lang))


@pytest.mark.parametrize("lang", reasons.LANGUAGES)
def test_every_amount_a_kiosk_can_show_is_composable(lang: prompts.Language) -> None:
    recorded = set(prompts.recorded_numbers(lang))
    for value in range(1, prompts.LARGEST_NUMBER + 1, 7):
        assert set(prompts.number_parts(value, lang)) <= recorded
    with pytest.raises(ValueError):
        prompts.number_parts(prompts.LARGEST_NUMBER + 1, lang)


def test_a_prompt_says_the_catalogue_text_of_its_language() -> None:
    change = next(p for p in prompts.SCREEN_PROMPTS if p.id == "change")
    ko = prompts.spoken_parts(change, "ko", prompts.translations("ko"))
    assert ko == ["거스름돈도 가져가 주십시오", prompts.NUMBER, "엔"]
    refusal = prompts.Prompt("reason-pin_locked", ("reason:pin_locked", "next:pin_locked"))
    zh = prompts.spoken_parts(refusal, "zh", prompts.translations("zh"))
    locked = reasons.get("pin_locked")
    assert zh == [locked.zh, locked.next_zh]


def test_a_placeholder_is_where_the_number_is_said() -> None:
    class Catalogue(prompts.gettext.NullTranslations):
        def gettext(self, message: str) -> str:
            return "%(amount)s円を返却しました。お取りください。"

    prompt = prompts.Prompt("money-returned", ("%(amount)s yen has been returned.",))
    spoken = prompts.spoken_parts(prompt, "ja", Catalogue())
    assert spoken == [prompts.NUMBER, "円を返却しました。お取りください。"]


def _copy_of_the_build(tmp_path: Path) -> Path:
    built = prompts.AUDIO_DIR
    if not (built / prompts.MANIFEST_NAME).is_file():
        pytest.fail("run `make prompts` (vaxcert kiosk-prompts build) first")
    copy = tmp_path / "audio"
    copy.mkdir()
    shutil.copy(built / prompts.MANIFEST_NAME, copy)
    for lang in reasons.LANGUAGES:
        (copy / lang).symlink_to(built / lang)
    return copy


def test_a_recording_made_for_another_text_is_stale_and_never_played(tmp_path: Path) -> None:
    audio = _copy_of_the_build(tmp_path)
    assert prompts.check(audio).ok
    manifest = json.loads((audio / prompts.MANIFEST_NAME).read_text())
    # As if the Korean PIN instruction had been recorded before its text was last edited.
    manifest["recordings"]["ko/pin"]["sha256"] = prompts.text_digest("ko", "옛 문장")
    (audio / prompts.MANIFEST_NAME).write_text(json.dumps(manifest))
    result = prompts.check(audio)
    assert result.stale == ("ko/pin.ogg",) and not result.missing
    playlists = prompts.Playlists(audio)
    page = playlists.for_page("ko", [300])
    assert "pin" in page["unplayable"] and "pin" not in page["prompts"]  # type: ignore[operator]
    assert "pin" in playlists.for_page("ja", [300])["prompts"]  # type: ignore[operator]


def test_a_page_gets_the_reasons_it_shows_as_refusal_and_as_notice() -> None:
    page = prompts.Playlists().for_page("zh", [], ["pin_incorrect", None])
    files = ["zh/reason-pin_incorrect.0.ogg", "zh/reason-pin_incorrect.1.ogg"]
    assert page["prompts"]["notice-pin_incorrect"] == files  # type: ignore[index]
    assert page["prompts"]["reason-pin_incorrect"] == files  # type: ignore[index]
    assert "reason-pin_locked" not in page["prompts"]  # type: ignore[operator]


def test_a_missing_recording_is_flagged(tmp_path: Path) -> None:
    audio = _copy_of_the_build(tmp_path)
    (audio / "zh").unlink()
    result = prompts.check(audio)
    assert result.missing and all(file.startswith("zh/") for file in result.missing)
    assert prompts.Playlists(audio).problems() > 0


def test_the_page_gets_the_numbers_of_its_amounts() -> None:
    page = prompts.Playlists().for_page("en", [1230, 0, 20])
    assert page["numbers"] == {
        "20": ["en/n-20.ogg"],
        "1230": ["en/n-1000.ogg", "en/n-200.ogg", "en/n-30.ogg"],
    }
    assert page["prompts"]["change"] == ["en/change.0.ogg", "#", "en/change.1.ogg"]  # type: ignore[index]


@pytest.mark.skipif(bool(prompts.missing_tools()), reason="espeak-ng, opus-tools, kakasi")
@pytest.mark.parametrize("lang", reasons.LANGUAGES)
def test_espeak_ng_renders_a_small_ogg_opus_file(lang: prompts.Language, tmp_path: Path) -> None:
    text = {"ja": "暗証番号", "en": "PIN", "zh": "密码", "ko": "비밀번호"}[lang]
    target = tmp_path / f"{lang}.ogg"
    prompts.render(prompts.Recording("test", lang, text), target)
    data = target.read_bytes()
    assert data[:4] == b"OggS" and b"OpusHead" in data[:64]
    assert 500 < len(data) < 20_000
    assert list(tmp_path.iterdir()) == [target]  # no temporary file left behind


def test_japanese_is_read_in_kana_and_chinese_in_pinyin() -> None:
    if prompts.missing_tools():
        pytest.skip("kakasi")
    assert prompts.reading("暗証番号", "ja") == "あんしょうばんごう"
    assert prompts.reading("密码", "zh") == "mi4 ma3"
