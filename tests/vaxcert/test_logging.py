"""C08/C22: every log line passes the PII scrubber; the canary resident never appears."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from vaxcert import logging as vlogging
from vaxcert.residents import CANARY


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    vlogging.configure("DEBUG", "test", stream)
    yield stream
    logging.getLogger().handlers.clear()


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_c08_canary_my_number_is_masked_in_messages(captured: io.StringIO) -> None:
    logging.getLogger("any.module").info("looked up %s for a resident", CANARY.my_number)
    logging.getLogger("other").warning(f"raw {CANARY.my_number} in an f-string")
    text = captured.getvalue()
    assert CANARY.my_number not in text
    assert text.count("[MASKED]") == 2


def test_c08_full_width_my_number_is_masked(captured: io.StringIO) -> None:
    full_width = CANARY.my_number.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    logging.getLogger("x").info("number %s", full_width)
    assert full_width not in captured.getvalue()


def test_c08_numbers_without_a_valid_check_digit_stay(captured: io.StringIO) -> None:
    logging.getLogger("x").info("order 123456789012 and long 1234567890123")
    line = _lines(captured)[0]["msg"]
    assert line == "order 123456789012 and long 1234567890123"


def test_c08_personal_fields_are_dropped(captured: io.StringIO) -> None:
    logging.getLogger("x").info(
        "issued",
        extra={
            "name_kanji": CANARY.name_kanji,
            "birth_date": "1980-02-17",
            "municipality": "462012",
            "details": {"my_number": CANARY.my_number, "kind": "domestic"},
        },
    )
    entry = _lines(captured)[0]
    text = captured.getvalue()
    for value in CANARY.canary_values:
        assert value not in text
    assert "name_kanji" not in entry and "birth_date" not in entry
    assert entry["municipality"] == "462012"
    assert entry["details"] == {"my_number": "[MASKED]", "kind": "domestic"}


def _fail_with(text: str) -> None:
    raise ValueError(text)


def test_c08_exception_text_and_trace_are_dropped(captured: io.StringIO) -> None:
    # Exception messages quote their input (pydantic names the rejected value): a name or a
    # birth date is not a My Number and would pass a masker, so no exception text is logged.
    try:
        _fail_with(f"no record for {CANARY.my_number} {CANARY.name_kanji} {CANARY.birth_date}")
    except ValueError:
        logging.getLogger("x").exception("lookup failed")
    entry = _lines(captured)[0]
    for value in CANARY.canary_values:
        assert value not in captured.getvalue()
    assert entry["error"].startswith("ValueError at test_logging.py:")
    assert entry["error"].endswith(" in _fail_with")
    assert "Traceback" not in captured.getvalue()


def test_request_id_is_added_from_context(captured: io.StringIO) -> None:
    token = vlogging.request_id_var.set("req-12345678")
    try:
        logging.getLogger("x").info("hello")
    finally:
        vlogging.request_id_var.reset(token)
    assert _lines(captured)[0]["request_id"] == "req-12345678"


def test_incoming_request_id_is_reused_only_when_well_formed() -> None:
    assert vlogging.new_request_id("abcdef12-3456") == "abcdef12-3456"
    assert vlogging.new_request_id("bad id\nwith newline") != "bad id\nwith newline"
    assert len(vlogging.new_request_id(None)) == 32
    # Request ids are stored in VRS logs: none may carry a (My Number shaped) 12-digit run.
    assert vlogging.new_request_id(f"req-{CANARY.my_number}") != f"req-{CANARY.my_number}"
    # Our own ids pass the next hop's check, so one id follows a request across services.
    fresh = [vlogging.new_request_id() for _ in range(2000)]
    assert all(vlogging.new_request_id(rid) == rid for rid in fresh)
