"""The help center in Qdrant: incremental indexing, dense or hybrid search, citation lookup.

Layout of a collection: one point per chunk, id ``uuid5(chunk_id)`` (so re-indexing overwrites rather
than duplicates), a named dense vector (MiniLM, cosine, 384 dims), a named sparse vector (BM25-style
keywords, IDF applied by Qdrant) and the chunk as payload together with its article's content hash.

Searches can be scoped to the articles that declare a routed intent (payload field ``intents``, keyword
index): siblings such as "refund policy" and "request a refund" then stop competing for a ticket the
router already understood. A scope that matches nothing falls back to the whole help center.

``Source.score`` is always the dense cosine similarity between the query and the chunk, also in hybrid
mode, where keyword matches only change the order. That keeps one meaning for the retrieval score gate
(``thresholds.retrieval_min_score``) whichever mode is on.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
import threading
import time
import uuid
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from qdrant_client import QdrantClient, models

from supportflow.data import data_path
from supportflow.processors.embedding import DIMENSIONS, Embedder, get_embedder
from supportflow.processors.knowledge import sparse
from supportflow.processors.knowledge.articles import Article, load_articles
from supportflow.processors.knowledge.chunking import Chunk, chunk_article, embedding_text
from supportflow.processors.knowledge.drafting import unit_context
from supportflow.processors.knowledge.fusion import fuse, hits_of, source_of
from supportflow.processors.knowledge.mirror import CollectionMirror, Hit, is_local
from supportflow.processors.knowledge.sentences import answer_units, sentence_embeddings, split_sentences
from supportflow.schemas.errors import InvalidInputError, TransientError
from supportflow.schemas.models import Source
from supportflow.settings import Settings

log = logging.getLogger(__name__)

DENSE = "dense"
SPARSE = "keywords"
CHUNKER_VERSION = "2"  # bump when chunking changes so every article is re-chunked once
# Hybrid ordering helped a little but consistently on the Bitext retrieval eval (tuned on
# queries_dev.csv, confirmed on the held-out queries.csv; numbers in docs/knowledge.md): default on.
HYBRID_DEFAULT = True
CANDIDATES = 30  # per-retriever candidates before fusion
REMOTE_TIMEOUT_S = 10
_BATCH = 64
_POINT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://supportflow/helpcenter/chunk")
_PAYLOAD_FIELDS = ["chunk_id", "article_id", "article_hash"]
INTENTS_FIELD = "intents"
ANSWERS_FIELD = "answers"  # per chunk: the intents whose section hint names its section
# Router labels that no article can declare: searching a scope for them is pointless.
UNSCOPED_INTENTS = frozenset({"", "oos", "unknown"})

FloatArray = npt.NDArray[np.float32]


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


def point_id(chunk_id: str) -> str:
    return str(uuid.uuid5(_POINT_NAMESPACE, chunk_id))


def article_hash(article: Article, model_id: str) -> str:
    material = json.dumps(
        [CHUNKER_VERSION, model_id, article.title, article.url, article.updated, article.body,
         sorted(article.intents), list(article.answers)]
    )  # fmt: skip
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


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
        self._ensure_collection()
        existing = self._existing_points()  # article_id -> (hash, {point_id: chunk_id})
        model_id = self.embedder.model_id
        to_write: list[tuple[Chunk, str]] = []
        stale: list[str] = []
        added = updated = unchanged = 0
        for article in articles:
            digest = article_hash(article, model_id)
            old_hash, old_points = existing.pop(article.id, ("", {}))
            if old_hash == digest:
                unchanged += len(old_points)
                continue
            chunks = chunk_article(article)
            new_ids = {point_id(c.chunk_id) for c in chunks}
            added += len(new_ids - old_points.keys())
            updated += len(new_ids & old_points.keys())
            stale.extend(old_points.keys() - new_ids)
            to_write.extend((c, digest) for c in chunks)
        for _old_hash, old_points in existing.values():  # articles that disappeared
            stale.extend(old_points)
        self._mirror = None  # stale from the first write on; rebuilt by the next search
        self._write(to_write, progress)
        if stale:
            self.client.delete(
                self.collection, points_selector=models.PointIdsList(points=list(stale)), wait=True
            )
        return IndexReport(
            articles=len(articles),
            added=added,
            updated=updated,
            unchanged=unchanged,
            deleted=len(stale),
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
        texts: list[str] = []
        offset: Any = None
        while self.client.collection_exists(self.collection):
            points, offset = self.client.scroll(
                self.collection, limit=1000, offset=offset, with_payload=["text", "title", "section"],
                with_vectors=False,
            )  # fmt: skip
            for p in points:
                payload = p.payload or {}
                text, section = str(payload.get("text", "")), str(payload.get("section", ""))
                units = answer_units(text)
                texts += [*(unit_context(section, u) for u in units), *split_sentences(text),
                          str(payload.get("title", ""))]  # fmt: skip
            if offset is None:
                break
        unique = list(dict.fromkeys(t for t in texts if t))
        sentence_embeddings.encode(unique)
        return len(unique)

    def count(self) -> int:
        if not self.client.collection_exists(self.collection):
            return 0
        return self.client.count(self.collection, exact=True).count

    def _ensure_collection(self) -> None:
        if self.client.collection_exists(self.collection):
            vectors = self.client.get_collection(self.collection).config.params.vectors
            dense = vectors.get(DENSE) if isinstance(vectors, dict) else None
            if dense is None or dense.size != DIMENSIONS:
                raise InvalidInputError(
                    f"collection {self.collection!r} exists but has no {DIMENSIONS}-dim {DENSE!r} vector; "
                    "choose another --collection or delete it"
                )
        else:
            self.client.create_collection(
                self.collection,
                vectors_config={DENSE: models.VectorParams(size=DIMENSIONS, distance=models.Distance.COSINE)},
                sparse_vectors_config={SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)},
            )
        self._ensure_intents_index()

    def _ensure_intents_index(self) -> None:
        """Keyword index on ``intents`` (a server needs it for fast filtered search; collections made
        before intents existed get it on their next index run)."""
        if INTENTS_FIELD in (self.client.get_collection(self.collection).payload_schema or {}):
            return
        with warnings.catch_warnings():
            # Local mode filters without indexes and warns that the index has no effect there.
            warnings.filterwarnings("ignore", message="Payload indexes have no effect", category=UserWarning)
            self.client.create_payload_index(
                self.collection, INTENTS_FIELD, models.PayloadSchemaType.KEYWORD, wait=True
            )

    def _existing_points(self) -> dict[str, tuple[str, dict[str, str]]]:
        found: dict[str, tuple[str, dict[str, str]]] = {}
        offset: Any = None
        while True:
            points, offset = self.client.scroll(
                self.collection, limit=1000, offset=offset, with_payload=_PAYLOAD_FIELDS, with_vectors=False
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

    def _write(self, items: list[tuple[Chunk, str]], progress: bool) -> None:
        for start in range(0, len(items), _BATCH):
            batch = items[start : start + _BATCH]
            texts = [embedding_text(c) for c, _ in batch]
            dense = self.embedder.encode(texts)
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
            self.client.upsert(self.collection, points=points, wait=True)
            if progress:
                print(f"indexed {start + len(batch)}/{len(items)} chunks", file=sys.stderr, flush=True)

    # ------------------------------------------------------------------------------------ reading

    def search(
        self,
        query: str,
        k: int = 5,
        vector: np.ndarray | None = None,
        intents: Sequence[str] | None = None,
    ) -> list[Source]:
        """Top ``k`` chunks for ``query``; ``vector`` (the router's embedding of it) saves re-embedding.

        With ``intents``, only chunks of articles declaring one of them are searched; when that scope
        is empty (out-of-scope or unknown intent, or no article declares it) the whole collection is.
        """
        if k <= 0:
            return []
        mirror = self._mirror_or_none()
        if not (len(mirror) if mirror is not None else self.client.collection_exists(self.collection)):
            return []
        dense_query = self._query_vector(query, vector)
        keywords = sparse.query_vector(query) if self.hybrid else None
        scope = sorted({i for i in intents or () if i not in UNSCOPED_INTENTS})
        if scope:
            scoped = self._search(dense_query, keywords, k, scope, mirror)
            if scoped:
                return scoped
        return self._search(dense_query, keywords, k, (), mirror)

    def _search(
        self,
        dense_query: FloatArray,
        keywords: models.SparseVector | None,
        k: int,
        intents: Sequence[str],
        mirror: CollectionMirror | None,
    ) -> list[Source]:
        limit = max(k, CANDIDATES) if keywords is not None else k
        if mirror is not None:
            scope = mirror.scope(intents)
            if scope is not None and not scope.any():
                return []
            dense_hits = mirror.dense_search(dense_query, limit, scope)
            keyword_hits = mirror.keyword_search(keywords, limit, scope) if keywords is not None else []
        else:
            dense_hits, keyword_hits = self._query_qdrant(dense_query, keywords, limit, intents)
        if keywords is None:
            return [source_of(h.payload, h.score) for h in dense_hits]
        return fuse(dense_query, dense_hits, keyword_hits, k)

    def _query_qdrant(
        self,
        dense_query: FloatArray,
        keywords: models.SparseVector | None,
        limit: int,
        intents: Sequence[str],
    ) -> tuple[list[Hit], list[Hit]]:
        query_filter = (
            models.Filter(
                must=[models.FieldCondition(key=INTENTS_FIELD, match=models.MatchAny(any=list(intents)))]
            )
            if intents
            else None
        )
        try:
            dense_hits = self.client.query_points(
                self.collection, query=dense_query.tolist(), using=DENSE, limit=limit,
                query_filter=query_filter, with_payload=True,
            ).points  # fmt: skip
            keyword_hits = []
            if keywords is not None and keywords.indices:
                keyword_hits = self.client.query_points(
                    self.collection, query=keywords, using=SPARSE, limit=limit, query_filter=query_filter,
                    with_payload=True, with_vectors=[DENSE],
                ).points  # fmt: skip
        except (ConnectionError, TimeoutError) as exc:
            raise TransientError(f"qdrant search failed: {exc}") from exc
        return hits_of(dense_hits, DENSE), hits_of(keyword_hits, DENSE)

    def _mirror_or_none(self) -> CollectionMirror | None:
        if not self._use_mirror:
            return None
        with self._mirror_lock:
            if self._mirror is None:
                self._mirror = CollectionMirror.load(
                    self.client, self.collection, DENSE, SPARSE, INTENTS_FIELD
                )
            return self._mirror

    def article_intents(self) -> dict[str, tuple[str, ...]]:
        """article id -> the intents it declares, for every indexed article (empty tuple: none)."""
        return self.declarations()[0]

    def section_hints(self) -> dict[str, dict[str, tuple[str, ...]]]:
        """article id -> {intent: sections} for every section hint (front matter ``answers``)."""
        return self.declarations()[1]

    def declarations(self) -> tuple[dict[str, tuple[str, ...]], dict[str, dict[str, tuple[str, ...]]]]:
        """What the indexed articles declare, read from the payload in one scroll: article intents
        and section hints. Workers read it once at start-up (it changes only when articles do)."""
        intents: dict[str, tuple[str, ...]] = {}
        hints: dict[str, dict[str, tuple[str, ...]]] = {}
        offset: Any = None
        while self.client.collection_exists(self.collection):
            points, offset = self.client.scroll(
                self.collection, limit=1000, offset=offset,
                with_payload=["article_id", "section", INTENTS_FIELD, ANSWERS_FIELD], with_vectors=False,
            )  # fmt: skip
            for p in points:
                payload = p.payload or {}
                article_id = str(payload.get("article_id", ""))
                intents[article_id] = tuple(payload.get(INTENTS_FIELD) or ())
                section = str(payload.get("section", ""))
                for intent in payload.get(ANSWERS_FIELD) or ():
                    known = hints.setdefault(article_id, {}).get(str(intent), ())
                    if section not in known:  # a long section is several chunks with one heading
                        hints[article_id][str(intent)] = (*known, section)
            if offset is None:
                break
        return intents, hints

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
        return Chunk(
            chunk_id=str(p["chunk_id"]),
            article_id=str(p["article_id"]),
            title=str(p["title"]),
            section=str(p["section"]),
            text=str(p["text"]),
            url=str(p.get("url", "")),
            intents=tuple(p.get(INTENTS_FIELD) or ()),
            answers=tuple(p.get(ANSWERS_FIELD) or ()),
        )

    def _query_vector(self, query: str, vector: np.ndarray | None) -> FloatArray:
        if vector is not None:
            flat = np.asarray(vector, dtype=np.float32).reshape(-1)
            if flat.shape == (DIMENSIONS,) and np.isfinite(flat).all():
                return flat
            log.warning("ignoring a supplied query vector of shape %s; re-embedding", flat.shape)
        return self.embedder.encode_one(query)
