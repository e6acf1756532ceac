"""Split documents into citable chunks by their structure.

Each format is first cut into *sections* (markdown headings, reStructuredText section titles, Python
top-level functions and classes, HTML headings, PDF pages, or the whole text), and each section into
*units*: numbered pieces of text (source lines, HTML text blocks with their source line, PDF pages).
Sections are then packed into chunks of at most ``max_chars`` characters, preferring to break at a
blank line, with about ``overlap`` characters of the previous chunk repeated at the start of the
next. A chunk cites the numbers of its first and last non-blank unit: lines, or pages for PDF.
"""

from __future__ import annotations

import ast
import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import PurePath
from typing import Literal

__all__ = ["HTML", "MARKDOWN", "PDF", "PYTHON", "RST", "Chunk", "chunk_document", "decode_text"]

MARKDOWN = frozenset({".md", ".markdown", ".mdx"})
RST = frozenset({".rst", ".rest"})
PYTHON = frozenset({".py", ".pyi"})
HTML = frozenset({".html", ".htm", ".xhtml"})
PDF = frozenset({".pdf"})

Unit = tuple[int, str]
"""A numbered piece of text: (line or page number, text)."""


@dataclass(frozen=True, slots=True)
class Chunk:
    """One searchable piece of a document.

    Attributes:
        start: First line (or page, for PDF) of the chunk, 1-based.
        end: Last line (or page), inclusive.
        unit: ``"line"`` or ``"page"``.
        title: The heading, section title or ``def``/``class`` name the chunk belongs to.
        text: The chunk's text.
    """

    start: int
    end: int
    unit: Literal["line", "page"]
    title: str
    text: str


@dataclass(slots=True)
class _Section:
    title: str
    units: list[Unit]


def decode_text(data: bytes) -> str:
    """Decode file bytes as UTF-8 (a BOM is dropped; undecodable bytes become U+FFFD)."""
    return data.decode("utf-8-sig", errors="replace")


def chunk_document(name: str, data: bytes, *, max_chars: int = 1200, overlap: int = 150) -> list[Chunk]:
    """Split one file's bytes into chunks, choosing the splitter from the file name's suffix.

    Args:
        name: The file name or path (only its suffix and stem are used).
        data: The file's content.
        max_chars: Upper bound on a chunk's text length (a little more with overlap).
        overlap: About this many characters of a chunk are repeated at the start of the next one.
    """
    suffix = PurePath(name).suffix.lower()
    if suffix in PDF:
        return _pack_sections(_pdf_sections(data), "page", max_chars, overlap)
    text = decode_text(data)
    splitter: Callable[[list[str], str], list[_Section]] = _plain_sections
    if suffix in MARKDOWN:
        splitter = _markdown_sections
    elif suffix in RST:
        splitter = _rst_sections
    elif suffix in PYTHON:
        splitter = _python_sections
    elif suffix in HTML:
        return _pack_sections(_html_sections(text, PurePath(name).stem), "line", max_chars, overlap)
    return _pack_sections(splitter(text.splitlines(), PurePath(name).stem), "line", max_chars, overlap)


# --- section splitters -------------------------------------------------------------------------


def _cut(lines: list[str], starts: list[tuple[int, str]], first_title: str) -> list[_Section]:
    """Cut numbered lines into sections starting at the given 0-based indexes."""
    bounds = [(0, first_title), *[(i, t) for i, t in starts if i > 0]]
    if starts and starts[0][0] == 0:
        bounds[0] = starts[0]
    sections = []
    for n, (begin, title) in enumerate(bounds):
        stop = bounds[n + 1][0] if n + 1 < len(bounds) else len(lines)
        units = [(i + 1, lines[i]) for i in range(begin, stop)]
        if any(text.strip() for _, text in units):
            sections.append(_Section(title, units))
    return sections


_FENCE = re.compile(r"^\s{0,3}(```|~~~)")
_ATX = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_SETEXT = re.compile(r"^\s{0,3}(=+|-+)\s*$")


def _markdown_sections(lines: list[str], stem: str) -> list[_Section]:
    starts: list[tuple[int, str]] = []
    in_fence = False
    for i, line in enumerate(lines):
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        if match := _ATX.match(line):
            starts.append((i, match.group(2) or stem))
        elif (
            i > 0
            and _SETEXT.match(line)
            and lines[i - 1].strip()
            and not _ATX.match(lines[i - 1])
            and (i < 2 or not lines[i - 2].strip())
        ):
            starts.append((i - 1, lines[i - 1].strip()))
    return _cut(lines, starts, stem)


_RST_ADORNMENT = re.compile(r"""^([=\-`:'"~^_*+#<>.])\1{2,}\s*$""")


def _rst_sections(lines: list[str], stem: str) -> list[_Section]:
    starts: list[tuple[int, str]] = []
    for i in range(1, len(lines)):
        title = lines[i - 1].strip()
        if (
            _RST_ADORNMENT.match(lines[i])
            and title
            and not _RST_ADORNMENT.match(lines[i - 1])
            and len(lines[i].rstrip()) >= len(title)
        ):
            above = i - 2
            overlined = above >= 0 and _RST_ADORNMENT.match(lines[above]) is not None
            starts.append((above if overlined else i - 1, title))
    return _cut(lines, starts, stem)


def _python_sections(lines: list[str], stem: str) -> list[_Section]:
    try:
        tree = ast.parse("\n".join(lines))
    except (SyntaxError, ValueError):
        return _plain_sections(lines, stem)
    starts: list[tuple[int, str]] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            kind = "class" if isinstance(node, ast.ClassDef) else "def"
            starts.append((first - 1, f"{kind} {node.name}"))
    return _cut(lines, starts, stem)


def _plain_sections(lines: list[str], stem: str) -> list[_Section]:
    return _cut(lines, [], stem)


_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6", "title"})
_BLOCKS = frozenset(
    {"p", "div", "br", "li", "ul", "ol", "tr", "td", "th", "table", "pre", "section", "article",
     "blockquote", "dt", "dd", "hr", "header", "footer", "main", "nav", "figcaption", "body"}
)  # fmt: skip
_SKIP = frozenset({"script", "style", "noscript", "template"})


class _HtmlText(HTMLParser):
    """Collect an HTML page's text as sections, remembering each block's source line."""

    def __init__(self, stem: str) -> None:
        super().__init__(convert_charrefs=True)
        self.sections = [_Section(stem, [])]
        self._parts: list[Unit] = []
        self._skip = 0
        self._heading: str | None = None

    def _flush(self) -> None:
        units = [(line, " ".join(text.split())) for line, text in self._parts]
        units = [(line, text) for line, text in units if text]
        self._parts = []
        if not units:
            return
        if self._heading is not None:
            if self._heading == "title" and any(s.units for s in self.sections):
                return
            self.sections.append(_Section(" ".join(text for _, text in units), []))
        self.sections[-1].units.extend(units)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self._skip += 1
        elif tag in _HEADINGS or tag in _BLOCKS:
            self._flush()
            self._heading = tag if tag in _HEADINGS else None

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag in _HEADINGS or tag in _BLOCKS:
            self._flush()
            self._heading = None

    def handle_data(self, data: str) -> None:
        if self._skip or not data.strip():
            return
        first = self.getpos()[0]
        for offset, text in enumerate(data.split("\n")):
            if self._parts and self._parts[-1][0] == first + offset:
                self._parts[-1] = (first + offset, self._parts[-1][1] + " " + text)
            else:
                self._parts.append((first + offset, text))

    def close(self) -> None:
        super().close()
        self._flush()


def _html_sections(text: str, stem: str) -> list[_Section]:
    parser = _HtmlText(stem)
    parser.feed(text)
    parser.close()
    return [section for section in parser.sections if section.units]


def _pdf_sections(data: bytes) -> list[_Section]:
    from pypdf import PdfReader  # noqa: PLC0415 - pypdf is only needed for PDF files

    reader = PdfReader(io.BytesIO(data))
    units = [(number, page.extract_text() or "") for number, page in enumerate(reader.pages, 1)]
    title = ""
    if reader.metadata is not None and reader.metadata.title:
        title = str(reader.metadata.title)
    sections = []
    for number, page_text in units:
        lines = [(number, line) for line in page_text.splitlines()]
        if any(line.strip() for _, line in lines):
            sections.append(_Section(title or f"page {number}", lines))
    return sections


# --- packing -----------------------------------------------------------------------------------


def _split_long(units: Iterable[Unit], max_chars: int) -> list[Unit]:
    """Break units longer than ``max_chars`` (minified files, long paragraphs) at spaces."""
    out: list[Unit] = []
    for number, whole in units:
        text = whole
        while len(text) > max_chars:
            cut = text.rfind(" ", max_chars // 2, max_chars)
            cut = cut if cut > 0 else max_chars
            out.append((number, text[:cut]))
            text = text[cut:].lstrip(" ")
        out.append((number, text))
    return out


def _size(units: list[Unit]) -> int:
    return sum(len(text) + 1 for _, text in units)


def _emit(units: list[Unit], kind: Literal["line", "page"], title: str) -> Chunk | None:
    numbers = [number for number, text in units if text.strip()]
    if not numbers:
        return None
    body = "\n".join(text for _, text in units).strip("\n")
    return Chunk(start=numbers[0], end=numbers[-1], unit=kind, title=title, text=body)


def _tail(units: list[Unit], overlap: int) -> list[Unit]:
    """The last units of a chunk whose total length fits in ``overlap``."""
    taken: list[Unit] = []
    size = 0
    for unit in reversed(units):
        size += len(unit[1]) + 1
        if size > overlap:
            break
        taken.append(unit)
    taken.reverse()
    while taken and not taken[0][1].strip():
        taken.pop(0)
    return taken


def _pack_section(
    section: _Section, kind: Literal["line", "page"], max_chars: int, overlap: int
) -> list[Chunk]:
    pieces: list[list[Unit]] = []
    current: list[Unit] = []
    carried = 0  # how many units at the start of ``current`` repeat the previous chunk
    for unit in _split_long(section.units, max_chars):
        while len(current) > carried and _size(current) + len(unit[1]) + 1 > max_chars:
            cut = len(current)
            for i in range(len(current) - 1, carried, -1):  # prefer a blank line past the middle
                if not current[i][1].strip() and _size(current[:i]) >= max_chars // 2:
                    cut = i
                    break
            piece, rest = current[:cut], current[cut:]
            pieces.append(piece)
            carry = _tail(piece, overlap)
            if _size(carry) + _size(rest) + len(unit[1]) + 1 > max_chars:
                carry = []
            current, carried = carry + rest, len(carry)
        current.append(unit)
    if len(current) > carried:
        pieces.append(current)
    chunks = [_emit(piece, kind, section.title) for piece in pieces]
    return [chunk for chunk in chunks if chunk is not None]


def _pack_sections(
    sections: list[_Section], kind: Literal["line", "page"], max_chars: int, overlap: int
) -> list[Chunk]:
    return [chunk for section in sections for chunk in _pack_section(section, kind, max_chars, overlap)]
