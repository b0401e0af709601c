"""JSON-lines logging with a request id and a PII scrubber that every record passes through.

C08, C22: known personal fields are dropped from structured log data and any 12-digit number with a
valid My Number check digit is masked in messages and exception text, whoever logged it.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import secrets
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from vaxcert import mynumber

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "vaxcert_request_id", default=None
)

# Structured fields that may hold personal data; dropped from every record (C08).
PERSONAL_FIELDS = frozenset(
    {
        "my_number",
        "mynumber",
        "individual_number",
        "name",
        "name_kanji",
        "name_kana",
        "name_roman",
        "family_name",
        "given_name",
        "birth_date",
        "birthdate",
        "dob",
        "address",
        "sex",
        "passport",
        "passport_number",
        "pin",
        "card_files",
        "ef0001",
        "ef0002",
        "ef0003",
        "holder",
        "certificate",
        "shc",
        "vdsnc",
        "jws",
        "pdf",
    }
)
_MASK = "[MASKED]"
_TWELVE_DIGITS = re.compile(r"(?<!\d)\d{12}(?!\d)")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_ANY_TWELVE_DIGITS = re.compile(r"\d{12}")

# Attributes every LogRecord has; anything else came from `extra=`.
_STANDARD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}


def mask_my_numbers(text: str) -> str:
    """Replace every 12-digit run with a valid My Number check digit by a mask (C08, C22)."""
    return _TWELVE_DIGITS.sub(
        lambda m: _MASK if mynumber.is_valid(m.group(0)) else m.group(0), text
    )


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return mask_my_numbers(value)
    if isinstance(value, dict):
        return {
            k: (_MASK if str(k).lower() in PERSONAL_FIELDS else _scrub(v)) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return _scrub(str(value)) if len(str(value)) == 12 else value
    return value


class PiiScrubber(logging.Filter):
    """Drops personal fields and masks My Numbers in a record before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not break logging
            message = str(record.msg)
        record.msg = mask_my_numbers(message)
        record.args = None
        for attr in list(record.__dict__):
            if attr in _STANDARD_ATTRS:
                continue
            if attr.lower() in PERSONAL_FIELDS:
                delattr(record, attr)
            else:
                setattr(record, attr, _scrub(record.__dict__[attr]))
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = _exception_summary(record.exc_info[1])
            record.exc_info = None
        return True


def _exception_summary(exc: BaseException) -> str:
    """The exception's type and where it was raised, never its text (C08).

    Exception messages quote their input: pydantic's name the rejected value, a KeyError its key.
    Masking My Numbers is not enough (a name or a birth date is personal too), so the text goes
    and the code location, which is no data, stays for operators.
    """
    frames = traceback.extract_tb(exc.__traceback__) if exc.__traceback__ else []
    where = ""
    if frames:
        last = frames[-1]
        where = f" at {Path(last.filename).name}:{last.lineno} in {last.name}"
    return f"{type(exc).__name__}{where}"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id and extra fields."""

    def __init__(self, service: str = "") -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if self.service:
            entry["service"] = self.service
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        for attr, value in record.__dict__.items():
            if attr not in _STANDARD_ATTRS and attr not in entry and attr != "request_id":
                entry[attr] = value
        if record.exc_text:
            entry["error"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False, default=str)


def make_handler(stream: Any = None, service: str = "") -> logging.Handler:
    """A stream handler with the scrubber and the JSON formatter."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.addFilter(PiiScrubber())
    handler.setFormatter(JsonFormatter(service))
    return handler


def configure(level: str = "INFO", service: str = "", stream: Any = None) -> None:
    """Route every logger (root, werkzeug, gunicorn) through one scrubbed JSON handler."""
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(make_handler(stream, service))
    root.setLevel(level)
    for name in ("werkzeug", "gunicorn.error", "gunicorn.access"):
        child = logging.getLogger(name)
        child.handlers.clear()
        child.propagate = True


def new_request_id(incoming: str | None = None) -> str:
    """Reuse a well-formed incoming ``X-Request-ID``; otherwise make a fresh one.

    Request ids go into logs and VRS operation and provision records, so an id that could carry
    a My Number (any run of 12 digits) is replaced (C08, C15).
    """
    if incoming and _REQUEST_ID.match(incoming) and not _ANY_TWELVE_DIGITS.search(incoming):
        return incoming
    # base64url, not hex: a hex id has a run of 12 digits about once in 14, which the next hop
    # would then replace, breaking the id's trail across services.
    return secrets.token_urlsafe(24)
