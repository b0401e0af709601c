"""Text on the wire that ends up printed or signed: printable characters only.

Control and format characters (Unicode category C: C0/C1 controls, bidi overrides, zero-width
joiners, the byte-order mark, surrogates, private-use and unassigned code points) never appear on
a My Number card's face; in a signed name they would make a verifier show something other than
what was signed (C04).
"""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator


def _printable(value: str) -> str:
    if any(unicodedata.category(ch)[0] == "C" for ch in value):
        raise ValueError("holds a control or format character")
    return value


PrintableText = Annotated[str, AfterValidator(_printable)]
