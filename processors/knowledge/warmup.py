"""Start-up warm-up of the sentence-embedding cache with every help-center sentence.

The drafter and the groundedness scorer compare tickets and answers with the sentences of the
retrieved sections; those sentences are the same for every ticket, so they are embedded once.
"""

from __future__ import annotations

from qdrant_client import QdrantClient

from supportflow.processors.knowledge.collection import scroll_payloads
from supportflow.processors.knowledge.drafting import unit_context
from supportflow.processors.knowledge.sentences import answer_units, sentence_embeddings, split_sentences


def warm_sentence_cache(client: QdrantClient, collection: str) -> int:
    """Embed the answer units, sentences and titles of every indexed chunk; returns how many."""
    texts: list[str] = []
    for payload in scroll_payloads(client, collection, ["text", "title", "section"]):
        text, section = str(payload.get("text", "")), str(payload.get("section", ""))
        units = answer_units(text)
        texts += [*(unit_context(section, u) for u in units), *split_sentences(text),
                  str(payload.get("title", ""))]  # fmt: skip
    unique = list(dict.fromkeys(t for t in texts if t))
    sentence_embeddings.encode(unique)
    return len(unique)
