"""Checking an answer's citations against the index: the cited lines exist and hold the quoted words.

An answer cites ``path:12-40`` (or ``path:12``, ``report.pdf:p3``) and may quote the passage in
double quotes. :func:`check_citations` finds every citation, resolves its path among the indexed
documents (as written, relative to the current directory, or by a unique path suffix such as
``billing.py``), checks that the lines are inside the document, and that every word of each quote
on the same line of the answer appears in the cited lines (a quote on a line without a citation is
checked against all the answer's citations). Words are compared lower-cased, punctuation ignored.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tools.retrieval.hits import Hit
from tools.retrieval.index import Index

__all__ = ["CitationCheck", "check_citations", "find_citations", "find_quotes", "lines_text"]

CITATION = re.compile(
    r"(?<![\w/.-])((?:[\w.~-]+/)*[\w.-]+\.[A-Za-z0-9]{1,8}):(p?)(\d+)(?:\s*[-\u2013]\s*(\d+))?"
)
QUOTE = re.compile(r"[\"“”]([^\"“”\n]{3,}?)[\"“”]")
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class CitationCheck:
    """The verdict on one citation: ``ok``, or the ``problem`` in a sentence for the model."""

    citation: str
    ok: bool
    problem: str = ""
    quote: str = ""

    def to_json(self) -> dict[str, Any]:
        """A plain dict (for run results)."""
        return asdict(self)


def find_citations(text: str) -> list[tuple[str, str, int, int]]:
    """``(as written, path, first, last)`` for each ``path:lines`` in ``text``, in order."""
    found = []
    for match in CITATION.finditer(text):
        first = int(match.group(3))
        last = int(match.group(4)) if match.group(4) else first
        found.append((match.group(0), match.group(1), first, last))
    return found


def find_quotes(line: str) -> list[str]:
    """The double-quoted passages of one line of text (three characters or more)."""
    return [q.strip() for q in QUOTE.findall(line) if _WORD.search(q)]


def lines_text(chunks: list[Hit], first: int, last: int) -> str:
    """The text of lines ``first``..``last`` from a document's chunks.

    Chunks whose text maps line for line onto their range give exactly those lines; others
    (HTML blocks, PDF pages, split long lines) give their whole text when they overlap the range.
    """
    picked: dict[int, str] = {}
    loose: list[str] = []
    for chunk in chunks:
        if chunk.end < first or chunk.start > last:
            continue
        lines = chunk.text.split("\n")
        if chunk.unit == "line" and len(lines) == chunk.end - chunk.start + 1:
            for number, line in enumerate(lines, chunk.start):
                if first <= number <= last:
                    picked[number] = line
        else:
            loose.append(chunk.text)
    return "\n".join([*(picked[n] for n in sorted(picked)), *loose])


def _resolve(path: str, known: list[str]) -> str | None:
    candidates = [path, str(Path.cwd() / path), str(Path(path).expanduser().resolve())]
    for candidate in candidates:
        if candidate in known:
            return candidate
    suffix = [p for p in known if p.endswith("/" + path.lstrip("./"))]
    return suffix[0] if len(suffix) == 1 else None


def _missing_words(quote: str, text: str) -> list[str]:
    have = set(_WORD.findall(text.casefold()))
    return [w for w in _WORD.findall(quote.casefold()) if w not in have]


def check_citations(answer: str, index: Index) -> list[CitationCheck]:
    """Check every citation in ``answer`` (and the quotes beside them) against ``index``."""
    known = [doc["path"] for doc in index.documents()]
    checks: dict[str, CitationCheck] = {}  # by the citation as written
    texts: dict[str, str] = {}  # the text of the cited lines, for valid citations
    for written, path, first, last in find_citations(answer):
        if written in checks:
            continue
        resolved = _resolve(path, known)
        if resolved is None:
            checks[written] = CitationCheck(written, False, f"{path} is not one of the indexed documents")
            continue
        chunks = index.chunks_of(resolved)
        end = max((c.end for c in chunks), default=0)
        if first < 1 or last < first or last > end:
            unit = "pages" if chunks and chunks[0].unit == "page" else "lines"
            checks[written] = CitationCheck(written, False, f"{path} has {unit} 1-{end}, not {first}-{last}")
            continue
        texts[written] = lines_text(chunks, first, last)
        checks[written] = CitationCheck(written, True)
    for line in answer.splitlines():
        here = [c[0] for c in find_citations(line)] or list(checks)
        valid = [w for w in here if w in texts]
        for quote in find_quotes(line):
            if CITATION.fullmatch(quote) or not valid:
                continue  # a quoted citation; or its citations already failed
            missing = _missing_words(quote, "\n".join(texts[w] for w in valid))
            if missing:
                lacking = ", ".join(missing[:6])
                problem = f'the quote "{quote}" is not in {", ".join(valid)} ({lacking} missing)'
                for written in valid:
                    checks[written] = CitationCheck(written, False, problem, quote)
                    texts.pop(written)
    return list(checks.values())
