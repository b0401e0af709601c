"""What the page and `vaxcert verify` say about a result, in one place for both.

The strings are msgids of the verifier's catalogue (verifier/translations, Flask-Babel on the
page, :func:`translations` in the CLI), so both speak Japanese and English from one source.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from babel.support import NullTranslations, Translations

from verifier.models import Result, Verdict

if TYPE_CHECKING:
    from verifier.sheet import Sheet

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

# Under every verdict: when it was checked and how old the trust data was (docs/verifier.md).
CHECKED_AT = "Checked %(when)s."
# The page's script shows the reader's local time first, the UTC time after, in one sentence.
CHECKED_AT_LOCAL = "Checked %(local)s (%(utc)s)."
TRUST_AGE: dict[str, str] = {
    "none": "Trust data: never updated from the issuers.",
    "minutes": "Trust data updated %(count)d min ago (%(when)s).",
    "hours": "Trust data updated %(count)d h ago (%(when)s).",
    "days": "Trust data updated %(count)d days ago (%(when)s).",
}
TRUST_STALE = "Trust data out of date — revocation may be missed."
VALID_UNTIL = "Valid until %(date)s."
NO_EXPIRY = "The certificate states no expiry date."

MESSAGES = (
    *VERDICTS.values(),
    *REVOCATION.values(),
    NO_DOSE_NUMBERS,
    CHECKED_AT,
    CHECKED_AT_LOCAL,
    *TRUST_AGE.values(),
    TRUST_STALE,
    VALID_UNTIL,
    NO_EXPIRY,
)


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
    problem = revocation.problem.code if revocation.problem else None
    if case == "not_checked" and problem == "uvci_list_missing" and revocation.as_of:
        # The document signer was checked; the certificate itself could not be.
        stamp = {"when": when(revocation.as_of)}
        return [gettext(REVOCATION["signer:checked"]) % stamp, gettext(REVOCATION["signer:scope"])]
    if case not in ("checked", "not_offered"):
        case = "old" if revocation.as_of else "none"
    stamp = {"when": when(revocation.as_of) if revocation.as_of else "-"}
    lines = [gettext(REVOCATION[f"{revocation.scope}:{case}"]) % stamp]
    if revocation.scope == "signer":
        lines.append(gettext(REVOCATION["signer:scope"]))
    return lines


def trust_age_line(sheet: Sheet, gettext: Gettext) -> str:
    """How old the trust data used was (the oldest of the codes')."""
    age = sheet.trust_age_seconds
    if sheet.trust_updated_at is None or age is None:
        return gettext(TRUST_AGE["none"])
    stamp = when(sheet.trust_updated_at)
    if age < 3600:
        return gettext(TRUST_AGE["minutes"]) % {"count": max(0, int(age // 60)), "when": stamp}
    if age < 2 * 86400:
        return gettext(TRUST_AGE["hours"]) % {"count": int(age // 3600), "when": stamp}
    return gettext(TRUST_AGE["days"]) % {"count": int(age // 86400), "when": stamp}


def checked_at_local(sheet: Sheet, gettext: Gettext) -> str:
    """The time line with ``{local}`` left for the page's script (only it knows the reader's
    time zone); the server-rendered line (`CHECKED_AT`) stays where no script runs."""
    return gettext(CHECKED_AT_LOCAL) % {"local": "{local}", "utc": when(sheet.checked_at)}


def sheet_lines(sheet: Sheet, gettext: Gettext) -> list[str]:
    """Under the verdict: the time of the check and the trust data's age (every verdict)."""
    lines = [gettext(CHECKED_AT) % {"when": when(sheet.checked_at)}]
    if sheet.about_certificates:
        lines.append(trust_age_line(sheet, gettext))
    return lines
