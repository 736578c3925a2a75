"""Help center knowledge: articles, chunking, Qdrant retrieval, the offline drafter, groundedness.

Public API (what the pipeline stages and the CLI use)::

    load_articles(path) -> list[Article]
    chunk_article(article, overlap_chars=200) -> list[Chunk]
    KnowledgeBase.open(settings, in_memory=False) -> KnowledgeBase  # .index .search .get_chunk
    compose_answer(ticket_text, intent, sources, customer) -> Answer | None
    score_groundedness(answer_text, cited, customer=None) -> (score, unsupported_claims)
"""

from supportflow.processors.knowledge.articles import Article, load_articles
from supportflow.processors.knowledge.chunking import Chunk, chunk_article
from supportflow.processors.knowledge.drafting import compose_answer
from supportflow.processors.knowledge.grounding import score_groundedness
from supportflow.processors.knowledge.index import KnowledgeBase
from supportflow.processors.knowledge.indexing import IndexReport

__all__ = [
    "Article",
    "Chunk",
    "IndexReport",
    "KnowledgeBase",
    "chunk_article",
    "compose_answer",
    "load_articles",
    "score_groundedness",
]
