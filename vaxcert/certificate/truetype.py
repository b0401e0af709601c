"""TrueType faces for the certificate PDF: metrics, the character map, and per-document subsets.

reportlab subset and formatted the fonts anew for every page: ≈ 8 ms of the 7-dose 海外用 page
(makeSubset, then its codec over every string; bench/pdf.py), a third of what the app API spent
on a PDF. Here a face is parsed once per process and a subset is a few array operations:

- **Glyphs are renumbered** 0…n-1 in the order of their old ids (0 stays .notdef), composite
  glyphs with them, so loca and hmtx hold only what is drawn (a subset that kept the old ids
  would carry IPAex Gothic's 12 239 loca and hmtx entries: 98 KB more to compress per page).
- Tables kept: those PDF 32000-1 §9.9 requires of an embedded TrueType program (head, hhea,
  maxp, loca, glyf, hmtx, cvt, fpgm, prep), plus OS/2, name, a format-3 post and a small cmap of
  the characters drawn, which font sanitisers (pdf.js) expect. GSUB/GPOS and vertical metrics
  are dropped: the page sets horizontal text only.

Nothing is kept of a subset (C08): it exists in the caller's memory only.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Component flags of a composite glyph (OpenType 'glyf').
_ARG_1_AND_2_ARE_WORDS = 0x0001
_WE_HAVE_A_SCALE = 0x0008
_MORE_COMPONENTS = 0x0020
_WE_HAVE_AN_X_AND_Y_SCALE = 0x0040
_WE_HAVE_A_TWO_BY_TWO = 0x0080

_COPIED_TABLES = (b"cvt ", b"fpgm", b"prep", b"gasp", b"OS/2", b"name")
_CHECKSUM_MAGIC = 0xB1B0AFBA


class FontError(ValueError):
    """The file is not a TrueType font this module can embed."""


@dataclass(frozen=True)
class FontMetrics:
    """What a PDF font descriptor states, in 1000ths of an em."""

    ascent: int
    descent: int
    cap_height: int
    bbox: tuple[int, int, int, int]


class TrueTypeFace:
    """One face of a TrueType file (``index`` in a collection), parsed once."""

    def __init__(self, path: Path, index: int = 0) -> None:
        self.path = path
        self.data = path.read_bytes()
        offset = 0
        if self.data[:4] == b"ttcf":
            count = struct.unpack_from(">I", self.data, 8)[0]
            if not 0 <= index < count:
                raise FontError(f"{path.name} has no face {index}")
            offset = struct.unpack_from(">I", self.data, 12 + 4 * index)[0]
        tables = struct.unpack_from(">H", self.data, offset + 4)[0]
        self.tables: dict[bytes, tuple[int, int]] = {}
        for entry in range(tables):
            tag, _, start, length = struct.unpack_from(
                ">4sIII", self.data, offset + 12 + 16 * entry
            )
            self.tables[tag] = (start, length)
        for required in (b"head", b"hhea", b"maxp", b"loca", b"glyf", b"hmtx", b"cmap"):
            if required not in self.tables:
                raise FontError(
                    f"{path.name} lacks its {required.decode()} table (not glyf outlines)"
                )
        head = self.table(b"head")
        self.units_per_em: int = struct.unpack_from(">H", head, 18)[0]
        long_offsets = struct.unpack_from(">h", head, 50)[0] == 1
        self.glyph_count: int = struct.unpack_from(">H", self.table(b"maxp"), 4)[0]
        count = self.glyph_count + 1
        start, _ = self.tables[b"loca"]
        if long_offsets:
            self.loca = np.frombuffer(self.data, ">u4", count, start).astype(np.int64)
        else:
            self.loca = np.frombuffer(self.data, ">u2", count, start).astype(np.int64) * 2
        self.glyf_start = self.tables[b"glyf"][0]
        hhea = self.table(b"hhea")
        metrics_count = struct.unpack_from(">H", hhea, 34)[0]
        self.metrics_count: int = metrics_count
        hmtx_start = self.tables[b"hmtx"][0]
        long_metrics = np.frombuffer(self.data, ">u2", 2 * metrics_count, hmtx_start)
        advances = np.empty(self.glyph_count, dtype=np.int64)
        advances[:metrics_count] = long_metrics[0::2]
        advances[metrics_count:] = long_metrics[2 * metrics_count - 2]
        self.advances = advances
        self.advance_list: list[int] = advances.tolist()
        self.cmap: dict[int, int] = _read_cmap(self.table(b"cmap"))
        scale = 1000 / self.units_per_em
        ascent, descent = struct.unpack_from(">hh", hhea, 4)
        x_min, y_min, x_max, y_max = struct.unpack_from(">hhhh", head, 36)
        cap_height = ascent
        os2 = self.tables.get(b"OS/2")
        if os2 is not None and os2[1] >= 90:
            cap_height = struct.unpack_from(">h", self.data, os2[0] + 88)[0] or ascent
        self.metrics = FontMetrics(
            ascent=round(ascent * scale),
            descent=round(descent * scale),
            cap_height=round(cap_height * scale),
            bbox=(
                round(x_min * scale),
                round(y_min * scale),
                round(x_max * scale),
                round(y_max * scale),
            ),
        )

    def table(self, tag: bytes) -> bytes:
        start, length = self.tables[tag]
        return self.data[start : start + length]

    @property
    def postscript_name(self) -> str:
        """The name table's PostScript name (id 6), letters and digits only."""
        name = self.table(b"name")
        count, strings = struct.unpack_from(">2xHH", name, 0)
        for record in range(count):
            platform, _, _, name_id, length, offset = struct.unpack_from(
                ">HHHHHH", name, 6 + 12 * record
            )
            if name_id != 6:
                continue
            raw = name[strings + offset : strings + offset + length]
            text = raw.decode("utf-16-be" if platform in (0, 3) else "latin-1", "replace")
            cleaned = "".join(c for c in text if c.isascii() and (c.isalnum() or c == "-"))
            if cleaned:
                return cleaned
        return self.path.stem

    def glyph_ids(self, text: str) -> list[int]:
        """The glyph of every character (0, .notdef, where the font has none)."""
        cmap = self.cmap
        return [cmap.get(ord(character), 0) for character in text]

    def advance_units(self, glyphs: Iterable[int]) -> int:
        """The advance width of ``glyphs`` set one after the other, in font units."""
        advances = self.advance_list
        return sum([advances[glyph] for glyph in glyphs])

    def width_1000(self, glyph: int) -> int:
        """A glyph's advance in 1000ths of an em (a PDF /W entry)."""
        return round(self.advance_list[glyph] * 1000 / self.units_per_em)

    def _components(self, glyph: int) -> list[int]:
        start, end = int(self.loca[glyph]), int(self.loca[glyph + 1])
        outline = self.data[self.glyf_start + start : self.glyf_start + end]
        return [component for _, component in _component_fields(outline)]

    @functools.cached_property
    def has_composites(self) -> bool:
        """Whether any glyph is composite (IPAex Gothic has none: its subsets skip the walk)."""
        drawn = np.nonzero(np.diff(self.loca) >= 2)[0]
        starts = self.glyf_start + self.loca[drawn]
        raw = np.frombuffer(self.data, dtype=np.uint8)
        contours = (raw[starts].astype(np.int16) << 8) | raw[starts + 1].astype(np.int16)
        return bool((contours < 0).any())

    def closure(self, glyphs: Iterable[int]) -> list[int]:
        """``glyphs`` with .notdef and every component of a composite glyph, sorted."""
        wanted = {0, *glyphs}
        if not self.has_composites:
            return sorted(wanted)
        pending = list(wanted)
        while pending:
            for component in self._components(pending.pop()):
                if component < self.glyph_count and component not in wanted:
                    wanted.add(component)
                    pending.append(component)
        return sorted(wanted)

    def subset(self, glyphs: Iterable[int], characters: dict[int, int]) -> tuple[bytes, list[int]]:
        """A font program of ``glyphs`` only, for /FontFile2, and the old id of each new one.

        The subset's glyph ids are the positions in that list (0 stays .notdef); composite
        glyphs are rewritten to their components' new ids. ``characters``: code point → old
        glyph id of the text drawn, for the subset's own cmap.
        """
        kept = self.closure(glyphs)
        new_id = {old: new for new, old in enumerate(kept)}
        data, base, loca = self.data, self.glyf_start, self.loca
        starts = loca[kept].tolist()
        ends = (loca[np.array(kept) + 1]).tolist()
        outlines = []
        for start, end in zip(starts, ends, strict=True):
            outline = _renumbered(data[base + start : base + end], new_id)
            outlines.append(outline + b"\0" * (-len(outline) % 4))
        new_loca = np.zeros(len(kept) + 1, dtype=np.int64)
        np.cumsum([len(outline) for outline in outlines], out=new_loca[1:])
        advances = self.advances[kept]
        side_bearings = self.side_bearings[kept]
        metrics = np.empty(2 * len(kept), dtype=">i4")
        metrics[0::2] = advances
        metrics[1::2] = side_bearings
        head = bytearray(self.table(b"head"))
        struct.pack_into(">I", head, 8, 0)  # checkSumAdjustment, set by _font_file
        struct.pack_into(">h", head, 50, 1)  # long loca offsets
        hhea = bytearray(self.table(b"hhea"))
        struct.pack_into(">H", hhea, 34, len(kept))
        maxp = bytearray(self.table(b"maxp"))
        struct.pack_into(">H", maxp, 4, len(kept))
        tables = {
            b"head": bytes(head),
            b"hhea": bytes(hhea),
            b"maxp": bytes(maxp),
            b"loca": new_loca.astype(">u4").tobytes(),
            b"glyf": b"".join(outlines),
            b"hmtx": metrics.astype(">i2").tobytes(),
            b"post": _POST_FORMAT_3 + self.table(b"post")[4:32],
            b"cmap": _cmap_format_4(
                {code: new_id[glyph] for code, glyph in characters.items() if glyph in new_id}
            ),
        }
        for tag in _COPIED_TABLES:
            if tag in self.tables:
                tables[tag] = self.table(tag)
        return _font_file(tables), kept

    @functools.cached_property
    def side_bearings(self) -> np.ndarray:
        """Every glyph's left side bearing (hmtx), in font units."""
        start, _ = self.tables[b"hmtx"]
        long_metrics = np.frombuffer(self.data, ">i2", 2 * self.metrics_count, start)
        short = np.frombuffer(
            self.data,
            ">i2",
            max(0, self.glyph_count - self.metrics_count),
            start + 4 * self.metrics_count,
        )
        return np.concatenate([long_metrics[1::2], short]).astype(np.int64)


def _component_fields(outline: bytes) -> list[tuple[int, int]]:
    """Where each component id of a composite glyph is, and the id (none for a simple glyph)."""
    if len(outline) < 10 or struct.unpack_from(">h", outline)[0] >= 0:
        return []
    fields = []
    position = 10
    while True:
        flags, component = struct.unpack_from(">HH", outline, position)
        fields.append((position + 2, component))
        position += 4 + (4 if flags & _ARG_1_AND_2_ARE_WORDS else 2)
        if flags & _WE_HAVE_A_SCALE:
            position += 2
        elif flags & _WE_HAVE_AN_X_AND_Y_SCALE:
            position += 4
        elif flags & _WE_HAVE_A_TWO_BY_TWO:
            position += 8
        if not flags & _MORE_COMPONENTS:
            return fields


def _renumbered(outline: bytes, new_id: dict[int, int]) -> bytes:
    """``outline`` with its component ids replaced by the subset's (a simple glyph unchanged)."""
    fields = _component_fields(outline)
    if not fields:
        return outline
    patched = bytearray(outline)
    for position, component in fields:
        struct.pack_into(">H", patched, position, new_id[component])
    return bytes(patched)


_POST_FORMAT_3 = struct.pack(">I", 0x00030000)


def _read_cmap(cmap: bytes) -> dict[int, int]:
    """Code point → glyph from the best Unicode subtable (format 12, else format 4)."""
    count = struct.unpack_from(">H", cmap, 2)[0]
    candidates: dict[int, int] = {}
    for record in range(count):
        platform, encoding, offset = struct.unpack_from(">HHI", cmap, 4 + 8 * record)
        unicode = platform == 0 or (platform == 3 and encoding in (1, 10))
        if unicode:
            subtable_format = struct.unpack_from(">H", cmap, offset)[0]
            if subtable_format in (4, 12):
                candidates.setdefault(subtable_format, offset)
    if 12 in candidates:
        return _cmap_12(cmap, candidates[12])
    if 4 in candidates:
        return _cmap_4(cmap, candidates[4])
    raise FontError("no Unicode cmap of format 4 or 12")


def _cmap_12(cmap: bytes, offset: int) -> dict[int, int]:
    groups = struct.unpack_from(">I", cmap, offset + 12)[0]
    mapping: dict[int, int] = {}
    for start, end, glyph in struct.iter_unpack(
        ">III", cmap[offset + 16 : offset + 16 + 12 * groups]
    ):
        for code in range(start, end + 1):
            mapping[code] = glyph + code - start
    return mapping


def _cmap_4(cmap: bytes, offset: int) -> dict[int, int]:
    segments = struct.unpack_from(">H", cmap, offset + 6)[0] // 2
    ends = struct.unpack_from(f">{segments}H", cmap, offset + 14)
    starts_at = offset + 16 + 2 * segments
    starts = struct.unpack_from(f">{segments}H", cmap, starts_at)
    deltas = struct.unpack_from(f">{segments}h", cmap, starts_at + 2 * segments)
    ranges_at = starts_at + 4 * segments
    ranges = struct.unpack_from(f">{segments}H", cmap, ranges_at)
    mapping: dict[int, int] = {}
    for segment in range(segments):
        start, end, delta, range_offset = (
            starts[segment],
            ends[segment],
            deltas[segment],
            ranges[segment],
        )
        for code in range(start, end + 1):
            if code == 0xFFFF:
                continue
            if range_offset == 0:
                glyph = (code + delta) & 0xFFFF
            else:
                at = ranges_at + 2 * segment + range_offset + 2 * (code - start)
                glyph = struct.unpack_from(">H", cmap, at)[0]
                glyph = (glyph + delta) & 0xFFFF if glyph else 0
            if glyph:
                mapping[code] = glyph
    return mapping


def _cmap_format_4(characters: dict[int, int]) -> bytes:
    """A (3, 1) cmap of format 4 with one segment per character drawn (BMP only)."""
    codes = sorted(code for code in characters if code < 0xFFFF)
    ends = [*codes, 0xFFFF]
    deltas = [(characters[code] - code) & 0xFFFF for code in codes] + [1]
    segments = len(ends)
    search = 2 ** (segments.bit_length() - 1)
    body = struct.pack(
        f">HHHH{segments}HH{segments}H{segments}H{segments}H",
        2 * segments,
        2 * search,
        search.bit_length() - 1,
        2 * segments - 2 * search,
        *ends,
        0,
        *ends,  # one code per segment: start = end
        *deltas,
        *([0] * segments),
    )
    subtable = struct.pack(">HHH", 4, 6 + len(body), 0) + body
    return struct.pack(">HHHHI", 0, 1, 3, 1, 12) + subtable


def _checksum(data: bytes) -> int:
    padded = data + b"\0" * (-len(data) % 4)
    return int(np.frombuffer(padded, ">u4").sum(dtype=np.uint64)) & 0xFFFFFFFF


def _font_file(tables: dict[bytes, bytes]) -> bytes:
    """An sfnt file of ``tables``, with the checksums a font program has."""
    tags = sorted(tables)
    count = len(tags)
    search = 2 ** (count.bit_length() - 1)
    header = struct.pack(
        ">IHHHH", 0x00010000, count, 16 * search, search.bit_length() - 1, 16 * (count - search)
    )
    offset = 12 + 16 * count
    directory = []
    bodies = []
    for tag in tags:
        body = tables[tag]
        directory.append(struct.pack(">4sIII", tag, _checksum(body), offset, len(body)))
        padded = body + b"\0" * (-len(body) % 4)
        bodies.append(padded)
        offset += len(padded)
    font = bytearray(header + b"".join(directory) + b"".join(bodies))
    head_offset = (
        12 + 16 * count + sum(len(b) for b, t in zip(bodies, tags, strict=True) if t < b"head")
    )
    adjustment = (_CHECKSUM_MAGIC - _checksum(bytes(font))) & 0xFFFFFFFF
    struct.pack_into(">I", font, head_offset + 8, adjustment)
    return bytes(font)
