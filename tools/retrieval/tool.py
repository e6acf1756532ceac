"""The ``search`` tool: BM25 search over an :class:`~tools.retrieval.index.Index`, with citations.

The output lists the hits as ``[1] path:12-40 (Title)`` followed by the snippet, so an answer can cite
``path:lines``; paths under the current directory are shown relative to it. Errors reach the model
as ``"Error: …"`` tool messages, like the calculator's.
"""

from __future__ import annotations

from pathlib import Path

from langchain_core.tools import BaseTool
from pydantic import BaseModel, Field

from tools.model_tool import model_facing_tool
from tools.retrieval.index import Hit, Index

__all__ = ["DESCRIPTION", "MAX_K", "SearchInput", "format_hits", "make_search_tool"]

MAX_K = 20

DESCRIPTION = """\
Search the user's ingested documents (notes, docs, code, PDFs) by keywords and get the most \
relevant passages with their source.

Write the query as keywords or a short question, e.g. "retry timeout configuration". \
Each result starts with [n] path:first-last line (section title); PDF results give pages as p3. \
Cite the sources you use as path:lines. If nothing is found, say the documents do not contain it \
instead of guessing."""


class SearchInput(BaseModel):
    """The search tool's arguments."""

    query: str = Field(description="Keywords or a short question about the documents.")
    k: int = Field(default=5, ge=1, le=MAX_K, description="How many passages to return (1-20).")


def format_hits(query: str, hits: list[Hit], relative_to: Path | None = None) -> str:
    """Render hits as numbered, cited passages (or a sentence saying nothing matched)."""
    if not hits:
        return f"No passage in the ingested documents matches {query!r}: the documents do not contain it."
    blocks = []
    for number, hit in enumerate(hits, 1):
        title = f" ({hit.title})" if hit.title else ""
        blocks.append(f"[{number}] {hit.citation(relative_to)}{title}\n{hit.snippet}")
    return "\n\n".join(blocks)


def make_search_tool(index: Index, *, default_k: int = 5) -> BaseTool:
    """Build the ``search`` tool over ``index``."""

    def run(query: str, k: int = default_k) -> str:
        return format_hits(query, index.search(query, k), Path.cwd())

    return model_facing_tool(
        run,
        name="search",
        description=DESCRIPTION,
        args_schema=SearchInput,
        usage=f'search takes "query" (a string) and optionally "k" (an integer from 1 to {MAX_K}).',
    )
