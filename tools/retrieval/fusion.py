"""Rank fusion and the small BM25 used where there is no FTS5 index (long-term memory facts).

Reciprocal rank fusion (Cormack, Clarke and Büttcher, 2009): every ranked list gives an item
``1 / (k + rank)``, summed over the lists; ``k = 60`` as in the paper. It needs no score calibration
between BM25 and cosine similarity, which is why hybrid search uses it.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Hashable, Sequence
from typing import TypeVar

__all__ = ["RRF_K", "bm25_scores", "rrf", "terms"]

RRF_K = 60
T = TypeVar("T", bound=Hashable)
_TOKEN = re.compile(r"\w+")
_STOP = frozenset(
    _TOKEN.findall(
        "a an and are as at be by do does for from has have how i in is it its me my of on or our that the "
        "their them they this to was were what when where which who will with you your"
    )
)


def rrf(rankings: Sequence[Sequence[T]], k: int = RRF_K) -> list[tuple[T, float]]:
    """Fuse ranked lists (best first) into one, best first, with each item's fused score.

    Ties keep the order in which items first appeared (the first list wins).
    """
    scores: dict[T, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, 1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    order = {item: n for n, item in enumerate(scores)}
    return sorted(scores.items(), key=lambda pair: (-pair[1], order[pair[0]]))


def terms(text: str) -> list[str]:
    """Lower-cased words without common English stop words."""
    return [t for t in _TOKEN.findall(text.casefold()) if t not in _STOP]


def bm25_scores(query: str, texts: Sequence[str], *, k1: float = 1.5, b: float = 0.75) -> list[float]:
    """Okapi BM25 of each text against ``query`` (0.0 when they share no term)."""
    wanted = set(terms(query))
    if not wanted or not texts:
        return [0.0] * len(texts)
    docs = [Counter(terms(text)) for text in texts]
    count = len(docs)
    avg_len = sum(sum(d.values()) for d in docs) / count or 1.0
    df = {t: sum(1 for d in docs if t in d) for t in wanted}
    idf = {t: math.log((count - df[t] + 0.5) / (df[t] + 0.5) + 1.0) for t in wanted}
    scores = []
    for doc in docs:
        length = sum(doc.values())
        score = 0.0
        for t in wanted:
            tf = doc.get(t, 0)
            if tf:
                score += idf[t] * tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / avg_len))
        scores.append(score)
    return scores
