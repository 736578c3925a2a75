"""Stage 3 — retrieve: help-center sections for the ticket (reusing the router's vector).

A routed ticket is searched within the articles that declare its intent (front matter ``intents``):
the router separates "refund policy" from "request a refund" far better (~99% on Bitext-style text)
than embeddings separate those sibling articles (recall@1 ~0.56). Out-of-scope or unknown intents,
and intents no article declares, fall back to the whole help center inside ``KnowledgeBase.search``.
Escalated tickets still get sources, unscoped: the human who takes them sees what the whole help
center says, not only what the (possibly wrong) routed intent points at.

Only articles in the ticket's language answer it. When the help center has none for it, the English
sections are retrieved instead, for the agent's draft: the gate never sends an answer automatically
in a language other than the customer's.
"""

from __future__ import annotations

import numpy as np

from supportflow.processors.knowledge import KnowledgeBase
from supportflow.processors.knowledge.articles import DEFAULT_LANGUAGE
from supportflow.processors.route import ticket_query
from supportflow.schemas.models import Band, PipelineRecord


def retrieve(record: PipelineRecord, kb: KnowledgeBase, k: int = 4) -> PipelineRecord:
    vector = np.frombuffer(record.embedding, dtype=np.float32) if record.embedding else None
    route = record.route
    intents = [route.intent] if route is not None and route.band != Band.ESCALATE else None
    language = route.language if route is not None else DEFAULT_LANGUAGE
    query = ticket_query(record.ticket)
    sources = kb.search(query, k=k, vector=vector, intents=intents, language=language)
    if not sources and language != DEFAULT_LANGUAGE:
        sources = kb.search(query, k=k, vector=vector, intents=intents, language=DEFAULT_LANGUAGE)
    return record.model_copy(update={"sources": sources})
