import pytest

from supportflow.processors.gate import GatePolicy, gate
from supportflow.schemas.models import Band, Decision
from tests.unit.helpers import record

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
