"""Hybrid ranking: weighted reciprocal-rank fusion of the dense and keyword candidate lists.

``Source.score`` stays the dense cosine similarity between the query and the chunk, also for chunks
only the keyword search found, so the retrieval score gate has one meaning whichever mode is on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
from qdrant_client import models

from supportflow.processors.knowledge.mirror import Hit
from supportflow.schemas.models import Source

RRF_K = 60.0
# Keyword ranks count a tenth of dense ranks: they break near-ties between sibling sections. Heavier
# weights (0.2-0.5) lost recall on the dev set; Bitext queries are short and full of typos.
KEYWORD_WEIGHT = 0.1


def hits_of(points: list[models.ScoredPoint], dense_name: str) -> list[Hit]:
    """Qdrant's scored points as :class:`Hit` (the dense vector kept when the search returned it)."""
    hits = []
    for p in points:
        vectors = p.vector if isinstance(p.vector, dict) else {}
        dense = vectors.get(dense_name)
        array = np.asarray(dense, dtype=np.float32) if isinstance(dense, list) else None
        hits.append(Hit(str(p.id), float(p.score), p.payload or {}, array))
    return hits


def source_of(payload: Mapping[str, Any], score: float) -> Source:
    return Source(
        chunk_id=str(payload["chunk_id"]),
        article_id=str(payload["article_id"]),
        title=str(payload["title"]),
        section=str(payload["section"]),
        text=str(payload["text"]),
        score=round(score, 4),
        url=str(payload.get("url", "")),
    )


def fuse(
    query: npt.NDArray[np.float32], dense_hits: list[Hit], keyword_hits: list[Hit], k: int
) -> list[Source]:
    """Weighted reciprocal-rank fusion; the reported score stays the dense cosine."""
    fused: dict[str, float] = {}
    cosine: dict[str, float] = {}
    payloads: dict[str, Mapping[str, Any]] = {}
    for rank, hit in enumerate(dense_hits):
        fused[hit.key] = fused.get(hit.key, 0.0) + 1.0 / (RRF_K + rank + 1)
        cosine[hit.key] = hit.score
        payloads[hit.key] = hit.payload
    for rank, hit in enumerate(keyword_hits):
        fused[hit.key] = fused.get(hit.key, 0.0) + KEYWORD_WEIGHT / (RRF_K + rank + 1)
        payloads.setdefault(hit.key, hit.payload)
        if hit.key not in cosine:
            dense = hit.dense if hit.dense is not None else np.zeros(0, dtype=np.float32)
            norm = float(np.linalg.norm(dense))
            cosine[hit.key] = float(dense @ query) / norm if norm and dense.shape == query.shape else 0.0
    order = sorted(fused, key=lambda key: (-fused[key], -cosine[key]))[:k]
    return [source_of(payloads[key], cosine[key]) for key in order]
