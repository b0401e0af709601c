"""Dates on the wire: ISO ``YYYY-MM-DD`` text only.

pydantic reads a date from a number, or from a string of digits, as a Unix time even in strict
mode; a wire that means a calendar day takes nothing but the calendar day (C04).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from pydantic import BeforeValidator

_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _calendar_day(value: Any) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str) and _ISO_DAY.fullmatch(value):
        return dt.date.fromisoformat(value)  # raises ValueError for 2021-02-30
    raise ValueError("a date is YYYY-MM-DD")


IsoDate = Annotated[dt.date, BeforeValidator(_calendar_day)]
