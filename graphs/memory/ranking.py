"""Ranking a user's facts for ``recall``: BM25 and embedding similarity, fused by reciprocal rank.

The same hybrid search as documents (:mod:`tools.retrieval`), over a set small enough to rank in
Python on every backend: BM25 (Okapi, k1=1.5, b=0.75) computed here, and the cosine similarity of
the facts' embeddings (cached by text), fused with :func:`tools.retrieval.fusion.rrf`.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tools.retrieval.embedders import Embedder, EmbedderError, make_embedder
from tools.retrieval.fusion import bm25_scores, rrf

__all__ = ["DEFAULT_EMBEDDER", "FACT_SIMILARITY_FLOOR", "Fact", "bm25_rank", "hybrid_rank", "pick_embedder"]


@dataclass(frozen=True)
class Fact:
    """One remembered fact, with its ranking score (0.0 when unranked)."""

    key: str
    text: str
    created_at: str
    score: float = 0.0


def bm25_rank(query: str, facts: Sequence[Fact], k: int, *, k1: float = 1.5, b: float = 0.75) -> list[Fact]:
    """Rank ``facts`` against ``query`` with Okapi BM25; return the best ``k`` with a positive score.

    Ties keep the newer fact first.
    """
    scores = bm25_scores(query, [f.text for f in facts], k1=k1, b=b)
    scored = [
        Fact(f.key, f.text, f.created_at, score) for f, score in zip(facts, scores, strict=True) if score > 0
    ]
    scored.sort(key=lambda f: (-f.score, _neg_time(f.created_at)))
    return scored[:k]


FACT_SIMILARITY_FLOOR = 0.15
"""Cosine similarity a fact needs to be recalled by meaning alone. Measured with the bundled
WordLlama model on short facts: unrelated questions reach at most 0.14, "which language for this
script?" and "Alice prefers Python over JavaScript." 0.16."""
DEFAULT_EMBEDDER = "default"
_VECTORS: dict[tuple[str, str], Any] = {}
_VECTORS_LOCK = threading.Lock()
_MAX_CACHED = 20_000


def pick_embedder(embedder: Embedder | str | None) -> Embedder | None:
    """``"default"``: the bundled embedder (``None`` when it is not installed); a spec or an embedder."""
    if embedder == DEFAULT_EMBEDDER:
        return _default_embedder()
    return make_embedder(embedder) if isinstance(embedder, str) else embedder


def _default_embedder() -> Embedder | None:
    try:
        return make_embedder(None)
    except EmbedderError:
        return None


def _fact_vectors(embedder: Embedder, texts: list[str]) -> Any:
    """Embeddings of facts, cached by text (a user's facts are re-ranked on every turn)."""
    with _VECTORS_LOCK:
        missing = [t for t in dict.fromkeys(texts) if (embedder.spec, t) not in _VECTORS]
    if missing:
        rows = embedder.embed(missing)
        with _VECTORS_LOCK:
            if len(_VECTORS) + len(missing) > _MAX_CACHED:
                _VECTORS.clear()
            _VECTORS.update(((embedder.spec, t), row) for t, row in zip(missing, rows, strict=True))
    with _VECTORS_LOCK:
        return [_VECTORS.get((embedder.spec, t)) for t in texts]


def hybrid_rank(query: str, facts: Sequence[Fact], k: int, embedder: Embedder | None) -> list[Fact]:
    """Rank ``facts`` by BM25 and by embedding similarity, fused by reciprocal rank; the best ``k``.

    Facts found only by meaning need :data:`FACT_SIMILARITY_FLOOR`; ``embedder=None`` is BM25 alone.
    """
    words = bm25_rank(query, facts, len(facts) or 1)
    if embedder is None or not facts:
        return words[:k]
    try:
        rows = _fact_vectors(embedder, [f.text for f in facts])
        wanted = embedder.embed([query])[0]
    except EmbedderError:
        return words[:k]  # an unreachable embedding server must not cost the user their memories
    similar = sorted(
        ((float(row @ wanted), fact) for row, fact in zip(rows, facts, strict=True) if row is not None),
        key=lambda pair: -pair[0],
    )
    meaning = [fact.key for score, fact in similar if score >= FACT_SIMILARITY_FLOOR]
    by_key = {f.key: f for f in facts}
    fused = rrf([[f.key for f in words], meaning])[:k]
    return [Fact(key, by_key[key].text, by_key[key].created_at, score) for key, score in fused]


def _neg_time(created_at: str) -> float:
    try:
        return -datetime.fromisoformat(created_at).timestamp()
    except ValueError:
        return 0.0
