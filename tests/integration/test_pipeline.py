"""The whole pipeline on the real embedded broker: every bundled message gets exactly one fate."""

import json

import pytest

from supportflow.cli.demo import demo_summary
from supportflow.connectors.ingress import events_from_path
from supportflow.data import data_path
from supportflow.processors.channels import TICKET_CONTENT_TYPE
from supportflow.schemas import wire
from supportflow.schemas.models import Decision, InboundEvent
from supportflow.streams.harness import run_events

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def demo():
    events = list(events_from_path(data_path("samples")))
    expected, collected, seconds = run_events(events, timeout_s=240, quiet=True)
    return expected, collected, demo_summary(expected, collected, seconds)


def test_pipeline_samples_every_message_decided_or_dead_lettered(demo):
    expected, collected, summary = demo
    counts = json.loads(data_path("samples", "expected.json").read_text())
    assert expected == counts["valid_messages"] + counts["malformed_messages"]
    assert summary["lost"] == 0
    assert len(collected.outcomes) == counts["valid_messages"]
    assert len(collected.dead_letters) == counts["malformed_messages"]


def test_pipeline_dead_letters_carry_stage_reason_and_original_bytes(demo):
    _, collected, _ = demo
    for dl in collected.dead_letters:
        assert dl.stage == "normalize" and dl.error_class and dl.error_message and dl.original


def test_pipeline_auto_resolved_answers_are_cited_and_grounded(demo):
    _, collected, summary = demo
    autos = [o for o in collected.outcomes.values() if o.decision == Decision.AUTO_RESOLVED]
    assert autos, summary["by_decision"]
    for o in autos:
        assert o.answer and o.citations and o.groundedness >= 0.92


def test_pipeline_outcomes_carry_reasons_timings_and_trace(demo):
    _, collected, _ = demo
    for o in collected.outcomes.values():
        assert o.reasons and o.trace_id and o.intent
        assert {"normalize", "route", "retrieve", "resolve", "gate"} <= set(o.timings_ms) or any(
            r.startswith("failure:") for r in o.reasons
        )


def test_pipeline_policy_cases_escalate(demo):
    _, collected, _ = demo
    escalated_reasons = {
        r.split(":")[1]
        for o in collected.outcomes.values()
        if o.decision == Decision.ESCALATED
        for r in o.reasons
        if r.startswith("rule:")
    }
    assert {"legal", "vip"} <= escalated_reasons


def _dead_lettered(collected) -> list[tuple[str, str, bytes]]:
    """Each dead letter's stage and original event, less the time the event was published."""
    letters = [(d.stage, wire.decode(d.original, InboundEvent)) for d in collected.dead_letters]
    return sorted((stage, e.event_id, e.payload) for stage, e in letters)


@pytest.fixture(scope="module")
def per_stage():
    events = list(events_from_path(data_path("samples")))
    expected, collected, _ = run_events(
        events, timeout_s=240, quiet=True, env={"SUPPORTFLOW_TOPOLOGY": "per-stage"}
    )
    return expected, collected


def test_pipeline_per_stage_topology_same_decisions_as_fused_default(demo, per_stage):
    _, fused, _ = demo
    expected, collected = per_stage
    assert collected.total == expected and collected.duplicates == 0
    assert _dead_lettered(collected) == _dead_lettered(fused)
    decided = {
        tid: (o.decision, o.intent, o.band, o.reasons, o.answer) for tid, o in collected.outcomes.items()
    }
    assert decided == {
        tid: (o.decision, o.intent, o.band, o.reasons, o.answer) for tid, o in fused.outcomes.items()
    }
    for o in collected.outcomes.values():
        assert {"normalize", "route", "retrieve", "resolve", "gate"} <= set(o.timings_ms) or any(
            r.startswith("failure:") for r in o.reasons
        )


def _api_event(n: int, body: object) -> InboundEvent:
    return InboundEvent(
        event_id=f"reuse-{n}", channel="api", received_at_ms=0, payload=json.dumps(body).encode(),
        content_type=TICKET_CONTENT_TYPE, source="test",
    )  # fmt: skip


def test_pipeline_reused_source_ids_each_get_a_fate_and_redeliveries_one():
    first = {"ticket_id": "reuse-1", "email": "grace.kim@example.com", "text": "Where is my order?"}
    reused = {**first, "text": "cancel my account and delete all my data"}
    chat = {"type": "message", "session_id": "chs_reuse", "message_id": "msg_reuse",
            "customer": {"id": "cus_0014", "email": "noah.patel@example.com"}, "text": "hi, where is my parcel?"}  # fmt: skip
    chat_event = InboundEvent(
        event_id="chat-1", channel="chat", received_at_ms=0, payload=json.dumps(chat).encode(),
        content_type="application/json", source="test",
    )  # fmt: skip
    chat_reused = chat_event.model_copy(
        update={"event_id": "chat-2", "payload": json.dumps({**chat, "text": "I want a refund"}).encode()}
    )
    events = [
        _api_event(1, first), _api_event(2, first),  # a redelivery of the same message
        _api_event(3, reused), chat_event, chat_reused, _api_event(4, [1, 2, 3]),
    ]  # fmt: skip
    expected, collected, _ = run_events(events, timeout_s=240, quiet=True)
    # 2 API messages + 2 chat messages, each decided once, and one dead letter for the bad array.
    assert expected == 5 and collected.total == 5, (expected, collected.total)
    assert len(collected.dead_letters) == 1 and len(collected.outcomes) == 4
    # The account-closure request under a reused id is escalated by its rule, not dropped.
    outcomes = list(collected.outcomes.values())
    escalated_by_rule = [
        o
        for o in outcomes
        if o.decision == Decision.ESCALATED and any(r.startswith("rule:") for r in o.reasons)
    ]
    assert escalated_by_rule, [(o.decision, o.reasons) for o in outcomes]
    assert len({o.conversation_id for o in outcomes}) == 2  # reused ids stay in their conversation
