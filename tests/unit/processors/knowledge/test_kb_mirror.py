"""The in-process mirror must answer exactly what Qdrant local mode answers, and follow re-indexing."""

from __future__ import annotations

import csv
from collections.abc import Callable

import numpy as np
import pytest
from qdrant_client import QdrantClient

from supportflow.data import data_path
from supportflow.processors.knowledge import Article, KnowledgeBase
from supportflow.processors.knowledge.mirror import is_local


def _queries() -> list[tuple[str, str]]:
    with data_path("helpcenter", "queries_dev.csv").open(encoding="utf-8") as f:
        return [(row["text"], row["article_id"]) for row in csv.DictReader(f)]


def _ranking(kb: KnowledgeBase, query: str, intents: list[str] | None) -> list[tuple[str, float]]:
    # As tickets search: in their language (these queries are English). Across all languages,
    # translations share keyword scores (brand names, numbers), and equal scores at the candidate
    # cut may be ordered differently by the two.
    return [(s.chunk_id, s.score) for s in kb.search(query, k=4, intents=intents, language="en")]


# The mirror and Qdrant compute the same cosines in different float order (numpy vs Qdrant's own
# kernels), so they agree to ~1e-6; chunks whose scores are that close are a tie either may order.
SCORE_ATOL = 2e-4


def _assert_same_ranking(mirrored: list[tuple[str, float]], queried: list[tuple[str, float]], where) -> None:
    """Same scores rank by rank; the same chunk at each rank unless the two chunks there tie."""
    assert np.allclose([s for _, s in mirrored], [s for _, s in queried], atol=SCORE_ATOL), where
    scores = dict(queried) | dict(mirrored)
    for (ours, our_score), (theirs, their_score) in zip(mirrored, queried, strict=True):
        if ours != theirs:  # a tie: both chunks score the same, within float noise, in both rankings
            assert abs(our_score - their_score) <= SCORE_ATOL, where
            assert abs(scores[ours] - scores[theirs]) <= SCORE_ATOL, where


def test_mirror_bundled_help_center_same_results_as_qdrant(helpcenter_kb: KnowledgeBase) -> None:
    assert helpcenter_kb._use_mirror, "local mode should search through the mirror by default"
    direct = KnowledgeBase(helpcenter_kb.client, helpcenter_kb.collection, mirror=False)
    declared = sorted({i for intents in helpcenter_kb.article_intents().values() for i in intents})
    compared = 0
    queries = _queries()[::2]  # every other dev query keeps the test fast; 405 comparisons
    for n, (query, _article) in enumerate(queries):
        # Unscoped, scoped to one declared intent, and scoped to an intent no article declares.
        for intents in (None, [declared[n % len(declared)]], ["no_such_intent"]):
            mirrored, queried = _ranking(helpcenter_kb, query, intents), _ranking(direct, query, intents)
            _assert_same_ranking(mirrored, queried, (query, intents))
            compared += 1
    assert compared == 3 * len(queries) > 400


def test_mirror_citation_lookup_matches_qdrant(helpcenter_kb: KnowledgeBase) -> None:
    direct = KnowledgeBase(helpcenter_kb.client, helpcenter_kb.collection, mirror=False)
    source = helpcenter_kb.search("how do I return a jacket", k=1)[0]
    assert helpcenter_kb.get_chunk(source.chunk_id) == direct.get_chunk(source.chunk_id) is not None
    assert helpcenter_kb.get_chunk(source.chunk_id + "-forged") is None


def test_mirror_after_reindex_sees_new_and_deleted_articles(
    empty_kb: KnowledgeBase, articles: Callable[..., list[Article]]
) -> None:
    first = articles(**{"gift-cards": "## Balance\nGift card balances never expire."})
    empty_kb.index(first)
    assert empty_kb.search("gift card balance expiry", k=1)[0].article_id == "gift-cards"
    second = articles(**{"loyalty": "## Points\nLoyalty points are worth one cent each."})
    empty_kb.index(second)
    hits = empty_kb.search("gift card balance expiry loyalty points", k=4)
    assert {h.article_id for h in hits} == {"loyalty"}
    assert empty_kb.get_chunk(hits[0].chunk_id) is not None


def test_mirror_empty_collection_returns_nothing(empty_kb: KnowledgeBase) -> None:
    assert empty_kb.search("anything", k=3) == []
    assert empty_kb.get_chunk("missing#chunk") is None


@pytest.mark.parametrize(
    ("options", "local"), [({"location": ":memory:"}, True), ({"url": "http://127.0.0.1:1"}, False)]
)
def test_is_local_client_kind_detected(options: dict[str, str], local: bool) -> None:
    client = QdrantClient(**options, check_compatibility=False)  # type: ignore[arg-type]
    try:
        assert is_local(client) is local
    finally:
        client.close()
