"""The optional LLM router through LiteLLM's real client against a scripted OpenAI-compatible loopback server.

Real parts throughout: the shipped router artifact, the int8 MiniLM embedder, the default policy, the
PII redactor, LiteLLM's HTTP path. Decisions are built with ``decide`` from a prediction whose
confidence is placed in (or outside) the uncertain middle, so the tests do not hinge on the artifact's
exact confidence for a sentence; the candidates still come from the artifact's real probabilities.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from pydantic import SecretStr

from supportflow.processors.embedding import get_embedder
from supportflow.processors.llm import BreakerPolicy
from supportflow.processors.llm.provider import litellm_module
from supportflow.processors.router import (
    IntentRouter,
    LlmRouterClient,
    Prediction,
    RouteCase,
    decide,
    load_policy,
    refine_routed_records,
    refine_uncertain,
)
from supportflow.processors.router.llm_router import ROUTER_TIER, candidate_intents, parse_verdict
from supportflow.schemas.models import Band, Channel, CustomerContext, PipelineRecord, RouteDecision, Ticket
from supportflow.settings import LlmRouterSettings, Settings, Thresholds
from tests.fakes.openai_server import BarrierServer, Behaviour, Fail, FakeOpenAIServer, Hang, Reply

MODEL = "openai/router-model"
ROUTER = IntentRouter.load()
POLICY = load_policy()
THRESHOLDS = Thresholds()
MID = (THRESHOLDS.min_confidence + ROUTER.auto_threshold) / 2  # inside the uncertain middle

# A track_order question the shipped router reads as delivery_period above its auto threshold, with
# track_order among its top-5 candidates: the tests below rely on both (re-check after a rebuild).
WHERE = "Where is my order? It was supposed to arrive on Monday."
REFUND = "I sent the jacket back two weeks ago, please refund the $450 I paid."


def verdict(intent: str, confidence: float = 0.9, reason: str = "fits") -> str:
    return json.dumps({"intent": intent, "confidence": confidence, "reason": reason})


@pytest.fixture(scope="module", autouse=True)
def _litellm_loaded() -> None:
    litellm_module()  # pay the multi-second import once


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as running:
        yield running


def make_client(
    server: FakeOpenAIServer, *, timeout_s: float = 2.0, breaker: BreakerPolicy | None = None
) -> tuple[LlmRouterClient, list[tuple[str, str, str, int, int]]]:
    settings = LlmRouterSettings(
        enabled=True, model=MODEL, api_base=server.base_url, api_key=SecretStr("sk-test-dummy"),
        timeout_s=timeout_s,
    )  # fmt: skip
    calls: list[tuple[str, str, str, int, int]] = []
    client = LlmRouterClient(
        settings, breaker_policy=breaker or BreakerPolicy(), on_call=lambda *call: calls.append(call)
    )
    return client, calls


def make_case(
    text: str, intent: str, confidence: float = MID, customer: CustomerContext | None = None, tid: str = "t1"
) -> RouteCase:
    ticket = Ticket(
        ticket_id=tid, conversation_id=tid, channel=Channel.EMAIL, sender="d@example.net", text=text,
        received_at_ms=0, ingested_at_ms=0, trace_id=tid,
    )  # fmt: skip
    decision = decide(
        ticket, Prediction(intent, confidence), customer, POLICY, THRESHOLDS, ROUTER.auto_threshold,
        model_version=ROUTER.version,
    )  # fmt: skip
    return RouteCase(ticket, text, get_embedder().encode([text])[0], decision, customer)


def candidates_of(case: RouteCase) -> list[str]:
    proba, _ = ROUTER.predict_proba(case.vector[None, :], [case.query])
    return candidate_intents(ROUTER, proba[0], 5)


def refine(cases: list[RouteCase], client: LlmRouterClient | None) -> list[RouteDecision]:
    return refine_uncertain(cases, client, ROUTER, POLICY, THRESHOLDS)


def prompt_of(body: dict[str, Any]) -> str:
    return "\n".join(str(m.get("content", "")) for m in body["messages"])


def test_llm_router_agreeing_verdict_keeps_decision_and_records_intent(server: FakeOpenAIServer) -> None:
    client, calls = make_client(server)
    case = make_case(WHERE, "track_order")
    assert case.decision.band is Band.SUGGEST
    server.script(MODEL, Reply(verdict("track_order", 0.97)))
    [decision] = refine([case], client)
    assert decision.intent == "track_order" and decision.band is Band.SUGGEST
    assert decision.reasons == [*case.decision.reasons, "llm_router:intent=track_order"]
    assert decision.confidence == case.decision.confidence  # the LLM's 0.97 is not calibrated: not used
    assert calls == [(ROUTER_TIER, MODEL, "ok", 420, 64)]


def test_llm_router_relabel_changes_intent_and_tier_but_stays_suggest(server: FakeOpenAIServer) -> None:
    client, _ = make_client(server)
    case = make_case(WHERE, "delivery_period")  # the shipped router's known confusion for this text
    assert "track_order" in candidates_of(case)
    server.script(MODEL, Reply(verdict("track_order", 1.0)))
    [decision] = refine([case], client)
    assert decision.intent == "track_order"
    assert POLICY.for_intent("track_order").band is Band.AUTO  # the policy would allow auto ...
    assert decision.band is Band.SUGGEST  # ... but an LLM relabel never opens it
    assert decision.tier == POLICY.for_intent("track_order").tier
    assert decision.reasons[-1] == "llm_router:relabel=delivery_period->track_order"
    proba, _ = ROUTER.predict_proba(case.vector[None, :], [case.query])
    assert decision.confidence == pytest.approx(proba[0][ROUTER.parts.classes.index("track_order")])


def test_llm_router_relabel_never_opens_auto_even_at_high_router_probability(
    server: FakeOpenAIServer,
) -> None:
    client, _ = make_client(server)
    case = make_case(WHERE, "track_order")  # the artifact itself gives delivery_period > auto threshold
    proba, _ = ROUTER.predict_proba(case.vector[None, :], [case.query])
    assert proba[0][ROUTER.parts.classes.index("delivery_period")] >= ROUTER.auto_threshold
    server.script(MODEL, Reply(verdict("delivery_period", 1.0)))
    [decision] = refine([case], client)
    assert decision.intent == "delivery_period" and decision.band is Band.SUGGEST
    assert decision.reasons == ["llm_router:relabel=track_order->delivery_period"]


def test_llm_router_relabel_to_refund_intent_lets_the_refund_rule_escalate(server: FakeOpenAIServer) -> None:
    client, _ = make_client(server)
    case = make_case(REFUND, "check_refund_policy")  # refund-policy questions are exempt from the rule
    assert case.decision.band is Band.SUGGEST and "get_refund" in candidates_of(case)
    server.script(MODEL, Reply(verdict("get_refund")))
    [decision] = refine([case], client)
    assert decision.intent == "get_refund" and decision.band is Band.ESCALATE
    assert "rule:refund_over_threshold:450.00>200.00" in decision.reasons


def test_llm_router_escalated_and_confident_tickets_are_not_asked(server: FakeOpenAIServer) -> None:
    client, calls = make_client(server)
    escalated = make_case("Where is my order? My lawyer will hear about this.", "track_order", tid="a")
    confident = make_case(WHERE, "track_order", confidence=0.99, tid="b")
    too_unsure = make_case(WHERE, "track_order", confidence=THRESHOLDS.min_confidence - 0.1, tid="c")
    assert escalated.decision.band is Band.ESCALATE and confident.decision.band is Band.AUTO
    decisions = refine([escalated, confident, too_unsure], client)
    assert decisions == [escalated.decision, confident.decision, too_unsure.decision]
    assert server.requests == [] and calls == []


def test_llm_router_invalid_json_then_valid_reask_is_accepted(server: FakeOpenAIServer) -> None:
    client, calls = make_client(server)
    server.script(MODEL, Reply("Sure! The intent is track_order."), Reply(verdict("track_order")))
    [decision] = refine([make_case(WHERE, "delivery_period")], client)
    assert decision.intent == "track_order"
    first, second = server.requests_for(MODEL)
    assert "rejected: reply is not a JSON object" in second.body["messages"][-1]["content"]
    assert len(second.body["messages"]) == len(first.body["messages"]) + 2
    assert [c[2] for c in calls] == ["ok", "invalid", "ok"]


def test_llm_router_unknown_intent_twice_gives_up_with_decision_unchanged(server: FakeOpenAIServer) -> None:
    client, calls = make_client(server)
    case = make_case(WHERE, "delivery_period")
    server.script(MODEL, then=Reply(verdict("buy_a_boat")))
    [decision] = refine([case], client)
    assert decision.model_dump(exclude={"reasons"}) == case.decision.model_dump(exclude={"reasons"})
    assert decision.reasons == [*case.decision.reasons, "llm_router:unavailable:invalid"]
    assert len(server.requests_for(MODEL)) == 2
    assert [c[2] for c in calls] == ["ok", "invalid", "ok", "invalid"]


@pytest.mark.parametrize(
    ("behaviour", "failure"),
    [(Hang(2.0), "timeout"), (Fail(503), "error"), (Fail(429), "rate_limited"), (Fail(401), "rejected")],
)
def test_llm_router_provider_failure_leaves_decision_with_unavailable_reason(
    server: FakeOpenAIServer, behaviour: Behaviour, failure: str
) -> None:
    client, _ = make_client(server, timeout_s=0.5)
    case = make_case(WHERE, "delivery_period")
    server.script(MODEL, then=behaviour)
    [decision] = refine([case], client)
    assert decision.intent == "delivery_period" and decision.band is Band.SUGGEST
    assert decision.reasons == [*case.decision.reasons, f"llm_router:unavailable:{failure}"]
    assert len(server.requests_for(MODEL)) == 1  # no retries: the route stage's latency is bounded


def test_llm_router_open_circuit_skips_the_call(server: FakeOpenAIServer) -> None:
    client, calls = make_client(server, breaker=BreakerPolicy(failures=1, reset_s=60))
    server.script(MODEL, then=Fail(500))
    first = refine([make_case(WHERE, "delivery_period", tid="a")], client)
    second = refine([make_case(WHERE, "delivery_period", tid="b")], client)
    assert first[0].reasons[-1] == "llm_router:unavailable:error"
    assert second[0].reasons[-1] == "llm_router:unavailable:circuit_open"
    assert len(server.requests) == 1 and [c[2] for c in calls] == ["error", "circuit_open"]


def test_llm_router_request_carries_no_pii(server: FakeOpenAIServer) -> None:
    client, _ = make_client(server)
    customer = CustomerContext(customer_id="cus_9", name="Maria Gonzalez", email="m.gonzalez@corp.example")
    text = (
        "Hi, this is Maria Gonzalez (maria.g@example.com, +1 415 555 0199). Where is order NW-100234? "
        "I paid with 4111 1111 1111 1111. Also reach me at m.gonzalez@corp.example."
    )
    server.script(MODEL, Reply(verdict("track_order")))
    refine([make_case(text, "track_order", customer=customer)], client)
    [request] = server.requests
    sent = json.dumps(request.body)
    for secret in ("Maria", "Gonzalez", "maria.g@example.com", "555 0199", "4111", "m.gonzalez@corp"):
        assert secret not in sent
    prompt = prompt_of(request.body)
    assert "[EMAIL]" in prompt and "[PHONE]" in prompt and "[CARD]" in prompt and "[NAME]" in prompt
    assert "NW-100234" in prompt  # the order id is what the intent hinges on; it is not PII


def test_llm_router_prompt_lists_top_k_candidates_and_oos(server: FakeOpenAIServer) -> None:
    client, _ = make_client(server)
    case = make_case(WHERE, "delivery_period")
    server.script(MODEL, Reply(verdict("track_order")))
    refine([case], client)
    prompt = prompt_of(server.requests[0].body)
    listed = [line[2:].split(":")[0] for line in prompt.splitlines() if line.startswith("- ")]
    assert sorted(listed) == sorted(candidates_of(case)) and listed[-1] == "oos" and len(listed) == 6


def test_llm_router_off_by_default_makes_no_calls(server: FakeOpenAIServer, monkeypatch: Any) -> None:
    for name in ("SUPPORTFLOW_LLM_ROUTER__ENABLED", "SUPPORTFLOW_LLM_ROUTER__MODEL"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings().llm_router
    assert settings.enabled is False
    client = LlmRouterClient.from_settings(settings)
    assert client is None
    case = make_case(WHERE, "delivery_period")
    assert refine([case], client) == [case.decision]
    assert server.requests == []


def test_llm_router_enabled_by_env_builds_a_client(monkeypatch: Any) -> None:
    monkeypatch.setenv("SUPPORTFLOW_LLM_ROUTER__ENABLED", "true")
    monkeypatch.setenv("SUPPORTFLOW_LLM_ROUTER__MODEL", MODEL)
    monkeypatch.setenv("SUPPORTFLOW_LLM_ROUTER__TOP_K", "3")
    client = LlmRouterClient.from_settings(Settings().llm_router)
    assert client is not None and client.settings.model == MODEL and client.settings.top_k == 3


def test_llm_router_settings_enabled_without_model_is_rejected(monkeypatch: Any) -> None:
    monkeypatch.setenv("SUPPORTFLOW_LLM_ROUTER__ENABLED", "true")
    monkeypatch.delenv("SUPPORTFLOW_LLM_ROUTER__MODEL", raising=False)
    with pytest.raises(ValueError, match=r"llm_router\.model"):
        Settings()


def test_llm_router_batch_calls_run_concurrently_and_keep_order() -> None:
    with BarrierServer(parties=3, default=Reply(verdict("track_order"))) as server:
        client, _ = make_client(server, timeout_s=10)
        cases = [
            make_case(WHERE, "delivery_period", tid="u1"),
            make_case(WHERE, "track_order", confidence=0.99, tid="sure"),
            make_case(WHERE, "delivery_period", tid="u2"),
            make_case(WHERE, "delivery_period", tid="u3"),
        ]
        decisions = refine(cases, client)
    assert [d.intent for d in decisions] == ["track_order"] * 4
    assert decisions[1] == cases[1].decision
    assert all(d.reasons[-1] == "llm_router:relabel=delivery_period->track_order" for d in decisions[::2])
    assert len(server.requests) == 3


def test_llm_router_refine_routed_records_updates_only_refined_routes(server: FakeOpenAIServer) -> None:
    client, _ = make_client(server)
    unsure, sure = (
        make_case(WHERE, "delivery_period", tid="u"),
        make_case(WHERE, "track_order", 0.99, tid="s"),
    )
    records = [
        PipelineRecord(ticket=c.ticket, route=c.decision, embedding=np.asarray(c.vector).tobytes())
        for c in (unsure, sure)
    ]
    not_routed = PipelineRecord(ticket=unsure.ticket)
    server.script(MODEL, Reply(verdict("track_order")))
    out = refine_routed_records(
        [*records, not_routed], [WHERE, WHERE, WHERE], client, ROUTER, POLICY, THRESHOLDS
    )
    assert out[0].route is not None and out[0].route.intent == "track_order"
    assert out[0].embedding == records[0].embedding
    assert out[1] is records[1] and out[2] is not_routed
    assert len(server.requests) == 1


def test_parse_verdict_accepts_fenced_json_and_canonicalises_intent_case() -> None:
    v = parse_verdict(
        '```json\n{"intent": "Track_Order", "confidence": 0.8, "reason": "x"}\n```', ["track_order"]
    )
    assert v.intent == "track_order" and v.confidence == 0.8


@pytest.mark.parametrize(
    "reply",
    ['{"intent": "track_order", "confidence": 1.5}', '{"confidence": 0.5}', "[]", ""],
)
def test_parse_verdict_rejects_out_of_range_missing_or_non_object_replies(reply: str) -> None:
    from supportflow.processors.llm import LlmOutputInvalid

    with pytest.raises(LlmOutputInvalid):
        parse_verdict(reply, ["track_order", "oos"])
