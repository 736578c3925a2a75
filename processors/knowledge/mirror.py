"""A read-only, in-process copy of a local-mode collection, for the per-ticket search path.

Qdrant's local mode (``QdrantClient(path=...)`` or ``":memory:"``) is the embedded default. It scores
every sparse vector with a pure-Python merge loop and builds a pydantic ``ScoredPoint`` per candidate:
~4 ms per hybrid search over the bundled help center, a third of a ticket's compute. The mirror holds
the same points as numpy arrays (dense matrix, CSR keyword matrix, intent masks) and answers the two
searches :class:`KnowledgeBase` issues with Qdrant's own semantics — cosine over unit vectors, IDF
``ln((N - df + 0.5) / (df + 0.5) + 1)`` over the whole collection, points without a shared keyword left
out, ``MatchAny`` on the ``intents`` payload, the ``language`` match — so results are the same (a test compares them query by
query). Qdrant stays the store of record: indexing writes go to Qdrant and drop the mirror, which is
rebuilt from a scroll on the next search. A Qdrant server is always queried directly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from qdrant_client import QdrantClient, models
from scipy import sparse as sp

from supportflow.processors.knowledge.articles import DEFAULT_LANGUAGE
from supportflow.processors.knowledge.collection import LANGUAGE_FIELD

FloatArray = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Hit:
    """One scored point: Qdrant's ``ScoredPoint`` reduced to what fusion needs."""

    key: str
    score: float
    payload: Mapping[str, Any]
    dense: FloatArray | None = None  # the point's dense vector when the search returned it


def is_local(client: QdrantClient) -> bool:
    """True for local mode (in memory or on disk), where a mirror pays off; False for a server."""
    options = client.init_options
    return options.get("location") == ":memory:" or options.get("path") is not None


class CollectionMirror:
    def __init__(
        self,
        keys: list[str],
        dense: FloatArray,
        keyword_docs: Sequence[models.SparseVector],
        payloads: list[dict[str, Any]],
        intents_field: str,
    ) -> None:
        self._keys = keys
        self._payloads = payloads
        self._by_key = {key: i for i, key in enumerate(keys)}
        norms = np.linalg.norm(dense, axis=1, keepdims=True) if len(keys) else np.ones((0, 1), np.float32)
        self._dense = (dense / np.clip(norms, 1e-12, None)).astype(np.float32)
        self._columns: dict[int, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        values: list[float] = []
        for row, doc in enumerate(keyword_docs):
            for index, value in zip(doc.indices, doc.values, strict=True):
                rows.append(row)
                cols.append(self._columns.setdefault(int(index), len(self._columns)))
                values.append(float(value))
        shape = (len(keys), len(self._columns))
        self._keywords = sp.csr_matrix((np.asarray(values, np.float32), (rows, cols)), shape=shape)
        self._has_keywords = np.asarray([len(d.indices) > 0 for d in keyword_docs], dtype=np.bool_)
        # Qdrant's IDF corpus is the points that have the sparse vector at all.
        self._corpus = int(self._has_keywords.sum())
        self._df = np.asarray((self._keywords > 0).sum(axis=0)).ravel()
        self._intent_masks: dict[str, BoolArray] = {}
        self._language_masks: dict[str, BoolArray] = {}
        for row, payload in enumerate(payloads):
            for intent in payload.get(intents_field) or ():
                mask = self._intent_masks.setdefault(str(intent), np.zeros(len(keys), dtype=np.bool_))
                mask[row] = True
            language = str(payload.get(LANGUAGE_FIELD) or DEFAULT_LANGUAGE)
            self._language_masks.setdefault(language, np.zeros(len(keys), dtype=np.bool_))[row] = True

    @classmethod
    def load(cls, client: QdrantClient, collection: str, dense_name: str, keyword_name: str,
             intents_field: str) -> CollectionMirror:  # fmt: skip
        keys: list[str] = []
        vectors: list[FloatArray | None] = []
        docs: list[models.SparseVector] = []
        payloads: list[dict[str, Any]] = []
        offset: Any = None
        while client.collection_exists(collection):
            points, offset = client.scroll(
                collection, limit=1000, offset=offset, with_payload=True, with_vectors=True
            )
            for p in points:
                named = p.vector if isinstance(p.vector, dict) else {}
                dense = named.get(dense_name)
                keyword = named.get(keyword_name)
                keys.append(str(p.id))
                vectors.append(
                    np.asarray(dense, dtype=np.float32).ravel() if isinstance(dense, list) else None
                )
                docs.append(keyword if isinstance(keyword, models.SparseVector) else models.SparseVector(
                    indices=[], values=[]))  # fmt: skip
                payloads.append(dict(p.payload or {}))
            if offset is None:
                break
        width = max((len(v) for v in vectors if v is not None), default=0)
        matrix = np.zeros((len(keys), width), dtype=np.float32)
        for row, vector in enumerate(vectors):
            if vector is not None:
                matrix[row] = vector
        return cls(keys, matrix, docs, payloads, intents_field)

    def __len__(self) -> int:
        return len(self._keys)

    def scope(self, intents: Sequence[str], language: str | None = None) -> BoolArray | None:
        """Rows whose ``intents`` payload shares any of ``intents`` (``MatchAny``) and, with ``language``,
        whose article is in it; None = no filter."""
        if not intents and language is None:
            return None
        mask = np.zeros(len(self._keys), dtype=np.bool_) if intents else np.ones(len(self._keys), np.bool_)
        for intent in intents:
            found = self._intent_masks.get(intent)
            if found is not None:
                mask |= found
        if language is not None:
            mask &= self._language_masks.get(language, np.zeros(len(self._keys), dtype=np.bool_))
        return mask

    def dense_search(self, query: FloatArray, limit: int, scope: BoolArray | None) -> list[Hit]:
        if not self._keys or limit <= 0:
            return []
        unit = query / max(float(np.linalg.norm(query)), 1e-12)
        scores = self._dense @ unit.astype(np.float32)
        return self._top(scores, limit, scope, keep=None, with_dense=False)

    def keyword_search(self, query: models.SparseVector, limit: int, scope: BoolArray | None) -> list[Hit]:
        """Qdrant's sparse search with ``Modifier.IDF``: the query's weights times each term's IDF."""
        columns: list[int] = []
        weights: list[float] = []
        for index, value in zip(query.indices, query.values, strict=True):
            column = self._columns.get(int(index))
            if column is not None:  # a term no chunk has adds nothing to any score
                columns.append(column)
                df = int(self._df[column])
                weights.append(value * math.log((self._corpus - df + 0.5) / (df + 0.5) + 1))
        if not columns or limit <= 0:
            return []
        sub = self._keywords[:, columns]
        scores = np.asarray(sub @ np.asarray(weights, np.float32), dtype=np.float32).ravel()
        overlap = np.asarray(sub.getnnz(axis=1) > 0).ravel()
        return self._top(scores, limit, scope, keep=overlap, with_dense=True)

    def payload(self, key: str) -> Mapping[str, Any] | None:
        row = self._by_key.get(key)
        return None if row is None else self._payloads[row]

    def _top(
        self,
        scores: FloatArray,
        limit: int,
        scope: BoolArray | None,
        keep: BoolArray | None,
        with_dense: bool,
    ) -> list[Hit]:
        allowed = np.ones(len(self._keys), dtype=np.bool_) if scope is None else scope.copy()
        if keep is not None:
            allowed &= keep
        hits: list[Hit] = []
        # Same ordering rule as Qdrant local mode (argsort, reversed), so ties break the same way.
        for row in np.argsort(scores)[::-1]:
            if len(hits) >= limit:
                break
            if allowed[row]:
                dense = self._dense[row] if with_dense else None
                hits.append(Hit(self._keys[row], float(scores[row]), self._payloads[row], dense))
        return hits
