"""The numpy QR encoder (vaxcert/certificate/qrmatrix.py) against segno, the signer's reference.

segno picks the version, lays out the symbol and chooses the mask by the ISO 18004 penalty; our
encoder must produce the very same modules. Exhaustive where cheap (every version, both levels,
all 8 masks' format bits), property-based where segno is slow (automatic mask selection).
"""

from __future__ import annotations

import random
import string

import numpy as np
import pytest
import segno
import segno.encoder
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vaxcert.certificate import qrmatrix
from vaxcert.errors import VaxcertError

_LEVELS = {"L": segno.consts.ERROR_LEVEL_L, "M": segno.consts.ERROR_LEVEL_M}


def _segno_shc(digits: str, mask: int | None = None) -> segno.QRCode:
    segments = [("shc:/", segno.consts.MODE_BYTE), (digits, segno.consts.MODE_NUMERIC)]
    return segno.make(segments, error="l", boost_error=False, micro=False, mask=mask)


def _segno_byte(text: str, error: str = "m", mask: int | None = None) -> segno.QRCode:
    return segno.make(
        text, mode="byte", error=error, boost_error=False, micro=False, eci=False, mask=mask
    )


def _same(ours: qrmatrix.QrMatrix, reference: segno.QRCode) -> None:
    assert (ours.version, ours.mask) == (reference.version, reference.mask)
    assert np.array_equal(ours.modules, np.array(reference.matrix, dtype=bool))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=string.digits, min_size=1, max_size=1400))
def test_shc_symbol_equals_segno(digits: str) -> None:
    _same(qrmatrix.shc_matrix("shc:/" + digits), _segno_shc(digits))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=string.printable, min_size=1, max_size=900))
def test_vdsnc_symbol_equals_segno(text: str) -> None:
    _same(qrmatrix.vdsnc_matrix(text), _segno_byte(text))


def _capacity_bytes(version: int, level: str) -> int:
    """Bytes of one byte segment that exactly fill ``version`` at ``level``."""
    bits = 8 * qrmatrix._data_capacity(version, _LEVELS[level]) - 4
    return (bits - (8 if version < 10 else 16)) // 8


@pytest.mark.parametrize("level", ["L", "M"])
def test_every_version_lays_out_like_segno(level: str) -> None:
    # Data that exactly fills each version 1..40: placement, interleaving, the remainder bits,
    # format and version information must all agree (segno told to use our mask, which is fast).
    rng = random.Random(level)
    for version in range(1, 41):
        size = _capacity_bytes(version, level)
        data = "".join(rng.choice(string.ascii_letters) for _ in range(size))
        ours = qrmatrix.encode([("byte", data.encode())], level)  # type: ignore[arg-type]
        assert ours.version == version
        reference = _segno_byte(data, level.lower(), mask=ours.mask)
        assert reference.version == version
        assert np.array_equal(ours.modules, np.array(reference.matrix, dtype=bool)), version


def test_real_sized_certificate_symbols_equal_segno() -> None:
    # formats.md: a 7-dose 海外用 SHC is ≈ 984 JWS characters (v20-L), a VDS-NC up to ≈ 1,960
    # bytes (v37-M): the sizes the kiosk prints, with segno's automatic mask selection.
    rng = random.Random(7)
    digits = "".join(rng.choice(string.digits[:8]) for _ in range(2 * 984))
    _same(qrmatrix.shc_matrix("shc:/" + digits), _segno_shc(digits))
    document = "".join(rng.choice(string.ascii_letters + '{}":,') for _ in range(1960))
    ours = qrmatrix.vdsnc_matrix(document)
    assert ours.version == 37
    _same(ours, _segno_byte(document))


def _scores(matrix: np.ndarray) -> tuple[int, int, int, int]:
    rows = tuple(bytearray(row.tobytes()) for row in matrix.astype(np.uint8))
    n1, n2, n3, n4 = segno.encoder.mask_scores(rows, len(rows), len(rows))
    return int(n1), int(n2), int(n3), int(n4)


@pytest.mark.parametrize("seed", range(6))
def test_penalty_features_equal_segno(seed: int) -> None:
    # Random symbols of many sizes and densities, and ones made of finder-like 1011101 patterns
    # that overlap each other (offsets 4 and 6) with light space around them: the N3 corner
    # case where segno's left-to-right search skips a pattern inside a counted one.
    rng = np.random.default_rng(seed)
    candidates = []
    for size in (21, 25, 45, 97, 165):
        candidates.append(rng.random((size, size)) < rng.uniform(0.2, 0.8))
        tiles = np.array([0, 0, 0, 0, 1, 0, 1, 1, 1, 0, 1, 1, 1, 0, 1, 0, 1, 1, 1, 0, 1, 0, 0])
        line = np.resize(np.roll(tiles, rng.integers(0, 23)), size)
        pattern = np.tile(line, (size, 1))
        pattern[rng.random((size, size)) < 0.05] ^= 1
        candidates.append(pattern.astype(bool))
        candidates.append(pattern.T.copy())
    for matrix in candidates:
        stacked = matrix[None].astype(np.uint8)
        assert qrmatrix.penalty_parts(stacked)[0] == _scores(matrix)


def test_format_and_version_bits_are_the_standard_ones() -> None:
    for level in _LEVELS:
        for mask in range(8):
            fmt_index = mask + {"L": 0x08, "M": 0x00}[level]
            assert qrmatrix.format_bits(level, mask) == segno.consts.FORMAT_INFO[fmt_index]  # type: ignore[arg-type]
    assert qrmatrix.format_bits("M", 0) == 0b101010000010010  # ISO 18004 Table C.1
    assert qrmatrix.version_bits(7) == 0b000111110010010100  # ISO 18004 Table D.1
    for version in range(7, 41):
        assert qrmatrix.version_bits(version) == segno.consts.VERSION_INFO[version - 7]


def test_shc_above_version_22_is_refused() -> None:
    # 1,195 JWS characters (2,390 digits) fill version 22 at level L; one more does not fit.
    assert qrmatrix.shc_matrix("shc:/" + "12" * 1195).version == 22
    with pytest.raises(VaxcertError) as caught:
        qrmatrix.shc_matrix("shc:/" + "12" * 1196)
    assert caught.value.code == "shc_too_large"


def test_vdsnc_limits() -> None:
    assert qrmatrix.vdsnc_matrix("a" * 2331).version == 40  # formats.md §2: 2,331 bytes at M
    with pytest.raises(VaxcertError) as caught:
        qrmatrix.vdsnc_matrix("a" * 2332)
    assert caught.value.code == "vdsnc_too_large"
    with pytest.raises(ValueError, match="ASCII"):
        qrmatrix.vdsnc_matrix('{"n":"試験"}')


def test_shc_text_must_be_shc_digits() -> None:
    with pytest.raises(ValueError, match="shc:/"):
        qrmatrix.shc_matrix("SHC:/1234")
    with pytest.raises(ValueError, match="digits"):
        qrmatrix.shc_matrix("shc:/12 34")
