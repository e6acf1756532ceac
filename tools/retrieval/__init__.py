"""Retrieval over local documents: one SQLite file with BM25 (FTS5) and vectors, hybrid search with
citations, passages sized for the model, citation checks, and the ``search`` tool.

The names below are imported on first use (PEP 562), so importing one submodule (say
``tools.retrieval.paths`` for a default path) does not load sqlite-utils, numpy and the index:
programs that never search (``qwengraph run`` with the calculator) start faster.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tools.retrieval.citations import CitationCheck, check_citations
    from tools.retrieval.embedders import DEFAULT_EMBEDDER, Embedder, EmbedderError, make_embedder
    from tools.retrieval.files import IngestStats
    from tools.retrieval.hits import Hit
    from tools.retrieval.index import Index
    from tools.retrieval.paths import default_db_path, index_path, named_indexes, resolve_index
    from tools.retrieval.tool import SearchTool, make_search_tool

_WHERE = {
    "CitationCheck": "citations",
    "check_citations": "citations",
    "DEFAULT_EMBEDDER": "embedders",
    "Embedder": "embedders",
    "EmbedderError": "embedders",
    "make_embedder": "embedders",
    "IngestStats": "files",
    "Hit": "hits",
    "Index": "index",
    "default_db_path": "paths",
    "index_path": "paths",
    "named_indexes": "paths",
    "resolve_index": "paths",
    "SearchTool": "tool",
    "make_search_tool": "tool",
}

__all__ = [
    "DEFAULT_EMBEDDER",
    "CitationCheck",
    "Embedder",
    "EmbedderError",
    "Hit",
    "Index",
    "IngestStats",
    "SearchTool",
    "check_citations",
    "default_db_path",
    "index_path",
    "make_embedder",
    "make_search_tool",
    "named_indexes",
    "resolve_index",
]


def __getattr__(name: str) -> Any:
    """Import a public name's module when the name is first used."""
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])
