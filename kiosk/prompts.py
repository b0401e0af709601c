"""The kiosk's spoken prompts (C11, issue 13): recorded at build time from the same catalogue
the screens show, so that what is said can never drift from what is written.

Texts come from the kiosk's Flask-Babel catalogue (``kiosk/translations``, English msgids) and
from :mod:`vaxcert.reasons`; Debian's espeak-ng speaks them (no browser voice is needed: most
kiosk browsers have none) and opus-tools' ``opusenc`` stores each as a small Ogg Opus file in
``kiosk/static/audio/<lang>/`` (git-ignored, built by ``make``). ``manifest.json`` beside them
keys every recording by its part id and language with the SHA-256 of the exact text it says:
the kiosk plays only recordings whose hash matches the text it shows now and flags the others.

Amounts (change, money returned, the countdown's seconds) are composed from recorded numbers
(1-9, 10-90, 100-900, 1000-9000, 10000-90000 and, in English, 11-19; 零 in Chinese): fees and
coins are bounded, but every multiple of 10 up to the largest refund would be thousands of files.

espeak-ng reads no kanji and its Debian build knows few hanzi, so Japanese is read through
kakasi (kanji to hiragana) and Chinese through pypinyin (pinyin with tone numbers, voice
``cmn-latn-pinyin``); the hash is over the text shown, the reading is derived from it.
This module imports no Flask: the CLI builds and checks without an app.
"""

from __future__ import annotations

import gettext
import hashlib
import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from vaxcert import reasons
from vaxcert.reasons import LANGUAGES, Language

PACKAGE = Path(__file__).resolve().parent
TRANSLATIONS = PACKAGE / "translations"
AUDIO_DIR = PACKAGE / "static" / "audio"
MANIFEST_NAME = "manifest.json"
FORMAT_VERSION = 1
# A number in a prompt: the part where the recorded digits of the amount are played.
NUMBER: Final = "#"
LARGEST_NUMBER = 99_999
_PLACEHOLDER = re.compile(r"%\(\w+\)s")

# espeak-ng voice and speed per language (words per minute; slower than its default 175 for
# elderly residents).
VOICES: dict[Language, tuple[str, int]] = {
    "ja": ("ja", 135),
    "en": ("en-us", 140),
    "zh": ("cmn-latn-pinyin", 135),
    "ko": ("ko", 135),
}
# What the recordings need on the build machine (Makefile SYSTEM_PACKAGES / DEMO_PACKAGES).
TOOLS = {"espeak-ng": "espeak-ng", "opusenc": "opus-tools", "kakasi": "kakasi"}


@dataclass(frozen=True, slots=True)
class Prompt:
    """One spoken prompt: the ``data-prompt`` id on the screen and what it says, in order.

    Each part is a msgid of the kiosk catalogue, ``reason:CODE`` / ``next:CODE`` (the message /
    next step of a reason code) or :data:`NUMBER`. A msgid may hold one ``%(name)s``
    placeholder: where the number is said.
    """

    id: str
    parts: tuple[str, ...]


def _screen(prompt_id: str, *parts: str) -> Prompt:
    return Prompt(prompt_id, parts)


# The main instruction of every screen, the notices and the dialog (data-prompt ids).
SCREEN_PROMPTS: tuple[Prompt, ...] = (
    _screen("welcome", "Get your COVID-19 vaccination certificate"),
    _screen("card-left", "A card was left in the reader. Please take it."),
    _screen("terms", "Terms of use", "Your card is read only after you agree."),
    _screen("municipality", "Where was your residence record (住民票) when you were vaccinated?"),
    _screen("kind", "Which certificate do you need?"),
    _screen("copies", "How many copies?"),
    _screen("insert-card", "Place your My Number card on the card reader"),
    _screen("pin", "Enter your 4-digit PIN"),
    _screen(
        "pin-last-try",
        "One more wrong PIN locks your card.",
        "A locked card needs its PIN re-set (暗証番号の再設定) at your municipal office. "
        "If you are not sure of your PIN, press Cancel now.",
    ),
    _screen("reading", "Reading your card and checking your record..."),
    _screen("take-card", "Please take your My Number card."),
    _screen("confirm", "Please check the content of your certificate"),
    _screen("payment", "Please pay the fee"),
    _screen("payment-due", "Please insert %(amount)s yen."),
    _screen("payment-ready", "Enough has been inserted. Press “Pay and print”."),
    _screen("printing", "Printing your certificate..."),
    _screen("take-certificate", "Please take your certificate from the printer."),
    _screen("change", "Please also take your change: %(amount)s yen."),
    _screen(
        "money-returned", "%(amount)s yen has been returned. Please take it from the change tray."
    ),
    _screen(
        "timeout-warning",
        "For your privacy, this screen will return to the start in %(seconds)s seconds.",
    ),
    _screen("reason-unknown", "Something went wrong."),
)


def reason_prompts() -> tuple[Prompt, ...]:
    """Every reason code, as a refusal (``reason-CODE``) and as a notice (``notice-CODE``)."""
    codes = sorted(reasons.CATALOGUE)
    return tuple(Prompt(f"reason-{code}", (f"reason:{code}", f"next:{code}")) for code in codes)


def all_prompts() -> tuple[Prompt, ...]:
    return SCREEN_PROMPTS + reason_prompts()


# --- texts -------------------------------------------------------------------------------


def translations(lang: Language) -> gettext.NullTranslations:
    """The compiled kiosk catalogue of ``lang`` (English: the msgids themselves)."""
    if lang == "en":
        return gettext.NullTranslations()
    with (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.mo").open("rb") as handle:
        return gettext.GNUTranslations(handle)


def spoken_parts(prompt: Prompt, lang: Language, catalogue: gettext.NullTranslations) -> list[str]:
    """The prompt in ``lang`` as texts (one recording each) and :data:`NUMBER` slots, in order."""
    spoken: list[str] = []
    for part in prompt.parts:
        if part == NUMBER:
            spoken.append(NUMBER)
        elif part.startswith("reason:"):
            spoken.append(reasons.get(part.removeprefix("reason:")).message(lang))
        elif part.startswith("next:"):
            spoken.append(reasons.get(part.removeprefix("next:")).next_step(lang))
        else:
            before, *after = _PLACEHOLDER.split(catalogue.gettext(part), maxsplit=1)
            spoken.append(before)
            if after:
                spoken += [NUMBER, after[0]]
    # A placeholder at either end leaves an empty text: nothing to record.
    return [text.strip() for text in spoken if text.strip()]


def number_parts(value: int, lang: Language) -> list[str]:
    """The recorded numbers that say ``value`` (1…99,999) in ``lang``, e.g. 1230 → 1000 200 30."""
    if not 0 < value <= LARGEST_NUMBER:
        raise ValueError(f"no recorded composition for {value}")
    digits = [int(d) for d in str(value)]
    places = [10 ** (len(digits) - 1 - i) for i in range(len(digits))]
    parts: list[str] = []
    if lang == "en":
        thousands, rest = divmod(value, 1000)
        if thousands:
            parts += (
                [*number_parts(thousands, "en"), "1000x"]
                if thousands > 9
                else [str(thousands * 1000)]
            )
        hundreds, rest = divmod(rest, 100)
        if hundreds:
            parts.append(str(hundreds * 100))
        if 10 < rest < 20:
            parts.append(str(rest))
        elif rest:
            parts += [str(rest - rest % 10)] if rest >= 10 else []
            parts += [str(rest % 10)] if rest % 10 else []
        return parts
    gap = False
    for digit, place in zip(digits, places, strict=True):
        if digit:
            if gap and lang == "zh":
                parts.append("0")  # 1050: 一千零五十
            parts.append(str(digit * place))
            gap = False
        elif parts:
            gap = True
    return parts


def recorded_numbers(lang: Language) -> list[str]:
    """Every number recording ``lang`` needs for :func:`number_parts`."""
    numbers = [str(d * 10**p) for p in range(5) for d in range(1, 10)]
    if lang == "en":
        numbers = [n for n in numbers if int(n) < 10_000] + [str(n) for n in range(11, 20)]
        numbers.append("1000x")  # "thousand" after a spoken 10…99
    if lang == "zh":
        numbers.append("0")
    return numbers


def _number_text(number: str, lang: Language) -> str:
    if number == "1000x":
        return "thousand"
    if number == "0":
        return "零"
    return number


@dataclass(frozen=True, slots=True)
class Recording:
    """One audio file to have: its key (part id), language, the text it says and its hash."""

    key: str
    lang: Language
    text: str

    @property
    def digest(self) -> str:
        return text_digest(self.lang, self.text)

    @property
    def file(self) -> str:
        return f"{self.lang}/{self.key}.ogg"


def text_digest(lang: Language, text: str) -> str:
    """What a recording's manifest entry holds: the voice settings and the exact text."""
    voice, speed = VOICES[lang]
    return hashlib.sha256(f"{lang}\n{voice}\n{speed}\n{text}".encode()).hexdigest()


def part_key(prompt_id: str, index: int, count: int) -> str:
    return prompt_id if count == 1 else f"{prompt_id}.{index}"


def recordings(langs: Iterable[Language] = LANGUAGES) -> list[Recording]:
    """Every recording the kiosk needs: each prompt's texts and each number, per language."""
    wanted: list[Recording] = []
    for lang in langs:
        catalogue = translations(lang)
        for prompt in all_prompts():
            texts = [t for t in spoken_parts(prompt, lang, catalogue) if t != NUMBER]
            for index, text in enumerate(texts):
                wanted.append(Recording(part_key(prompt.id, index, len(texts)), lang, text))
        for number in recorded_numbers(lang):
            wanted.append(Recording(f"n-{number}", lang, _number_text(number, lang)))
    return wanted


# --- the manifest and what the kiosk plays -------------------------------------------------


def load_manifest(audio_dir: Path | None = None) -> dict[str, dict[str, str]]:
    """``{"lang/key": {"sha256", "text"}}`` of the built recordings; empty when none were."""
    audio_dir = audio_dir or AUDIO_DIR
    try:
        data = json.loads((audio_dir / MANIFEST_NAME).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
        return {}
    entries = data.get("recordings")
    return entries if isinstance(entries, dict) else {}


@dataclass(frozen=True, slots=True)
class Check:
    """Recordings that are missing (never built) or stale (built for another text)."""

    missing: tuple[str, ...]
    stale: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.missing and not self.stale


def check(audio_dir: Path | None = None) -> Check:
    """Compare the recordings the catalogue needs with those built (hash and file)."""
    audio_dir = audio_dir or AUDIO_DIR
    manifest = load_manifest(audio_dir)
    missing: list[str] = []
    stale: list[str] = []
    for recording in recordings():
        entry = manifest.get(f"{recording.lang}/{recording.key}")
        if entry is None or not (audio_dir / recording.file).is_file():
            missing.append(recording.file)
        elif entry.get("sha256") != recording.digest:
            stale.append(recording.file)
    return Check(tuple(missing), tuple(stale))


class Playlists:
    """What the page plays for each ``data-prompt`` id, in the session's language.

    Built once per process from the manifest: a part whose recording is missing or stale is
    left out and the prompt is listed in ``unplayable`` (kiosk.js marks it, health counts it).
    """

    def __init__(self, audio_dir: Path | None = None) -> None:
        audio_dir = audio_dir or AUDIO_DIR
        self.audio_dir = audio_dir
        manifest = load_manifest(audio_dir)
        self._good = {
            recording.file
            for recording in recordings()
            if manifest.get(f"{recording.lang}/{recording.key}", {}).get("sha256")
            == recording.digest
            and (audio_dir / recording.file).is_file()
        }
        self._parts: dict[tuple[Language, str], list[str]] = {}
        self.unplayable: dict[Language, set[str]] = {lang: set() for lang in LANGUAGES}
        for lang in LANGUAGES:
            catalogue = translations(lang)
            for prompt in all_prompts():
                spoken = spoken_parts(prompt, lang, catalogue)
                texts = [t for t in spoken if t != NUMBER]
                files: list[str] = []
                index = 0
                for text in spoken:
                    if text == NUMBER:
                        files.append(NUMBER)
                        continue
                    file = f"{lang}/{part_key(prompt.id, index, len(texts))}.ogg"
                    index += 1
                    if file not in self._good:
                        self.unplayable[lang].add(prompt.id)
                    files.append(file)
                self._parts[(lang, prompt.id)] = files

    def for_page(
        self, lang: Language, numbers: Iterable[int], codes: Iterable[str | None] = ()
    ) -> dict[str, object]:
        """The JSON the page embeds: prompt id → files (NUMBER marks the slot) for the screens
        and the reason ``codes`` the page shows (as ``reason-`` and ``notice-``), the numbers'
        files for the amounts it may say, and which of them cannot be played."""
        shown = {f"reason-{code}" for code in codes if code}
        prompts: dict[str, list[str]] = {}
        for (language, prompt_id), files in self._parts.items():
            if language != lang or prompt_id in self.unplayable[lang]:
                continue
            if prompt_id.startswith("reason-") and prompt_id != "reason-unknown":
                if prompt_id not in shown:
                    continue
                prompts["notice-" + prompt_id.removeprefix("reason-")] = files
            prompts[prompt_id] = files
        said: dict[str, list[str]] = {}
        for value in sorted(set(numbers)):
            if 0 < value <= LARGEST_NUMBER:
                files = [f"{lang}/n-{n}.ogg" for n in number_parts(value, lang)]
                if all(file in self._good for file in files):
                    said[str(value)] = files
        return {"prompts": prompts, "numbers": said, "unplayable": sorted(self.unplayable[lang])}

    def problems(self) -> int:
        return sum(len(ids) for ids in self.unplayable.values())


# --- building --------------------------------------------------------------------------------


def missing_tools() -> list[str]:
    """Debian packages the build needs that this machine lacks."""
    return sorted({package for tool, package in TOOLS.items() if shutil.which(tool) is None})


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} is missing: apt install {TOOLS[name]}")
    return path


def reading(text: str, lang: Language) -> str:
    """What espeak-ng is given for ``text``: kana for Japanese, tone-numbered pinyin for Chinese."""
    if lang == "ja":
        kana = subprocess.run(  # noqa: S603 - a fixed system binary, our own arguments
            [_tool("kakasi"), "-JH", "-i", "utf8", "-o", "utf8"],
            input=text.encode(),
            capture_output=True,
            check=True,
        ).stdout.decode()
        return kana.strip()
    if lang == "zh":
        from pypinyin import Style, lazy_pinyin

        return " ".join(lazy_pinyin(text, style=Style.TONE3, neutral_tone_with_five=True))
    return text


def render(recording: Recording, target: Path) -> None:
    """Speak ``recording`` into ``target`` (Ogg Opus, mono speech at 16 kbit/s)."""
    voice, speed = VOICES[recording.lang]
    spoken = subprocess.run(  # noqa: S603 - a fixed system binary, our own arguments
        [_tool("espeak-ng"), "-v", voice, "-s", str(speed), "--stdout"],
        input=reading(recording.text, recording.lang).encode(),
        capture_output=True,
        check=True,
    ).stdout
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, suffix=".part", delete=False) as part:
        temporary = Path(part.name)
    try:
        subprocess.run(  # noqa: S603 - a fixed system binary, our own arguments
            [_tool("opusenc"), "--quiet", "--speech", "--bitrate", "16", "-", str(temporary)],
            input=spoken,
            capture_output=True,
            check=True,
        )
        temporary.replace(target)
    finally:
        temporary.unlink(missing_ok=True)


def build(audio_dir: Path | None = None, *, jobs: int = 4) -> tuple[int, int]:
    """Render what is missing or stale, drop what no prompt needs, write the manifest.

    Returns (rendered, kept). Needs espeak-ng, opusenc and kakasi (:func:`missing_tools`).
    """
    audio_dir = audio_dir or AUDIO_DIR
    lacking = missing_tools()
    if lacking:
        raise RuntimeError(f"missing Debian packages for the prompts: {' '.join(lacking)}")
    manifest = load_manifest(audio_dir)
    wanted = recordings()
    todo = [
        r
        for r in wanted
        if manifest.get(f"{r.lang}/{r.key}", {}).get("sha256") != r.digest
        or not (audio_dir / r.file).is_file()
    ]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(lambda r: render(r, audio_dir / r.file), todo))
    needed = {r.file for r in wanted}
    for lang in LANGUAGES:
        for old in (audio_dir / lang).glob("*.ogg"):
            if f"{lang}/{old.name}" not in needed:
                old.unlink()
    entries = {f"{r.lang}/{r.key}": {"sha256": r.digest, "text": r.text} for r in wanted}
    document = {"version": FORMAT_VERSION, "recordings": dict(sorted(entries.items()))}
    (audio_dir / MANIFEST_NAME).write_text(json.dumps(document, ensure_ascii=False, indent=1))
    return len(todo), len(wanted) - len(todo)


def prompt_ids(prompts: Sequence[Prompt] | None = None) -> list[str]:
    return [prompt.id for prompt in (prompts or all_prompts())]
