import pytest

from supportflow.processors.gate import GatePolicy, gate
from supportflow.schemas.models import Band, Decision
from tests.unit.helpers import record, source

POLICY = GatePolicy(groundedness_floor=0.92, retrieval_min_score=0.45)


def _gate(rec, policy=POLICY, indexed=True):
    return gate(rec, policy, lambda cid: indexed, now_ms=1_250)


def test_gate_grounded_auto_band_auto_resolves():
    out = _gate(record())
    assert out.decision == Decision.AUTO_RESOLVED
    assert out.citations == ["order-tracking#where-is-my-order"] and out.latency_ms == 250


@pytest.mark.parametrize(
    ("rec", "indexed", "reason"),
    [
        (record(groundedness=0.5), True, "gate:groundedness<0.92"),
        (record(citations=()), True, "gate:no_citations"),
        (record(citations=("made-up#x",)), True, "gate:citation_not_indexed"),
        (record(), False, "gate:citation_not_indexed"),
        (record(score=0.2), True, "gate:retrieval_score<0.45"),
        (record(failures=("llm:LlmUnavailable",)), True, "degraded:llm:LlmUnavailable"),
        (record(answer=False), True, "gate:no_answer"),
    ],
)
def test_gate_any_doubt_drafts_with_reason(rec, indexed, reason):
    out = _gate(rec, indexed=indexed)
    assert out.decision == Decision.SUGGESTED
    assert reason in out.reasons


def test_gate_kill_switch_off_never_auto_sends():
    out = _gate(record(), GatePolicy(0.92, 0.45, auto_send_enabled=False))
    assert out.decision == Decision.SUGGESTED and "gate:kill_switch" in out.reasons


def test_gate_escalate_band_escalates_with_context():
    out = _gate(record(band=Band.ESCALATE, reasons=("rule:legal",)))
    assert out.decision == Decision.ESCALATED
    assert "rule:legal" in out.reasons and "Where is my order" in out.escalation_context


def test_gate_suggest_band_keeps_draft():
    out = _gate(record(band=Band.SUGGEST, reasons=("policy:intent_band=suggest",)))
    assert out.decision == Decision.SUGGESTED and out.answer


SCOPED = GatePolicy(groundedness_floor=0.92, retrieval_min_score=0.45, scoped_retrieval_min_score=0.35)
DECLARED = {"order-tracking": ("track_order",), "size-guide": ()}


def test_gate_scoped_floor_applies_when_cited_article_declares_routed_intent():
    out = gate(record(score=0.40), SCOPED, lambda cid: True, now_ms=1_250, article_intents=DECLARED)
    assert out.decision == Decision.AUTO_RESOLVED


@pytest.mark.parametrize(
    ("declared", "score", "reasons"),
    [
        (
            {"order-tracking": ("delivery_period",)},
            0.40,
            {"gate:retrieval_score<0.45", "gate:citation_off_intent"},
        ),
        (None, 0.40, {"gate:retrieval_score<0.45", "gate:citation_off_intent"}),
        (DECLARED, 0.30, {"gate:retrieval_score<0.35"}),
    ],
)
def test_gate_off_intent_or_below_scoped_floor_drafts_with_reason(declared, score, reasons):
    out = gate(record(score=score), SCOPED, lambda cid: True, now_ms=1_250, article_intents=declared)
    assert out.decision == Decision.SUGGESTED
    assert reasons <= set(out.reasons)
    assert "gate:citation_off_intent" not in out.reasons or "gate:retrieval_score<0.45" in out.reasons


def test_gate_one_off_intent_citation_among_several_uses_strict_floor():
    rec = record(score=0.40, citations=("order-tracking#where-is-my-order", "size-guide#sizes"))
    rec = rec.model_copy(update={"sources": [*rec.sources, source("size-guide#sizes", score=0.3)]})
    out = gate(rec, SCOPED, lambda cid: True, now_ms=1_250, article_intents=DECLARED)
    assert out.decision == Decision.SUGGESTED and "gate:citation_off_intent" in out.reasons


def test_gate_without_scoped_floor_keeps_strict_floor_and_no_off_intent_reason():
    out = gate(record(score=0.40), POLICY, lambda cid: True, now_ms=1_250, article_intents=DECLARED)
    assert out.decision == Decision.SUGGESTED
    assert "gate:retrieval_score<0.45" in out.reasons and "gate:citation_off_intent" not in out.reasons


def test_gate_escalation_context_carries_no_raw_pii():
    text = (
        "I'm suing you. Call me on +1 415 555 0134 or write to dana.reyes@example.com; card "
        "4111.1111.1111.1111 was charged twice for NW-100234."
    )
    rec = record(band=Band.ESCALATE, reasons=("rule:legal",))
    rec = rec.model_copy(
        update={"ticket": rec.ticket.model_copy(update={"text": text, "sender": "dana.reyes@example.com"})}
    )
    context = _gate(rec).escalation_context
    for secret in ("dana.reyes@example.com", "555 0134", "4111.1111.1111.1111"):
        assert secret not in context, context
    assert "NW-100234" in context and "suing you" in context  # what the agent needs stays
