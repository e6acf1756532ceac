"""A search result and its citation."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Hit"]


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result: a whole chunk with where it comes from.

    Attributes:
        path: Absolute path of the file.
        start: First line (or PDF page) of the chunk.
        end: Last line (or page), inclusive.
        unit: ``"line"`` or ``"page"``.
        title: Heading, section title or ``def``/``class`` name of the chunk.
        score: Relevance, higher is better: BM25 (``bm25``), cosine similarity (``vector``) or the
            reciprocal-rank-fusion score (``hybrid``).
        snippet: The part of the chunk that matched the query's words (FTS5 ``snippet()``; empty
            for a chunk found by its vector alone).
        text: The whole chunk.
        chunk_id: The chunk's row id in the index.
    """

    path: str
    start: int
    end: int
    unit: str
    title: str
    score: float
    snippet: str
    text: str
    chunk_id: int = 0

    def citation(self, relative_to: Path | None = None) -> str:
        """``path:12-40`` (``path:p3`` for PDF pages), the path relative to ``relative_to`` if inside it."""
        return cite(self.path, self.start, self.end, self.unit, relative_to)


def cite(path: str, start: int, end: int, unit: str, relative_to: Path | None = None) -> str:
    """``path:start-end`` (one number when equal; ``p`` before page numbers)."""
    if relative_to is not None:
        with contextlib.suppress(ValueError):
            path = str(Path(path).relative_to(relative_to))
    span = str(start) if start == end else f"{start}-{end}"
    return f"{path}:{'p' if unit == 'page' else ''}{span}"
