"""Intent declarations: loading, index payload and hash, scoped search with fallback, the retrieve
stage's scope, the drafter's one-article rule and the --intent-scoped retrieval eval."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from supportflow.data import data_path
from supportflow.evals.retrieval import LabelledQuery, evaluate
from supportflow.processors.knowledge import Article, KnowledgeBase, compose_answer, load_articles
from supportflow.processors.retrieve import retrieve
from supportflow.schemas.errors import InvalidInputError
from supportflow.schemas.models import Band, PipelineRecord, RouteDecision, Source, Tier
from tests.unit.helpers import ticket

BODIES = {
    "refund-policy": "## Refund window\n\nRefunds are possible within 30 days of delivery.",
    "request-a-refund": "## Ask for a refund\n\nOpen Account > Orders and choose Request refund.",
    "size-guide": "## Sizes\n\nOur shirts run true to size.",
}
INTENTS = {"refund-policy": ("check_refund_policy",), "request-a-refund": ("get_refund",)}


def _declared(articles) -> list[Article]:
    return [dataclasses.replace(a, intents=INTENTS.get(a.id, ())) for a in articles(**BODIES)]


def test_load_articles_front_matter_json_and_zendesk_labels_carry_intents(tmp_path: Path):
    (tmp_path / "a.md").write_text(
        "---\nid: a\nintents: [track_order, track_order, delivery_period]\n---\n## S\n\nx"
    )
    (tmp_path / "b.md").write_text("---\nid: b\nintents: get_invoice, check_invoice\n---\n## S\n\ny")
    (tmp_path / "c.md").write_text("## S\n\nno front matter")
    folder = {a.id: a.intents for a in load_articles(tmp_path)}
    assert folder == {"a": ("track_order", "delivery_period"), "b": ("get_invoice", "check_invoice"), "c": ()}

    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps([{"id": "p", "title": "P", "body": "## S\n\nz", "intents": ["review"]}]))
    assert load_articles(plain)[0].intents == ("review",)

    zendesk = tmp_path / "zendesk.json"
    zendesk.write_text(json.dumps({"articles": [
        {"id": 7, "title": "Z", "body": "<h2>S</h2><p>z</p>", "label_names": ["intent:complaint", "faq"]},
    ]}))  # fmt: skip
    assert load_articles(zendesk)[0].intents == ("complaint",)


@pytest.mark.parametrize(
    "declaration", ["intents: [Track Order]", "intents: {a: b}", "intents: [track-order]"]
)
def test_load_articles_malformed_intents_raise_invalid_input(tmp_path: Path, declaration: str):
    (tmp_path / "a.md").write_text(f"---\nid: a\n{declaration}\n---\n## S\n\nx")
    with pytest.raises(InvalidInputError, match="intents"):
        load_articles(tmp_path)


def test_bundled_helpcenter_declares_every_query_set_intent_exactly_once(helpcenter):
    sys.path.insert(0, str(data_path("helpcenter")))
    try:
        from build_queries import intent_articles
    finally:
        sys.path.pop(0)
    mapping = intent_articles()
    assert len(mapping) == 27
    declared = {a.id: a.intents for a in helpcenter}
    assert all(intent in declared[article] for intent, article in mapping.items())


def test_index_payload_and_hash_carry_intents(empty_kb: KnowledgeBase, articles):
    docs = _declared(articles)
    empty_kb.index(docs)
    assert empty_kb.get_chunk("refund-policy#refund-window").intents == ("check_refund_policy",)
    assert empty_kb.article_intents()["size-guide"] == ()

    redeclared = [
        dataclasses.replace(a, intents=("get_refund",)) if a.id == "size-guide" else a for a in docs
    ]
    report = empty_kb.index(redeclared)

    assert (report.added, report.updated, report.unchanged) == (0, 1, 2)  # only the re-declared article
    assert empty_kb.article_intents()["size-guide"] == ("get_refund",)


def test_search_scoped_to_intent_returns_only_declaring_articles(empty_kb: KnowledgeBase, articles):
    empty_kb.index(_declared(articles))
    query = "refunds within 30 days of delivery"  # the policy article is the closest one unscoped
    assert empty_kb.search(query, k=3)[0].article_id == "refund-policy"

    scoped = empty_kb.search(query, k=3, intents=["get_refund"])

    assert scoped and {s.article_id for s in scoped} == {"request-a-refund"}


@pytest.mark.parametrize("intents", [["oos"], ["unknown"], ["newsletter_subscription"], [], None])
def test_search_scope_without_declaring_articles_falls_back_to_all(
    empty_kb: KnowledgeBase, articles, intents: list[str] | None
):
    empty_kb.index(_declared(articles))
    sources = empty_kb.search("shirts true to size", k=3, intents=intents)
    assert sources[0].article_id == "size-guide" and len({s.article_id for s in sources}) == 3


def _routed(band: Band, intent: str = "get_refund") -> PipelineRecord:
    route = RouteDecision(intent=intent, confidence=0.97, band=band, tier=Tier.COMMODITY, reasons=[])
    return PipelineRecord(ticket=ticket("refunds within 30 days of delivery"), route=route)


def test_retrieve_scopes_routed_ticket_but_not_escalation(empty_kb: KnowledgeBase, articles):
    empty_kb.index(_declared(articles))
    auto = retrieve(_routed(Band.AUTO), empty_kb, k=3)
    escalated = retrieve(_routed(Band.ESCALATE), empty_kb, k=3)
    assert {s.article_id for s in auto.sources} == {"request-a-refund"}
    assert escalated.sources[0].article_id == "refund-policy" and len(escalated.sources) == 3
    assert auto.failures == [] and escalated.failures == []


def _source(chunk_id: str, text: str, score: float) -> Source:
    article = chunk_id.split("#")[0]
    return Source(
        chunk_id=chunk_id, article_id=article, title=article, section="Answer", text=text, score=score
    )


TWO_ARTICLES = [
    _source("cancel-an-order#how", "You can cancel an order in Account > Orders before it ships.", 0.70),
    _source(
        "damaged-item#report", "You can report a damaged order in Account > Orders within 14 days.", 0.69
    ),
]


def test_compose_answer_cites_only_the_best_article_by_default():
    answer = compose_answer("How can I cancel my order in my account?", "cancel_order", TWO_ARTICLES, None)
    assert answer is not None and answer.citations == ["cancel-an-order#how"]
    assert "damaged" not in answer.text


def test_compose_answer_second_article_needs_same_intent_and_margin():
    ticket_text = "How can I cancel or report my order in my account?"
    same = {"cancel-an-order": ["cancel_order"], "damaged-item": ["cancel_order"]}
    other = {"cancel-an-order": ["cancel_order"], "damaged-item": ["complaint"]}
    far = [TWO_ARTICLES[0], TWO_ARTICLES[1].model_copy(update={"score": 0.60})]

    both = compose_answer(ticket_text, "cancel_order", TWO_ARTICLES, None, article_intents=same)
    not_declared = compose_answer(ticket_text, "cancel_order", TWO_ARTICLES, None, article_intents=other)
    too_far = compose_answer(ticket_text, "cancel_order", far, None, article_intents=same)

    assert both is not None and {c.split("#")[0] for c in both.citations} == {
        "cancel-an-order",
        "damaged-item",
    }
    assert not_declared is not None and not_declared.citations == ["cancel-an-order#how"]
    assert too_far is not None and too_far.citations == ["cancel-an-order#how"]


def test_compose_answer_prefers_the_passage_with_the_duration_on_a_near_tie():
    text = "Refund timing depends on your bank and card issuer.\n\nCard refunds take 5-10 business days to appear."
    sources = [_source("track-your-refund#timing", text, 0.6)]
    answer = compose_answer("how long does my refund take to show up", "track_refund", sources, None)
    assert answer is not None and "5-10 business days" in answer.text


def test_evaluate_intent_scoped_is_flagged_and_scopes_by_labelled_articles_intents(
    empty_kb: KnowledgeBase, articles
):
    empty_kb.index(_declared(articles))
    queries = [LabelledQuery("refunds within 30 days of delivery", "request-a-refund")]
    vectors_free = evaluate(empty_kb, queries)
    scoped = evaluate(empty_kb, queries, intent_scoped=True)
    assert not vectors_free.intent_scoped and vectors_free.recall_at_1 == 0.0
    assert scoped.intent_scoped and scoped.recall_at_1 == 1.0
    assert np.isclose(scoped.mrr, 1.0)
