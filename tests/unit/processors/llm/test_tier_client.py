"""TierClient through LiteLLM's real client path against a scripted OpenAI-compatible loopback server."""

from __future__ import annotations

import logging
import time

import pytest
from pydantic import SecretStr

from supportflow.processors.llm import (
    BreakerPolicy,
    LlmOutputInvalid,
    LlmUnavailable,
    RetryPolicy,
    TierClient,
)
from supportflow.processors.llm.provider import litellm_module
from supportflow.schemas.models import Answer, Source, Tier
from supportflow.settings import ModelTiers
from tests.fakes.openai_server import Fail, FakeOpenAIServer, Hang, Reply, answer_json

CHEAP = "openai/cheap-model"
BIG = "openai/big-model"
SOURCES = [
    Source(
        chunk_id="returns#1",
        article_id="returns",
        title="Returns",
        section="How to return an item",
        text="Start a return from Orders within 30 days of delivery; print the prepaid label.",
        score=0.82,
    ),
    Source(
        chunk_id="refunds#2",
        article_id="refunds",
        title="Refunds",
        section="When refunds arrive",
        text="Refunds reach the original payment method 5-10 business days after we receive the item.",
        score=0.71,
    ),
]
GOOD = answer_json("Start a return from Orders within 30 days [returns#1].", ["returns#1"])
TICKET = "How do I return the hiking boots from order NW-100234?"


def make_client(
    server: FakeOpenAIServer,
    *,
    commodity: str = CHEAP,
    frontier: str = BIG,
    timeout_s: float = 2.0,
    max_retries: int = 1,
    breaker: BreakerPolicy | None = None,
    api_base: str | None = None,
) -> TierClient:
    tiers = ModelTiers(
        commodity=commodity,
        frontier=frontier,
        api_base=api_base or server.base_url,
        api_key=SecretStr("sk-test-dummy"),
        timeout_s=timeout_s,
        max_retries=max_retries,
    )
    retry = RetryPolicy(backoff_base_s=0.05, backoff_cap_s=0.2, retry_after_cap_s=3.0)
    return TierClient(tiers, retry=retry, breaker_policy=breaker or BreakerPolicy())


def ask(client: TierClient, tier: Tier = Tier.COMMODITY) -> Answer:
    return client.answer(
        ticket_text=TICKET,
        sources=SOURCES,
        customer_facts=["order NW-100234: status delivered, total 129.00 USD"],
        tier=tier,
        ticket_id="tkt-1",
    )


def test_answer_good_reply_returns_cited_answer_with_tokens_and_priced_cost(server: FakeOpenAIServer) -> None:
    server.script("gpt-4o-mini", Reply(GOOD, prompt_tokens=420, completion_tokens=64))
    client = make_client(server, commodity="openai/gpt-4o-mini")

    answer = client.answer(
        ticket_text=TICKET, sources=SOURCES, customer_facts=["order NW-100234: status delivered"],
        tier=Tier.COMMODITY, ticket_id="tkt-1",
    )  # fmt: skip

    prices = litellm_module().model_cost["gpt-4o-mini"]
    expected = 420 * prices["input_cost_per_token"] + 64 * prices["output_cost_per_token"]
    assert answer.citations == ["returns#1"]
    assert answer.text.startswith("Start a return")
    assert (answer.model, answer.tier) == ("openai/gpt-4o-mini", Tier.COMMODITY)
    assert (answer.tokens_in, answer.tokens_out) == (420, 64)
    assert answer.cost_usd > 0
    assert answer.cost_usd == pytest.approx(expected)
    [request] = server.requests
    assert request.body["response_format"] == {"type": "json_object"}
    prompt = request.body["messages"][1]["content"]
    assert "[returns#1]" in prompt and "[refunds#2]" in prompt and TICKET in prompt
    assert "NW-100234: status delivered" in prompt


def test_answer_model_missing_from_price_map_costs_zero(server: FakeOpenAIServer) -> None:
    server.script(CHEAP, Reply(GOOD, prompt_tokens=300, completion_tokens=20))

    answer = ask(make_client(server))

    assert (answer.tokens_in, answer.tokens_out, answer.cost_usd) == (300, 20, 0.0)


def test_answer_timeout_retries_then_falls_back_to_frontier(server: FakeOpenAIServer) -> None:
    server.script(CHEAP, then=Hang(1.5))
    server.script(BIG, Reply(GOOD))
    client = make_client(server, timeout_s=0.4, max_retries=1)

    answer = ask(client)

    assert answer.tier == Tier.FRONTIER and answer.model == BIG
    assert len(server.requests_for(CHEAP)) == 2  # first try + one retry
    assert len(server.requests_for(BIG)) == 1


def test_answer_429_waits_the_retry_after_the_server_asked_for(server: FakeOpenAIServer) -> None:
    server.script(CHEAP, Fail(429, retry_after="1"), Reply(GOOD))

    answer = ask(make_client(server))

    first, second = server.requests_for(CHEAP)
    assert second.at - first.at >= 1.0  # measured at the server, not by the client's own clock
    assert answer.tier == Tier.COMMODITY
    assert server.requests_for(BIG) == []


def test_answer_429_retry_after_beyond_cap_falls_back_without_waiting(server: FakeOpenAIServer) -> None:
    server.script(CHEAP, then=Fail(429, retry_after="120"))
    server.script(BIG, Reply(GOOD))

    answer = ask(make_client(server, max_retries=2))

    [cheap] = server.requests_for(CHEAP)
    [big] = server.requests_for(BIG)
    assert big.at - cheap.at < 1.0
    assert answer.tier == Tier.FRONTIER


def test_answer_500_retries_with_backoff_then_falls_back(server: FakeOpenAIServer) -> None:
    server.script(CHEAP, then=Fail(500))
    server.script(BIG, Reply(GOOD))

    answer = ask(make_client(server, max_retries=2))

    assert len(server.requests_for(CHEAP)) == 3
    assert answer.tier == Tier.FRONTIER


def test_answer_frontier_request_falls_back_to_commodity(server: FakeOpenAIServer) -> None:
    server.script(BIG, then=Fail(503))
    server.script(CHEAP, Reply(GOOD))

    answer = ask(make_client(server, max_retries=0), tier=Tier.FRONTIER)

    assert answer.tier == Tier.COMMODITY
    assert len(server.requests_for(BIG)) == 1


def test_answer_400_is_not_retried_and_falls_back(server: FakeOpenAIServer) -> None:
    server.script(CHEAP, then=Fail(400, message="context length exceeded"))
    server.script(BIG, Reply(GOOD))

    answer = ask(make_client(server, max_retries=3))

    assert len(server.requests_for(CHEAP)) == 1
    assert answer.tier == Tier.FRONTIER


def test_answer_malformed_json_on_every_tier_raises_unavailable(server: FakeOpenAIServer) -> None:
    server.script(CHEAP, then=Reply("Sure! You can return it within 30 days."))
    server.script(BIG, then=Reply('{"answer": "truncated'))

    with pytest.raises(LlmUnavailable) as raised:
        ask(make_client(server))

    assert isinstance(raised.value.__cause__, LlmOutputInvalid)
    assert [r.split(":")[0] for r in raised.value.reasons] == ["commodity", "frontier"]
    assert all("LlmOutputInvalid" in r for r in raised.value.reasons)
    assert len(server.requests_for(CHEAP)) == 2  # the ask and the one re-ask
    assert len(server.requests_for(BIG)) == 2


def test_answer_malformed_then_valid_after_reask_sums_tokens(server: FakeOpenAIServer) -> None:
    server.script(
        CHEAP,
        Reply("not json at all", prompt_tokens=400, completion_tokens=10),
        Reply(GOOD, prompt_tokens=450, completion_tokens=30),
    )

    answer = ask(make_client(server))

    assert answer.citations == ["returns#1"]
    assert (answer.tokens_in, answer.tokens_out) == (850, 40)
    reask = server.requests_for(CHEAP)[1].body["messages"]
    assert reask[-2] == {"role": "assistant", "content": "not json at all"}
    assert "rejected" in reask[-1]["content"] and "returns#1" in reask[-1]["content"]


def test_answer_without_citations_is_never_returned(server: FakeOpenAIServer) -> None:
    uncited = Reply(answer_json("Refunds take 5-10 business days.", []))
    server.script(CHEAP, then=uncited)
    server.script(BIG, then=uncited)

    with pytest.raises(LlmUnavailable):
        ask(make_client(server))

    assert len(server.requests) == 4


def test_answer_citing_unknown_chunk_ids_falls_back_to_valid_tier(server: FakeOpenAIServer) -> None:
    server.script(CHEAP, then=Reply(answer_json("Returns are free [shipping#9].", ["shipping#9"])))
    server.script(BIG, Reply(answer_json("Refunds take 5-10 business days [refunds#2].", ["[refunds#2]"])))

    answer = ask(make_client(server))

    assert answer.tier == Tier.FRONTIER
    assert answer.citations == ["refunds#2"]


def test_answer_provider_down_raises_unavailable(server: FakeOpenAIServer) -> None:
    with FakeOpenAIServer() as gone:
        dead_base = gone.base_url
    client = make_client(server, api_base=dead_base, max_retries=1)

    started = time.monotonic()
    with pytest.raises(LlmUnavailable) as raised:
        ask(client)

    assert time.monotonic() - started < 5
    assert len(raised.value.reasons) == 2


def test_circuit_provider_down_after_n_failures_skips_the_call_and_fails_fast(
    server: FakeOpenAIServer,
) -> None:
    server.script(CHEAP, then=Hang(1.5))
    client = make_client(
        server, frontier="", timeout_s=0.3, max_retries=1, breaker=BreakerPolicy(failures=2, reset_s=30)
    )
    calls: list[tuple[str, str, str, int, int]] = []
    client.on_call = lambda *call: calls.append(call)
    with pytest.raises(LlmUnavailable):
        ask(client)  # two timed-out calls: the Router cools the model down
    seen = len(server.requests)

    started = time.monotonic()
    with pytest.raises(LlmUnavailable) as raised:
        ask(client)
        ask(client)

    assert time.monotonic() - started < 0.2  # no timeout paid: nothing reached the provider
    assert len(server.requests) == seen == 2
    assert raised.value.reasons == [f"commodity:{CHEAP}:circuit_open"]
    assert [c[2] for c in calls] == ["timeout", "timeout", "circuit_open"]


def test_circuit_unreachable_provider_cools_down_too(server: FakeOpenAIServer) -> None:
    with FakeOpenAIServer() as gone:
        dead_base = gone.base_url
    client = make_client(
        server, frontier="", api_base=dead_base, max_retries=1, breaker=BreakerPolicy(failures=2, reset_s=30)
    )
    with pytest.raises(LlmUnavailable) as first:
        ask(client)
    with pytest.raises(LlmUnavailable) as second:
        ask(client)

    assert "circuit_open" not in first.value.reasons[0]
    assert second.value.reasons == [f"commodity:{CHEAP}:circuit_open"]


def test_circuit_after_the_cooldown_calls_the_provider_again(server: FakeOpenAIServer) -> None:
    server.script(CHEAP, Fail(500), Fail(500), Reply(GOOD))
    client = make_client(server, frontier="", max_retries=1, breaker=BreakerPolicy(failures=2, reset_s=0.6))
    with pytest.raises(LlmUnavailable):
        ask(client)
    with pytest.raises(LlmUnavailable):
        ask(client)  # still cooling down
    assert len(server.requests) == 2

    time.sleep(0.7)
    answer = ask(client)

    assert answer.citations == ["returns#1"]
    assert len(server.requests) == 3


def test_circuit_still_down_after_the_cooldown_cools_down_again_after_n_failures(
    server: FakeOpenAIServer,
) -> None:
    server.script(CHEAP, then=Fail(502))
    client = make_client(server, frontier="", max_retries=3, breaker=BreakerPolicy(failures=2, reset_s=0.3))
    with pytest.raises(LlmUnavailable):
        ask(client)
    assert len(server.requests) == 2  # the cooldown cut the retries short at N failures

    time.sleep(0.35)
    with pytest.raises(LlmUnavailable):
        ask(client)
    with pytest.raises(LlmUnavailable) as raised:
        ask(client)

    assert len(server.requests) == 4  # the failure count starts over: N more calls, then cooling again
    assert raised.value.reasons == [f"commodity:{CHEAP}:circuit_open"]


def test_circuit_invalid_replies_do_not_cool_the_model_down(server: FakeOpenAIServer) -> None:
    server.script(CHEAP, Reply("not json"), Reply("still not json"), Reply(GOOD))
    client = make_client(server, frontier="", breaker=BreakerPolicy(failures=1, reset_s=30))
    with pytest.raises(LlmUnavailable) as raised:
        ask(client)
    assert "LlmOutputInvalid" in raised.value.reasons[0]

    answer = ask(client)

    assert answer.citations == ["returns#1"]
    assert len(server.requests) == 3


def test_circuit_request_refusals_do_not_cool_the_model_down(server: FakeOpenAIServer) -> None:
    server.script(CHEAP, Fail(400, message="context length exceeded"), Fail(404), Reply(GOOD))
    client = make_client(server, frontier="", breaker=BreakerPolicy(failures=1, reset_s=30))
    for _ in range(2):
        with pytest.raises(LlmUnavailable):
            ask(client)

    answer = ask(client)

    assert answer.citations == ["returns#1"]
    assert len(server.requests) == 3


def test_circuit_policy_without_failures_or_cooldown_is_rejected() -> None:
    with pytest.raises(ValueError):
        BreakerPolicy(failures=0)
    with pytest.raises(ValueError):
        BreakerPolicy(reset_s=0)


def test_breaker_open_on_commodity_still_lets_frontier_answer(server: FakeOpenAIServer) -> None:
    server.script(CHEAP, then=Fail(500))
    server.script(BIG, then=Reply(GOOD))
    client = make_client(server, max_retries=0, breaker=BreakerPolicy(failures=1, reset_s=30))

    first, second = ask(client), ask(client)

    assert first.tier == second.tier == Tier.FRONTIER
    assert len(server.requests_for(CHEAP)) == 1


def test_answer_logs_never_carry_ticket_text(
    server: FakeOpenAIServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.script(CHEAP, Fail(500), Reply("nope"), then=Reply("nope"))
    server.script(BIG, then=Fail(429))
    caplog.set_level(logging.DEBUG)

    with pytest.raises(LlmUnavailable) as raised:
        ask(make_client(server, max_retries=1))

    assert "hiking boots" not in caplog.text and "NW-100234" not in caplog.text
    assert "hiking boots" not in str(raised.value)
    assert "tkt-1" in caplog.text


def test_enabled_is_false_without_models() -> None:
    assert not TierClient(ModelTiers()).enabled()
    assert TierClient(ModelTiers(frontier="ollama/qwen2.5:1.5b")).enabled()


def test_answer_same_model_on_both_tiers_is_tried_once(server: FakeOpenAIServer) -> None:
    server.script(CHEAP, then=Fail(500))

    with pytest.raises(LlmUnavailable) as raised:
        ask(make_client(server, frontier=CHEAP, max_retries=0))

    assert len(server.requests) == 1
    assert len(raised.value.reasons) == 1


def test_answer_reask_shares_the_tier_retry_budget(server: FakeOpenAIServer) -> None:
    server.script(CHEAP, Reply("no json"), Fail(500), Reply(GOOD))
    server.script(BIG, Reply(GOOD))

    answer = ask(make_client(server, max_retries=1))  # ask, re-ask hits a 500, one retry succeeds

    assert answer.tier == Tier.COMMODITY
    assert len(server.requests_for(CHEAP)) == 3

    server.script(CHEAP, Fail(500), Reply("no json"), Fail(500), Reply(GOOD))
    answer = ask(make_client(server, max_retries=1))  # the budget was spent before the re-ask

    assert answer.tier == Tier.FRONTIER
    assert len(server.requests_for(CHEAP)) == 3 + 3


def test_on_call_reports_every_provider_call_with_its_outcome(server: FakeOpenAIServer) -> None:
    server.script(CHEAP, Fail(429, retry_after="0"), Reply("not json"), Reply(GOOD))
    calls: list[tuple[str, str, str, int, int]] = []
    client = make_client(server, max_retries=2)
    client.on_call = lambda *call: calls.append(call)
    answer = ask(client)
    assert answer.citations == ["returns#1"]
    assert [c[2] for c in calls] == ["rate_limited", "ok", "invalid", "ok"]
    assert all(c[:2] == ("commodity", CHEAP) for c in calls)
    assert calls[-1][3] > 0 and calls[-1][4] > 0  # tokens of the call that answered
