"""Section hints (front matter ``answers``): loading and validation, the chunk payload, the
``set_intents.py --answer`` editor, and the drafter's strong preference for the hinted section."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from qdrant_client import QdrantClient

from supportflow.data import data_path
from supportflow.processors.knowledge import KnowledgeBase, chunk_article, compose_answer, load_articles
from supportflow.schemas.errors import InvalidInputError

DELIVERY = """---
id: delivery
intents: [delivery_period]
answers: {delivery_period: "Transit times"}
---
## Processing time

Orders placed before 2 p.m. leave the warehouse the same day.

## Transit times

- US Standard: 5-7 business days.
- EU Standard: 3-6 business days.
"""


def test_load_articles_answers_map_and_lists_become_sorted_pairs(tmp_path: Path):
    (tmp_path / "delivery.md").write_text(DELIVERY)
    (tmp_path / "pay.md").write_text(
        "---\nid: pay\nanswers: {check_payment_methods: [US store, EU store]}\n---\n"
        "## US store\n\nPayPal.\n\n## EU store\n\niDEAL.\n\n## Other\n\nNo cash."
    )
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps([{"id": "p", "title": "P", "body": "## A\n\nx", "answers": {"review": "A"}}]))
    by_id = {a.id: a for a in load_articles(tmp_path)}
    assert by_id["delivery"].hinted_sections("delivery_period") == ("Transit times",)
    assert by_id["pay"].hinted_sections("check_payment_methods") == ("EU store", "US store")
    assert by_id["pay"].hinted_sections("delivery_period") == ()
    assert load_articles(plain)[0].answers == (("review", "A"),)


@pytest.mark.parametrize(
    "answers",
    ['{delivery_period: "Shipping speed"}', '{Delivery Period: "Transit times"}', "[delivery_period]"],
)
def test_load_articles_bad_or_dangling_hint_raises(tmp_path: Path, answers: str):
    (tmp_path / "a.md").write_text(f"---\nid: a\nanswers: {answers}\n---\n## Transit times\n\nx")
    with pytest.raises(InvalidInputError):
        load_articles(tmp_path)


def test_chunk_article_marks_only_the_hinted_section(tmp_path: Path):
    (tmp_path / "delivery.md").write_text(DELIVERY)
    chunks = {c.section: c.answers for c in chunk_article(load_articles(tmp_path)[0])}
    assert chunks == {"Processing time": (), "Transit times": ("delivery_period",)}


def test_knowledge_base_declarations_read_hints_from_payload_and_reindex_on_change(tmp_path: Path):
    (tmp_path / "delivery.md").write_text(DELIVERY)
    kb = KnowledgeBase(QdrantClient(location=":memory:"), "hints")
    kb.index(load_articles(tmp_path))
    assert kb.section_hints() == {"delivery": {"delivery_period": ("Transit times",)}}
    assert kb.article_intents() == {"delivery": ("delivery_period",)}
    assert kb.get_chunk("delivery#transit-times").answers == ("delivery_period",)  # type: ignore[union-attr]
    (tmp_path / "delivery.md").write_text(
        DELIVERY.replace('answers: {delivery_period: "Transit times"}\n', "")
    )
    report = kb.index(load_articles(tmp_path))
    assert report.updated == 2 and kb.section_hints() == {}
    kb.close()


def test_set_intents_answer_writes_a_hint_the_loader_reads(tmp_path: Path):
    script = data_path("helpcenter") / "set_intents.py"
    target = tmp_path / "delivery.md"
    target.write_text(DELIVERY.replace('answers: {delivery_period: "Transit times"}\n', ""))
    # The script edits files next to it; run a copy in the temporary folder.
    (tmp_path / "set_intents.py").write_text(script.read_text())
    run = [sys.executable, str(tmp_path / "set_intents.py"), "delivery", "--answer"]
    subprocess.run([*run, "delivery_period", "Transit times"], check=True, timeout=60)
    subprocess.run([*run, "track_order", "Processing time", "Transit times"], check=True, timeout=60)
    article = load_articles(tmp_path)[0]
    assert article.hinted_sections("delivery_period") == ("Transit times",)
    assert article.hinted_sections("track_order") == ("Processing time", "Transit times")
    subprocess.run([*run, "track_order", "--clear"], check=True, timeout=60)
    assert load_articles(tmp_path)[0].answers == (("delivery_period", "Transit times"),)


@pytest.mark.parametrize(
    "ticket",
    [
        "help me seeing when will my parcel arrive",
        "could you help me checking how soon can I expect my article?",
    ],
)
def test_compose_answer_delivery_hint_answers_with_transit_time(helpcenter_kb: KnowledgeBase, ticket: str):
    # Both tickets were answered from "Processing time" without the hint (dev-set misses). The three
    # delivery sections retrieve within ~0.01 of each other, so their order differs between
    # onnxruntime versions and CPUs; the transit section is put last, below the others, so the test
    # checks the hint overriding retrieval order on every machine, not today's tie-break.
    found = helpcenter_kb.search(ticket, k=4, intents=["delivery_period"])
    transit = [s for s in found if s.chunk_id == "delivery-times#transit-times"]
    others = [s for s in found if s.chunk_id != "delivery-times#transit-times"]
    assert transit and others
    sources = [*others, transit[0].model_copy(update={"score": others[-1].score - 0.05})]
    hints = helpcenter_kb.section_hints()
    plain = compose_answer(ticket, "delivery_period", sources, None)
    hinted = compose_answer(ticket, "delivery_period", sources, None, section_hints=hints)
    assert plain is not None and "5-7 business days" not in plain.text
    assert hinted is not None and "5-7 business days" in hinted.text
    assert "delivery-times#transit-times" in hinted.citations and hinted.groundedness >= 0.92


def test_compose_answer_hint_for_another_intent_changes_nothing(helpcenter_kb: KnowledgeBase):
    ticket = "help me seeing when will my parcel arrive"
    sources = helpcenter_kb.search(ticket, k=4, intents=["delivery_period"])
    other = {"delivery-times": {"track_order": ("Transit times",)}}
    plain = compose_answer(ticket, "delivery_period", sources, None)
    assert compose_answer(ticket, "delivery_period", sources, None, section_hints=other) == plain


def test_compose_answer_hinted_fact_line_is_used_despite_low_cosine(helpcenter_kb: KnowledgeBase):
    ticket = "I expect a reimbursement of 160 dollars"
    sources = helpcenter_kb.search(ticket, k=4, intents=["track_refund"])
    answer = compose_answer(
        ticket, "track_refund", sources, None, section_hints=helpcenter_kb.section_hints()
    )
    assert answer is not None and "5-10 business days" in answer.text


def test_bundled_help_center_hints_name_real_sections():
    articles = {a.id: a for a in load_articles(data_path("helpcenter"))}
    assert articles["delivery-times"].hinted_sections("delivery_period") == ("Transit times",)
    assert articles["track-your-refund"].hinted_sections("track_refund")
    for article in articles.values():
        for intent, _ in article.answers:
            assert intent in article.intents, (article.id, intent)
