"""What the model reads: whole chunks, or the best window of a chunk, within a token budget.

A small model answers from what it is shown, so the search tool gives it the passages themselves
(not a 48-token snippet) with the exact lines they come from. Passages are added best first while
they fit the budget; a chunk that no longer fits whole is cut to its best window (the lines that
hold most of the query's words), whose citation is that window's own line range, so every citation
the model copies is exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from tools.retrieval.fusion import terms
from tools.retrieval.hits import Hit, cite

__all__ = ["CHARS_PER_TOKEN", "DEFAULT_BUDGET", "MIN_WINDOW_CHARS", "Passage", "best_window", "passages"]

CHARS_PER_TOKEN = 3.5
"""Qwen's tokenizer averages about 4 characters per token on English prose, 3 on code."""
DEFAULT_BUDGET = 1500
"""Tokens of passages per search: 5 whole chunks fit, and so does the 8k context of a local model."""
MIN_WINDOW_CHARS = 240


@dataclass(frozen=True, slots=True)
class Passage:
    """Text shown to the model and the lines it covers."""

    hit: Hit
    start: int
    end: int
    text: str

    def citation(self, relative_to: Path | None = None) -> str:
        """``path:start-end`` of the text shown."""
        return cite(self.hit.path, self.start, self.end, self.hit.unit, relative_to)


def tokens(text: str) -> int:
    """An estimate of ``text``'s length in tokens."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def _stems(words: list[str]) -> set[str]:
    return {w[:5] for w in words if len(w) > 1}


def best_window(hit: Hit, query: str, max_chars: int) -> Passage:
    """The run of the chunk's lines, at most ``max_chars`` long, holding most of the query's words.

    A chunk whose text lines do not map one-to-one to its line range (PDF pages, HTML blocks, split
    long lines) is cut at ``max_chars`` around its first matching word, keeping the whole citation.
    """
    if len(hit.text) <= max_chars:
        return Passage(hit, hit.start, hit.end, hit.text)
    wanted = _stems(terms(query))
    lines = hit.text.split("\n")
    weights = [len(_stems(terms(line)) & wanted) for line in lines]
    if hit.unit != "line" or len(lines) != hit.end - hit.start + 1:
        first = next((n for n, w in enumerate(weights) if w), 0)
        offset = sum(len(line) + 1 for line in lines[:first])
        begin = max(0, min(offset - max_chars // 4, len(hit.text) - max_chars))
        return Passage(hit, hit.start, hit.end, "…" + hit.text[begin : begin + max_chars].strip() + "…")
    best = (-1, 0, 0)  # (weight, first line, last line), windows grown greedily from each start
    for first in range(len(lines)):
        size, weight, last = 0, 0, first - 1
        while last + 1 < len(lines) and size + len(lines[last + 1]) + 1 <= max_chars:
            last += 1
            size += len(lines[last]) + 1
            weight += weights[last]
        if last >= first and weight > best[0]:
            best = (weight, first, last)
    _, first, last = best
    while last > first and not lines[last].strip():
        last -= 1
    while first < last and not lines[first].strip():
        first += 1
    return Passage(hit, hit.start + first, hit.start + last, "\n".join(lines[first : last + 1]))


def passages(hits: list[Hit], query: str, budget: int = DEFAULT_BUDGET) -> tuple[list[Passage], int]:
    """The passages to show for ``hits`` within ``budget`` tokens, and how many hits were left out."""
    chosen: list[Passage] = []
    room = int(budget * CHARS_PER_TOKEN)
    for count, hit in enumerate(hits):
        overhead = len(hit.path) + len(hit.title) + 24  # the "[n] path:lines (title)" line
        if len(hit.text) + overhead <= room:
            passage = Passage(hit, hit.start, hit.end, hit.text)
        elif room - overhead >= MIN_WINDOW_CHARS:
            passage = best_window(hit, query, room - overhead)
        else:
            return chosen, len(hits) - count
        chosen.append(passage)
        room -= len(passage.text) + overhead
    return chosen, 0
