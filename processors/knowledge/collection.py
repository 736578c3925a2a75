"""The help-center collection's layout in Qdrant: vector names, payload fields, point ids, creation.

One point per chunk, id ``uuid5(chunk_id)`` (so re-indexing overwrites rather than duplicates), a named
dense vector (MiniLM, cosine, 384 dims), a named sparse vector (BM25-style keywords, IDF applied by
Qdrant) and the chunk as payload, with keyword indexes on the articles' declared ``intents`` and
their ``language``.
"""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Iterator, Mapping
from typing import Any

from qdrant_client import QdrantClient, models

from supportflow.processors.embedding import DIMENSIONS
from supportflow.schemas.errors import InvalidInputError

DENSE = "dense"
SPARSE = "keywords"
INTENTS_FIELD = "intents"
ANSWERS_FIELD = "answers"  # per chunk: the intents whose section hint names its section
LANGUAGE_FIELD = "language"  # per chunk: its article's language; points without it are English
_POINT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://supportflow/helpcenter/chunk")
SCROLL_PAGE = 1000


def point_id(chunk_id: str) -> str:
    return str(uuid.uuid5(_POINT_NAMESPACE, chunk_id))


def scroll_payloads(client: QdrantClient, collection: str, fields: list[str]) -> Iterator[Mapping[str, Any]]:
    """Every point's payload (only ``fields``), page by page; nothing when the collection is missing."""
    offset: Any = None
    while client.collection_exists(collection):
        points, offset = client.scroll(
            collection, limit=SCROLL_PAGE, offset=offset, with_payload=fields, with_vectors=False
        )
        for p in points:
            yield p.payload or {}
        if offset is None:
            break


def ensure_collection(client: QdrantClient, collection: str) -> None:
    """Create the collection with this layout, or check that an existing one has the dense vector."""
    if client.collection_exists(collection):
        vectors = client.get_collection(collection).config.params.vectors
        dense = vectors.get(DENSE) if isinstance(vectors, dict) else None
        if dense is None or dense.size != DIMENSIONS:
            raise InvalidInputError(
                f"collection {collection!r} exists but has no {DIMENSIONS}-dim {DENSE!r} vector; "
                "choose another --collection or delete it"
            )
    else:
        client.create_collection(
            collection,
            vectors_config={DENSE: models.VectorParams(size=DIMENSIONS, distance=models.Distance.COSINE)},
            sparse_vectors_config={SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)},
        )
    _ensure_keyword_indexes(client, collection)


def _ensure_keyword_indexes(client: QdrantClient, collection: str) -> None:
    """Keyword indexes on ``intents`` and ``language`` (a server needs them for fast filtered search;
    collections made before a field existed get its index on their next index run)."""
    indexed = client.get_collection(collection).payload_schema or {}
    for field_name in (INTENTS_FIELD, LANGUAGE_FIELD):
        if field_name in indexed:
            continue
        with warnings.catch_warnings():
            # Local mode filters without indexes and warns that the index has no effect there.
            warnings.filterwarnings("ignore", message="Payload indexes have no effect", category=UserWarning)
            client.create_payload_index(collection, field_name, models.PayloadSchemaType.KEYWORD, wait=True)
