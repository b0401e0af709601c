"""What the page and `vaxcert verify` say about a result, in one place for both.

The strings are msgids of the verifier's catalogue (verifier/translations, Flask-Babel on the
page, :func:`translations` in the CLI), so both speak Japanese and English from one source.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import cache
from pathlib import Path

from babel.support import NullTranslations, Translations

from verifier.models import Result, Verdict

Gettext = Callable[[str], str]
TRANSLATIONS = Path(__file__).resolve().parent / "translations"


VERDICTS: dict[Verdict, str] = {
    "valid": "VALID",
    # Sound, but nobody can say it was not revoked: never shown as a plain "VALID".
    "valid_revocation_unchecked": "VALID — revocation not checked",
    "invalid": "NOT VALID",
}

# What was and was not checked about revocation, by scope and case.
REVOCATION: dict[str, str] = {
    "certificate:checked": "Not revoked: checked against the issuer's revocation list of %(when)s.",
    "certificate:not_offered": (
        "The issuer publishes no revocation list for this certificate (its keys as of %(when)s)."
    ),
    "certificate:old": (
        "Revocation was not checked: this verifier's data from the issuer is from %(when)s."
    ),
    "certificate:none": "Revocation was not checked: this verifier has no data from the issuer.",
    "signer:checked": (
        "Its document signer is not revoked (checked against the CSCA's revocation list of "
        "%(when)s)."
    ),
    "signer:old": (
        "Revocation of its document signer was not checked: the CSCA's revocation list held is "
        "from %(when)s."
    ),
    "signer:none": (
        "Revocation of its document signer was not checked: no revocation list of the CSCA."
    ),
    # ICAO's scheme revokes document signers only; a person must not read "not revoked" as a
    # statement about this one document.
    "signer:scope": (
        "ICAO VDS-NC cannot revoke a single certificate: whether this one was withdrawn cannot "
        "be checked."
    ),
    "unknown": "Revocation was not checked.",
}

# SHC cards carry no dose numbers (the QR profile has none): the verifier shows none rather than
# count rows, which would call doses 3, 4, 5 of a municipality 1, 2, 3.
NO_DOSE_NUMBERS = "The certificate states no dose numbers; the doses are listed by date."

MESSAGES = (*VERDICTS.values(), *REVOCATION.values(), NO_DOSE_NUMBERS)


@cache
def translations(lang: str) -> NullTranslations:
    """The catalogue for ``lang`` (the msgids are English)."""
    if lang == "en":
        return NullTranslations()
    return Translations.load(str(TRANSLATIONS), [lang], domain="messages")


def when(moment: dt.datetime) -> str:
    """A time as people read it in both languages: ``2026-12-01 16:49 UTC``."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def revocation_lines(result: Result, gettext: Gettext) -> list[str]:
    """What was and was not checked about revocation, for a valid result (an invalid one says
    why in its reasons). VDS-NC always says that a single document cannot be revoked."""
    if not result.valid:
        return []
    revocation = result.revocation
    if revocation is None:
        return [gettext(REVOCATION["unknown"])]
    case: str = revocation.status
    if case not in ("checked", "not_offered"):
        case = "old" if revocation.as_of else "none"
    stamp = {"when": when(revocation.as_of) if revocation.as_of else "-"}
    lines = [gettext(REVOCATION[f"{revocation.scope}:{case}"]) % stamp]
    if revocation.scope == "signer":
        lines.append(gettext(REVOCATION["signer:scope"]))
    return lines
