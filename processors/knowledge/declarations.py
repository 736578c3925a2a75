"""What the indexed articles declare (intents, section hints), and chunks read back from payloads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from qdrant_client import QdrantClient

from supportflow.processors.knowledge.chunking import Chunk
from supportflow.processors.knowledge.collection import (
    ANSWERS_FIELD,
    INTENTS_FIELD,
    LANGUAGE_FIELD,
    scroll_payloads,
)

ArticleIntents = dict[str, tuple[str, ...]]  # article id -> declared intents
SectionHints = dict[str, dict[str, tuple[str, ...]]]  # article id -> {intent: sections}


def read_declarations(client: QdrantClient, collection: str) -> tuple[ArticleIntents, SectionHints]:
    """Article intents and section hints of every indexed article, from the payload in one scroll."""
    intents: ArticleIntents = {}
    hints: SectionHints = {}
    fields = ["article_id", "section", INTENTS_FIELD, ANSWERS_FIELD]
    for payload in scroll_payloads(client, collection, fields):
        article_id = str(payload.get("article_id", ""))
        intents[article_id] = tuple(payload.get(INTENTS_FIELD) or ())
        section = str(payload.get("section", ""))
        for intent in payload.get(ANSWERS_FIELD) or ():
            known = hints.setdefault(article_id, {}).get(str(intent), ())
            if section not in known:  # a long section is several chunks with one heading
                hints[article_id][str(intent)] = (*known, section)
    return intents, hints


def chunk_from_payload(payload: Mapping[str, Any]) -> Chunk:
    """The chunk a point's payload holds (as written by :func:`.indexing.write_chunks`)."""
    return Chunk(
        chunk_id=str(payload["chunk_id"]),
        article_id=str(payload["article_id"]),
        title=str(payload["title"]),
        section=str(payload["section"]),
        text=str(payload["text"]),
        url=str(payload.get("url", "")),
        intents=tuple(payload.get(INTENTS_FIELD) or ()),
        answers=tuple(payload.get(ANSWERS_FIELD) or ()),
        language=str(payload.get(LANGUAGE_FIELD) or "en"),
    )
