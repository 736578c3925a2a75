"""Cost model: which prompts each configuration pays for, and the real LiteLLM price map."""

import json

import pytest

from supportflow.evals.golden import GoldenCase, GoldenTicket
from supportflow.evals.golden_cost import (
    Pricing,
    PromptCase,
    _prompt_case,
    cost_summary,
    litellm_pricing,
    reply_json,
)
from supportflow.schemas.errors import InvalidInputError
from supportflow.schemas.models import Band, Channel, CustomerContext, Decision, Outcome, Tier
from tests.unit.helpers import record

# Per-token prices that make the arithmetic easy to check by hand: commodity 1, frontier 10 per token.
PRICES = {"cheap": 1.0, "big": 10.0}
TOY = Pricing("cheap", "big", lambda m, i, o: PRICES[m] * (i + o),
              lambda m, msgs: sum(len(x["content"].split()) for x in msgs), lambda m, t: len(t.split()))  # fmt: skip


def prompt(cid, band, tier, words_in=10, words_out=5, sources=True):
    return PromptCase(cid, band, tier, sources, [{"role": "user", "content": " ".join(["w"] * words_in)}],
                      " ".join(["o"] * words_out))  # fmt: skip


def test_cost_summary_routed_skips_escalations_and_prices_each_tier():
    prompts = [
        prompt("faq", Band.AUTO, Tier.COMMODITY),  # routed: 15 tokens * 1
        prompt("hard", Band.SUGGEST, Tier.FRONTIER),  # routed: 15 tokens * 10
        prompt("esc", Band.ESCALATE, Tier.COMMODITY),  # never sent to a model when routed
        prompt("nosrc", Band.AUTO, Tier.COMMODITY, sources=False),  # no source: no model call
    ]
    s = cost_summary(prompts, TOY, resolutions=3)
    assert s["routed_calls"] == 2 and s["routed_frontier_calls"] == 1 and s["frontier_only_calls"] == 4
    assert s["total_cost_routed_usd"] == 165.0
    assert s["total_cost_frontier_only_usd"] == 600.0
    assert s["cost_per_resolution_routed"] == 55.0
    assert s["cost_per_resolution_frontier_only"] == 200.0
    assert s["frontier_to_routed_ratio"] == round(200 / 55, 2)
    assert s["offline_spend_usd"] == 0.0


def test_cost_summary_no_resolutions_reports_zero_per_resolution_and_no_ratio():
    s = cost_summary([prompt("a", Band.AUTO, Tier.COMMODITY)], TOY, resolutions=0)
    assert s["cost_per_resolution_routed"] == 0.0 and s["frontier_to_routed_ratio"] is None


def test_prompt_case_uses_redacted_text_and_the_runs_answer_as_reply():
    customer = CustomerContext(customer_id="cus_0002", name="Ana Ruiz", email="ana@example.com")
    rec = record().model_copy(update={"customer": customer})
    rec = rec.model_copy(
        update={"ticket": rec.ticket.model_copy(update={"text": "I am Ana Ruiz, ana@example.com"})}
    )
    case = GoldenCase(id="c1", channel=Channel.API, ticket=GoldenTicket(text="x", customer_id="cus_0002"),
                      expected_intent="track_order", expected_band=Band.AUTO)  # fmt: skip
    out = Outcome(ticket_id="t", conversation_id="c", channel=Channel.API, decision=Decision.AUTO_RESOLVED,
                  intent="track_order", confidence=0.9, band=Band.AUTO, tier=Tier.COMMODITY, trace_id="t",
                  answer="Track it in Account > Orders.", citations=["order-tracking#where-is-my-order"])  # fmt: skip
    p = _prompt_case(case, rec, out)
    user = p.messages[-1]["content"]
    assert "ana@example.com" not in user and "Ana Ruiz" not in user
    assert "[order-tracking#where-is-my-order]" in user
    assert json.loads(p.reply) == {"answer": out.answer, "citations": out.citations}
    assert p.routed_call and p.tier == Tier.COMMODITY


def test_reply_json_keeps_non_ascii_text():
    assert "€" in reply_json("5 €", [])


@pytest.mark.slow
def test_litellm_pricing_frontier_costs_more_than_commodity_for_the_same_prompt():
    pricing = litellm_pricing("gpt-4o-mini", "gpt-4o")
    messages = [{"role": "user", "content": "How long do card refunds take to appear on my statement?"}]
    tokens = pricing.count_messages("gpt-4o", messages)
    assert tokens > 10
    assert pricing.cost("gpt-4o", tokens, 50) > pricing.cost("gpt-4o-mini", tokens, 50) > 0


@pytest.mark.slow
def test_litellm_pricing_unknown_model_is_rejected_with_its_name():
    with pytest.raises(InvalidInputError, match="no-such-model"):
        litellm_pricing("no-such-model", "gpt-4o")
