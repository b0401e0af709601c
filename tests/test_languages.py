"""Every message a resident can meet has every language (issue 13): the kiosk catalogues (see
tests/kiosk/test_kiosk_translations.py), every reason code, the certificate's labels, and every
spoken prompt has a current recording in every language."""

from __future__ import annotations

import pytest

from kiosk import prompts
from vaxcert import reasons
from vaxcert.certificate import pdf


@pytest.mark.parametrize("code", sorted(reasons.CATALOGUE))
def test_every_reason_has_every_language(code: str) -> None:
    reason = reasons.CATALOGUE[code]
    for lang in reasons.LANGUAGES:
        assert getattr(reason, lang), f"{code}: no {lang} message"
        # A next step in one language is a next step in all of them.
        assert bool(getattr(reason, f"next_{lang}")) == bool(reason.next_en), f"{code}: {lang}"


def test_translations_are_not_the_english_text() -> None:
    untranslated = [
        code
        for code, reason in reasons.CATALOGUE.items()
        if reason.en in (reason.zh, reason.ko) or reason.ja in (reason.zh, reason.ko)
    ]
    assert not untranslated


def test_a_missing_translation_falls_back_to_english() -> None:
    bare = reasons.Reason("x_test", 400, "日本語", "English", "次へ", "Next")
    assert bare.message("zh") == "English" and bare.next_step("ko") == "Next"
    assert reasons.get("pin_locked").message("ko") == "카드 비밀번호가 잠겼습니다."


def test_every_certificate_label_has_zh_and_ko() -> None:
    labels = [
        pdf.TITLE_JA,
        *(ja for ja, _ in pdf.KIND_LABELS.values()),
        *(
            label[0]
            for label in (
                pdf.CERTIFICATE_ID,
                pdf.ISSUE_DATE,
                pdf.HOLDER_HEADING,
                pdf.NAME,
                pdf.NAME_ROMAN,
                pdf.BIRTH_DATE,
                pdf.NATIONALITY,
                pdf.PASSPORT,
                pdf.DOSES_HEADING,
                pdf.SHC_CAPTION,
                pdf.VDSNC_CAPTION,
                pdf.ISSUER,
                pdf.MUNICIPALITY_CODE,
            )
        ),
        *(column[0] for column in pdf.DOSE_COLUMNS),
    ]
    for label in labels:
        zh, ko = pdf.LABELS_ZH_KO[label]
        assert zh and ko, label


def test_every_spoken_prompt_has_a_current_recording_in_every_language() -> None:
    """Fails when a text changed after its recording (stale) or was never recorded: the
    recordings are built by `make prompts` (vaxcert kiosk-prompts build), never by hand."""
    result = prompts.check()
    assert not result.missing, f"run `make prompts`; missing: {result.missing[:10]}"
    assert not result.stale, f"run `make prompts`; recorded for another text: {result.stale[:10]}"
    langs = {recording.lang for recording in prompts.recordings()}
    assert langs == set(reasons.LANGUAGES)
