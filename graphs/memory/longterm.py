"""Long-term memory: facts about a user kept in a LangGraph ``BaseStore``, and the tools to use them.

Facts live under the namespace ``("memories", user_id)``, one item per fact: the key is a hash of
the normalised text (so the same fact said twice is stored once) and the value is
``{"fact": str, "created_at": ISO-8601 UTC}``.

Ranking: by default :func:`recall_facts` reads the user's facts and ranks them with the same hybrid
search as documents (:mod:`tools.retrieval`): a small BM25 (Okapi, k1=1.5, b=0.75) computed here in
Python and the cosine similarity of the facts' embeddings (the bundled offline embedder by default),
fused by reciprocal rank. It works the same on every backend; a fact that shares no word with the
query is still found by meaning ("which language for this script?" finds "prefers Python"), and
facts below :data:`FACT_SIMILARITY_FLOOR` that share no word are not returned. Without an embedder
(``embedder=None``, or none installed) it is BM25 alone. When the store was opened with an
embedding index (``open_store(uri, index=...)``), the store's own semantic ``search(query=...)``
ranks instead.

Agents reach memory through :func:`make_memory_tools` (``remember`` / ``recall``) and through
:func:`recall_context`, which formats the most relevant facts for the system prompt.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime

from langchain_core.tools import BaseTool, StructuredTool, ToolException
from langgraph.store.base import BaseStore, Item

from graphs.errors import MemoryError_
from graphs.memory.ranking import (
    DEFAULT_EMBEDDER,
    FACT_SIMILARITY_FLOOR,
    Fact,
    bm25_rank,
    hybrid_rank,
    pick_embedder,
)
from tools.retrieval.embedders import Embedder

__all__ = [
    "FACT_SIMILARITY_FLOOR",
    "MAX_FACT_CHARS",
    "MAX_RECALL",
    "Fact",
    "arecall_context",
    "arecall_facts",
    "aremember_fact",
    "bm25_rank",
    "hybrid_rank",
    "make_memory_tools",
    "namespace_for",
    "recall_context",
    "recall_facts",
    "remember_fact",
]

NAMESPACE_ROOT = "memories"
MAX_FACT_CHARS = 1000
MAX_RECALL = 50
_PAGE = 200
_MAX_SCAN = 10_000


def namespace_for(user_id: str) -> tuple[str, str]:
    """The store namespace of ``user_id``'s facts.

    Raises:
        MemoryError_: the id is empty or contains a period or NUL (not allowed in namespaces).
    """
    uid = user_id.strip() if isinstance(user_id, str) else ""
    if not uid or "." in uid or "\x00" in uid:
        raise MemoryError_(f"invalid user id {user_id!r}: use a non-empty name without '.'")
    return (NAMESPACE_ROOT, uid)


def _clean_fact(fact: str) -> str:
    text = " ".join(str(fact).split())
    if not text:
        raise MemoryError_("cannot remember an empty fact")
    if len(text) > MAX_FACT_CHARS:
        raise MemoryError_(f"fact too long: {len(text)} characters (max {MAX_FACT_CHARS}); state it briefly")
    return text


def _fact_key(text: str) -> str:
    return hashlib.sha256(text.casefold().encode()).hexdigest()[:24]


def _check_k(k: int) -> int:
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_RECALL:
        raise MemoryError_(f"k must be an integer from 1 to {MAX_RECALL}, got {k!r}")
    return k


def _check_query(query: str) -> str:
    text = " ".join(str(query).split())
    if not text:
        raise MemoryError_("recall needs a non-empty query")
    return text[: MAX_FACT_CHARS * 2]


def _to_fact(item: Item, score: float = 0.0) -> Fact | None:
    value = item.value
    text = value.get("fact") if isinstance(value, dict) else None
    if not isinstance(text, str):
        return None
    return Fact(item.key, text, str(value.get("created_at", "")), score)


def _semantic(store: BaseStore) -> bool:
    return bool(getattr(store, "index_config", None))


# --------------------------------------------------------------------------- sync API


def _all_facts(store: BaseStore, ns: tuple[str, str]) -> list[Fact]:
    facts: list[Fact] = []
    offset = 0
    while offset < _MAX_SCAN:
        page = store.search(ns, limit=_PAGE, offset=offset)
        facts.extend(f for f in map(_to_fact, page) if f)
        if len(page) < _PAGE:
            break
        offset += _PAGE
    return facts


def remember_fact(store: BaseStore, user_id: str, fact: str) -> tuple[Fact, bool]:
    """Store ``fact`` for ``user_id``; return it and whether it was new (False: already known).

    Raises:
        MemoryError_: empty or over-long fact, invalid user id.
    """
    ns, text = namespace_for(user_id), _clean_fact(fact)
    key = _fact_key(text)
    existing = store.get(ns, key)
    if existing is not None and (known := _to_fact(existing)):
        return known, False
    created = datetime.now(UTC).isoformat(timespec="seconds")
    store.put(ns, key, {"fact": text, "created_at": created}, index=["fact"] if _semantic(store) else False)
    return Fact(key, text, created), True


def recall_facts(
    store: BaseStore,
    user_id: str,
    query: str,
    k: int = 5,
    *,
    embedder: Embedder | str | None = DEFAULT_EMBEDDER,
) -> list[Fact]:
    """The ``k`` facts of ``user_id`` most relevant to ``query``, best first (hybrid, or the store's
    semantic search). ``embedder``: ``"default"`` (the bundled one), an embedder, or ``None`` (BM25)."""
    ns, q, k = namespace_for(user_id), _check_query(query), _check_k(k)
    if _semantic(store):
        return [f for item in store.search(ns, query=q, limit=k) if (f := _to_fact(item, item.score or 0.0))]
    return hybrid_rank(q, _all_facts(store, ns), k, pick_embedder(embedder))


def recall_context(store: BaseStore, user_id: str, query: str, k: int = 3) -> str:
    """Format the most relevant facts for a system prompt; ``""`` when nothing relevant is stored."""
    if not query.strip():
        return ""
    return _format_context(recall_facts(store, user_id, query, k))


# --------------------------------------------------------------------------- async API


async def _aall_facts(store: BaseStore, ns: tuple[str, str]) -> list[Fact]:
    facts: list[Fact] = []
    offset = 0
    while offset < _MAX_SCAN:
        page = await store.asearch(ns, limit=_PAGE, offset=offset)
        facts.extend(f for f in map(_to_fact, page) if f)
        if len(page) < _PAGE:
            break
        offset += _PAGE
    return facts


async def aremember_fact(store: BaseStore, user_id: str, fact: str) -> tuple[Fact, bool]:
    """Async twin of :func:`remember_fact`."""
    ns, text = namespace_for(user_id), _clean_fact(fact)
    key = _fact_key(text)
    existing = await store.aget(ns, key)
    if existing is not None and (known := _to_fact(existing)):
        return known, False
    created = datetime.now(UTC).isoformat(timespec="seconds")
    await store.aput(
        ns, key, {"fact": text, "created_at": created}, index=["fact"] if _semantic(store) else False
    )
    return Fact(key, text, created), True


async def arecall_facts(
    store: BaseStore,
    user_id: str,
    query: str,
    k: int = 5,
    *,
    embedder: Embedder | str | None = DEFAULT_EMBEDDER,
) -> list[Fact]:
    """Async twin of :func:`recall_facts` (embedding runs in a worker thread)."""
    ns, q, k = namespace_for(user_id), _check_query(query), _check_k(k)
    if _semantic(store):
        items = await store.asearch(ns, query=q, limit=k)
        return [f for item in items if (f := _to_fact(item, item.score or 0.0))]
    facts = await _aall_facts(store, ns)
    return await asyncio.to_thread(hybrid_rank, q, facts, k, pick_embedder(embedder))


async def arecall_context(store: BaseStore, user_id: str, query: str, k: int = 3) -> str:
    """Async twin of :func:`recall_context`."""
    if not query.strip():
        return ""
    return _format_context(await arecall_facts(store, user_id, query, k))


# --------------------------------------------------------------------------- formatting and tools


def _format_context(facts: Sequence[Fact]) -> str:
    if not facts:
        return ""
    lines = "\n".join(f"- {f.text}" for f in facts)
    return f"Things you remember about this user (most relevant first):\n{lines}"


def _format_recall(facts: Sequence[Fact]) -> str:
    if not facts:
        return "No relevant memories."
    return "\n".join(f"{i}. {f.text} (remembered {f.created_at[:10]})" for i, f in enumerate(facts, 1))


def _format_remember(fact: Fact, new: bool) -> str:
    return f"Remembered: {fact.text}" if new else f"Already remembered: {fact.text}"


def make_memory_tools(store: BaseStore, user_id: str) -> list[BaseTool]:
    """``[remember, recall]`` tools bound to ``user_id``'s namespace in ``store`` (sync and async).

    Bad input (empty or over-long fact, bad ``k``) reaches the model as the tool's error text, so
    it can correct itself; the graph does not crash.
    """
    namespace_for(user_id)  # fail now, not on the first tool call

    def _guard(err: MemoryError_) -> ToolException:
        return ToolException(str(err))

    def remember(fact: str) -> str:
        try:
            return _format_remember(*remember_fact(store, user_id, fact))
        except MemoryError_ as err:
            raise _guard(err) from err

    async def aremember(fact: str) -> str:
        try:
            return _format_remember(*(await aremember_fact(store, user_id, fact)))
        except MemoryError_ as err:
            raise _guard(err) from err

    def recall(query: str, k: int = 5) -> str:
        try:
            return _format_recall(recall_facts(store, user_id, query, k))
        except MemoryError_ as err:
            raise _guard(err) from err

    async def arecall(query: str, k: int = 5) -> str:
        try:
            return _format_recall(await arecall_facts(store, user_id, query, k))
        except MemoryError_ as err:
            raise _guard(err) from err

    remember_tool = StructuredTool.from_function(
        func=remember,
        coroutine=aremember,
        name="remember",
        description=(
            "Store one short, self-contained fact about the user for future conversations "
            f"(at most {MAX_FACT_CHARS} characters), e.g. 'The user's daughter is named Ada.'"
        ),
        handle_tool_error=True,
    )
    recall_tool = StructuredTool.from_function(
        func=recall,
        coroutine=arecall,
        name="recall",
        description=(
            "Look up facts remembered about the user from earlier conversations; returns the k most "
            f"relevant (k from 1 to {MAX_RECALL}, default 5)."
        ),
        handle_tool_error=True,
    )
    return [remember_tool, recall_tool]
