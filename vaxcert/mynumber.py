"""The My Number (個人番号) check digit: makes synthetic numbers and finds real-looking ones."""

from __future__ import annotations

import unicodedata

_WEIGHTS = (6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2)


def check_digit(first_eleven: str) -> int:
    """The 12th digit for the given 11 digits (card.md §5: weights 6..2,7..2; remainder ≤ 1 ⇒ 0)."""
    digits = [unicodedata.digit(c) for c in first_eleven]
    if len(digits) != 11:
        raise ValueError("a My Number has 11 digits before its check digit")
    remainder = sum(d * w for d, w in zip(digits, _WEIGHTS, strict=True)) % 11
    return 0 if remainder <= 1 else 11 - remainder


def is_valid(candidate: str) -> bool:
    """True when ``candidate`` is 12 digits (ASCII or full-width) with a correct check digit."""
    if len(candidate) != 12 or not all(c.isdigit() for c in candidate):
        return False
    try:
        return check_digit(candidate[:11]) == unicodedata.digit(candidate[11])
    except ValueError:
        return False
