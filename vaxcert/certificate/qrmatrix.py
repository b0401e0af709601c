"""QR code matrices for the printed certificate, built with numpy (ISO/IEC 18004, model 2).

Why not ``segno.make`` directly: building the 海外用 codes with segno took ≈ 130 ms of a 188 ms page
(design.md §5), most of it pure-Python Reed-Solomon, module placement and the evaluation of the
eight data masks. This module does the same steps on arrays: the per-version layout (function
patterns, placement order, mask patterns) is computed once per process, the error correction runs
over all blocks at once and the ISO 18004 penalty (N1-N4) is scored for the eight masks together.
It follows segno's choices exactly (smallest version, no error boosting, the mask with the lowest
penalty, first on ties), so a matrix here equals ``segno.make(...).matrix`` module for module; the
tests prove it. segno remains the reference and supplies the standard's tables (block structure,
alignment pattern positions).

Only the two payloads of our certificates are needed: SHC (``shc:/`` as a byte segment, then the
digits as a numeric segment, level L, version ≤ 22; formats.md §1) and VDS-NC (one byte segment,
no ECI, level M; formats.md §2).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Literal, NamedTuple, cast

import numpy as np
import numpy.typing as npt
import segno.consts

from vaxcert.errors import VaxcertError
from vaxcert.formats import shc

ErrorLevel = Literal["L", "M", "Q", "H"]
Mode = Literal["byte", "numeric"]
Modules = npt.NDArray[np.bool_]
_U8 = npt.NDArray[np.uint8]

SHC_MAX_VERSION = 22  # formats.md §1: a single SHC QR is at most version 22
MAX_VERSION = 40

# Error level → (segno's table key, the two format-information bits of ISO 18004 Table 12).
_LEVELS: dict[str, tuple[int, int]] = {
    "L": (segno.consts.ERROR_LEVEL_L, 0b01),
    "M": (segno.consts.ERROR_LEVEL_M, 0b00),
    "Q": (segno.consts.ERROR_LEVEL_Q, 0b11),
    "H": (segno.consts.ERROR_LEVEL_H, 0b10),
}
_MODE_BITS = {"numeric": 0b0001, "byte": 0b0100}
_FORMAT_GENERATOR = 0b10100110111  # BCH(15,5)
_FORMAT_MASK = 0b101010000010010
_VERSION_GENERATOR = 0b1111100100101  # BCH(18,6)
_N3_PATTERN = (1, 0, 1, 1, 1, 0, 1)  # dark:light:dark dark dark:light:dark (1:1:3:1:1)
_PAD_CODEWORDS = (0xEC, 0x11)


@dataclass(frozen=True)
class QrMatrix:
    """A finished QR symbol: ``modules[row, column]`` is True for a dark module (no quiet zone)."""

    modules: Modules
    version: int
    error: ErrorLevel
    mask: int

    @property
    def size(self) -> int:
        """Modules per side (17 + 4 × version)."""
        return int(self.modules.shape[0])


def shc_matrix(qr_text: str) -> QrMatrix:
    """The SHC symbol of a ``shc:/`` numeric text: two segments, level L, version ≤ 22."""
    if not qr_text.startswith(shc.PREFIX):
        raise ValueError("an SHC QR text starts with shc:/")
    digits = qr_text[len(shc.PREFIX) :]
    if not digits.isascii() or not digits.isdigit():
        raise ValueError("an SHC QR text holds digits after shc:/")
    code = encode([("byte", shc.PREFIX.encode("ascii")), ("numeric", digits.encode("ascii"))], "L")
    if code.version > SHC_MAX_VERSION:
        raise VaxcertError("shc_too_large", f"the card needs QR version {code.version} (max 22)")
    return code


def vdsnc_matrix(document: str) -> QrMatrix:
    """The VDS-NC symbol: the JSON text as one byte segment, no ECI, level M."""
    if not document.isascii():
        # formats.md §2: a VDS-NC is ASCII; bytes above 0x7f would need an ECI we do not emit.
        raise ValueError("a VDS-NC document is ASCII only")
    try:
        return encode([("byte", document.encode("ascii"))], "M")
    except _TooLargeError as exc:
        raise VaxcertError("vdsnc_too_large", "the VDS-NC does not fit in one QR code") from exc


class _TooLargeError(ValueError):
    """The data exceeds a version 40 symbol at the requested level."""


def encode(segments: list[tuple[Mode, bytes]], error: ErrorLevel) -> QrMatrix:
    """Encode ``segments`` (mode, ASCII bytes) in the smallest QR version that holds them."""
    level, _ = _LEVELS[error]
    version = _smallest_version(segments, level)
    data = _data_codewords(segments, version, level)
    codewords = _interleave_with_ecc(data, version, level)
    layout = _layout(version)
    bits = np.unpackbits(codewords)
    base = layout.template.copy()
    count = bits.size  # any remainder modules after the codewords stay light before masking
    base[layout.rows[:count], layout.cols[:count]] = bits
    candidates = base[None, :, :] ^ layout.masks
    scores = penalties(candidates)
    mask = scores.index(min(scores))  # the first of equal scores, as segno
    modules = candidates[mask]
    _write_format_and_version(modules, version, error, mask)
    return QrMatrix(modules.astype(np.bool_), version, error, mask)


# -- data encoding ---------------------------------------------------------------------------


def _count_bits(mode: Mode, version: int) -> int:
    """Length of the character count indicator (ISO 18004 Table 3)."""
    if mode == "numeric":
        return 10 if version < 10 else 12 if version < 27 else 14
    return 8 if version < 10 else 16


def _segment_bits(mode: Mode, data: bytes, version: int) -> int:
    length = len(data)
    payload = 10 * (length // 3) + (0, 4, 7)[length % 3] if mode == "numeric" else 8 * length
    return 4 + _count_bits(mode, version) + payload


class _BlockGroup(NamedTuple):
    """Blocks of one size in a symbol (ISO 18004 Table 9), as segno's table holds them."""

    num_blocks: int
    num_total: int
    num_data: int


_ECC = cast(dict[int, dict[int, tuple[_BlockGroup, ...]]], segno.consts.ECC)
_ALIGNMENT = cast(tuple[tuple[int, ...], ...], segno.consts.ALIGNMENT_POS)


def _data_capacity(version: int, level: int) -> int:
    """Data codewords of a symbol (all blocks)."""
    return sum(group.num_blocks * group.num_data for group in _ECC[version][level])


def _smallest_version(segments: list[tuple[Mode, bytes]], level: int) -> int:
    for version in range(1, MAX_VERSION + 1):
        needed = sum(_segment_bits(mode, data, version) for mode, data in segments)
        if needed <= 8 * _data_capacity(version, level):
            return version
    raise _TooLargeError("the data does not fit in a version 40 symbol")


def _bits_of(values: npt.NDArray[np.int64], width: int) -> _U8:
    """Each value as ``width`` bits, most significant first, concatenated."""
    shifts = np.arange(width - 1, -1, -1, dtype=np.int64)
    return ((values[:, None] >> shifts) & 1).astype(np.uint8).ravel()


def _segment_bitstream(mode: Mode, data: bytes, version: int) -> _U8:
    header = np.array([_MODE_BITS[mode], len(data)], dtype=np.int64)
    head = np.concatenate(
        [_bits_of(header[:1], 4), _bits_of(header[1:], _count_bits(mode, version))]
    )
    if mode == "byte":
        body = np.unpackbits(np.frombuffer(data, dtype=np.uint8))
    else:
        digits = np.frombuffer(data, dtype=np.uint8).astype(np.int64) - ord("0")
        whole = len(digits) // 3 * 3
        triples = digits[:whole].reshape(-1, 3) @ np.array([100, 10, 1], dtype=np.int64)
        parts = [_bits_of(triples, 10)]
        rest = digits[whole:]
        if rest.size:
            value = int(rest[0]) * 10 + int(rest[1]) if rest.size == 2 else int(rest[0])
            parts.append(_bits_of(np.array([value], dtype=np.int64), 7 if rest.size == 2 else 4))
        body = np.concatenate(parts)
    return np.concatenate([head, body])


def _data_codewords(segments: list[tuple[Mode, bytes]], version: int, level: int) -> _U8:
    capacity = _data_capacity(version, level)
    stream = np.concatenate([_segment_bitstream(m, d, version) for m, d in segments])
    terminator = min(4, 8 * capacity - stream.size)
    padded = stream.size + terminator
    # Zero bits up to the next codeword boundary. Like segno, a stream that already ends on a
    # boundary gets a whole zero codeword (ISO 7.4.10 adds none): readers stop at the
    # terminator, and the symbol stays identical to segno's (the signer's) module for module.
    padded += 8 - padded % 8
    used = min(padded // 8, capacity)
    bits = np.zeros(padded, dtype=np.uint8)
    bits[: stream.size] = stream
    codewords = np.empty(capacity, dtype=np.uint8)
    codewords[:used] = np.packbits(bits)[:used]
    codewords[used:] = np.resize(np.array(_PAD_CODEWORDS, dtype=np.uint8), capacity - used)
    return codewords


# -- error correction (GF(256), primitive polynomial 0x11d) ---------------------------------


def _galois_tables() -> tuple[_U8, npt.NDArray[np.int64], _U8]:
    exp = np.zeros(512, dtype=np.uint8)
    log = np.zeros(256, dtype=np.int64)
    value = 1
    for power in range(255):
        exp[power] = value
        log[value] = power
        value <<= 1
        if value & 0x100:
            value ^= 0x11D
    exp[255:510] = exp[:255]
    # Full multiplication table: 64 KiB, built once, makes the division one fancy-index per step.
    a = np.arange(256)
    product = exp[(log[:, None] + log[None, :]) % 255].astype(np.uint8)
    product[(a == 0), :] = 0
    product[:, (a == 0)] = 0
    return exp, log, product


_GF_EXP, _GF_LOG, _GF_MUL = _galois_tables()


@cache
def _generator(degree: int) -> _U8:
    """Coefficients after the leading 1 of ∏ (x - αⁱ), i < degree."""
    poly = np.array([1], dtype=np.uint8)
    for power in range(degree):
        shifted = np.concatenate([poly, np.zeros(1, dtype=np.uint8)])
        scaled = np.concatenate([np.zeros(1, dtype=np.uint8), _GF_MUL[poly, _GF_EXP[power]]])
        poly = shifted ^ scaled
    return poly[1:]


@lru_cache(maxsize=16)  # ≤ 1 MB each; a process meets a few symbol sizes
def _remainders(length: int, degree: int) -> _U8:
    """(length, 256, degree): the remainder modulo the generator of each byte value at each of
    ``length`` codeword positions (position i weighs x^(degree + length - 1 - i))."""
    generator = _generator(degree)
    products = _GF_MUL[:, generator]  # b·x^degree mod g, for every byte b: the last position
    table = np.zeros((length, 256, degree), dtype=np.uint8)
    table[length - 1] = products
    for position in range(length - 2, -1, -1):
        following = table[position + 1]  # r(x); this position's remainder is x·r(x) mod g
        table[position, :, :-1] = following[:, 1:]
        table[position] ^= products[following[:, 0]]
    return table


def _interleave_with_ecc(data: _U8, version: int, level: int) -> _U8:
    """Split into blocks, add each block's Reed-Solomon codewords, interleave (ISO 18004 7.6)."""
    groups = _ECC[version][level]
    lengths = [block.num_data for block in groups for _ in range(block.num_blocks)]
    degree = groups[0].num_total - groups[0].num_data  # the same for every block of a symbol
    longest = max(lengths)
    count = len(lengths)
    # Shorter blocks are right-aligned with leading zeros: a leading zero does not change the
    # remainder, so all blocks divide together; for interleaving they are left-aligned.
    right = np.zeros((count, longest), dtype=np.uint8)
    present = np.zeros((count, longest), dtype=np.bool_)
    start = 0
    for index, length in enumerate(lengths):
        right[index, longest - length :] = data[start : start + length]
        present[index, :length] = True
        start += length
    # Reed-Solomon is linear: the remainder is the XOR of each codeword's own remainder at its
    # position, looked up in a table made once per block length (one gather and one reduction
    # instead of a Python loop over the codewords).
    table = _remainders(longest, degree)
    remainder = np.bitwise_xor.reduce(table[np.arange(longest), right], axis=1)
    left = np.zeros((count, longest), dtype=np.uint8)
    left[present] = data
    interleaved = left.T[present.T]
    return np.concatenate([interleaved, remainder.T.ravel()])


# -- layout ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Layout:
    """Everything about a version that does not depend on the data."""

    template: _U8  # function patterns; format/version areas and the dark module light
    rows: npt.NDArray[np.intp]  # placement order of the data modules
    cols: npt.NDArray[np.intp]
    masks: _U8  # (8, n, n): the eight mask patterns, limited to the data modules


_layout_lock = threading.Lock()
_layouts: dict[int, _Layout] = {}


def _layout(version: int) -> _Layout:
    layout = _layouts.get(version)
    if layout is None:
        with _layout_lock:
            layout = _layouts.get(version)
            if layout is None:
                layout = _make_layout(version)
                _layouts[version] = layout
    return layout


def _make_layout(version: int) -> _Layout:
    size = 17 + 4 * version
    template = np.zeros((size, size), dtype=np.uint8)
    function = np.zeros((size, size), dtype=np.bool_)
    # Finder patterns with their separators (ISO 18004 6.3.3, 6.3.4).
    finder = np.zeros((7, 7), dtype=np.uint8)
    finder[:, :] = 1
    finder[1:6, 1:6] = 0
    finder[2:5, 2:5] = 1
    for top, left in ((0, 0), (0, size - 7), (size - 7, 0)):
        template[top : top + 7, left : left + 7] = finder
    function[:8, :8] = function[:8, size - 8 :] = function[size - 8 :, :8] = True
    # Timing patterns (6.3.5): dark on even positions.
    timing = (np.arange(size) % 2 == 0).astype(np.uint8)
    template[6, 8 : size - 8] = timing[8 : size - 8]
    template[8 : size - 8, 6] = timing[8 : size - 8]
    function[6, :] = function[:, 6] = True
    # Alignment patterns (6.3.6, Annex E), except where they would overlap a finder.
    if version >= 2:
        positions = _ALIGNMENT[version - 2]
        corners = {
            (positions[0], positions[0]),
            (positions[0], positions[-1]),
            (positions[-1], positions[0]),
        }
        alignment = np.ones((5, 5), dtype=np.uint8)
        alignment[1:4, 1:4] = 0
        alignment[2, 2] = 1
        for row in positions:
            for col in positions:
                if (row, col) in corners:
                    continue
                template[row - 2 : row + 3, col - 2 : col + 3] = alignment
                function[row - 2 : row + 3, col - 2 : col + 3] = True
    # Format information (7.9) and the dark module; version information (7.10) from version 7.
    function[8, :9] = function[:9, 8] = True
    function[8, size - 8 :] = function[size - 8 :, 8] = True
    if version >= 7:
        function[:6, size - 11 : size - 8] = True
        function[size - 11 : size - 8, :6] = True
    rows, cols = _placement(size, function)
    row_index, col_index = np.indices((size, size))
    data_region = ~function
    masks = np.stack([_mask_pattern(k, row_index, col_index) & data_region for k in range(8)])
    return _Layout(template, rows, cols, masks.astype(np.uint8))


def _placement(size: int, function: Modules) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Data module coordinates in placement order (7.7.3): two-module columns from the right,
    alternately upwards and downwards, right module first; the vertical timing column skipped."""
    rights = [right if right > 6 else right - 1 for right in range(size - 1, 0, -2)]
    rows: list[npt.NDArray[np.intp]] = []
    cols: list[npt.NDArray[np.intp]] = []
    down = np.arange(size)
    for index, right in enumerate(rights):
        order = down[::-1] if index % 2 == 0 else down
        rows.append(np.repeat(order, 2))
        cols.append(np.tile(np.array([right, right - 1]), size))
    all_rows = np.concatenate(rows)
    all_cols = np.concatenate(cols)
    keep = ~function[all_rows, all_cols]
    return all_rows[keep], all_cols[keep]


def _mask_pattern(k: int, i: npt.NDArray[np.int_], j: npt.NDArray[np.int_]) -> Modules:
    """Data mask pattern ``k`` (ISO 18004 Table 10); i = row, j = column."""
    if k == 0:
        result = (i + j) % 2 == 0
    elif k == 1:
        result = i % 2 == 0
    elif k == 2:
        result = j % 3 == 0
    elif k == 3:
        result = (i + j) % 3 == 0
    elif k == 4:
        result = (i // 2 + j // 3) % 2 == 0
    elif k == 5:
        result = (i * j) % 2 + (i * j) % 3 == 0
    elif k == 6:
        result = ((i * j) % 2 + (i * j) % 3) % 2 == 0
    else:
        result = ((i + j) % 2 + (i * j) % 3) % 2 == 0
    return np.asarray(result, dtype=np.bool_)


def _bch(data: int, generator: int, data_bits: int) -> int:
    """``data`` followed by its BCH remainder."""
    check_bits = generator.bit_length() - 1
    value = data << check_bits
    for shift in range(data_bits - 1, -1, -1):
        if value & (1 << (shift + check_bits)):
            value ^= generator << shift
    return (data << check_bits) | value


def format_bits(error: ErrorLevel, mask: int) -> int:
    """The 15 format-information bits for ``error`` and ``mask`` (ISO 18004 7.9.1)."""
    return _bch((_LEVELS[error][1] << 3) | mask, _FORMAT_GENERATOR, 5) ^ _FORMAT_MASK


def version_bits(version: int) -> int:
    """The 18 version-information bits (ISO 18004 7.10), for versions 7 and above."""
    return _bch(version, _VERSION_GENERATOR, 6)


def _write_format_and_version(modules: _U8, version: int, error: ErrorLevel, mask: int) -> None:
    size = modules.shape[0]
    info = format_bits(error, mask)
    bit = [(info >> index) & 1 for index in range(15)]
    # Bits 0-7 down the column beside the top-left finder (skipping the timing row) and along
    # the row under the top-right finder, right to left; bits 14-8 along the row under the
    # top-left finder (skipping the timing column) and up the column beside the bottom-left one.
    for index in range(8):
        row = index if index < 6 else index + 1
        modules[row, 8] = bit[index]
        modules[8, size - 1 - index] = bit[index]
        modules[8, row] = bit[14 - index]
        modules[size - 1 - index, 8] = bit[14 - index]
    modules[size - 8, 8] = 1  # the dark module
    if version >= 7:
        info = version_bits(version)
        for index in range(18):
            row, col = divmod(index, 3)
            modules[row, size - 11 + col] = (info >> index) & 1
            modules[size - 11 + col, row] = (info >> index) & 1


# -- mask evaluation (ISO 18004 7.8.3.1) -----------------------------------------------------
#
# Bit-parallel: the rows and then the columns of a candidate are laid end to end in one Python
# integer, each line between four padding bits on either side (light for the 1:1:3:1:1 rule,
# which counts the outside of the symbol as light; excluded from runs and blocks). A shift moves
# every line at once, so each rule is a handful of integer operations per candidate.

_PAD = 4


@dataclass(frozen=True)
class _Lines:
    """Bit masks of the line layout of one symbol size (bit ``line * stride + 4 + j``)."""

    stride: int
    total: int  # bits, a multiple of 8
    everything: int
    cells: int  # the modules, without padding
    block_corners: int  # top-left modules of 2 × 2 blocks: rows and columns 0..n-2 of the rows


@lru_cache(maxsize=64)
def _lines(size: int) -> _Lines:
    stride = size + 2 * _PAD
    bits = 2 * size * stride
    total = bits + (-bits % 8)
    line = ((1 << size) - 1) << _PAD
    cells = 0
    for index in range(2 * size):
        cells |= line << (index * stride)
    corner_line = ((1 << (size - 1)) - 1) << _PAD
    corners = 0
    for index in range(size - 1):
        corners |= corner_line << (index * stride)
    return _Lines(stride, total, (1 << total) - 1, cells, corners)


def penalties(candidates: _U8) -> list[int]:
    """The penalty score N1 + N2 + N3 + N4 of each matrix in ``candidates`` (k, n, n).

    Scored as segno scores (before format and version information are written), so the chosen
    mask is segno's: runs of five or more modules of one colour in a row or column (3 + excess),
    2 × 2 blocks of one colour (3 each), 1:1:3:1:1 finder-like patterns with four light modules
    on either side, the outside of the symbol counting as light (40 each), and the deviation of
    the dark share from 50 % (10 per 5 %).
    """
    return [sum(parts) for parts in penalty_parts(candidates)]


def penalty_parts(candidates: _U8) -> list[tuple[int, int, int, int]]:
    """The four penalty features (N1, N2, N3, N4) of each candidate."""
    count, size, _ = candidates.shape
    layout = _lines(size)
    laid = np.zeros((count, 2 * size, layout.stride), dtype=np.uint8)
    laid[:, :size, _PAD : _PAD + size] = candidates
    laid[:, size:, _PAD : _PAD + size] = candidates.transpose(0, 2, 1)
    flat = np.zeros((count, layout.total), dtype=np.uint8)
    flat[:, : laid.shape[1] * laid.shape[2]] = laid.reshape(count, -1)
    packed = np.packbits(flat, axis=1, bitorder="little")
    return [
        _score(int.from_bytes(packed[index].tobytes(), "little"), size, layout)
        for index in range(count)
    ]


def _score(dark: int, size: int, layout: _Lines) -> tuple[int, int, int, int]:
    light_out = layout.everything ^ dark  # padding counts as light (N3)
    light = light_out & layout.cells
    # N1: a run of L ≥ 5 scores L - 2 = (number of uniform 5-windows in it) + 2.
    windows = 0
    for plane in (dark, light):
        windows |= plane & plane >> 1 & plane >> 2 & plane >> 3 & plane >> 4
    run_starts = windows & ~(windows << 1)
    n1 = windows.bit_count() + 2 * run_starts.bit_count()
    # N2: 2 × 2 blocks of one colour, in the row half only.
    stride = layout.stride
    blocks = 0
    for plane in (dark, light):
        blocks |= plane & plane >> 1 & plane >> stride & plane >> (stride + 1)
    n2 = 3 * (blocks & layout.block_corners).bit_count()
    # N3: 1011101 starting at p, with four light modules before it or after it.
    found = dark & light_out >> 1 & dark >> 2 & dark >> 3 & dark >> 4 & light_out >> 5 & dark >> 6
    before = light_out << 1 & light_out << 2 & light_out << 3 & light_out << 4
    after = light_out >> 7 & light_out >> 8 & light_out >> 9 & light_out >> 10
    countable = found & (before | after)
    # segno searches left to right and resumes 7 modules after a counted pattern, so a pattern
    # overlapping a counted one (it overlaps itself at offsets 4 and 6) is not counted. The
    # recurrence only looks back, so iterating it from "all counted" reaches its one fixed point.
    counted = countable
    while True:
        following = countable & ~(counted << 4 | counted << 6)
        if following == counted:
            break
        counted = following
    n3 = 40 * counted.bit_count()
    # N4: every module appears once in the rows and once in the columns.
    percent = float(dark.bit_count() // 2) / (size * size)
    n4 = 10 * int(abs(percent * 100 - 50) / 5)
    return n1, n2, n3, n4
