"""One search over the help center: dense or hybrid, optionally scoped to articles declaring an intent.

The in-process mirror answers it when the collection is local (see :mod:`.mirror`); otherwise Qdrant is
queried with a ``MatchAny`` filter on the ``intents`` payload. In hybrid mode each retriever returns
``max(k, CANDIDATES)`` candidates and :func:`.fusion.fuse` orders them; ``Source.score`` stays the
dense cosine.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from qdrant_client import QdrantClient, models

from supportflow.processors.knowledge.articles import DEFAULT_LANGUAGE
from supportflow.processors.knowledge.collection import DENSE, INTENTS_FIELD, LANGUAGE_FIELD, SPARSE
from supportflow.processors.knowledge.fusion import fuse, hits_of, source_of
from supportflow.processors.knowledge.mirror import CollectionMirror, FloatArray, Hit
from supportflow.schemas.errors import TransientError
from supportflow.schemas.models import Source

CANDIDATES = 30  # per-retriever candidates before fusion
# Router labels that no article can declare: searching a scope for them is pointless.
UNSCOPED_INTENTS = frozenset({"", "oos", "unknown"})


def intent_scope(intents: Iterable[str] | None) -> list[str]:
    """The intents worth scoping a search to, sorted (empty: search everything)."""
    return sorted({i for i in intents or () if i not in UNSCOPED_INTENTS})


def search_filter(intents: Sequence[str], language: str | None) -> models.Filter | None:
    """Qdrant's filter for a scope: any of ``intents``, and ``language`` (points indexed before
    articles had a language have none: they are English)."""
    must: list[models.Condition] = []
    if intents:
        must.append(models.FieldCondition(key=INTENTS_FIELD, match=models.MatchAny(any=list(intents))))
    if language is not None:
        same = models.FieldCondition(key=LANGUAGE_FIELD, match=models.MatchValue(value=language))
        unsaid = models.IsEmptyCondition(is_empty=models.PayloadField(key=LANGUAGE_FIELD))
        must.append(models.Filter(should=[same, unsaid]) if language == DEFAULT_LANGUAGE else same)
    return models.Filter(must=must) if must else None


def search_points(
    client: QdrantClient,
    collection: str,
    dense_query: FloatArray,
    keywords: models.SparseVector | None,
    k: int,
    intents: Sequence[str],
    mirror: CollectionMirror | None,
    language: str | None = None,
) -> list[Source]:
    """Top ``k`` chunks among the articles declaring one of ``intents`` (all articles when empty),
    in ``language`` when given; ``keywords`` set: hybrid ordering."""
    limit = max(k, CANDIDATES) if keywords is not None else k
    if mirror is not None:
        scope = mirror.scope(intents, language)
        if scope is not None and not scope.any():
            return []
        dense_hits = mirror.dense_search(dense_query, limit, scope)
        keyword_hits = mirror.keyword_search(keywords, limit, scope) if keywords is not None else []
    else:
        dense_hits, keyword_hits = query_qdrant(
            client, collection, dense_query, keywords, limit, intents, language
        )
    if keywords is None:
        return [source_of(h.payload, h.score) for h in dense_hits]
    return fuse(dense_query, dense_hits, keyword_hits, k)


def query_qdrant(
    client: QdrantClient,
    collection: str,
    dense_query: FloatArray,
    keywords: models.SparseVector | None,
    limit: int,
    intents: Sequence[str],
    language: str | None = None,
) -> tuple[list[Hit], list[Hit]]:
    """Dense and keyword candidates from Qdrant itself (a server, or local mode without the mirror)."""
    query_filter = search_filter(intents, language)
    try:
        dense_hits = client.query_points(
            collection, query=dense_query.tolist(), using=DENSE, limit=limit,
            query_filter=query_filter, with_payload=True,
        ).points  # fmt: skip
        keyword_hits = []
        if keywords is not None and keywords.indices:
            keyword_hits = client.query_points(
                collection, query=keywords, using=SPARSE, limit=limit, query_filter=query_filter,
                with_payload=True, with_vectors=[DENSE],
            ).points  # fmt: skip
    except (ConnectionError, TimeoutError) as exc:
        raise TransientError(f"qdrant search failed: {exc}") from exc
    return hits_of(dense_hits, DENSE), hits_of(keyword_hits, DENSE)
