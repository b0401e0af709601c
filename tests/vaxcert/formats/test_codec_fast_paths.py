"""The codecs' fast paths give exactly what the reference implementations give."""

from __future__ import annotations

import json
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from vaxcert.formats import FormatError, shc, vdsnc

_ascii_keys = st.text(alphabet=st.characters(max_codepoint=127), max_size=8)
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.text(max_size=20)
)
_values = st.recursive(
    _scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(_ascii_keys, children, max_size=5)
    ),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(_values)
def test_fast_jcs_equals_rfc8785(value: Any) -> None:
    try:
        expected = bytes(rfc8785.dumps(value))
    except rfc8785.CanonicalizationError:
        with pytest.raises(FormatError):
            vdsnc.canonical(value)
        return
    assert vdsnc.canonical(value) == expected


def test_fast_jcs_on_escapes_and_non_ascii() -> None:
    value = {"b": '\x00\x1f\x7f"\\/\b\f\n\r\t\u2028é漢😀', "a": [True, None, -(2**53) + 1]}
    assert vdsnc.canonical(value) == bytes(rfc8785.dumps(value))


def test_values_outside_the_fast_path_still_canonicalise() -> None:
    # Non-ASCII keys sort by UTF-16 code units in JCS: rfc8785 handles them.
    value = {"\U0001f600": 1, "\ufb01": 2, "a": 3}
    assert vdsnc.canonical(value) == bytes(rfc8785.dumps(value))
    big = {"n": 2**60}
    with pytest.raises(FormatError):
        vdsnc.canonical(big)
    with pytest.raises(FormatError):
        vdsnc.canonical({"x": ["\ud800"]})
    with pytest.raises(FormatError):
        vdsnc.canonical({"nested": [{"seq": 1.0}]})


def test_vds_documents_canonicalise_alike(testdata: Any) -> None:
    for path in sorted((testdata / "vdsnc").rglob("*.json")):
        data = json.loads(path.read_text())["data"]
        assert vdsnc.canonical(data) == bytes(rfc8785.dumps(data))


def test_numeric_encoding_matches_the_definition() -> None:
    alphabet = "-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
    expected = shc.PREFIX + "".join(f"{ord(c) - 45:02d}" for c in alphabet)
    assert shc.jws_to_numeric(alphabet) == expected
    assert shc.numeric_to_jws(expected) == alphabet
    for bad in ("a b", "a{", "é", "a\x00", "+"):
        with pytest.raises(FormatError):
            shc.jws_to_numeric(bad)
