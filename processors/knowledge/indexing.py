"""Incremental indexing: which chunks to embed and write, which points to delete.

Every point carries its article's content hash (chunker version, embedding model, title, url, date,
body and declarations). An article whose hash is unchanged keeps its points untouched; a changed
article is re-chunked and re-embedded, and the chunks it no longer has are deleted, as are the points
of articles that are gone.
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import asdict, dataclass, field
from typing import Any

from qdrant_client import QdrantClient, models

from supportflow.processors.embedding import Embedder
from supportflow.processors.knowledge import sparse
from supportflow.processors.knowledge.articles import Article
from supportflow.processors.knowledge.chunking import Chunk, chunk_article, embedding_text
from supportflow.processors.knowledge.collection import (
    ANSWERS_FIELD,
    DENSE,
    INTENTS_FIELD,
    SCROLL_PAGE,
    SPARSE,
    point_id,
)

CHUNKER_VERSION = "2"  # bump when chunking changes so every article is re-chunked once
_BATCH = 64
_PAYLOAD_FIELDS = ["chunk_id", "article_id", "article_hash"]

# article id -> (content hash, {point id: chunk id})
ExistingPoints = dict[str, tuple[str, dict[str, str]]]


@dataclass(frozen=True)
class IndexReport:
    """Chunk counts of one ``index`` run; ``unchanged`` chunks were neither re-embedded nor rewritten."""

    articles: int
    added: int
    updated: int
    unchanged: int
    deleted: int
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class IndexPlan:
    """What an index run writes (chunks with their article's hash) and deletes (point ids)."""

    to_write: list[tuple[Chunk, str]] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    added: int = 0
    updated: int = 0
    unchanged: int = 0


def article_hash(article: Article, model_id: str) -> str:
    material = json.dumps(
        [CHUNKER_VERSION, model_id, article.title, article.url, article.updated, article.body,
         sorted(article.intents), list(article.answers), article.language]
    )  # fmt: skip
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def plan_index(articles: list[Article], existing: ExistingPoints, model_id: str) -> IndexPlan:
    """Compare ``articles`` with what the collection holds (``existing`` is consumed)."""
    plan = IndexPlan()
    for article in articles:
        digest = article_hash(article, model_id)
        old_hash, old_points = existing.pop(article.id, ("", {}))
        if old_hash == digest:
            plan.unchanged += len(old_points)
            continue
        chunks = chunk_article(article)
        new_ids = {point_id(c.chunk_id) for c in chunks}
        plan.added += len(new_ids - old_points.keys())
        plan.updated += len(new_ids & old_points.keys())
        plan.stale.extend(old_points.keys() - new_ids)
        plan.to_write.extend((c, digest) for c in chunks)
    for _old_hash, old_points in existing.values():  # articles that disappeared
        plan.stale.extend(old_points)
    return plan


def existing_points(client: QdrantClient, collection: str) -> ExistingPoints:
    """What the collection holds, per article; a half-written article gets an empty hash."""
    found: ExistingPoints = {}
    offset: Any = None
    while True:
        points, offset = client.scroll(
            collection, limit=SCROLL_PAGE, offset=offset, with_payload=_PAYLOAD_FIELDS, with_vectors=False
        )
        for p in points:
            payload = p.payload or {}
            article_id = str(payload.get("article_id", ""))
            digest, chunks = found.setdefault(article_id, (str(payload.get("article_hash", "")), {}))
            if digest != payload.get("article_hash"):
                # Half-written article (crash mid-index): force a rewrite next time.
                found[article_id] = ("", chunks)
            chunks[str(p.id)] = str(payload.get("chunk_id", ""))
        if offset is None:
            return found


def write_chunks(
    client: QdrantClient, collection: str, embedder: Embedder, items: list[tuple[Chunk, str]], progress: bool
) -> None:
    """Embed and upsert ``(chunk, article hash)`` pairs in batches."""
    for start in range(0, len(items), _BATCH):
        batch = items[start : start + _BATCH]
        texts = [embedding_text(c) for c, _ in batch]
        dense = embedder.encode(texts)
        points = [
            models.PointStruct(
                id=point_id(chunk.chunk_id),
                vector={DENSE: dense[i].tolist(), SPARSE: sparse.document_vector(texts[i])},
                payload={
                    **asdict(chunk),
                    INTENTS_FIELD: list(chunk.intents),
                    ANSWERS_FIELD: list(chunk.answers),
                    "article_hash": digest,
                },
            )
            for i, (chunk, digest) in enumerate(batch)
        ]
        client.upsert(collection, points=points, wait=True)
        if progress:
            print(f"indexed {start + len(batch)}/{len(items)} chunks", file=sys.stderr, flush=True)


def delete_points(client: QdrantClient, collection: str, point_ids: list[str]) -> None:
    if point_ids:
        client.delete(collection, points_selector=models.PointIdsList(points=list(point_ids)), wait=True)
