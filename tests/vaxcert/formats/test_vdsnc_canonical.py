"""The fast path of vdsnc.canonical produces exactly RFC 8785 (JCS) bytes."""

from __future__ import annotations

from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from vaxcert.formats import FormatError, vdsnc

_KEYS = st.text(st.characters(min_codepoint=0, max_codepoint=127), max_size=8)
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(_JSON)
def test_canonical_equals_rfc8785(value: Any) -> None:
    assert vdsnc.canonical(value) == rfc8785.dumps(value)


def test_non_ascii_keys_and_huge_integers_take_the_reference_path() -> None:
    assert vdsnc.canonical({"é": 1, "z": 2, "a": 3}) == rfc8785.dumps({"é": 1, "z": 2, "a": 3})
    with pytest.raises(FormatError):
        vdsnc.canonical({"n": 2**60})
    with pytest.raises(FormatError):
        vdsnc.canonical({"n": [1.5]})
