"""Free text to a safe FTS5 ``MATCH`` expression."""

from __future__ import annotations

import re

__all__ = ["MAX_QUERY_TERMS", "fts_query"]

MAX_QUERY_TERMS = 32

_STOPWORDS = frozenset(
    str.split(
        "a an and are as at be by can could did do does for from had has have how i if in into is it its "
        "me my no not of on or our shall should so than that the their them then there these they this "
        "to was we were what when where which who whom why will with would you your"
    )
)
_PHRASE = re.compile(r'"([^"]*)"')
_WORD = re.compile(r"\w+")


def fts_query(text: str) -> str:
    """Turn free text into a safe FTS5 query: quoted terms joined by ``OR``; ``""`` when no term.

    Double-quoted phrases stay phrases; common English stop words and single letters are dropped
    unless nothing else is left; FTS5 operators and punctuation in the input lose their meaning.
    """
    terms: list[str] = []
    for phrase in _PHRASE.findall(text):
        words = _WORD.findall(phrase.lower())
        if len(words) > 1:
            terms.append(" ".join(words))
    words = [word.lower() for word in _WORD.findall(_PHRASE.sub(" ", text))]
    words += [word.lower() for phrase in _PHRASE.findall(text) for word in _WORD.findall(phrase)]
    kept = [word for word in words if word not in _STOPWORDS and len(word) > 1] or words
    terms.extend(kept)
    unique = list(dict.fromkeys(terms))[:MAX_QUERY_TERMS]
    return " OR ".join(f'"{term}"' for term in unique)
