"""Memory: thread checkpointers and long-term stores chosen by URI, and the remember/recall tools."""

from __future__ import annotations

from graphs.memory.backends import (
    ACCEPTED_FORMS,
    BackendURI,
    aopen_checkpointer,
    aopen_store,
    open_checkpointer,
    open_store,
    parse_uri,
)
from graphs.memory.longterm import make_memory_tools, recall_context

__all__ = [
    "ACCEPTED_FORMS",
    "BackendURI",
    "aopen_checkpointer",
    "aopen_store",
    "make_memory_tools",
    "open_checkpointer",
    "open_store",
    "parse_uri",
    "recall_context",
]
