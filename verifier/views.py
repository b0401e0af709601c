"""The verifier page: upload an image/PDF, paste text, or let the camera post frames (thin views).

Nothing received is stored; the only log line per certificate is its outcome code (C08).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from flask import Blueprint, current_app, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_babel import gettext as _gettext
from werkzeug.exceptions import RequestEntityTooLarge

from vaxcert import reasons
from vaxcert.errors import VaxcertError
from verifier import texts
from verifier.models import Result
from verifier.services import verify_all, verify_texts
from verifier.sheet import Sheet, judge
from verifier.trust import TrustStore

bp = Blueprint("verifier", __name__, static_folder="static", static_url_path="/static/verifier")

_FORMAT_NAMES = {"shc": "SMART Health Card", "vdsnc": "ICAO VDS-NC", "unknown": "-"}


@bp.app_context_processor
def _helpers() -> dict[str, Any]:
    def reason_text(code: str) -> str:
        reason = reasons.get(code)
        return f"{reason.ja} / {reason.en}"

    def format_name(fmt: str) -> str:
        return _FORMAT_NAMES.get(fmt, fmt)

    return {
        "reason_text": reason_text,
        "format_name": format_name,
        "verdict_text": _verdict_text,
        "revocation_lines": _revocation_lines,
        "no_dose_numbers": lambda: _translate(texts.NO_DOSE_NUMBERS),
        "sheet_lines": lambda sheet: texts.sheet_lines(sheet, _translate),
        "checked_at_local": lambda sheet: texts.checked_at_local(sheet, _translate),
        "sheet_verdict": lambda sheet: _translate(texts.VERDICTS[sheet.verdict]),
        "page": current_app.config["VERIFIER_PAGE"],
        "when": texts.when,
        "lang": _lang(),
    }


def _translate(message: str) -> str:
    return str(_gettext(message))


def _verdict_text(result: Result) -> str:
    return _translate(texts.VERDICTS[result.verdict])


def _revocation_lines(result: Result) -> list[str]:
    return texts.revocation_lines(result, _translate)


def _trust() -> TrustStore:
    store: TrustStore = current_app.extensions["vaxcert_trust"].for_verification()
    return store


def _skew() -> dt.timedelta:
    skew: dt.timedelta = current_app.extensions["vaxcert_clock_skew"]
    return skew


def _lang() -> str:
    return str(get_locale() or "ja")


def _public(result: Result) -> dict[str, Any]:
    """The JSON of a result; holder data only when the certificate is valid (a forged or broken
    one must not look like a statement about anyone)."""
    body = result.to_json()
    if not result.valid:
        for key in ("names", "birth_date", "doses", "certificate_id"):
            body[key] = [] if key in ("names", "doses") else None
        body["nationality"] = body["passport_number"] = None
    lang = _lang()
    problem = body["revocation"]["problem"] if body["revocation"] else None
    for finding in body["reasons"] + body["warnings"] + ([problem] if problem else []):
        finding["message"] = finding[lang]
    body["verdict_text"] = _verdict_text(result)
    body["revocation_text"] = _revocation_lines(result)
    return body


@bp.get("/")
def index() -> ResponseReturnValue:
    """The page with camera, upload and paste."""
    return render_template("index.html", results=None, sheet=None, error=None, lang=_lang())


def _sheet_json(sheet: Sheet) -> dict[str, Any]:
    """The one verdict for the input, in the page's language."""
    lang: reasons.Language = "en" if _lang() == "en" else "ja"
    headline = None
    if sheet.headline is not None:
        reason = sheet.headline.reason
        headline = {
            "code": sheet.headline.code,
            "message": reason.message(lang),
            "next_step": reason.next_step(lang),
        }
    return {
        "verdict": sheet.verdict,
        "verdict_text": _translate(texts.VERDICTS[sheet.verdict]) if sheet.verdict else None,
        "headline": headline,
        "checked_at": sheet.checked_at.isoformat(),
        "trust_updated_at": sheet.trust_updated_at.isoformat() if sheet.trust_updated_at else None,
        "trust_age_seconds": sheet.trust_age_seconds,
        "trust_stale": sheet.trust_stale,
        "lines": texts.sheet_lines(sheet, _translate),
    }


@bp.post("/")
def verify_form() -> ResponseReturnValue:
    """A form post: an uploaded file or pasted text; renders the results page."""
    try:
        upload = request.files.get("file")
        text = request.form.get("text", "")
    except RequestEntityTooLarge:
        return render_template("index.html", results=None, error="payload_too_large"), 413
    data: str | bytes
    if upload is not None and upload.filename:
        data = upload.read()
    elif text.strip():
        data = text
    else:
        return render_template("index.html", results=None, error="missing_field"), 400
    results = verify_all(data, _trust(), clock_skew=_skew(), source="upload")
    sheet = judge(results)
    status = 200 if sheet.valid else 422
    page = render_template("index.html", results=results, sheet=sheet, error=None, lang=_lang())
    return page, status


def _json_body() -> object:
    try:
        return json.loads(request.get_data(cache=False))
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser's stack
        raise VaxcertError("bad_request", "the body must be JSON") from None


@bp.post("/api/verify")
def verify_api() -> ResponseReturnValue:
    """JSON API: an image body (camera frames, ``?frame=1``), a multipart file, ``{"text": …}``
    or ``{"texts": […]}`` (codes the browser read from one sheet). One verdict for all of it
    (``sheet``). A frame without a QR code answers 200 with no results so scanning goes on."""
    frame = request.args.get("frame") == "1"
    data: str | bytes
    if request.mimetype.startswith("image/") or request.mimetype == "application/pdf":
        data = request.get_data(cache=False)
    elif request.mimetype == "application/json":
        body = _json_body()
        if not isinstance(body, dict) or not {"text", "texts"} & set(body):
            raise VaxcertError("missing_field", "text")
        if set(body) - {"text", "texts"}:
            raise VaxcertError("unknown_field", ",".join(sorted(set(body) - {"text", "texts"})))
        if "texts" in body:
            return _reply(verify_texts(_texts(body["texts"]), _trust(), clock_skew=_skew()))
        if not isinstance(body.get("text"), str):
            raise VaxcertError("missing_field", "text")
        data = body["text"]
    elif request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            raise VaxcertError("missing_field", "file")
        data = upload.read()
    else:
        raise VaxcertError("unsupported_media_type")
    if not data:
        raise VaxcertError("missing_field", "body")
    results = verify_all(
        data, _trust(), clock_skew=_skew(), source="camera" if frame else "upload", frame=frame
    )
    if frame and len(results) == 1 and results[0].codes == ["no_certificate_found"]:
        results = []
    return _reply(results)


MAX_TEXTS = 8  # QR codes read together from one sheet


def _texts(value: object) -> list[str]:
    if (
        not isinstance(value, list)
        or not 1 <= len(value) <= MAX_TEXTS
        or not all(isinstance(text, str) and text for text in value)
    ):
        raise VaxcertError("invalid_field", f"texts: 1 to {MAX_TEXTS} non-empty strings")
    return list(dict.fromkeys(value))  # the same code seen twice is one code


def _reply(results: list[Result]) -> ResponseReturnValue:
    sheet = judge(results)
    reply: dict[str, Any] = {
        "valid": sheet.valid,
        "verdict": sheet.verdict,
        "sheet": _sheet_json(sheet),
        "results": [_public(r) for r in results],
    }
    if request.args.get("html") == "1":
        reply["html"] = (
            render_template("_sheet.html", sheet=sheet, results=results, lang=_lang())
            if results
            else ""
        )
    return jsonify(reply)
