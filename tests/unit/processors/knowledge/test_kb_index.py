from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from supportflow.processors.embedding import get_embedder
from supportflow.processors.knowledge import KnowledgeBase, chunk_article
from supportflow.settings import Settings

BODIES = {
    "returns": "## Window\n\nReturn items within 30 days of delivery.\n\n## Label\n\nPrint the prepaid label.",
    "shipping": "## Standard\n\nStandard shipping takes 5-7 business days.\n\n## Express\n\nExpress takes 2 days.",
    "password": "## Reset\n\nUse Forgot password to get a reset link valid for 60 minutes.",
}


def test_index_second_run_changes_nothing(empty_kb: KnowledgeBase, articles):
    docs = articles(**BODIES)
    first = empty_kb.index(docs)
    second = empty_kb.index(docs)
    assert (first.added, first.updated, first.deleted) == (5, 0, 0)
    assert (second.added, second.updated, second.unchanged, second.deleted) == (0, 0, 5, 0)
    assert empty_kb.count() == 5


def test_index_edited_article_rewrites_only_its_chunks_and_drops_removed_sections(
    empty_kb: KnowledgeBase, articles
):
    empty_kb.index(articles(**BODIES))
    edited = dict(BODIES, shipping="## Standard\n\nStandard shipping takes 3-6 business days.")

    report = empty_kb.index(articles(**edited))

    assert (report.added, report.updated, report.unchanged, report.deleted) == (0, 1, 3, 1)
    assert "3-6 business days" in empty_kb.get_chunk("shipping#standard").text
    assert empty_kb.get_chunk("shipping#express") is None
    assert empty_kb.get_chunk("returns#window") is not None


def test_index_deleted_article_removes_its_chunks(empty_kb: KnowledgeBase, articles):
    empty_kb.index(articles(**BODIES))
    report = empty_kb.index(articles(returns=BODIES["returns"], shipping=BODIES["shipping"]))
    assert report.deleted == 1
    assert empty_kb.get_chunk("password#reset") is None
    assert all(s.article_id != "password" for s in empty_kb.search("reset my password", k=5))


def test_index_duplicate_article_ids_are_rejected(empty_kb: KnowledgeBase, articles):
    from supportflow.schemas.errors import InvalidInputError

    docs = articles(**BODIES)
    with pytest.raises(InvalidInputError):
        empty_kb.index([*docs, docs[0]])


def test_open_local_path_mode_persists_index_across_reopen(tmp_path: Path, articles):
    settings = Settings(data_dir=tmp_path, collection="kb-persist")
    kb = KnowledgeBase.open(settings)
    kb.index(articles(**BODIES))
    kb.close()

    reopened = KnowledgeBase.open(settings)
    try:
        report = reopened.index(articles(**BODIES))
        assert report.unchanged == 5 and report.added == 0
        assert (tmp_path / "qdrant").is_dir()
    finally:
        reopened.close()


@pytest.mark.parametrize(
    ("query", "article_id"),
    [
        ("How do I reset my password? I forgot it", "reset-your-password"),
        ("I want to cancel my order", "cancel-an-order"),
        ("How do I delete my account?", "delete-your-account"),
        ("Do you accept Klarna or PayPal?", "payment-methods"),
        ("unsubscribe me from your newsletter emails", "newsletter"),
        ("what is the warranty on a tent", "warranty"),
    ],
)
def test_search_obvious_query_ranks_the_right_article_first(helpcenter_kb: KnowledgeBase, query, article_id):
    sources = helpcenter_kb.search(query, k=5)
    assert len(sources) == 5
    assert sources[0].article_id == article_id
    assert -1.0 <= sources[0].score <= 1.0


def test_search_reuses_supplied_vector_and_dense_mode_orders_by_cosine(helpcenter_kb: KnowledgeBase):
    query = "How long does a refund take to reach my card?"
    vector = get_embedder().encode_one(query)
    helpcenter_kb.hybrid = False
    try:
        by_text = helpcenter_kb.search(query, k=5)
        by_vector = helpcenter_kb.search("unrelated text is ignored for the dense part", k=5, vector=vector)
    finally:
        helpcenter_kb.hybrid = True
    assert [s.chunk_id for s in by_text] == [s.chunk_id for s in by_vector]
    scores = [s.score for s in by_text]
    assert scores == sorted(scores, reverse=True)
    assert scores[0] == pytest.approx(
        float(vector @ get_embedder().encode_one(_embedded(by_text[0]))), abs=0.01
    )


def _embedded(source) -> str:
    from supportflow.processors.knowledge.chunking import Chunk, embedding_text

    return embedding_text(
        Chunk(source.chunk_id, source.article_id, source.title, source.section, source.text, "")
    )


def test_get_chunk_resolves_search_results_and_rejects_unknown_ids(helpcenter_kb: KnowledgeBase, helpcenter):
    source = helpcenter_kb.search("change my shipping address", k=1)[0]
    chunk = helpcenter_kb.get_chunk(source.chunk_id)
    assert chunk is not None and chunk.text == source.text and chunk.article_id == source.article_id
    assert helpcenter_kb.get_chunk("change-shipping-address#no-such-section") is None
    expected = {c.chunk_id for a in helpcenter for c in chunk_article(a)}
    assert helpcenter_kb.count() == len(expected)


def test_search_on_missing_collection_returns_nothing(empty_kb: KnowledgeBase):
    assert empty_kb.search("anything") == []
    assert empty_kb.get_chunk("x#y") is None


def test_search_bad_vector_shape_falls_back_to_embedding_the_text(helpcenter_kb: KnowledgeBase):
    sources = helpcenter_kb.search("I forgot my password", k=3, vector=np.zeros(10, dtype=np.float32))
    assert sources[0].article_id == "reset-your-password"
