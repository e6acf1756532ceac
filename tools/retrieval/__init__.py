"""Retrieval over local documents: SQLite FTS5 (BM25) index with citations, and the ``search`` tool."""

from __future__ import annotations

from tools.retrieval.index import Hit, Index, IngestStats, default_db_path
from tools.retrieval.tool import make_search_tool

__all__ = ["Hit", "Index", "IngestStats", "default_db_path", "make_search_tool"]
