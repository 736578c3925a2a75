"""Metrics helpers against prometheus-client's real default registry and a real loopback endpoint.

The registry is process-global, so every assertion compares a sample before and after the action and
uses label values no other test touches.
"""

from __future__ import annotations

import socket
import urllib.request
import uuid

import pytest
from prometheus_client import REGISTRY

from supportflow.schemas.models import Band, Channel, Decision, Outcome, Tier
from supportflow.streams import metrics
from supportflow.streams.lag import LagSampler


def _value(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


def _outcome(**kw) -> Outcome:
    base = dict(
        ticket_id="t1", conversation_id="c1", channel=Channel.CHAT, decision=Decision.SUGGESTED,
        reasons=["policy:intent_band=auto", "gate:groundedness<0.92", "gate:groundedness<0.90"],
        intent="track_order", confidence=0.9, band=Band.AUTO, tier=Tier.COMMODITY, trace_id="tr",
        answer="Track it from Account > Orders.", groundedness=0.88, latency_ms=1_250.0,
    )  # fmt: skip
    base.update(kw)
    return Outcome(**base)


@pytest.mark.parametrize(
    ("reason", "label"),
    [
        ("gate:groundedness<0.92", "gate:groundedness"),
        ("rule:refund_over_threshold:900.00>200.00", "rule:refund_over_threshold"),
        ("language:de_not_covered", "language:not_covered"),
        ("language:pt-br_not_covered", "language:not_covered"),
        ("failure:route:TransientError", "failure:route"),
        ("degraded:llm:LlmUnavailable", "degraded:llm"),
        ("threshold:confidence<0.70", "threshold:confidence"),
        ("policy:intent_band=auto", "policy:intent_band"),
        ("rule:legal", "rule:legal"),
        ("gate:kill_switch", "gate:kill_switch"),
        ("Policy: VIP Customer!", "policy:vip_customer"),
    ],
)
def test_reason_label_values_stripped_kind_and_name_kept(reason, label):
    assert metrics.reason_label(reason) == label


def test_label_guard_over_limit_new_values_fold_into_other():
    guard = metrics.LabelGuard(limit=2)
    assert [guard("a"), guard("b"), guard("c"), guard("a")] == ["a", "b", metrics.OTHER, "a"]
    assert guard("") == metrics.OTHER  # "none" would be a third value
    assert metrics.LabelGuard(limit=5, max_len=4)("abcdefgh") == "abcd"


def test_observe_outcome_counts_decision_reasons_latency_groundedness():
    intent = f"intent_{uuid.uuid4().hex[:6]}"
    grounded = {"decision": "suggested", "reason": "gate:groundedness"}
    reasons_before = _value("supportflow_decision_reasons_total", grounded)
    e2e = {"channel": "chat", "decision": "suggested"}
    count_before = _value("supportflow_end_to_end_seconds_count", e2e)
    le_1s_before = _value("supportflow_end_to_end_seconds_bucket", {**e2e, "le": "1.0"})
    le_1_5s_before = _value("supportflow_end_to_end_seconds_bucket", {**e2e, "le": "1.5"})
    g_before = _value("supportflow_groundedness_bucket", {"le": "0.9"})
    by_language = {"language": "en", "decision": "suggested"}
    by_language_before = _value("supportflow_decisions_by_language_total", by_language)

    metrics.observe_outcome(_outcome(intent=intent))

    decisions = {"decision": "suggested", "band": "auto", "intent": intent}
    assert _value("supportflow_decisions_total", decisions) == 1
    assert _value("supportflow_decisions_by_language_total", by_language) - by_language_before == 1
    # two groundedness reasons with different thresholds are one reason label, counted once
    after = _value(
        "supportflow_decision_reasons_total", {"decision": "suggested", "reason": "gate:groundedness"}
    )
    assert after - reasons_before == 1
    assert _value("supportflow_end_to_end_seconds_count", e2e) - count_before == 1
    assert _value("supportflow_end_to_end_seconds_bucket", {**e2e, "le": "1.0"}) == le_1s_before
    assert _value("supportflow_end_to_end_seconds_bucket", {**e2e, "le": "1.5"}) - le_1_5s_before == 1
    assert _value("supportflow_groundedness_bucket", {"le": "0.9"}) - g_before == 1


def test_observe_outcome_no_answer_no_groundedness_sample():
    before = _value("supportflow_groundedness_count")
    metrics.observe_outcome(_outcome(answer="", decision=Decision.ESCALATED, band=Band.ESCALATE))
    assert _value("supportflow_groundedness_count") == before


def test_observe_outcome_cost_added_by_tier_and_model():
    model = f"model-{uuid.uuid4().hex[:6]}"
    labels = {"tier": "frontier", "model": model}
    metrics.observe_outcome(_outcome(tier=Tier.FRONTIER, model=model, cost_usd=0.0))
    assert _value("supportflow_llm_cost_usd_total", labels) == 0
    metrics.observe_outcome(_outcome(tier=Tier.FRONTIER, model=model, cost_usd=0.0125))
    assert _value("supportflow_llm_cost_usd_total", labels) == pytest.approx(0.0125)


def test_observe_llm_call_tokens_by_direction_and_outcome():
    model = f"model-{uuid.uuid4().hex[:6]}"
    metrics.observe_llm_call("commodity", model, "ok", tokens_in=120, tokens_out=40)
    metrics.observe_llm_call("commodity", model, "timeout")
    base = {"tier": "commodity", "model": model}
    assert _value("supportflow_llm_calls_total", {**base, "outcome": "ok"}) == 1
    assert _value("supportflow_llm_calls_total", {**base, "outcome": "timeout"}) == 1
    assert _value("supportflow_llm_tokens_total", {**base, "direction": "in"}) == 120
    assert _value("supportflow_llm_tokens_total", {**base, "direction": "out"}) == 40
    assert _value("supportflow_llm_cost_usd_total", base) == 0


def test_observe_llm_call_unknown_outcome_raises():
    with pytest.raises(ValueError, match="not one of"):
        metrics.observe_llm_call("commodity", "m", "exploded")


def test_observe_stage_batch_observes_each_record():
    stage = f"stage{uuid.uuid4().hex[:4]}"
    metrics.observe_stage(stage, 0.003, n=5)
    assert _value("supportflow_stage_seconds_count", {"stage": stage}) == 5
    assert _value("supportflow_stage_seconds_sum", {"stage": stage}) == pytest.approx(0.015)
    assert _value("supportflow_stage_seconds_bucket", {"stage": stage, "le": "0.0025"}) == 0
    assert _value("supportflow_stage_seconds_bucket", {"stage": stage, "le": "0.005"}) == 5


def test_observe_dead_letter_duplicates_retrieval_kill_switch():
    stage = f"stage{uuid.uuid4().hex[:4]}"
    metrics.observe_dead_letter(stage, "SchemaError")
    metrics.observe_duplicates(stage, 3)
    metrics.observe_duplicates(stage, 0)
    assert _value("supportflow_dead_letters_total", {"stage": stage, "error_class": "SchemaError"}) == 1
    assert _value("supportflow_duplicates_suppressed_total", {"stage": stage}) == 3
    before = _value("supportflow_retrieval_top_score_bucket", {"le": "0.45"})
    metrics.observe_retrieval(0.41)
    assert _value("supportflow_retrieval_top_score_bucket", {"le": "0.45"}) - before == 1
    metrics.observe_kill_switch(False, effect_seconds=0.42)
    assert _value("supportflow_auto_resolve_enabled") == 0
    assert _value("supportflow_flag_effect_seconds") == pytest.approx(0.42)
    metrics.observe_kill_switch(True)
    assert _value("supportflow_auto_resolve_enabled") == 1
    assert _value("supportflow_flag_effect_seconds") == pytest.approx(0.42)


def test_start_metrics_server_port_zero_disabled():
    assert metrics.start_metrics_server(0) == 0


def test_start_metrics_server_serves_every_metric_family():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert metrics.start_metrics_server(port, addr="127.0.0.1") == port
    metrics.observe_ticket_in("email")
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        body = resp.read().decode()
    for family in (
        "supportflow_tickets_in_total", "supportflow_decisions_total", "supportflow_decision_reasons_total",
        "supportflow_stage_seconds", "supportflow_end_to_end_seconds", "supportflow_llm_calls_total",
        "supportflow_llm_tokens_total", "supportflow_llm_cost_usd_total", "supportflow_groundedness",
        "supportflow_retrieval_top_score", "supportflow_dead_letters_total",
        "supportflow_duplicates_suppressed_total", "supportflow_consumer_lag",
        "supportflow_auto_resolve_enabled", "supportflow_flag_effect_seconds",
    ):  # fmt: skip
        assert f"# TYPE {family} " in body, family
    assert 'supportflow_tickets_in_total{channel="email"}' in body


def test_lag_sampler_unknown_strategy_raises():
    with pytest.raises(ValueError, match="watermarks"):
        LagSampler("127.0.0.1:1", "g", ["t"], watermarks="guess")  # type: ignore[arg-type]
