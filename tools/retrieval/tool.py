"""The ``search`` tool: hybrid search over an :class:`~tools.retrieval.index.Index`, passages, citations.

The output lists the passages as ``[1] path:12-40 (Title)`` followed by the passage's text (whole
chunks, or the best window of one, within a token budget: :mod:`tools.retrieval.passages`), so an
answer can quote and cite ``path:lines``; paths under the current directory are shown relative to
it. Errors reach the model as ``"Error: …"`` tool messages, like the calculator's.

The tool also checks citations (:meth:`SearchTool.check_citations`): the researcher's graph uses
it to verify an answer against the same index.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from langchain_core.tools import StructuredTool, ToolException
from pydantic import BaseModel, Field

from tools.errors import ToolError
from tools.retrieval.citations import CitationCheck, check_citations
from tools.retrieval.hits import Hit
from tools.retrieval.index import Index
from tools.retrieval.passages import DEFAULT_BUDGET, passages

__all__ = [
    "DESCRIPTION",
    "MAX_K",
    "MIN_BUDGET",
    "SearchInput",
    "SearchTool",
    "format_hits",
    "make_search_tool",
]

MAX_K = 20
MIN_BUDGET = 100

DESCRIPTION = """\
Search the user's ingested documents (notes, docs, code, PDFs) and get the most relevant passages \
with their source.

Write the query as keywords or a short question, e.g. "retry timeout configuration". \
Each passage starts with [n] path:first-last line (section title); PDF results give pages as p3. \
Quote the words that answer the question and cite them as path:lines. If nothing relevant is \
found, say the documents do not contain it instead of guessing."""

USAGE = f'search takes "query" (a string) and optionally "k" (an integer from 1 to {MAX_K}).'


class SearchInput(BaseModel):
    """The search tool's arguments."""

    query: str = Field(description="Keywords or a short question about the documents.")
    k: int = Field(default=5, ge=1, le=MAX_K, description="How many passages to return (1-20).")


def format_hits(
    query: str, hits: list[Hit], relative_to: Path | None = None, *, budget: int | None = None
) -> str:
    """Render hits as numbered, cited passages within ``budget`` tokens (``None``: whole chunks).

    Nothing found gives a sentence saying so, never an empty string.
    """
    if not hits:
        return f"No passage in the ingested documents matches {query!r}: the documents do not contain it."
    shown, left = passages(hits, query, budget if budget is not None else 10**9)
    blocks = []
    for number, passage in enumerate(shown, 1):
        title = f" ({passage.hit.title})" if passage.hit.title else ""
        blocks.append(f"[{number}] {passage.citation(relative_to)}{title}\n{passage.text}")
    if left:
        blocks.append(f"({left} more passage{'s' if left > 1 else ''} left out to fit the context.)")
    return "\n\n".join(blocks)


class SearchTool(StructuredTool):
    """The ``search`` tool over one index; :meth:`check_citations` verifies answers against it."""

    index: Any = None  # the Index (typed Any: pydantic need not know the class)

    def check_citations(self, answer: str) -> list[CitationCheck]:
        """The verdict on each ``path:lines`` citation (and quote) in ``answer``."""
        index: Index = self.index
        return check_citations(answer, index)


def make_search_tool(index: Index, *, default_k: int = 5, budget: int = DEFAULT_BUDGET) -> SearchTool:
    """Build the ``search`` tool over ``index``, showing at most ``budget`` tokens of passages per call.

    Raises:
        ValueError: ``budget`` is below :data:`MIN_BUDGET` tokens.
    """
    if budget < MIN_BUDGET:
        raise ValueError(f"the search budget must be at least {MIN_BUDGET} tokens, not {budget}")

    def search(query: str, k: int = default_k) -> str:
        return format_hits(query, index.search(query, k), Path.cwd(), budget=budget)

    @functools.wraps(search)
    def run(*args: Any, **kwargs: Any) -> str:
        try:
            return search(*args, **kwargs)
        except ToolError as error:
            raise ToolException(str(error)) from error

    return SearchTool(
        name="search",
        description=DESCRIPTION,
        func=run,
        args_schema=SearchInput,
        handle_tool_error=lambda error: f"Error: {error}",
        handle_validation_error=lambda _error: f"Error: {USAGE}",
        index=index,
    )
