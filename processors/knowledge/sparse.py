"""BM25-style keyword vectors for Qdrant's sparse index (the keyword half of hybrid search).

Documents get the BM25 term-frequency part, ``tf·(k1+1) / (tf + k1·(1-b+b·len/avg_len))``; Qdrant
multiplies in the IDF at query time (``Modifier.IDF``), so the collection's statistics stay correct
as articles are added or removed incrementally. Terms map to indices with a stable hash (crc32), so
the same word gets the same index in every process and on every re-index.
"""

from __future__ import annotations

import re
import zlib
from collections import Counter

from qdrant_client import models

K1 = 1.2
B = 0.75
AVG_LEN = 90.0  # typical chunk length in terms (help-center sections); fixed so re-indexing is stable
_TOKEN = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")
_STOPWORD_TEXT = """
    a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have
    having he her here hers herself him himself his how i if in into is it its itself just let me more most
    my myself no nor not of off on once only or other our ours ourselves out over own same she should so
    some such than that the their theirs them themselves then there these they this those through to too
    under until up very was we were what when where which while who whom why will with would you your
    yours yourself yourselves please hi hello thanks thank help need want like know get got can't cannot
    i'm i'd i've don't im id ive dont could would"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def terms(text: str) -> list[str]:
    """Lower-cased, stop-word-free, lightly stemmed terms (plural and -ing/-ed endings folded)."""
    return [_stem(t) for t in _TOKEN.findall(text.lower()) if t not in STOPWORDS and len(t) > 1]


def _stem(token: str) -> str:
    token = token.replace("’", "'").split("'")[0]
    for suffix, keep in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if token.endswith(suffix) and len(token) - len(suffix) >= 3 and not token.endswith("ss"):
            return token[: -len(suffix)] + keep
    return token


def _index(term: str) -> int:
    return zlib.crc32(term.encode("utf-8")) & 0x7FFFFFFF


def document_vector(text: str) -> models.SparseVector:
    counts = Counter(terms(text))
    length = sum(counts.values()) or 1
    weights: dict[int, float] = {}
    for term, tf in counts.items():
        weight = tf * (K1 + 1) / (tf + K1 * (1 - B + B * length / AVG_LEN))
        idx = _index(term)
        weights[idx] = weights.get(idx, 0.0) + weight  # crc32 collisions just add up
    return models.SparseVector(indices=list(weights), values=list(weights.values()))


def query_vector(text: str) -> models.SparseVector:
    indices = sorted({_index(t) for t in terms(text)})
    return models.SparseVector(indices=indices, values=[1.0] * len(indices))
