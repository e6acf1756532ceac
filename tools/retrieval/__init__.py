"""Retrieval over local documents: one SQLite file with BM25 (FTS5) and vectors, hybrid search with
citations, passages sized for the model, citation checks, and the ``search`` tool."""

from __future__ import annotations

from tools.retrieval.citations import CitationCheck, check_citations
from tools.retrieval.embedders import DEFAULT_EMBEDDER, Embedder, EmbedderError, make_embedder
from tools.retrieval.files import IngestStats
from tools.retrieval.hits import Hit
from tools.retrieval.index import Index
from tools.retrieval.paths import default_db_path, index_path, named_indexes, resolve_index
from tools.retrieval.tool import SearchTool, make_search_tool

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
