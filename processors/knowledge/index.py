"""The help center in Qdrant: incremental indexing, dense or hybrid search, citation lookup.

Layout of a collection (:mod:`.collection`): one point per chunk, id ``uuid5(chunk_id)`` (so
re-indexing overwrites rather than duplicates), a named dense vector (MiniLM, cosine, 384 dims), a named
sparse vector (BM25-style keywords, IDF applied by Qdrant) and the chunk as payload together with its
article's content hash (:mod:`.indexing`).

Searches (:mod:`.search`) can be scoped to the articles that declare a routed intent (payload field
``intents``, keyword index): siblings such as "refund policy" and "request a refund" then stop
competing for a ticket the router already understood. A scope that matches nothing falls back to the
whole help center.

``Source.score`` is always the dense cosine similarity between the query and the chunk, also in hybrid
mode, where keyword matches only change the order. That keeps one meaning for the retrieval score gate
(``thresholds.retrieval_min_score``) whichever mode is on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

import numpy as np
from qdrant_client import QdrantClient

from supportflow.data import data_path
from supportflow.processors.embedding import DIMENSIONS, Embedder, get_embedder
from supportflow.processors.knowledge import sparse
from supportflow.processors.knowledge.articles import DEFAULT_LANGUAGE, Article, load_articles
from supportflow.processors.knowledge.chunking import Chunk
from supportflow.processors.knowledge.collection import (
    DENSE,
    INTENTS_FIELD,
    LANGUAGE_FIELD,
    SPARSE,
    ensure_collection,
    point_id,
    scroll_payloads,
)
from supportflow.processors.knowledge.declarations import (
    ArticleIntents,
    SectionHints,
    chunk_from_payload,
    read_declarations,
)
from supportflow.processors.knowledge.indexing import (
    IndexReport,
    delete_points,
    existing_points,
    plan_index,
    write_chunks,
)
from supportflow.processors.knowledge.mirror import CollectionMirror, FloatArray, is_local
from supportflow.processors.knowledge.search import intent_scope, search_points
from supportflow.processors.knowledge.warmup import warm_sentence_cache
from supportflow.schemas.errors import InvalidInputError
from supportflow.schemas.models import Source
from supportflow.settings import Settings

__all__ = ["HYBRID_DEFAULT", "IndexReport", "KnowledgeBase"]

log = logging.getLogger(__name__)

# Hybrid ordering helped a little but consistently on the Bitext retrieval eval (tuned on
# queries_dev.csv, confirmed on the held-out queries.csv; numbers in docs/knowledge.md): default on.
HYBRID_DEFAULT = True
REMOTE_TIMEOUT_S = 10


class KnowledgeBase:
    def __init__(
        self,
        client: QdrantClient,
        collection: str,
        embedder: Embedder | None = None,
        hybrid: bool = HYBRID_DEFAULT,
        mirror: bool | None = None,
    ) -> None:
        """``mirror``: search an in-process copy of the collection (:mod:`.mirror`); default: in local
        mode only (a server is always queried)."""
        self.client = client
        self.collection = collection
        self.embedder = embedder or get_embedder()
        self.hybrid = hybrid
        self._use_mirror = is_local(client) if mirror is None else mirror
        self._mirror: CollectionMirror | None = None
        self._mirror_lock = threading.Lock()  # stages on different threads may ask for it first

    @classmethod
    def open(
        cls, settings: Settings, *, in_memory: bool = False, hybrid: bool = HYBRID_DEFAULT
    ) -> KnowledgeBase:
        """Qdrant server when ``settings.qdrant_url`` is set, else local mode under the data dir.

        Local mode locks its folder: one process at a time may open it (use a server for several).
        """
        if in_memory:
            client = QdrantClient(location=":memory:")
        elif settings.qdrant_url:
            key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
            client = QdrantClient(url=settings.qdrant_url, api_key=key, timeout=REMOTE_TIMEOUT_S)
        else:
            path = settings.data_dir / "qdrant"
            path.mkdir(parents=True, exist_ok=True)
            client = QdrantClient(path=str(path))
        return cls(client, settings.collection, hybrid=hybrid)

    def close(self) -> None:
        self.client.close()

    # ----------------------------------------------------------------------------------- indexing

    def index(self, articles: list[Article], progress: bool = False) -> IndexReport:
        """Make the collection hold exactly ``articles``: embed only new or changed ones.

        Articles absent from ``articles`` are removed, as are chunks an edited article no longer has.
        Running it twice on the same input changes nothing the second time.
        """
        started = time.monotonic()
        ids = [a.id for a in articles]
        if len(set(ids)) != len(ids):
            raise InvalidInputError("duplicate article ids in the index request")
        ensure_collection(self.client, self.collection)
        plan = plan_index(articles, existing_points(self.client, self.collection), self.embedder.model_id)
        self._mirror = None  # stale from the first write on; rebuilt by the next search
        write_chunks(self.client, self.collection, self.embedder, plan.to_write, progress)
        delete_points(self.client, self.collection, plan.stale)
        return IndexReport(
            articles=len(articles),
            added=plan.added,
            updated=plan.updated,
            unchanged=plan.unchanged,
            deleted=len(plan.stale),
            seconds=round(time.monotonic() - started, 3),
        )

    def ensure_default_index(self) -> None:
        """Index the bundled Northwind Outfitters help center if the collection is missing or empty.

        A collection that already holds exactly the bundled articles is refreshed incrementally (only
        changed articles are re-embedded), so a data dir indexed by an older version picks up edits
        such as new intent declarations; a collection holding other articles is left alone.
        """
        indexed = set(self.article_intents()) if self.count() else set()
        bundled = load_articles(data_path("helpcenter"))
        if not indexed or indexed == {a.id for a in bundled}:
            report = self.index(bundled)
            if report.added or report.updated or report.deleted:
                log.info("indexed bundled help center: %s", report.as_dict())

    def warm_sentence_cache(self) -> int:
        """Embed every help-center sentence once, at start-up, so no ticket pays for it later.

        The drafter and the groundedness scorer compare tickets and answers with the sentences of the
        retrieved sections; those sentences are the same for every ticket. Returns how many were embedded.
        """
        return warm_sentence_cache(self.client, self.collection)

    def count(self) -> int:
        if not self.client.collection_exists(self.collection):
            return 0
        return self.client.count(self.collection, exact=True).count

    # ------------------------------------------------------------------------------------ reading

    def search(
        self,
        query: str,
        k: int = 5,
        vector: np.ndarray | None = None,
        intents: Sequence[str] | None = None,
        language: str | None = None,
    ) -> list[Source]:
        """Top ``k`` chunks for ``query``; ``vector`` (the router's embedding of it) saves re-embedding.

        With ``intents``, only chunks of articles declaring one of them are searched; when that scope
        is empty (out-of-scope or unknown intent, or no article declares it) the whole collection is.
        With ``language``, only articles in that language are; when articles in other languages declare
        the intent but none in this one does, nothing is returned (another article in this language
        would answer a different question).
        """
        if k <= 0:
            return []
        mirror = self._mirror_or_none()
        if not (len(mirror) if mirror is not None else self.client.collection_exists(self.collection)):
            return []
        dense_query = self._query_vector(query, vector)
        keywords = sparse.query_vector(query) if self.hybrid else None
        scope = intent_scope(intents)
        if scope:
            scoped = search_points(
                self.client, self.collection, dense_query, keywords, k, scope, mirror, language
            )
            if scoped:
                return scoped
            if language is not None and search_points(
                self.client, self.collection, dense_query, None, 1, scope, mirror
            ):
                return []
        return search_points(self.client, self.collection, dense_query, keywords, k, (), mirror, language)

    def article_languages(self) -> dict[str, str]:
        """article id -> the language it is written in (English for points indexed without one)."""
        return {
            str(p.get("article_id", "")): str(p.get(LANGUAGE_FIELD) or DEFAULT_LANGUAGE)
            for p in scroll_payloads(self.client, self.collection, ["article_id", LANGUAGE_FIELD])
        }

    def languages(self) -> frozenset[str]:
        """The languages the indexed articles are written in."""
        return frozenset(self.article_languages().values())

    def _mirror_or_none(self) -> CollectionMirror | None:
        if not self._use_mirror:
            return None
        with self._mirror_lock:
            if self._mirror is None:
                self._mirror = CollectionMirror.load(
                    self.client, self.collection, DENSE, SPARSE, INTENTS_FIELD
                )
            return self._mirror

    def article_intents(self) -> ArticleIntents:
        """article id -> the intents it declares, for every indexed article (empty tuple: none)."""
        return self.declarations()[0]

    def section_hints(self) -> SectionHints:
        """article id -> {intent: sections} for every section hint (front matter ``answers``)."""
        return self.declarations()[1]

    def declarations(self) -> tuple[ArticleIntents, SectionHints]:
        """What the indexed articles declare, read from the payload in one scroll: article intents
        and section hints. Workers read it once at start-up (it changes only when articles do)."""
        return read_declarations(self.client, self.collection)

    def get_chunk(self, chunk_id: str) -> Chunk | None:
        """The indexed chunk behind a citation, or None when the id does not resolve."""
        mirror = self._mirror_or_none()
        if mirror is not None:
            p = mirror.payload(point_id(chunk_id)) or {}
        elif self.client.collection_exists(self.collection):
            points = self.client.retrieve(self.collection, ids=[point_id(chunk_id)], with_payload=True)
            p = (points[0].payload or {}) if points else {}
        else:
            return None
        if p.get("chunk_id") != chunk_id:
            return None
        return chunk_from_payload(p)

    def _query_vector(self, query: str, vector: np.ndarray | None) -> FloatArray:
        if vector is not None:
            flat = np.asarray(vector, dtype=np.float32).reshape(-1)
            if flat.shape == (DIMENSIONS,) and np.isfinite(flat).all():
                return flat
            log.warning("ignoring a supplied query vector of shape %s; re-embedding", flat.shape)
        return self.embedder.encode_one(query)
