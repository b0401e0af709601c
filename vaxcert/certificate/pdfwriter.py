"""A small PDF 1.4 writer for the certificate page: objects, streams, embedded TrueType subsets.

Why not reportlab (the library the conventions name): the app API renders a PDF with every
application, and reportlab spent ≈ 15-27 ms of CPU on the 7-dose 海外用 page, most of it not
drawing but re-subsetting the fonts, formatting its object tree and passing every content string
through its codec (bench/pdf.py keeps that renderer as its baseline and prints the ratio). The
page needs few PDF features: positioned text in two TrueType fonts, thin lines, and filled
paths for the QR symbols. This module writes the file structure and the fonts; each font is
embedded as a Type 0 / CIDFontType2 font with Identity-H encoding, the subset's glyph ids as
character codes (PDF 32000-1 §9.7), a /W array of its glyphs and a ToUnicode CMap, so the text
stays selectable and searchable. :mod:`vaxcert.certificate.pdf` writes the page's operators.

Everything is built in memory (C08). Only the embedding of text that is entirely public (the
zh/ko legend: labels only) is cached, keyed by its characters; a font that drew any value of
the holder is subset for that document alone and forgotten with it.
"""

from __future__ import annotations

import functools
import hashlib
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from isal import isal_zlib

from vaxcert.certificate.truetype import TrueTypeFace

# Flate streams come from ISA-L (isal_zlib: the same zlib format, ≈ 4 times faster than zlib at
# its fastest level on the page's content stream, whose QR paths are ≈ 170 KB). Per document its
# level 1 (of 0-3); what is compressed once per process, its best.
_DOCUMENT_LEVEL = 1
_CACHED_LEVEL = 3


def pdf_number(value: float) -> str:
    """``value`` as a content stream states a position or size (1/7200 inch: 3.5 µm)."""
    return f"{value:.2f}"


def text_string(value: str) -> str:
    """A text string (PDF 32000-1 §7.9.2.2) as UTF-16BE hex with its byte order mark."""
    return "<FEFF" + value.encode("utf-16-be").hex().upper() + ">"


class PdfFile:
    """Indirect objects in order; :meth:`serialise` writes them with their cross-reference."""

    def __init__(self) -> None:
        self._objects: list[bytes | None] = []

    def reserve(self) -> int:
        """An object number whose body :meth:`put` supplies later."""
        self._objects.append(None)
        return len(self._objects)

    def put(self, number: int, body: bytes | str) -> int:
        self._objects[number - 1] = body.encode("latin-1") if isinstance(body, str) else body
        return number

    def add(self, body: bytes | str) -> int:
        return self.put(self.reserve(), body)

    def add_stream(self, dictionary: str, data: bytes, level: int = _DOCUMENT_LEVEL) -> int:
        """A Flate-compressed stream; ``dictionary`` holds the entries other than the filter."""
        return self.add_compressed(dictionary, isal_zlib.compress(data, level))

    def add_compressed(self, dictionary: str, compressed: bytes) -> int:
        head = f"<< {dictionary} /Filter /FlateDecode /Length {len(compressed)} >>\nstream\n"
        return self.add(head.encode("latin-1") + compressed + b"\nendstream")

    def serialise(self, root: int, info: int) -> bytes:
        # A binary comment line after the header tells transfer tools the file is binary.
        out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        offsets = []
        for number, body in enumerate(self._objects, start=1):
            if body is None:
                raise ValueError(f"object {number} was reserved but never written")
            offsets.append(len(out))
            out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
        xref = len(out)
        out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(offsets) + 1)
        out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
        # No /ID and no dates: the same certificate gives the same bytes (a reprint after a jam).
        out += b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R >>\n" % (
            len(offsets) + 1,
            root,
            info,
        )
        out += b"startxref\n%d\n%%%%EOF\n" % xref
        return bytes(out)


@dataclass(frozen=True)
class _EmbeddedFont:
    """The compressed streams and descriptor entries of one subset, ready to be numbered."""

    base_name: str
    new_ids: dict[int, int]  # the face's glyph id → the subset's
    font_file: bytes
    font_file_length: int
    widths: str
    to_unicode: bytes


class FontUse:
    """The characters one document draws in one face, and their embedding.

    Text is encoded in two steps: :meth:`glyphs` while the page is drawn (the face's glyph ids),
    :meth:`embed` once it is complete, which numbers the subset, and :meth:`hex` then writes a
    string with the subset's ids.
    """

    def __init__(self, face: TrueTypeFace, resource: str) -> None:
        self.face = face
        self.resource = resource
        self.characters: dict[int, int] = {}  # code point → glyph id
        self.holder_text = False  # C08: a subset with the holder's glyphs is never cached
        self._new_ids: dict[int, int] | None = None

    def glyphs(self, value: str, *, public: bool) -> list[int]:
        """The face's glyph ids of ``value`` (0 where it has none), noted for the subset."""
        glyphs = self.face.glyph_ids(value)
        self.characters.update(zip(map(ord, value), glyphs, strict=True))
        if not public:
            self.holder_text = True
        return glyphs

    def hex(self, glyphs: Sequence[int]) -> str:
        """A string of ``glyphs`` in the embedded subset, as a PDF hex string's digits."""
        if self._new_ids is None:
            raise ValueError("embed the font before writing its strings")
        return _subset_hex(self._new_ids, glyphs)

    def embed(self, document: PdfFile) -> int:
        """Write the font's objects into ``document``; the Type 0 font's number."""
        characters = tuple(sorted(self.characters.items()))
        if self.holder_text:
            embedded = _embedding(self.face, characters, _DOCUMENT_LEVEL)
        else:
            embedded = _cached_embedding(self.face, characters)
        self._new_ids = embedded.new_ids
        return _write_font(document, self.face, embedded)


class FixedFont:
    """A subset of a fixed set of characters, made once per process, whatever a page draws.

    Strings are encoded at once (the subset's ids are known), and a page may set any text made
    of these characters in it, the holder's too: the subset depends on none of it, so nothing of
    the holder is kept (C08). Public strings' encodings are cached (:meth:`encode_public`).
    """

    def __init__(self, face: TrueTypeFace, resource: str, characters: frozenset[str]) -> None:
        self.face = face
        self.resource = resource
        self.characters = characters
        mapping = tuple(
            sorted((ord(c), face.cmap[ord(c)]) for c in characters if ord(c) in face.cmap)
        )
        self.embedded = _embedding(face, mapping, _CACHED_LEVEL)
        self.encode_public = functools.lru_cache(maxsize=4096)(self.encode)

    def covers(self, value: str) -> bool:
        return self.characters.issuperset(value)

    def encode(self, value: str) -> tuple[str, int]:
        """``value``'s hex string digits in the subset and its advance in font units."""
        glyphs = self.face.glyph_ids(value)
        return _subset_hex(self.embedded.new_ids, glyphs), self.face.advance_units(glyphs)

    def embed(self, document: PdfFile) -> int:
        return _write_font(document, self.face, self.embedded)


def _subset_hex(new_ids: dict[int, int], glyphs: Sequence[int]) -> str:
    """``glyphs`` (the face's ids) as the hex digits of a string in the subset (2 bytes a glyph)."""
    return struct.pack(f">{len(glyphs)}H", *[new_ids[glyph] for glyph in glyphs]).hex()


def _write_font(document: PdfFile, face: TrueTypeFace, embedded: _EmbeddedFont) -> int:
    """The objects of a Type 0 font over ``embedded``; the Type 0 font's number."""
    metrics = face.metrics
    font_file = document.add_compressed(f"/Length1 {embedded.font_file_length}", embedded.font_file)
    descriptor = document.add(
        f"<< /Type /FontDescriptor /FontName /{embedded.base_name} /Flags 4"
        f" /FontBBox [{' '.join(map(str, metrics.bbox))}] /ItalicAngle 0"
        f" /Ascent {metrics.ascent} /Descent {metrics.descent}"
        f" /CapHeight {metrics.cap_height} /StemV 80 /FontFile2 {font_file} 0 R >>"
    )
    descendant = document.add(
        f"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /{embedded.base_name}"
        " /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >>"
        f" /FontDescriptor {descriptor} 0 R /DW 1000 /W {embedded.widths}"
        " /CIDToGIDMap /Identity >>"
    )
    to_unicode = document.add_compressed("", embedded.to_unicode)
    return document.add(
        f"<< /Type /Font /Subtype /Type0 /BaseFont /{embedded.base_name}"
        f" /Encoding /Identity-H /DescendantFonts [{descendant} 0 R]"
        f" /ToUnicode {to_unicode} 0 R >>"
    )


def _embedding(
    face: TrueTypeFace, characters: tuple[tuple[int, int], ...], level: int
) -> _EmbeddedFont:
    mapping = dict(characters)
    program, kept = face.subset(set(mapping.values()), mapping)
    new_ids = {old: new for new, old in enumerate(kept)}
    # The subset tag (six capitals, PDF 32000-1 §9.6.4) from the glyph set: same page, same tag.
    digest = hashlib.sha256(struct.pack(f">{len(kept)}H", *kept)).digest()
    tag = "".join(chr(ord("A") + byte % 26) for byte in digest[:6])
    return _EmbeddedFont(
        base_name=f"{tag}+{face.postscript_name}",
        new_ids=new_ids,
        font_file=isal_zlib.compress(program, level),
        font_file_length=len(program),
        widths=_widths([face.width_1000(old) for old in kept]),
        to_unicode=isal_zlib.compress(
            _to_unicode({code: new_ids[glyph] for code, glyph in characters}), level
        ),
    )


@functools.lru_cache(maxsize=16)
def _cached_embedding(face: TrueTypeFace, characters: tuple[tuple[int, int], ...]) -> _EmbeddedFont:
    """A subset that drew only public text (labels, the legend), kept per process."""
    return _embedding(face, characters, _CACHED_LEVEL)


def _widths(advances: Sequence[int]) -> str:
    """The /W array of glyphs 0…n-1: one run, their advances in 1000ths of an em."""
    return f"[0 [{' '.join(map(str, advances))}]]"


def _utf16_hex(code: int) -> str:
    """A code point as UTF-16BE hex digits (a surrogate pair beyond the BMP)."""
    if code < 0x10000:
        return f"{code:04X}"
    return chr(code).encode("utf-16-be").hex().upper()


def _to_unicode(mapping: dict[int, int]) -> bytes:
    """A ToUnicode CMap from glyph ids back to the characters drawn with them (code points in
    ascending order, so a glyph drawn for two characters reads as the first)."""
    by_glyph: dict[int, int] = {}
    for code, glyph in mapping.items():
        by_glyph.setdefault(glyph, code)
    entries = [
        f"<{glyph:04X}> <{_utf16_hex(code)}>" for glyph, code in sorted(by_glyph.items()) if glyph
    ]
    blocks = []
    for start in range(0, len(entries), 100):  # at most 100 entries per block
        chunk = entries[start : start + 100]
        blocks.append(f"{len(chunk)} beginbfchar\n" + "\n".join(chunk) + "\nendbfchar")
    return (
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
        "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
        "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
        + "\n".join(blocks)
        + "\nendcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n"
    ).encode("ascii")
